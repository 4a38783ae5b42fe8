"""Every staff endpoint names the roles it admits; only the traveller's and sign-in are open."""

from __future__ import annotations

from fastapi.routing import APIRoute

from api.main import ROUTERS

PUBLIC = {
    ("POST", "/api/registrations"),
    ("POST", "/api/registrations/lookup"),
    ("GET", "/api/travellers/{code}"),
    ("GET", "/r/{entry_point}"),
    ("POST", "/r/{entry_point}"),
    ("GET", "/t/{code}"),
    ("GET", "/t/{code}/qr.svg"),
    ("GET", "/t/{code}/qr.png"),
    ("POST", "/api/auth/token"),
    ("GET", "/healthz"),
    ("GET", "/docs"),
    ("GET", "/admin/posters"),
    ("GET", "/scan"),
    ("GET", "/dispatch"),
    ("GET", "/survey"),
    ("GET", "/board"),  # the page shell; its data and websocket check the role
    ("GET", "/openapi.json"),
}


def _roles(route: APIRoute) -> set[str]:
    roles: set[str] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        allowed = getattr(dependant.call, "allowed_roles", None)
        if allowed:
            roles |= {r.value for r in allowed}
        stack.extend(dependant.dependencies)
    return roles


ROUTES = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]


def test_every_staff_endpoint_names_its_roles() -> None:
    routes = ROUTES
    assert len(routes) > 20
    unguarded = []
    for route in routes:
        for method in route.methods:
            if (method, route.path) in PUBLIC:
                assert not _roles(route), f"{method} {route.path} is public"
            elif not _roles(route):
                unguarded.append(f"{method} {route.path}")
    assert unguarded == []


def test_survey_answers_are_only_for_survey_staff_and_commanders() -> None:
    survey = next(r for r in ROUTES if r.path.endswith("/survey"))
    assert _roles(survey) == {"surveyor", "commander"}


def test_posters_are_for_the_desks_and_command() -> None:
    posters = [r for r in ROUTES if "poster" in r.path and r.path.startswith("/api/")]
    assert {r.path for r in posters} >= {
        "/api/posters",
        "/api/entry-points/{code}/poster.svg",
        "/api/entry-points/{code}/poster.pdf",
    }
    for route in posters:
        assert _roles(route) == {"admin", "screener", "dispatcher", "commander"}, route.path
