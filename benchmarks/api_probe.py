"""Diagnostic variant of ``signalhub api`` for ``fanout.py --probe``.

The same app (``graphql_api.app.create_app``) and uvicorn settings as ``signalhub api``,
plus ``GET /bench/stats`` (grouped executions, hub listeners) and
``POST /bench/profile/start`` / ``/bench/profile/stop`` (cProfile of the event loop
thread; stop answers with the top functions by internal time). Not for production.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import resource
import sys
from pathlib import Path

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from graphql_api.app import create_app  # noqa: E402
from signalhub.settings import load_settings  # noqa: E402

PROFILE: dict[str, cProfile.Profile] = {}


async def stats(request: Request) -> JSONResponse:
    app = request.app
    services = getattr(app.state, "services", None)
    return JSONResponse({
        "executions": app.state.schema.event_results.executions,
        "hub_listeners": services.hub.listener_count() if services else None,
    })


async def profile_start(request: Request) -> PlainTextResponse:
    PROFILE["p"] = cProfile.Profile()
    PROFILE["p"].enable()
    return PlainTextResponse("ok")


async def profile_stop(request: Request) -> PlainTextResponse:
    prof = PROFILE.pop("p")
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(35)
    return PlainTextResponse(out.getvalue())


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    settings = load_settings()
    app = create_app(settings)
    app.router.routes[:0] = [Route("/bench/stats", stats),
                             Route("/bench/profile/start", profile_start, methods=["POST"]),
                             Route("/bench/profile/stop", profile_stop, methods=["POST"])]
    uvicorn.run(app, host=settings.signalhub_host, port=settings.signalhub_port,
                ws_per_message_deflate=False, log_level="warning")


if __name__ == "__main__":
    main()
