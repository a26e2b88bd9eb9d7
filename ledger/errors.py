"""The errors a command can end with. Each says why, in words a user can act on.

The HTTP layer maps them: InvalidInput → 422, NotFound → 404, RuleViolation → 409,
ConflictError → 409, StoreUnavailable → 503.
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


class StoreUnavailable(TiexinError):
    """The event store cannot be reached or used; nothing is known to be written."""


class ConfigurationError(TiexinError):
    """The settings (such as TIEXIN_DATABASE_URL) are wrong."""
