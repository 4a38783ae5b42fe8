"""`tracking simulate`: a drill day against a running server, with a progress bar and a
summary of the drill's own counts beside the board's (exit code 1 when any differ)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from drill.client import TransportError
from drill.plan import DayPlan, plan_day
from drill.run import Progress as DayProgress
from drill.run import minutes, run_day
from drill.setup import SetupError
from drill.summary import DaySummary

DEMO_ARRIVALS = 300
DEMO_MINUTES = 4.0  # a demo day lasts about this long


def simulate(
    url: Annotated[str, typer.Option(help="the server")] = "http://127.0.0.1:8000",
    arrivals: Annotated[int | None, typer.Option(
        min=1, help=f"travellers arriving over the day [default: {DEMO_ARRIVALS}]")] = None,
    speed: Annotated[float | None, typer.Option(
        min=0, help="simulated seconds per real second; 0 = as fast as the server answers "
        "[default: 60; with --demo, what makes the day last about four minutes]")] = None,
    accounts: Annotated[Path, typer.Option(
        help="staff accounts, username<TAB>role<TAB>password per line")] = Path(
        "data/demo-accounts.txt"),
    seed: Annotated[int, typer.Option(help="the plan's seed: the same seed, the same day")] = 1,
    concurrency: Annotated[int, typer.Option(min=1, help="requests in flight at most")] = 32,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="write the summary as JSON to this file")] = None,
    journal: Annotated[Path | None, typer.Option(
        help="write one JSON line per acknowledged command to this file")] = None,
    demo: Annotated[bool, typer.Option(
        help=f"a believable small day for `make run`: {DEMO_ARRIVALS} arrivals in about "
        f"{DEMO_MINUTES:.0f} minutes")] = False,
    wait: Annotated[float, typer.Option(
        min=0, help="seconds to wait for the server to start answering")] = 0.0,
) -> None:
    """Drive an arrival day through the public HTTP API of a running server: flights landing,
    pre-registration from phones, double registrations, families, screening, dispatch,
    boarding, arrivals, check-ins, surveys and a few exits; then compare with the board."""
    plan = plan_day(arrivals or DEMO_ARRIVALS, seed)
    if speed is None:
        speed = plan.span / (DEMO_MINUTES * 60) if demo else 60.0
    console = Console(stderr=True)
    console.print(
        f"Drill day: {plan.arrivals} arrivals on {len(plan.flights)} flights, "
        f"{len(plan.families)} families, {len(plan.doubles)} registering twice; "
        + (f"speed {speed:.0f}x (about {plan.span / speed / 60:.1f} min)" if speed
           else "as fast as the server answers")
        + f", against {url}"
    )
    try:
        summary = asyncio.run(_play(url, plan, accounts, speed, concurrency, journal, wait,
                                    console))
    except (SetupError, TransportError) as e:
        console.print(f"[red]cannot run the drill:[/red] {e}")
        raise typer.Exit(2) from None
    show(summary, Console())
    if json_out is not None:
        json_out.write_bytes(orjson.dumps(summary.to_json(), option=orjson.OPT_INDENT_2))
    if not summary.ok:
        raise typer.Exit(1)


async def _play(
    url: str, plan: DayPlan, accounts: Path, speed: float, concurrency: int,
    journal: Path | None, wait: float, console: Console,
) -> DaySummary:
    with Progress(
        TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"), TimeElapsedColumn(), console=console,
    ) as bars:
        registered = bars.add_task("registered", total=plan.arrivals, note="")
        through = bars.add_task("at the door or exited", total=plan.arrivals, note="")
        surveyed = bars.add_task("surveyed", total=1, note="")

        def watch(p: DayProgress) -> None:
            clock = f"sim {minutes(p.simulated)}" if p.simulated is not None else ""
            bars.update(registered, completed=p.registered, note=clock)
            bars.update(through, completed=p.through, note=f"{p.runs} runs")
            bars.update(surveyed, completed=p.surveyed, total=max(p.surveys_planned, 1),
                        note=f"{p.retries} retries")

        return await run_day(url, plan, accounts, speed, concurrency, journal, watch=watch,
                             wait_for=wait)


def show(summary: DaySummary, console: Console) -> None:
    """The drill's counts beside the board's, then what else the day did."""
    table = Table(title=f"Drill day ({summary.arrivals} planned arrivals, "
                  f"{summary.elapsed_s:.0f} s)")
    table.add_column("count")
    table.add_column("drill", justify="right")
    table.add_column("board", justify="right")
    table.add_column("")
    for name, ours, board in summary.compared():
        table.add_row(name, str(ours), str(board), "" if ours == board else "[red]differs[/red]")
    console.print(table)
    facts = Table(show_header=False, title="The day")
    for name, value in (
        ("registrations", summary.registrations),
        ("  from phones before landing", summary.pre_registrations),
        ("  in the arrival hall", summary.hall_registrations),
        ("double registrations (same journey)", summary.double_registrations),
        ("double registrations that opened a second journey", summary.duplicate_journeys),
        ("families (members)", f"{summary.families} ({summary.family_members})"),
        ("screenings", summary.screenings),
        ("vehicle runs", summary.runs),
        ("surveys", summary.surveys),
        ("DRILL- sites and vehicles registered", len(summary.created)),
        ("commands acknowledged", sum(summary.commands.values())),
        ("retries (throttled / unavailable / busy / no answer)",
         f"{summary.retries} ({summary.throttled} / {summary.unavailable} / {summary.busy} / "
         f"{summary.transport_errors})"),
        ("refused", len(summary.refused)),
    ):
        facts.add_row(name, str(value))
    console.print(facts)
    latency = Table(title="Command latency (ms, issued to acknowledged)")
    for column in ("command", "n", "p50", "p95", "p99", "max"):
        latency.add_column(column, justify="left" if column == "command" else "right")
    for kind, f in summary.percentiles().items():
        latency.add_row(kind, *(f"{f[k]:g}" for k in ("n", "p50", "p95", "p99", "max")))
    console.print(latency)
    for refusal in summary.refused[:10]:
        console.print(f"[yellow]refused:[/yellow] {refusal}")
    if summary.duplicate_journeys:
        console.print(f"[red]{summary.duplicate_journeys} second registrations opened a "
                      "second journey[/red]")
    for name, ours, board in summary.differences():
        console.print(f"[red]differs:[/red] {name}: drill {ours}, board {board}")
    if summary.ok:
        console.print("[green]every count equals the board's[/green]")
