"""Discord embeds for signals and their events: pure functions, no I/O, no discord import.

``signal_embed`` turns the channel-neutral ``domain.events.event_message`` dict into one
Discord embed object (the JSON shape of Discord's API): colour by side (BUY green,
SELL red), the provider as author, fields for entry, stop-loss, leverage and the
take-profit targets (hit targets ticked), and a status line in the description that
says where the signal stands after the latest event. The same signal's message in an
alert channel is edited in place with the embed of each later event.

Text from outside (provider name, symbol, notes) is escaped for Discord markdown and
cut to Discord's limits (title 256, description 4096, field value 1024, 6000 in all).
"""

from __future__ import annotations

import re
from typing import Any

from integrations.telegram_format import format_number

COLOURS = {"BUY": 0x2ECC71, "SELL": 0xE74C3C}
NEUTRAL = 0x95A5A6
SIDE_MARKS = {"BUY": "🟢", "SELL": "🔴"}
FIELD_VALUE_MAX = 1024
TITLE_MAX = 256
ELLIPSIS = "…"
_MARKDOWN = re.compile(r"([\\*_~`|])")
_LINE_START = re.compile(r"^([>#-])", re.MULTILINE)


def signal_embed(message: dict[str, Any], current_stop: Any = None) -> dict[str, Any]:
    """The embed of a signal as it stands after ``message`` (``event_message`` shape).

    ``current_stop`` is the stop-loss now (``SignalState.stop_loss``) when the provider
    moved it; the Stop-loss field then shows it and the stop it was published with.
    Raises ``KeyError`` when a required key of the shape is missing.
    """
    signal = message["signal"]
    side = str(signal["side"])
    embed: dict[str, Any] = {
        "title": cut(f"{SIDE_MARKS.get(side, '⚪')} {side} {signal['symbol']} · "
                     f"#{signal['seq']}", TITLE_MAX),
        "description": status_line(message),
        "color": COLOURS.get(side, NEUTRAL),
        "author": {"name": cut(str(signal["providerName"]), TITLE_MAX)},
        "fields": signal_fields(signal, current_stop),
        "footer": {"text": f"{signal['providerSlug']} · hash {signal['contentHash'][:12]}"},
        "timestamp": signal["createdAt"],
    }
    return embed


def signal_fields(signal: dict[str, Any], current_stop: Any = None) -> list[dict[str, Any]]:
    """Embed fields: Entry (or Entry zone), Stop-loss, Leverage if set, Targets, Note."""
    low, high = signal["entryLow"], signal["entryHigh"]
    entry = (("Entry", format_number(low)) if format_number(low) == format_number(high)
             else ("Entry zone", f"{format_number(low)} – {format_number(high)}"))
    stop = format_number(signal["stopLoss"])
    if current_stop is not None and format_number(current_stop) != stop:
        stop = f"{format_number(current_stop)} (moved from {stop})"
    fields = [_field(entry[0], entry[1]), _field("Stop-loss", stop)]
    if signal.get("leverage"):
        fields.append(_field("Leverage", f"{int(signal['leverage'])}x"))
    fields.append(_field("Targets", targets_text(signal), inline=False))
    note = str(signal.get("note") or "").strip()
    if note:
        fields.append(_field("Note", cut(escape_markdown(note), FIELD_VALUE_MAX), inline=False))
    return fields


def targets_text(signal: dict[str, Any]) -> str:
    """One line per take-profit target, ``TP2 64500 ✅`` for targets already hit."""
    hit = int(signal.get("targetsHit") or 0)
    lines = [f"TP{n} {format_number(t)}{' ✅' if n <= hit else ''}"
             for n, t in enumerate(signal["targets"], start=1)]
    return cut("\n".join(lines), FIELD_VALUE_MAX)


def status_line(message: dict[str, Any]) -> str:
    """Where the signal stands: the latest event's headline, or the state for PUBLISHED."""
    kind = message["kind"]
    signal = message["signal"]
    at = "" if message.get("price") is None else f" at {format_number(message['price'])}"
    total = len(signal["targets"])
    if kind == "PUBLISHED":
        return {"ACTIVE": "▶️ **Active**: entry filled", "CLOSED": "🔒 **Closed**",
                "CANCELLED": "🚫 **Cancelled**", "EXPIRED": "⌛ **Expired**"}.get(
            str(signal.get("status")), "⏳ **Waiting for entry**")
    lines = {
        "ACTIVATED": f"▶️ **Active**: entry filled{at}",
        "TARGET_HIT": f"🎯 **Target {message['targetIndex']} of {total} hit**{at}",
        "STOP_HIT": f"🛑 **Stop-loss hit**{at}",
        "CLOSED": f"🔒 **Closed by provider**{at}",
        "CANCELLED": "🚫 **Cancelled**",
        "EXPIRED": "⌛ **Expired**",
        "STOP_MOVED": f"🔧 **Stop-loss moved**{at.replace(' at ', ' to ', 1)}",
    }
    line = lines.get(kind, f"ℹ️ **{str(kind).replace('_', ' ').capitalize()}**")
    note = str(message.get("note") or "").strip()
    return line if not note else f"{line}\n{cut(escape_markdown(note), 1000)}"


def event_content(message: dict[str, Any]) -> str:
    """One plain line announcing an event (the content of a DM above the embed)."""
    signal = message["signal"]
    who = f"{escape_markdown(str(signal['providerName']))} · #{signal['seq']} {signal['symbol']}"
    if message["kind"] == "PUBLISHED":
        return f"📣 New signal from {who}"
    return f"{status_line(message).splitlines()[0]} · {who}"


def notice_content(text: str) -> str:
    """A plain personal notice (copy fill, position closed) as DM content (≤ 2000 chars)."""
    return cut(escape_markdown(text.strip()), 2000)


def escape_markdown(text: str) -> str:
    """``text`` with Discord markdown characters backslash-escaped."""
    return _LINE_START.sub(r"\\\1", _MARKDOWN.sub(r"\\\1", text))


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in "…" when it was longer."""
    return text if len(text) <= limit else text[:limit - len(ELLIPSIS)] + ELLIPSIS


def _field(name: str, value: str, inline: bool = True) -> dict[str, Any]:
    return {"name": name, "value": value or "—", "inline": inline}
