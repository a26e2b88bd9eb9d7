"""The errors a command can end with. Each says why, in words a user can act on.

The HTTP layer maps them: InvalidInput → 422, NotFound → 404, RuleViolation → 409,
VersionMismatch → 412, ConflictError → 409, DamagedRecord → 409 (rule ``record.damaged``),
StoreUnavailable → 503.
"""

from __future__ import annotations

from typing import ClassVar


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


class DamagedRecord(TiexinError):
    """A record's stored events no longer load as they were written; nothing was written.

    Someone or something changed the store behind the ledger's back: an event deleted
    (``how="missing"``: ``version`` is the first one missing), stored out of order
    (``"out-of-order"``), bytes that no longer decode (``"undecodable"``), or an event that no
    longer applies to the record (``"unappliable"``). ``record_id`` names the record and
    ``position`` the log position of the bad event when it is known (reading the log gives it;
    loading one record does not). No retry helps: the record must be restored from a backup
    (``tiexin verify`` names the first position that no longer matches its seal). The reason
    names the record, the version and the failure's type, never the stored data.
    """

    EXPLAINED: ClassVar[dict[str, str]] = {
        "missing": "version {version} is missing",
        "out-of-order": "its events are out of order at version {version}",
        "undecodable": "its event at version {version} cannot be decoded",
        "unappliable": "its event at version {version} cannot be applied",
    }

    def __init__(
        self, record_id: object, version: int | None, how: str, *, position: int | None = None, cause: str = ""
    ) -> None:
        said = self.EXPLAINED.get(how, "it cannot be loaded").format(version=version)
        where = f" (log position {position})" if position is not None else ""
        why = f" [{cause}]" if cause else ""
        super().__init__(
            f"the record {record_id} is damaged in the store: {said}{where}{why}; it can be neither read nor "
            "changed until it is restored"
        )
        self.record_id = record_id
        self.version = version
        self.how = how
        self.position = position
        self.cause = cause


class ConfigurationError(TiexinError):
    """The settings (such as TIEXIN_DATABASE_URL) are wrong."""


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name if it has none): one line for a log or a user."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
