"""The ``tiexin`` command: the demo county, API keys, the server, the read models, seals and verification.

Each command reads the store from ``TIEXIN_DATABASE_URL`` (:mod:`tiexin.settings`) and hands it
on; our own errors end a command with one line on stderr and exit status 1
(:func:`tiexin.cli.output.one_line_errors`). Heavy imports (the API, the read models) happen
inside the commands, so each costs the others nothing.
"""

from __future__ import annotations

import typer

from tiexin.cli.asof import asof
from tiexin.cli.audit import audit_app
from tiexin.cli.certificates import certificate_app
from tiexin.cli.counties import county_app
from tiexin.cli.demo import demo
from tiexin.cli.exports import claim_sheet, export_year
from tiexin.cli.keys import keys_app
from tiexin.cli.migrate import migrate
from tiexin.cli.projections import projections_app
from tiexin.cli.seals import seal, seals_app, verify
from tiexin.cli.serve import serve

app = typer.Typer(help="tiexin: the service-record ledger of the caring sons and daughters programme.")
app.add_typer(projections_app, name="projections")
app.add_typer(keys_app, name="keys")
app.add_typer(seals_app, name="seals")
app.add_typer(audit_app, name="audit")
app.add_typer(certificate_app, name="certificate")
app.add_typer(county_app, name="county")
audit_app.command("export")(export_year)
audit_app.command("claim-sheet")(claim_sheet)
app.command()(serve)
app.command()(demo)
app.command()(migrate)
app.command()(seal)
app.command()(verify)
app.command()(asof)


@app.callback()
def main() -> None:
    """The store is chosen by TIEXIN_DATABASE_URL (default sqlite:///tiexin.db)."""


__all__ = ["app"]
