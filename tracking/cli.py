"""`tracking`: serve, migrate, staff accounts, projections, demo data."""

from __future__ import annotations

import getpass
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from domain.errors import DomainError
from domain.staff import Role
from drill.cli import simulate
from projections.cli import app as projections_app
from projections.cli import report_app
from projections.projector import Projector
from projections.queries import read_alert_facts, read_reference
from tracking.alerts import AlertMonitor
from tracking.demo import demo_accounts, seed_demo
from tracking.printing.posters import (
    poster_pdf,
    poster_svg,
    registration_lines,
    registration_url,
)
from tracking.retention import run_retention
from tracking.services import Services, migrate, open_services
from tracking.settings import Settings, load_settings
from tracking.sidestore import SideStore

app = typer.Typer(help="Door-to-door tracking (车门到房门)", no_args_is_help=True)
users = typer.Typer(help="Staff accounts.", no_args_is_help=True)
app.add_typer(users, name="users")
app.add_typer(projections_app, name="projections", help="Read-side views.")
app.add_typer(report_app, name="report", help="Reports: the commander's daily report.")
app.command("simulate")(simulate)  # the drill: a day through a running server's HTTP API


def migrate_all(settings: Settings) -> None:
    """The event store's tables, our own tables and the view tables, created once."""
    migrate(settings)
    projector = Projector(settings)
    try:
        projector.setup()
    finally:
        projector.close()


@app.command("migrate")
def migrate_command() -> None:
    """Create every table (run once before starting workers)."""
    settings = load_settings()
    migrate_all(settings)
    typer.echo(f"tables ready on {settings.store_kind}")


@app.command("seed-demo")
def seed_demo_command() -> None:
    """Load the demo reference data and one account per role."""
    settings = load_settings()
    with_services(lambda s: typer.echo("seeded" if seed_demo(s) else "already seeded"), settings)


@app.command("serve")
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    demo: Annotated[bool, typer.Option(help="seed demo reference data")] = True,
) -> None:
    """Migrate, seed the demo data if asked, and serve API, pages and boards."""
    import uvicorn

    settings = load_settings()
    migrate_all(settings)
    if demo:
        with_services(seed_demo, settings)
        services = open_services(settings)
        try:
            typer.echo("Demo staff accounts (username, role, password):")
            for line in demo_accounts(services):
                typer.echo("  " + line)
        finally:
            services.close()
    for line in registration_form_lines(settings, host, port):
        typer.echo(line)
    typer.echo(f"Serving on http://{host}:{port}  (store: {settings.store_kind}; docs: /docs)")
    # Board frames are small and many: compressing each one per connection cost more CPU than
    # the whole rest of the fan-out (measured), so websockets go uncompressed.
    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, log_level="info",
                ws_per_message_deflate=False)


def entry_points(settings: Settings) -> list[tuple[str, str]]:
    """(code, name) of every entry point, once the views hold everything the log has."""
    projector = Projector(settings)
    try:
        projector.run_once()
    finally:
        projector.close()
    store = SideStore(settings)
    try:
        return [(e["code"], e["name"]) for e in read_reference(store)["entry_points"]]
    finally:
        store.close()


def registration_form_lines(settings: Settings, host: str, port: int) -> list[str]:
    base = settings.public_url or f"http://{host}:{port}"
    return registration_lines(entry_points(settings), base)


@app.command("posters")
def posters_command(
    out: Annotated[
        Path | None, typer.Option(help="folder for the files [default: $TRACKING_DATA_DIR/posters]")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            help="address the travellers' phones reach "
            "[default: TRACKING_PUBLIC_URL, else http://127.0.0.1:8000]"
        ),
    ] = None,
) -> None:
    """Write a QR poster (SVG and A4 PDF) for every entry point."""
    settings = load_settings()
    migrate_all(settings)
    found = entry_points(settings)
    if not found:
        typer.echo("no entry points yet: register one (or run `tracking seed-demo`)", err=True)
        raise typer.Exit(1)
    folder = out or settings.data_dir / "posters"
    folder.mkdir(parents=True, exist_ok=True)
    base = base_url or settings.public_url or "http://127.0.0.1:8000"
    for code, name in found:
        url = registration_url(base, code)
        svg, pdf = folder / f"{code}.svg", folder / f"{code}.pdf"
        svg.write_text(poster_svg(code, name, url), encoding="utf-8")
        pdf.write_bytes(poster_pdf(code, name, url))
        typer.echo(f"{code} ({name}): {url}\n  {svg}\n  {pdf}")


