"""The access table (api/policy.py) and the app's routes match both ways, and each row is
enforced the way its kind needs: staff rows by `allow`, body records by `require_own`, the
websocket by its handler. tests/e2e/test_access_matrix.py calls every row as every caller."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute, Mount, Route

from api import deps
from api.main import ROUTERS, create_app
from api.policy import (
    CALLERS,
    IN_BODY,
    OWN_RULES,
    POLICY,
    Access,
    FieldClass,
    route_key,
)

SOCKET = "WS /ws/board"


def _flat(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included router
        if included is not None:
            yield from _flat(list(included.routes))
        else:
            yield route


def app_routes() -> dict[str, BaseRoute]:
    """Every route of the app by its table key: the routers' API and page routes, the
    websocket, and what FastAPI and the app add themselves (the schema, the static files)."""
    found: dict[str, BaseRoute] = {}
    for route in _flat(list(create_app().routes)):
        if isinstance(route, APIWebSocketRoute):
            found[f"WS {route.path}"] = route
        elif isinstance(route, Mount):
            found[f"GET {route.path}/{{path}}"] = route
        elif isinstance(route, Route | APIRoute):
            for method in route.methods or ():
                if method != "HEAD":
                    found[route_key(method, route.path)] = route
    return found


def _calls(route: APIRoute) -> set[Callable[..., Any]]:
    calls: set[Callable[..., Any]] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        if dependant.call is not None:
            calls.add(dependant.call)
        stack.extend(dependant.dependencies)
    return calls


def test_every_route_has_one_row_and_every_row_a_route() -> None:
    routes = app_routes()
    assert len(routes) > 60
    assert sorted(set(routes) - set(POLICY)) == [], "routes missing from api/policy.py"
    assert sorted(set(POLICY) - set(routes)) == [], "rows of api/policy.py with no route"


def test_staff_rows_are_enforced_by_allow_and_open_rows_need_no_credentials() -> None:
    routes = app_routes()
    for key, rule in POLICY.items():
        route = routes[key]
        if key == SOCKET:
            continue
        if not isinstance(route, APIRoute):
            assert rule.open, f"{key} is served outside FastAPI's dependencies: it must be open"
            continue
        calls = _calls(route)
        if rule.open:
            assert deps.allow not in calls and deps.current_staff not in calls, key
        else:
            assert deps.allow in calls, f"{key} is not open but does not depend on allow"


def test_a_record_in_the_body_is_checked_by_its_handler() -> None:
    routes = app_routes()
    body_rows = [k for k, r in POLICY.items() if IN_BODY & set(r.records)]
    assert body_rows  # boarding (the run) and check-in (the door)
    for key in body_rows:
        route = routes[key]
        assert isinstance(route, APIRoute)
        assert "require_own(" in inspect.getsource(route.endpoint), key


def test_the_websocket_checks_its_row() -> None:
    route = app_routes()[SOCKET]
    assert isinstance(route, APIWebSocketRoute)
    source = inspect.getsource(inspect.getmodule(route.endpoint))  # type: ignore[arg-type]
    assert "admits(BOARD_SOCKET" in source and 'BOARD_SOCKET = "WS /ws/board"' in source


def test_no_router_names_roles_of_its_own() -> None:
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                assert not any(
                    hasattr(call, "allowed_roles") for call in _calls(route)
                ), route.path


def test_own_marks_are_explained_and_have_a_record() -> None:
    for key, rule in POLICY.items():
        for caller in CALLERS:
            if rule.of(caller) is Access.OWN:
                meaning, applies_to = OWN_RULES[caller]
                assert meaning and applies_to & set(rule.records), (key, caller)


def test_survey_answers_and_health_data_are_only_for_survey_staff_and_commanders() -> None:
    for key in (
        "GET /api/journeys/{journey_id}/health-record",
        "GET /api/journeys/{journey_id}/contacts",
        "POST /api/journeys/{journey_id}/survey",
        "GET /api/survey/worklist",
    ):
        assert POLICY[key].staff_roles == ("surveyor", "commander"), key
    granted = {
        key for key, rule in POLICY.items()
        if rule.fields.get(FieldClass.HEALTH, frozenset()) - {"surveyor", "commander"}
    }
    assert granted == set()
    # The reasons of an order may be medical: only in the health record.
    assert POLICY["GET /api/journeys/{journey_id}/quarantine"].fields[
        FieldClass.ORDER_REASONS] == frozenset()


def test_posters_are_for_the_desks_and_command() -> None:
    for key in (
        "GET /api/posters",
        "GET /api/entry-points/{code}/poster.svg",
        "GET /api/entry-points/{code}/poster.pdf",
    ):
        assert POLICY[key].staff_roles == ("admin", "screener", "dispatcher", "commander"), key
