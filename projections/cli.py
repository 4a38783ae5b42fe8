"""`tracking projections ...`: rebuild the views, follow the log, see how far behind they are;
and `tracking report daily`, the commander's daily report read from the views.

Also runnable alone: `python -m projections.cli rebuild`.
"""

from __future__ import annotations

import signal
import threading
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from domain.errors import InvalidInput
from projections.projector import PAGE_SIZE, Projector
from tracking.errors import StoreUnavailable
from tracking.settings import load_settings
from tracking.sidestore import SideStore

app = typer.Typer(help="Read-side views fed by the event log.", no_args_is_help=True)
report_app = typer.Typer(help="Reports read from the views.", no_args_is_help=True)


@app.command()
def rebuild(
    fresh: Annotated[
        bool, typer.Option(help="start over even if an interrupted rebuild could be resumed")
    ] = False,
    page_size: Annotated[int, typer.Option(min=1, max=50_000)] = PAGE_SIZE,
) -> None:
    """Rebuild every view from the start of the event log (resumes an interrupted rebuild)."""
    projector = Projector(load_settings(), page_size=page_size)
    try:
        columns = (
            TextColumn("rebuilding views"), BarColumn(), MofNCompleteColumn(),
            TextColumn("events"), TimeRemainingColumn(),
        )
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task("rebuild", total=None)

            def show(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            applied = projector.rebuild(progress=show, fresh=fresh)
        typer.echo(f"views rebuilt: {applied} events applied, position {projector.position()}")
    finally:
        projector.close()


@app.command()
def status() -> None:
    """Where the views are in the log, and how far behind its head."""
    projector = Projector(load_settings())
    try:
        s = projector.status()
        state = "rebuilding" if s.rebuilding else "current" if s.lag == 0 else "behind"
        typer.echo(f"position {s.position}  head {s.head}  lag {s.lag}  ({state})")
    finally:
        projector.close()


@app.command()
def run() -> None:
    """Keep the views current until interrupted (a projector worker outside the API)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    projector = Projector(load_settings())
    typer.echo("following the event log; Ctrl-C to stop")
    projector.run_forever(stop)


class ReportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"


@report_app.command("daily")
def daily_report(
    out: Annotated[Path, typer.Option("--out", help="the file to write", dir_okay=False)],
    day: Annotated[
        str | None, typer.Option(help="the district's local day, YYYY-MM-DD [default: today]")
    ] = None,
    format: Annotated[
        ReportFormat | None,
        typer.Option(help="csv (UTF-8 with BOM), xlsx or json [default: from --out's suffix, "
                          "else csv]"),
    ] = None,
) -> None:
    """The commander's daily report (counts only) as of the views' position now."""
    # Imported here: the other commands should not pay for openpyxl at start-up.
    import orjson

    from projections.report import read_daily_report, report_day
    from projections.report_files import daily_report_csv, daily_report_xlsx

    def fail(message: str) -> typer.Exit:
        typer.echo(f"error: {message}", err=True)
        return typer.Exit(1)

    now = datetime.now(UTC)
    try:
        chosen = report_day(date.fromisoformat(day) if day else None, now)
    except InvalidInput as e:
        raise fail(str(e)) from None
    except ValueError as e:  # not a date
        raise fail(f"--day takes a date as YYYY-MM-DD ({e})") from None
    kind = format or _format_of(out)
    settings = load_settings()
    store = SideStore(settings)
    try:
        report = read_daily_report(store, chosen, settings.survey_sla_hours, now)
    except StoreUnavailable as e:
        raise fail(f"the store is unavailable ({e})") from None
    finally:
        store.close()
    if kind is ReportFormat.CSV:
        body = daily_report_csv(report)
    elif kind is ReportFormat.XLSX:
        body = daily_report_xlsx(report)
    else:
        body = orjson.dumps(report, option=orjson.OPT_INDENT_2)
    try:
        out.write_bytes(body)
    except OSError as e:
        raise fail(f"cannot write {out}: {e.strerror}") from None
    typer.echo(f"daily report of {chosen.isoformat()} written to {out} ({kind.value}), "
               f"board position {report['position']}")


def _format_of(out: Path) -> ReportFormat:
    try:
        return ReportFormat(out.suffix.lower().lstrip("."))
    except ValueError:
        return ReportFormat.CSV


if __name__ == "__main__":
    app()
