"""Typed exceptions. Each carries its disposition so that one boundary per surface
(CLI, rq job wrapper, HTTP handler) can turn it into an answer."""

from __future__ import annotations

from enum import StrEnum


class Disposition(StrEnum):
    QUARANTINE = "quarantine"  # the input is bad; keep the original, tell a person why
    RETRY = "retry"  # transient; running again may succeed
    NEEDS_HUMAN = "needs_human"  # a person must act (e.g. password-protected PDF)


class MailroomError(Exception):
    """Base for expected failures. ``reason`` is a sentence a person understands."""

    disposition: Disposition = Disposition.QUARANTINE
    code: str = "error"
    http_status: int = 422

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedInput(MailroomError):
    code = "unsupported"
    http_status = 415


class CorruptInput(MailroomError):
    code = "corrupt"


class EncryptedPdf(MailroomError):
    code = "encrypted"
    disposition = Disposition.NEEDS_HUMAN


class TooLarge(MailroomError):
    code = "too_large"
    http_status = 413


class ConfigError(MailroomError):
    """A YAML configuration file a supervisor edited is invalid."""

    code = "config"
    http_status = 500


class StorageError(MailroomError):
    code = "storage"
    disposition = Disposition.RETRY
    http_status = 503


class NotFound(MailroomError):
    code = "not_found"
    http_status = 404


class Conflict(MailroomError):
    """A compare-and-set transition lost: the item changed state under us."""

    code = "conflict"
    http_status = 409


class InvalidRequest(MailroomError):
    """The request itself is wrong (unknown queue, outcome or category, a missing reason); fixing it is the
    caller's job."""

    code = "invalid"
    http_status = 422
