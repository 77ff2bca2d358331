"""Database wiring: tortoise config for SQLite or PostgreSQL, init/close, migrate."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tortoise import Tortoise

APP = "models"
# Every module holding tortoise models of the one app (a feature may keep its own module).
MODEL_MODULES = ("domain.models", "domain.exchange_models", "domain.billing_models",
                 "domain.linking_models", "domain.discord_models")


def db_url_for_tortoise(url: str) -> str:
    """Normalise ``postgresql://`` to tortoise's ``asyncpg://``; create SQLite folders."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://").split("?", 1)[0]
        if path not in (":memory:", "") and not path.startswith("/:memory"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    return url


def tortoise_config(url: str) -> dict[str, Any]:
    """Tortoise config with one app ``models`` (MODEL_MODULES) and its migrations package."""
    return {
        "connections": {"default": db_url_for_tortoise(url)},
        "apps": {APP: {"models": list(MODEL_MODULES), "default_connection": "default",
                       "migrations": "migrations"}},
        "use_tz": True,
        "timezone": "UTC",
    }


# For tortoise's own CLI: `tortoise -c signalhub.db.TORTOISE_ORM makemigrations`.
TORTOISE_ORM = tortoise_config(os.environ.get("DATABASE_URL", "sqlite://./var/signalhub.sqlite3"))


async def init_db(url: str) -> None:
    """Open the connections for this process (global context, usable from any task)."""
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)


async def close_db() -> None:
    """Close every connection opened by ``init_db``."""
    await Tortoise.close_connections()


async def migrate(url: str) -> None:
    """Apply every migration under ``migrations/`` to the database at ``url``."""
    from tortoise.migrations.api import migrate as run_migrations

    await run_migrations(config=tortoise_config(url))
    await Tortoise.close_connections()
