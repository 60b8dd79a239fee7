"""Sub-commands of ``mailroom``, one module per area; each has ``register(subparsers)``."""

from __future__ import annotations


def cli_actor() -> str:
    """Who is acting at the command line, for the audit trail: ``cli:<operating-system user>``."""
    import getpass
    import os

    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a container's arbitrary uid)
        name = f"uid{os.getuid()}"
    return f"cli:{name}"[:64]
