"""`tracking`: serve, migrate, staff accounts, projections, demo data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from domain.errors import DomainError
from domain.staff import Role
from projections.cli import app as projections_app
from projections.projector import Projector
from tracking.demo import demo_accounts, seed_demo
from tracking.services import Services, migrate, open_services
from tracking.settings import Settings, load_settings

app = typer.Typer(help="Door-to-door tracking (车门到房门)", no_args_is_help=True)
users = typer.Typer(help="Staff accounts.", no_args_is_help=True)
app.add_typer(users, name="users")
app.add_typer(projections_app, name="projections", help="Read-side views.")


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
    typer.echo(f"Serving on http://{host}:{port}  (store: {settings.store_kind}; docs: /docs)")
    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, log_level="info")


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


def with_services(action: Callable[[Services], object], settings: Settings) -> None:
    services = open_services(settings)
    try:
        action(services)
    except DomainError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    finally:
        services.close()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
