"""Errors of the corpus generator (typed like the rest of Mailroom)."""

from __future__ import annotations

from ground.errors import MailroomError


class CorpusError(MailroomError):
    """The generator was asked for something it cannot make (unknown form, impossible value)."""

    code = "corpus"
