"""Discord embeds and bot replies (pure), the permission rule, and where discord.py is imported.

Prices are real BTC/USDT 1h candle values from the shipped data.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain import alerts
from integrations.discord_format import (
    COLOURS,
    cut,
    escape_markdown,
    event_content,
    signal_embed,
    status_line,
)
from tests.fakes.discord_api import embed_problem
from tests.support.setups import btc_candles
from tests.unit.test_architecture import ROOT, importers_of, source_files

CANDLES = btc_candles()
C = CANDLES[3000]


def message(kind: str = "PUBLISHED", **signal: Any) -> dict[str, Any]:
    base = {"id": 7, "providerSlug": "swing-lab", "providerName": "Swing Lab", "seq": 12,
            "symbol": "BTC/USDT", "side": "BUY", "entryLow": str(C.low),
            "entryHigh": str(C.low), "stopLoss": str(CANDLES[2990].low),
            "targets": [str(C.high), str(CANDLES[3001].high)], "leverage": None, "note": "",
            "status": "PENDING", "outcome": None, "targetsHit": 0,
            "contentHash": "ab" * 32, "createdAt": "2025-01-05T10:00:00+00:00"}
    base.update(signal)
    return {"eventId": 3, "kind": kind, "targetIndex": 0, "price": None, "note": "",
            "createdAt": "2025-01-05T11:00:00+00:00", "signal": base}


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed["fields"]}


def num(value: Decimal) -> str:
    return format(value.normalize(), "f")


def test_published_buy_embed_field_by_field() -> None:
    embed = signal_embed(message(leverage=10))

    assert embed["title"] == "🟢 BUY BTC/USDT · #12"
    assert embed["color"] == COLOURS["BUY"] == 0x2ECC71
    assert embed["author"] == {"name": "Swing Lab"}
    assert embed["description"] == "⏳ **Waiting for entry**"
    assert embed["footer"] == {"text": "swing-lab · hash abababababab"}
    assert embed["timestamp"] == "2025-01-05T10:00:00+00:00"
    assert embed["fields"] == [
        {"name": "Entry", "value": num(C.low), "inline": True},
        {"name": "Stop-loss", "value": num(CANDLES[2990].low), "inline": True},
        {"name": "Leverage", "value": "10x", "inline": True},
        {"name": "Targets", "value": f"TP1 {num(C.high)}\nTP2 {num(CANDLES[3001].high)}",
         "inline": False},
    ]
    assert embed_problem(embed) is None


def test_sell_zone_without_leverage_is_red_with_a_zone() -> None:
    embed = signal_embed(message(side="SELL", entryLow=str(C.close), entryHigh=str(C.high),
                                 stopLoss=str(CANDLES[2995].high), targets=[str(C.low)]))

    assert embed["color"] == COLOURS["SELL"] and embed["title"].startswith("🔴 SELL")
    assert fields(embed) == {"Entry zone": f"{num(C.close)} – {num(C.high)}",
                             "Stop-loss": num(CANDLES[2995].high),
                             "Targets": f"TP1 {num(C.low)}"}


def test_status_line_follows_the_latest_event() -> None:
    hit = message("TARGET_HIT", targetsHit=1, status="ACTIVE")
    hit.update(targetIndex=1, price=str(C.high))
    embed = signal_embed(hit)
    assert embed["description"] == f"🎯 **Target 1 of 2 hit** at {num(C.high)}"
    assert fields(embed)["Targets"] == f"TP1 {num(C.high)} ✅\nTP2 {num(CANDLES[3001].high)}"

    stop = message("STOP_HIT")
    stop["price"] = str(CANDLES[2990].low)
    assert status_line(stop) == f"🛑 **Stop-loss hit** at {num(CANDLES[2990].low)}"
    assert status_line(message("ACTIVATED")) == "▶️ **Active**: entry filled"
    assert status_line(message("CANCELLED")) == "🚫 **Cancelled**"
    assert status_line(message("PUBLISHED", status="ACTIVE")) == "▶️ **Active**: entry filled"
    closed = message("CLOSED")
    closed["note"] = "taking *profit*"
    assert status_line(closed) == "🔒 **Closed by provider**\ntaking \\*profit\\*"
    assert event_content(hit) == (f"🎯 **Target 1 of 2 hit** at {num(C.high)} · "
                                  "Swing Lab · #12 BTC/USDT")


def test_a_moved_stop_shows_with_the_one_it_replaced() -> None:
    moved = message("STOP_MOVED", status="ACTIVE")
    moved.update(targetIndex=1, price=str(C.low))
    embed = signal_embed(moved, current_stop=C.low)
    assert fields(embed)["Stop-loss"] == f"{num(C.low)} (moved from {num(CANDLES[2990].low)})"
    assert embed["description"] == f"🔧 **Stop-loss moved** to {num(C.low)}"
    unchanged = signal_embed(message(), current_stop=CANDLES[2990].low)
    assert fields(unchanged)["Stop-loss"] == num(CANDLES[2990].low)


def test_outside_text_is_escaped_and_cut_to_discord_limits() -> None:
    embed = signal_embed(message(providerName="**Pump** _Kings_ " + "x" * 400,
                                 note="> quoted\n# header\n" + "n" * 3000))

    assert embed["author"]["name"].startswith("**Pump**")  # author names render plain
    assert len(embed["author"]["name"]) == 256 and embed["author"]["name"].endswith("…")
    note = fields(embed)["Note"]
    assert note.startswith("\\> quoted\n\\# header\n") and len(note) == 1024
    assert embed_problem(embed) is None
    assert escape_markdown("a|b`c~d") == "a\\|b\\`c\\~d"
    assert cut("abcdef", 4) == "abc…" and cut("abc", 4) == "abc"


def test_manage_server_bits() -> None:
    assert alerts.can_manage_server(alerts.MANAGE_GUILD)
    assert alerts.can_manage_server(alerts.ADMINISTRATOR)
    assert alerts.can_manage_server(int("2248473465835073") | alerts.MANAGE_GUILD)
    assert not alerts.can_manage_server(1 << 11 | 1 << 14)  # send messages, embed links
    assert not alerts.can_manage_server(0)


def test_discord_py_is_imported_only_by_its_adapter_and_the_bot() -> None:
    importers = importers_of("discord", source_files())

    assert "integrations/discord_rest.py" in importers
    assert [p for p in importers if p != "integrations/discord_rest.py"
            and not p.startswith("bots/discord/")] == []
    assert (ROOT / "integrations" / "discord_format.py").exists()


def test_discord_settings_and_the_bot_command_say_what_is_missing(monkeypatch, capsys) -> None:  # noqa: ANN001
    from signalhub.cli import main
    from signalhub.settings import SettingsError, load_settings

    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main(["bot", "discord"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "setting DISCORD_BOT_TOKEN: is required for this command")

    with pytest.raises(SettingsError, match="setting DISCORD_API_BASE: must be an http"):
        load_settings(discord_api_base="discord.com/api/v10")
    with pytest.raises(SettingsError, match="setting DISCORD_APPLICATION_ID"):
        load_settings(discord_application_id="not-a-number")
    assert load_settings(discord_api_base="http://127.0.0.1:9/api/v10/").discord_api_base \
        == "http://127.0.0.1:9/api/v10"
