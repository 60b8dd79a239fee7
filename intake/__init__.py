"""Intake: what arrives (upload, scan, fax, e-mail) is stored first, then explored."""

from intake.accept import Accepted, Arrival, Duplicate, accept
from intake.parts import explode, guess_channel

__all__ = ["Accepted", "Arrival", "Duplicate", "accept", "explode", "guess_channel"]
