"""Domain and infrastructure errors mapped to HTTP once, here."""

from __future__ import annotations

import logging

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from domain.errors import InvalidInput, NotFound, RuleBroken
from tracking.errors import AccessNotRecorded, Busy, IdempotencyKeyReused, StoreUnavailable

log = logging.getLogger(__name__)
RETRY_AFTER_S = "2"


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotFound, _status(404))
    app.add_exception_handler(RuleBroken, _status(409))
    app.add_exception_handler(Busy, _status(409))
    app.add_exception_handler(InvalidInput, _status(422))
    app.add_exception_handler(IdempotencyKeyReused, _status(422))
    app.add_exception_handler(RequestValidationError, _invalid_request)
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


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append({"field": where, "message": message})
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "invalid request"
    return JSONResponse({"detail": summary, "problems": problems}, status_code=422)
