"""The environment, read in one place: which store, where the read models run, where metrics meet.

- ``TIEXIN_DATABASE_URL``: ``sqlite:///path.db`` (default ``sqlite:///tiexin.db``) or
  ``postgresql://user[:password]@host[:port]/db[?schema=name]`` (:mod:`ledger.settings` turns it
  into the library's settings);
- ``TIEXIN_PROJECTIONS``: ``in-process`` or ``off`` (unset: in the server's process on SQLite, in
  ``tiexin projections run`` on PostgreSQL);
- ``TIEXIN_MASTER_KEY``: the master key that wraps every person's key (32 bytes, base64), or
  ``TIEXIN_MASTER_KEY_FILE``: the file holding it (default ``tiexin-master.key`` in the working
  directory, created on first use, mode 0600, with a message saying to back it up);
- ``PROMETHEUS_MULTIPROC_DIR``: a directory shared by the server's workers, so a scrape of any one
  sums them all (prometheus-client's multiprocess mode, which reads it itself too);
- ``TIEXIN_SEAL_KEY_FILE``: the bureau's Ed25519 seal key (default ``tiexin-seal.key`` in the working
  directory; made with ``tiexin keys seal-key``, never on its own); ``TIEXIN_SEAL_EVERY_EVENTS``
  (default 1000) and ``TIEXIN_SEAL_EVERY_MINUTES`` (default 60): when the running sealer seals on its
  own; ``TIEXIN_VERIFY_EVERY_MINUTES`` (default 15, 0: only when asked): how often a server checks
  the log against its seals for ``/readyz`` and ``/metrics`` (docs/seals.md).

Nothing else in ``ledger``, ``projections`` or ``api`` reads the environment: they are handed a
:class:`Settings`' fields (the URL, :class:`api.settings.ApiSettings`) by :mod:`tiexin.cli` and
:mod:`tiexin.server`.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from api.settings import ApiSettings
from ledger.errors import ConfigurationError
from ledger.personal import load_master_key, new_master_key_text

DATABASE_URL_ENV = "TIEXIN_DATABASE_URL"
PROJECTIONS_ENV = "TIEXIN_PROJECTIONS"
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
MASTER_KEY_ENV = "TIEXIN_MASTER_KEY"
MASTER_KEY_FILE_ENV = "TIEXIN_MASTER_KEY_FILE"
SEAL_KEY_FILE_ENV = "TIEXIN_SEAL_KEY_FILE"
SEAL_EVERY_EVENTS_ENV = "TIEXIN_SEAL_EVERY_EVENTS"
SEAL_EVERY_MINUTES_ENV = "TIEXIN_SEAL_EVERY_MINUTES"
VERIFY_EVERY_MINUTES_ENV = "TIEXIN_VERIFY_EVERY_MINUTES"
DEFAULT_DATABASE_URL = "sqlite:///tiexin.db"
DEFAULT_MASTER_KEY_FILE = "tiexin-master.key"
DEFAULT_SEAL_KEY_FILE = "tiexin-seal.key"
DEFAULT_SEAL_EVERY_EVENTS = 1000
DEFAULT_SEAL_EVERY_MINUTES = 60.0
DEFAULT_VERIFY_EVERY_MINUTES = 15.0


@dataclass(frozen=True)
class Settings:
    """What the environment says, parsed; every process of tiexin starts from one of these."""

    database_url: str = DEFAULT_DATABASE_URL
    master_key: bytes | None = field(default=None, repr=False)
    """The master key of the persons' keys (:func:`master_key`); None only for a process that reads no personal data."""
    projections: bool | None = None
    """Run the read models in the server's process (None: by store, see :attr:`ApiSettings.projections`)."""
    metrics_dir: str | None = None
    seal_key_file: str = DEFAULT_SEAL_KEY_FILE
    """The bureau's seal key (:func:`seal_key_file`); read when a seal is made, so one made later is used."""
    seal_every_events: int = DEFAULT_SEAL_EVERY_EVENTS
    seal_every_minutes: float = DEFAULT_SEAL_EVERY_MINUTES
    verify_every_minutes: float = DEFAULT_VERIFY_EVERY_MINUTES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, projections: bool | None = None) -> Settings:
        """The settings of this process's environment (or of ``environ``); ConfigurationError if malformed.

        ``projections``, when given (``tiexin serve --projections``), wins over ``TIEXIN_PROJECTIONS``.
        """
        env = os.environ if environ is None else environ
        return cls(
            database_url=database_url(env),
            master_key=master_key(env),
            projections=projections if projections is not None else parse_projections(env.get(PROJECTIONS_ENV, "")),
            metrics_dir=env.get(METRICS_DIR_ENV) or None,
            seal_key_file=str(seal_key_file(env)),
            seal_every_events=int(_number(env, SEAL_EVERY_EVENTS_ENV, DEFAULT_SEAL_EVERY_EVENTS, least=1, whole=True)),
            seal_every_minutes=_number(env, SEAL_EVERY_MINUTES_ENV, DEFAULT_SEAL_EVERY_MINUTES, least=0.01),
            verify_every_minutes=_number(env, VERIFY_EVERY_MINUTES_ENV, DEFAULT_VERIFY_EVERY_MINUTES, least=0),
        )

    def export(self) -> None:
        """Write these settings into this process's environment, for the processes it starts to inherit.

        The one place tiexin writes the environment, for the one reason it must: ``tiexin serve
        --workers N`` has uvicorn start worker processes that build their app by importing
        :func:`tiexin.server.create_app_from_env` with nothing but the environment they inherit
        (which reads it back with :meth:`from_env`), and prometheus-client in each worker reads
        ``PROMETHEUS_MULTIPROC_DIR`` from it when imported.
        """
        os.environ[DATABASE_URL_ENV] = self.database_url
        if self.master_key is not None and not os.environ.get(MASTER_KEY_ENV):
            os.environ[MASTER_KEY_ENV] = base64.b64encode(self.master_key).decode()
        if self.projections is None:
            os.environ.pop(PROJECTIONS_ENV, None)
        else:
            os.environ[PROJECTIONS_ENV] = "in-process" if self.projections else "off"
        if self.metrics_dir is not None:
            os.environ[METRICS_DIR_ENV] = self.metrics_dir

    def api(self) -> ApiSettings:
        """The HTTP API's settings: the store, where the read models run, where the workers' metrics meet."""
        return ApiSettings(
            database_url=self.database_url,
            master_key=self.master_key,
            projections=self.projections,
            metrics_dir=self.metrics_dir,
            seal_key_file=self.seal_key_file,
            seal_every_events=self.seal_every_events,
            seal_every_seconds=self.seal_every_minutes * 60,
            verify_every_seconds=self.verify_every_minutes * 60,
        )


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """``TIEXIN_DATABASE_URL``, or the default SQLite file in the working directory."""
    env = os.environ if environ is None else environ
    return env.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL


