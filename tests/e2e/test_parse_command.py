"""``signalhub parse`` as a provider runs it: the installed console script, a post on
stdin, the parse as JSON on stdout (README, "Check how a post is read")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("signalhub")


def run_parse(post: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), "parse"], input=post, capture_output=True,
                          text=True, timeout=60, check=False)


def test_a_signal_post_prints_its_parse() -> None:
    # Entry: the close of the BTC/USDT 1h candle opened 2024-09-30T07:00Z (64562.01);
    # the stop and targets are the RSI strategy's ATR levels of that candle.
    post = "#BTC/USDT LONG\nEntry: 64562.01\nTP1 64850.61 TP2 65139.2\nSL 64129.11\nLev 10x\n"
    done = run_parse(post)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "symbol": "BTC/USDT", "side": "BUY", "entry": ["64562.01"],
        "targets": ["64850.61", "65139.2"], "stop_loss": "64129.11", "leverage": 10,
        "confidence": 1.0, "unread": [],
    }


def test_an_update_and_a_chat_line_are_told_apart() -> None:
    update = run_parse("#BTC/USDT Take-Profit target 2 ✅\n")
    assert json.loads(update.stdout) == {"update": "TARGET_HIT", "target": 2,
                                         "symbol": "BTC/USDT"}
    chat = run_parse("Good morning traders, big week ahead\n")
    assert chat.returncode == 0 and chat.stdout.strip() == "null"


def test_a_post_without_a_stop_says_so_instead_of_guessing() -> None:
    # ETH/USDT 1h 2025-01-17T00:00Z: close 3313.68; 06:00Z high 3376.
    done = run_parse("#ETHUSDT LONG\nEntry: 3313.68\nTarget: 3376\n")
    body = json.loads(done.stdout)
    assert body["stop_loss"] is None
    assert body["unread"] == ["stop_loss"]
    assert body["confidence"] < 1.0
