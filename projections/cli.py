"""`tracking projections ...`: rebuild the views, follow the log, see how far behind they are.

Also runnable alone: `python -m projections.cli rebuild`.
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from projections.projector import PAGE_SIZE, Projector
from tracking.settings import load_settings

app = typer.Typer(help="Read-side views fed by the event log.", no_args_is_help=True)


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


if __name__ == "__main__":
    app()
