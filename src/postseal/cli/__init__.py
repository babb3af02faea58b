"""The ``postseal`` command: one module per command group."""