@users.command("add")
def add_user(
    username: str,
    role: Annotated[Role, typer.Option(help="one of the staff roles")],
    name: Annotated[str, typer.Option(help="display name")] = "",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Create a staff account."""
    settings = load_settings()
    with_services(
        lambda s: typer.echo(s.accounts.add(username, role, name or username, password)), settings
    )


def _change_user(
    settings: Settings,
    username: str,
    reason: str,
    *,
    role: Role | None = None,
    active: bool | None = None,
) -> None:
    def act(s: Services) -> None:
        answer = s.accounts.change(
            username, role=role, active=active, reason=reason, decided_by=f"cli:{getpass.getuser()}"
        )
        state = "active" if answer["active"] else "disabled"
        typer.echo(f"{answer['username']}: {answer['role']}, {state}")

    with_services(act, settings)


Reason = Annotated[str, typer.Option(help="why (kept in the account's history)")]


@users.command("disable")
def disable_user(username: str, reason: Reason = "disabled by an operator") -> None:
    """Disable an account: its sessions end at once, its open boards close within seconds."""
    _change_user(load_settings(), username, reason, active=False)


@users.command("enable")
def enable_user(username: str, reason: Reason = "enabled by an operator") -> None:
    """Enable a disabled account again (it signs in afresh)."""
    _change_user(load_settings(), username, reason, active=True)


@users.command("role")
def change_user_role(
    username: str, role: Role, reason: Reason = "role changed by an operator"
) -> None:
    """Give an account another role: its next request and its open boards follow it."""
    _change_user(load_settings(), username, reason, role=role)


alerts = typer.Typer(help="Loop-not-closed alerts.", no_args_is_help=True)
app.add_typer(alerts, name="alerts")


@alerts.command("run")
def alerts_run() -> None:
    """Raise and clear alerts until interrupted: the monitor for API processes started with
    TRACKING_ALERTS=off (several monitors may run; each alert is raised once)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    settings = load_settings()
    services = open_services(settings)
    try:
        monitor = AlertMonitor(services.app, lambda: read_alert_facts(services.store), settings)
        typer.echo(f"sweeping every {settings.alert_sweep_seconds:g} s; Ctrl-C to stop")
        monitor.run_forever(stop)
    finally:
        services.close()


def with_services(action: Callable[[Services], object], settings: Settings) -> None:
    services = open_services(settings)
    try:
        action(services)
    except DomainError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    finally:
        services.close()


imports = typer.Typer(help="Upstream lists: airline manifests, customs exports.",
                      no_args_is_help=True)
app.add_typer(imports, name="import")


@imports.command("arrivals")
def import_arrivals_command(
    file: Annotated[Path, typer.Argument(help="CSV export (UTF-8, or GB18030 from Excel)")],
    entry_point: Annotated[
        str, typer.Option("--entry-point", help="where these travellers arrive, e.g. CAN-T2")
    ],
    column: Annotated[
        list[str] | None,
        typer.Option(help="FIELD=HEADER for a header not recognised (docs/import.md); repeat"),
    ] = None,
    rejected: Annotated[
        Path | None, typer.Option(help="report of rejected rows [default: FILE.rejected.csv]")
    ] = None,
) -> None:
    """Pre-register the travellers of an airline manifest or customs export."""
    # Imported here: the other commands should not pay for them at start-up.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from tracking.arrivals import ArrivalsFileError, check_arrivals, open_arrivals
    from tracking.arrivals_import import import_arrivals, require_entry_point, write_rejected
    from tracking.errors import StoreUnavailable

    def fail(message: str) -> typer.Exit:
        typer.echo(f"error: {message}", err=True)
        return typer.Exit(1)

    pairs = [c.partition("=") for c in column or []]
    if any(not sep for _, sep, _ in pairs):
        raise fail("--column takes FIELD=HEADER, e.g. --column doc_number='Passport #'")
    try:
        source = open_arrivals(file, {f.strip(): h for f, _, h in pairs})
    except ArrivalsFileError as e:
        raise fail(str(e)) from None
    services = open_services(load_settings())
    try:
        require_entry_point(services.app, entry_point)
        # On stderr, so the summary on stdout stays one line a script can read; a terminal
        # shows the bars moving, a log gets their final state.
        with Progress(
            TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("rows"), TimeElapsedColumn(),
            console=Console(stderr=True), transient=False,
        ) as progress:
            checking = progress.add_task("Checking", total=source.rows)
            arrivals = check_arrivals(
                source, on_row=lambda n: progress.update(checking, completed=n)
            )
            registering = progress.add_task("Registering", total=arrivals.travellers)
            summary = import_arrivals(
                services.app, arrivals, entry_point,
                on_rows=lambda n: progress.advance(registering, n),
            )
    except DomainError as e:
        raise fail(str(e)) from None
    except StoreUnavailable as e:
        raise fail(f"the store is unavailable ({e}); importing again is safe") from None
    finally:
        services.close()
    report = rejected or file.with_suffix(".rejected.csv")
    write_rejected(report, summary.rejected)
    see = f" (see {report})" if summary.rejected else ""
    typer.echo(
        f"{summary.rows} rows: {summary.registered} travellers registered in "
        f"{summary.parties} parties, {summary.already_registered} already registered, "
        f"{summary.rejected_rows} rows rejected{see}"
    )


retention = typer.Typer(help="Erasure of personal data after the retention period.",
                        no_args_is_help=True)
app.add_typer(retention, name="retention")


@retention.command("run")
def retention_run(
    days: Annotated[int | None, typer.Option(
        min=0, help="erase travellers whose journey ended more than this many days ago "
        "(default: TRACKING_RETENTION_DAYS, 30)",
    )] = None,
) -> None:
    """Destroy the data keys of travellers whose journey ended long enough ago (idempotent)."""
    settings = load_settings()
    services = open_services(settings)
    try:
        done = run_retention(services, days)
    finally:
        services.close()
    typer.echo(
        f"{done.erased} travellers erased (journeys ended before {done.cutoff.isoformat()}); "
        f"{done.already_erased} were erased before"
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
