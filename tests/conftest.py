"""Shared fixtures: a PostgreSQL database and a Redis namespace of this run's own.

``TEST_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432``) names the server;
each run creates ``signalhub_test_<random>``, migrates it and drops it at the end.
``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379``) is shared; each run uses its own
namespace (arq queue, pub/sub topics, limiter keys) and deletes its keys at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from redis.asyncio import Redis

from signalhub.db import close_db, init_db, migrate
from signalhub.settings import Settings

SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
RUN_ID = uuid.uuid4().hex[:10]
TABLES = ("deliveries", "positions", "copy_orders", "paper_accounts", "copy_settings",
          "subscriptions", "outbox", "signal_events", "signal_states", "signals",
          "providers", "api_tokens", "users")


def _server(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"postgres://{rest.split('/', 1)[0]}"


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database for this test run; dropped afterwards."""
    name = f"signalhub_test_{RUN_ID}"
    admin = await asyncpg.connect(_server(SERVER_URL) + "/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{_server(SERVER_URL)}/{name}"
    try:
        await migrate(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[str]:
    """Tortoise initialised (global context) on the run's database."""
    await init_db(database_url)
    yield database_url
    await close_db()


@pytest.fixture
async def clean_db(db: str) -> AsyncIterator[str]:
    """The run's database emptied before the test."""
    from tortoise import connections

    await connections.get("default").execute_script(
        f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    yield db


@pytest.fixture(scope="session")
def namespace() -> str:
    """This run's Redis namespace."""
    return f"test-{RUN_ID}"


@pytest.fixture(scope="session")
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
async def redis(namespace: str) -> AsyncIterator[Redis]:
    """A Redis client; every key of this run's namespace is deleted after the test."""
    client = Redis.from_url(REDIS_URL)
    yield client
    keys = [k async for k in client.scan_iter(match=f"{namespace}*", count=1000)]
    keys += [k async for k in client.scan_iter(match=f"arq:*{namespace}*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
def settings(database_url: str, namespace: str, tmp_path) -> Settings:  # noqa: ANN001
    """Settings pointing at the run's database, Redis and namespace."""
    return Settings(database_url=database_url, redis_url=REDIS_URL,
                    signalhub_namespace=namespace, var_dir=tmp_path,
                    signalhub_secret_key="ab" * 32)
