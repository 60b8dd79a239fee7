"""Sub-commands of ``mailroom``, one module per area; each has ``register(subparsers)``."""
