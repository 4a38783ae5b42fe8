"""`create_app()`: the whole HTTP face, wired to one set of services."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.board_feed import BoardFeed
from api.errors import install_error_handlers
from api.limits import BodySizeLimit, JsonDepthLimit
from api.origin import OriginCheck
from api.routers import (
    admin_pages,
    alerts,
    arrivals,
    auth,
    board,
    board_page,
    board_socket,
    dispatch,
    dispatch_page,
    docs,
    health,
    journeys,
    paper,
    posters,
    quarantine,
    reference,
    registrations,
    reports,
    runs,
    scanner_page,
    scans,
    survey,
    survey_page,
    transfers,
    traveller_pages,
)
from dashboard import STATIC_DIR
from projections.projector import Projector
from projections.queries import read_alert_facts
from tracking.alerts import AlertMonitor
from tracking.services import open_services
from tracking.settings import Settings, load_settings

log = logging.getLogger(__name__)
ROUTERS = tuple(
    m.router
    for m in (
        health,
        docs,
        auth,
        reference,
        registrations,
        arrivals,
        traveller_pages,
        posters,
        admin_pages,
        journeys,
        survey,
        survey_page,
        quarantine,
        transfers,
        reports,
        runs,
        paper,
        scans,
        scanner_page,
        board,
        board_page,
        board_socket,
        dispatch,
        dispatch_page,
        alerts,
    )
)


def create_app(
    settings: Settings | None = None, *, embedded_projector: bool | None = None
) -> FastAPI:
    settings = settings or load_settings()
    if embedded_projector is None:
        embedded_projector = os.environ.get("TRACKING_PROJECTOR", "embedded") == "embedded"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = app.state.services = open_services(settings)
        stop = threading.Event()
        workers: list[threading.Thread] = []
        if embedded_projector:
            projector = Projector(settings)
            workers.append(threading.Thread(
                target=projector.run_forever, args=(stop,), name="projector", daemon=True
            ))
        if settings.alerts == "embedded":
            # Every process may run one: racing monitors raise each alert once.
            monitor = AlertMonitor(
                services.app, lambda: read_alert_facts(services.store), settings
            )
            workers.append(threading.Thread(
                target=monitor.run_forever, args=(stop,), name="alert-monitor", daemon=True
            ))
        for worker in workers:
            worker.start()
        feed = app.state.board_feed = BoardFeed(
            services.store, settings.postgres_conninfo if settings.is_postgres else None,
            settings.board_queue_limit,
        )
        feed.start(asyncio.get_running_loop())
        try:
            yield
        finally:
            feed.stop()
            stop.set()
            for worker in workers:
                worker.join(timeout=10)
            services.close()

    app = FastAPI(
        title="Door-to-door tracking (车门到房门)",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    # Added first, so it runs inside the size limit: it reads at most MAX_BODY_BYTES.
    app.add_middleware(JsonDepthLimit)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(OriginCheck, public_url=settings.public_url)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)
    return app
