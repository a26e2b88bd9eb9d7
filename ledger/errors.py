"""The errors a command can end with. Each says why, in words a user can act on.

The HTTP layer maps them: InvalidInput → 422, NotFound → 404, RuleViolation → 409,
VersionMismatch → 412, ConflictError → 409, StoreUnavailable → 503.
"""

from __future__ import annotations


class TiexinError(Exception):
    """Base of every error tiexin raises on purpose."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidInput(TiexinError):
    """A field of a command is malformed or out of range; nothing was written."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


class NotFound(TiexinError):
    """The command names a record the ledger does not have."""

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"no {kind} with id {ident}")
        self.kind = kind
        self.ident = ident


class RuleViolation(TiexinError):
    """The command would break an invariant of the programme; nothing was written.

    ``rule`` is a stable, dotted code (``visit.after_departure``) that clients may match on.
    """

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule


class ConflictError(TiexinError):
    """Another command changed the same record first; retry against the new state."""


class VersionMismatch(ConflictError):
    """The caller decided on a version of the record (``expected_version``) it has moved past; nothing was written.

    Raised by a command where it loads the record, so the save builds on exactly the version
    checked: a write landing in between still collides in the store (ConflictError).
    """

    def __init__(self, expected_version: int, current_version: int) -> None:
        super().__init__(
            f"the command expected version {expected_version} of the record, but it is at version "
            f"{current_version}; read it again and decide on what it says now"
        )
        self.expected_version = expected_version
        self.current_version = current_version


class StoreUnavailable(TiexinError):
    """The event store cannot be reached or used; nothing is known to be written."""


class ConfigurationError(TiexinError):
    """The settings (such as TIEXIN_DATABASE_URL) are wrong."""


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name if it has none): one line for a log or a user."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
