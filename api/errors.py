"""Domain and infrastructure errors mapped to HTTP once, here."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.limits import BodyTooLarge
from domain.errors import InvalidInput, NotFound, RuleBroken
from tracking.errors import AccessNotRecorded, Busy, IdempotencyKeyReused, StoreUnavailable

log = logging.getLogger(__name__)
RETRY_AFTER_S = "2"
UNREADABLE_BODY = "the request body could not be read: send JSON in UTF-8 (or the form as posted)"


class Problem(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    """The body of every refusal, whichever layer refuses (a handler, a dependency, the size
    limit, the router): `detail` says why in words; a 422 for the request's shape also lists
    each field's `problems`."""

    detail: str
    problems: list[Problem] | None = None


_WHY = {
    401: "not signed in, or the session has ended",
    403: "the caller's role (or record binding) does not allow this, or a foreign Origin",
    404: "no such record",
    409: "the command breaks a rule of the record as it is now",
    413: "the request body is larger than the limit",
    422: "the request is not valid; `problems` says which field and why",
    429: "too many requests; retry after Retry-After seconds",
    503: "the database is not answering; retry after Retry-After seconds",
}
# A staff endpoint may answer any of these: the session and role checks run before the handler,
# the size limit before both, and a record or store problem inside it.
STAFF_STATUSES = (401, 403, 404, 409, 413, 422, 503)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a router or route: each refusal it may answer, in the shared shape,
    so that the published schema covers every answer (the fuzz test holds it to that)."""
    return {code: refusal(_WHY[code]) for code in statuses}


def refusal(description: str) -> dict[str, Any]:
    """One refusal with a route's own words. A route's entry for a status replaces its
    router's whole entry, so a route that words its own must name the model again."""
    return {"model": ErrorOut, "description": description}


STAFF_ERRORS = error_responses(*STAFF_STATUSES)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotFound, _status(404))
    app.add_exception_handler(RuleBroken, _status(409))
    app.add_exception_handler(Busy, _status(409))
    app.add_exception_handler(InvalidInput, _status(422))
    app.add_exception_handler(IdempotencyKeyReused, _status(422))
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for unavailable in (
        StoreUnavailable,
        OperationalError,
        InterfaceError,
        psycopg.OperationalError,
    ):
        app.add_exception_handler(unavailable, _store_unavailable)
    app.add_exception_handler(AccessNotRecorded, _access_not_recorded)


def _status(code: int):  # type: ignore[no-untyped-def]
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=code)

    return handler


async def _store_unavailable(_: Request, exc: Exception) -> JSONResponse:
    # The message of a driver error can name hosts and users; keep it in the log only.
    log.warning("store unavailable: %s", type(exc).__name__)
    return JSONResponse(
        {"detail": "the database is not answering; please retry shortly"},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER_S},
    )


async def _access_not_recorded(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc)}, status_code=503, headers={"Retry-After": RETRY_AFTER_S}
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, BodyTooLarge):
        return JSONResponse({"detail": str(exc.__cause__)}, status_code=413)
    if exc.status_code == 400:
        # FastAPI and Starlette answer 400 for a body they cannot even decode (JSON that is
        # not UTF-8, a broken multipart form); here every malformed body is one 422.
        return JSONResponse({"detail": UNREADABLE_BODY}, status_code=422)
    return await http_exception_handler(request, exc)


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append({"field": where, "message": message})
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "invalid request"
    return JSONResponse({"detail": summary, "problems": problems}, status_code=422)
