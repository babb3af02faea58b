"""Use cases: each module owns one, and talks to the store through its ports only."""
