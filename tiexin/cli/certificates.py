"""``tiexin certificate issue|check``: service-record certificates (志愿服务记录证明) from the command line.

Both work on the store itself (``TIEXIN_DATABASE_URL``), no server needed. The volunteer's visits
are found by the audit read model, which these commands first bring up to the ledger's head
themselves (a runner of their own that saves no status: safe beside a running server or
``tiexin projections run``). ``issue`` records the certificate as the command line's principal
(``cli``, role ``admin``), prints what it certifies and its check code, and with ``--pdf FILE``
writes the printable certificate; ``check CODE`` says what ``GET /v1/certificates/{code}`` says.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer

from ledger.common import Provenance
from tiexin.cli.output import console, fail, one_line_errors
from tiexin.settings import database_url, master_key

if TYPE_CHECKING:
    from ledger.application import Ledger
    from ledger.certificates import Certificate
    from projections.audit import AuditView

certificate_app = typer.Typer(
    help="Service-record certificates (志愿服务记录证明): issue one, check a code.", no_args_is_help=True
)
CLI = Provenance(principal_id="cli", role="admin")
"""Who issues from the command line: whoever may run it on the bureau's machine, as an administrator."""


@contextmanager
def ledger_and_audit() -> Iterator[tuple[Ledger, AuditView]]:
    """The ledger (with the master key) and the audit view, caught up with the ledger's head."""
    from ledger.bootstrap import open_ledger
    from projections.audit import open_projection
    from projections.runner import Runner

    url = database_url()
    ledger = open_ledger(url, master_key=master_key())
    try:
        projection = open_projection(url)
        try:
            runner = Runner(ledger, projection, save_status=False)
            runner.run_once()
            if runner.state.status != "caught_up":
                fail(f"the audit read model cannot catch up with the ledger: {runner.state.reason}")
            yield ledger, projection.audit
        finally:
            projection.paged_view.close()
    finally:
        ledger.close()


@certificate_app.command("issue")
def issue(
    volunteer: Annotated[UUID, typer.Option("--volunteer", help="The volunteer's id.", show_default=False)],
    date_from: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="The first day (YYYY-MM-DD).")],
    date_to: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="The last day, included.")],
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Write the printable certificate (PDF) here.")] = None,
    check_url: Annotated[
        str,
        typer.Option(help="The public address of the API, printed on the PDF as where to check the code."),
    ] = "",
) -> None:
    """Issue a volunteer's certificate of verified service in a period; print its code (and write its PDF)."""
    from api.routers.certificates import candidates_in
    from ledger.certificates import Certificate

    with one_line_errors(), ledger_and_audit() as (ledger, audit):
        written = ledger.issue_certificate(
            volunteer, date_from=date_from.date(), date_to=date_to.date(), candidates=candidates_in(audit), by=CLI
        )
        certificate = ledger.find(Certificate, written.id)
        assert certificate is not None
        print_certificate(certificate)
        if pdf is not None:
            write_pdf(certificate, pdf, check_url)


@certificate_app.command("check")
def check(code: Annotated[str, typer.Argument(help="The check code as printed.", show_default=False)]) -> None:
    """Check a certificate's code: genuine or not, what it certifies, and whether the record changed since."""
    from api.routers.certificates import record_check
    from ledger.certificates import Certificate, certificate_id, normalise_code

    with one_line_errors(), ledger_and_audit() as (ledger, audit):
        normal = normalise_code(code)
        certificate = ledger.find(Certificate, certificate_id(normal)) if normal else None
        if certificate is None or not certificate.intact:
            console.print("[red]not genuine[/red]: no certificate bears this code", highlight=False)
            raise typer.Exit(1)
        found, position = record_check(ledger, audit, certificate)
    console.print("[green]genuine[/green]", highlight=False)
    print_certificate(certificate)
    if found.unchanged:
        console.print(f"the record is unchanged since issue (visits as of position {position})", highlight=False)
        return
    console.print("[yellow]the record changed since issue:[/yellow]", highlight=False)
    for change in found.changes:
        console.print(f"  {change.field}: {change.at_issue} → {change.now}", highlight=False)
    console.print(
        f"  visits no longer counted: {found.no_longer_counted}; newly counted: {found.newly_counted}", highlight=False
    )


def print_certificate(certificate: Certificate) -> None:
    from api.certificate_pdf import printed_name, zh_duration
    from ledger.certificates import TITLE, grouped

    facts = certificate.facts()
    kinds = ", ".join(f"{kind} {n}" for kind, n in facts.visits_by_kind.items())
    lines = (
        f"{TITLE} {grouped(certificate.code)} (check code {certificate.code})",
        f"  name      {printed_name(certificate) or '[forgotten]'}",
        f"  period    {facts.date_from.isoformat()} to {facts.date_to.isoformat()}",
        f"  service   {facts.minutes} minutes ({facts.hours} h, {zh_duration(facts.minutes)}), {facts.visits} visits",
        f"  by kind   {kinds}",
        f"  issuer    {certificate.issuer}, at {certificate.issued_at.isoformat()}",
        f"  record    as of log position {certificate.position}; digest {certificate.digest}",
    )
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)


def write_pdf(certificate: Certificate, path: Path, check_url: str) -> None:
    from api.certificate_pdf import certificate_pdf

    url = f"{check_url.rstrip('/')}/v1/certificates/{certificate.code}"
    try:
        path.write_bytes(certificate_pdf(certificate, url))
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror}")
    console.print(f"wrote the certificate to {path}", highlight=False)


__all__ = ["certificate_app"]
