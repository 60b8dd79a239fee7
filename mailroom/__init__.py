"""Mailroom: document intake and correspondence processing for customer care."""

__version__ = "0.1.0"
