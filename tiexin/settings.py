"""The environment, read in one place: which store, where the read models run, where metrics meet.

- ``TIEXIN_DATABASE_URL``: ``sqlite:///path.db`` (default ``sqlite:///tiexin.db``) or
  ``postgresql://user[:password]@host[:port]/db[?schema=name]`` (:mod:`ledger.settings` turns it
  into the library's settings);
- ``TIEXIN_PROJECTIONS``: ``in-process`` or ``off`` (unset: in the server's process on SQLite, in
  ``tiexin projections run`` on PostgreSQL);
- ``PROMETHEUS_MULTIPROC_DIR``: a directory shared by the server's workers, so a scrape of any one
  sums them all (prometheus-client's multiprocess mode, which reads it itself too).

Nothing else in ``ledger``, ``projections`` or ``api`` reads the environment: they are handed a
:class:`Settings`' fields (the URL, :class:`api.settings.ApiSettings`) by :mod:`tiexin.cli` and
:mod:`tiexin.server`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from api.settings import ApiSettings
from ledger.errors import ConfigurationError

DATABASE_URL_ENV = "TIEXIN_DATABASE_URL"
PROJECTIONS_ENV = "TIEXIN_PROJECTIONS"
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
DEFAULT_DATABASE_URL = "sqlite:///tiexin.db"


@dataclass(frozen=True)
class Settings:
    """What the environment says, parsed; every process of tiexin starts from one of these."""

    database_url: str = DEFAULT_DATABASE_URL
    projections: bool | None = None
    """Run the read models in the server's process (None: by store, see :attr:`ApiSettings.projections`)."""
    metrics_dir: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, projections: bool | None = None) -> Settings:
        """The settings of this process's environment (or of ``environ``); ConfigurationError if malformed.

        ``projections``, when given (``tiexin serve --projections``), wins over ``TIEXIN_PROJECTIONS``.
        """
        env = os.environ if environ is None else environ
        return cls(
            database_url=database_url(env),
            projections=projections if projections is not None else parse_projections(env.get(PROJECTIONS_ENV, "")),
            metrics_dir=env.get(METRICS_DIR_ENV) or None,
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
        if self.projections is None:
            os.environ.pop(PROJECTIONS_ENV, None)
        else:
            os.environ[PROJECTIONS_ENV] = "in-process" if self.projections else "off"
        if self.metrics_dir is not None:
            os.environ[METRICS_DIR_ENV] = self.metrics_dir

    def api(self) -> ApiSettings:
        """The HTTP API's settings: the store, where the read models run, where the workers' metrics meet."""
        return ApiSettings(database_url=self.database_url, projections=self.projections, metrics_dir=self.metrics_dir)


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
