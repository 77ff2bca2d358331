"""The Starlette app of the ``api`` process: ``/graphql`` and ``/healthz``.

``build_app(services)`` serves with Services the caller opened and will close; its
lifespan only starts ``services.hub`` (the Redis pub/sub reader feeding subscriptions;
``signalhub.bootstrap.shutdown`` stops it). ``create_app(settings)`` is the CLI's app:
its lifespan bootstraps the Services and shuts them down.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from tortoise import connections

from graphql_api.schema import build_schema
from graphql_api.transport import GraphQLView
from graphql_api.webhooks import billing_routes
from signalhub.bootstrap import Services, bootstrap, shutdown
from signalhub.settings import Settings

log = logging.getLogger(__name__)


async def healthz(request: Request) -> JSONResponse:
    """``{"status": "ok"}`` (200) when the database and Redis answer; else 503 naming
    the failed check(s), e.g. ``{"status": "error", "failed": ["redis"]}``."""
    services: Services = request.app.state.services
    failed = []
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        log.warning("health check: database failed: %s", exc)
        failed.append("database")
    try:
        await services.redis.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        log.warning("health check: redis failed: %s", exc)
        failed.append("redis")
    if failed:
        return JSONResponse({"status": "error", "failed": failed}, status_code=503)
    return JSONResponse({"status": "ok"})


def _app(lifespan: Any) -> Starlette:
    schema = build_schema()
    view = GraphQLView(schema)
    app = Starlette(routes=[Route("/graphql", view), WebSocketRoute("/graphql", view),
                            Route("/healthz", healthz, methods=["GET"]),
                            *billing_routes()], lifespan=lifespan)
    app.state.schema = schema
    return app


def build_app(services: Services) -> Starlette:
    """The app over ``services`` (caller-owned); its lifespan starts ``services.hub``.

    ``app.state.schema`` is the app's schema (its ``event_results.executions`` counts
    grouped subscription executions).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.hub.start()
        yield

    app = _app(lifespan)
    app.state.services = services
    return app


def create_app(settings: Settings) -> Starlette:
    """The app of ``signalhub api``: bootstraps Services at startup, shuts them down at exit."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await bootstrap(settings)
        app.state.services = services
        try:
            await services.hub.start()
            yield
        finally:
            await shutdown(services)

    return _app(lifespan)
