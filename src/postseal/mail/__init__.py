"""Mail values: addresses, messages and their canonical forms. Pure domain code."""