def parse_projections(value: str) -> bool | None:
    """``TIEXIN_PROJECTIONS``: True for in-process, False for off, None (unset) for the store's default."""
    value = value.strip().lower()
    if value in ("", "default", "auto"):
        return None
    if value in ("in-process", "1", "true", "yes", "on"):
        return True
    if value in ("off", "0", "false", "no"):
        return False
    raise ConfigurationError(f"{PROJECTIONS_ENV} must be in-process or off, not {value!r}")


def seal_key_file(environ: Mapping[str, str] | None = None) -> Path:
    """``TIEXIN_SEAL_KEY_FILE``, or ``tiexin-seal.key`` in the working directory (it may not exist yet)."""
    env = os.environ if environ is None else environ
    return Path(env.get(SEAL_KEY_FILE_ENV) or DEFAULT_SEAL_KEY_FILE)


def _number(env: Mapping[str, str], name: str, default: float, *, least: float, whole: bool = False) -> float:
    """A number from the environment (``default`` when unset); ConfigurationError if malformed or below ``least``."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        raise ConfigurationError(f"{name} must be a {'whole ' if whole else ''}number, not {text!r}") from None
    if not value >= least:
        raise ConfigurationError(f"{name} must be at least {least:g}, not {text!r}")
    return value


def master_key(environ: Mapping[str, str] | None = None) -> bytes:
    """``TIEXIN_MASTER_KEY``, or the key in ``TIEXIN_MASTER_KEY_FILE`` (made on first use, saying so on stderr).

    Without it the persons' keys cannot be opened: whoever loses it loses every name, address and
    reading in the ledger (docs/operations.md says how to back it up). ConfigurationError if malformed.
    """
    env = os.environ if environ is None else environ
    if env.get(MASTER_KEY_ENV):
        return load_master_key(env[MASTER_KEY_ENV])
    path = Path(env.get(MASTER_KEY_FILE_ENV) or DEFAULT_MASTER_KEY_FILE)
    if not path.exists():
        _create_master_key_file(path)
    try:
        return load_master_key(path.read_text())
    except OSError as error:
        raise ConfigurationError(f"cannot read the master key file {path}: {error.strerror}") from None


def _create_master_key_file(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first: read theirs
    except OSError as error:
        raise ConfigurationError(f"cannot create the master key file {path}: {error.strerror}") from None
    with os.fdopen(descriptor, "w") as file:
        file.write(new_master_key_text() + "\n")
    sys.stderr.write(
        f"tiexin: created a new master key in {path.resolve()}. It opens every person's data in the ledger: "
        "back it up apart from the database (docs/operations.md, Keys); without it that data is lost.\n"
    )
