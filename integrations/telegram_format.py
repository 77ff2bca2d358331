"""Telegram HTML for signal events and plain notices: pure functions, no I/O.

``render_event`` turns the channel-neutral ``domain.events.event_message`` dict into
one message a subscriber can copy from: symbols and numbers sit in ``<code>`` (one
tap copies them on Telegram clients), there are no links, and every piece of text
from outside (provider name, symbol, notes) is escaped. Output never exceeds
Telegram's 4096-character limit (counted in UTF-16 code units, as Telegram does):
the note is cut and ends in "…" when the whole would not fit.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_MESSAGE_UTF16 = 4096
ELLIPSIS = "…"
SIDE_MARKS = {"BUY": "🟢", "SELL": "🔴"}

EventLine = Callable[[dict[str, Any]], str]


def render_event(message: dict[str, Any]) -> str:
    """Telegram HTML for one event message (shape: ``domain.events.event_message``).

    PUBLISHED renders the full signal card; later kinds render what happened plus
    the signal's identity line. The note (the signal's for PUBLISHED, the event's
    otherwise) is appended last and truncated to keep the result within 4096 UTF-16
    code units. Raises ``KeyError`` when a required key of the shape is missing.
    """
    signal = message["signal"]
    if message["kind"] == "PUBLISHED":
        lines = signal_card(signal)
        note = signal.get("note") or ""
    else:
        lines = [event_line(message), identity_line(signal)]
        note = message.get("note") or ""
    return with_note("\n".join(lines), note)


def render_notice(text: str) -> str:
    """Plain ``text`` escaped for Telegram HTML, cut to 4096 UTF-16 code units."""
    return fit_escaped(text.strip(), MAX_MESSAGE_UTF16)


def signal_card(signal: dict[str, Any]) -> list[str]:
    """Lines of a newly published signal: header, side and symbol, entry, targets, stop."""
    lines = [
        f"📣 <b>{_text(signal['providerName'])}</b> · new signal #{signal['seq']}",
        _side_symbol(signal),
        entry_line(signal["entryLow"], signal["entryHigh"]),
    ]
    lines += [f"TP{n}: {_code_num(t)}" for n, t in enumerate(signal["targets"], start=1)]
    lines.append(f"Stop-loss: {_code_num(signal['stopLoss'])}")
    if signal.get("leverage"):
        lines.append(f"Leverage: <code>{int(signal['leverage'])}x</code>")
    return lines


def entry_line(low: str, high: str) -> str:
    """The entry line: one price when ``low == high``, else the zone "low – high"."""
    if _decimal(low) == _decimal(high):
        return f"Entry: {_code_num(low)}"
    return f"Entry zone: {_code_num(low)} – {_code_num(high)}"


def identity_line(signal: dict[str, Any]) -> str:
    """Which signal an update is about: provider, #seq, side and symbol."""
    return f"<b>{_text(signal['providerName'])}</b> · #{signal['seq']} · {_side_symbol(signal)}"


def event_line(message: dict[str, Any]) -> str:
    """The headline of a lifecycle event (entry filled, target hit, stop hit, ...)."""
    render = _EVENT_LINES.get(message["kind"])
    if render is None:
        return f"ℹ️ <b>{_text(str(message['kind']).replace('_', ' ').capitalize())}</b>"
    return render(message)


def with_note(body: str, note: str) -> str:
    """``body`` plus a "📝 note" paragraph, the note cut so the total fits 4096 units."""
    note = note.strip()
    if not note:
        return body
    prefix = f"{body}\n\n📝 "
    budget = MAX_MESSAGE_UTF16 - utf16_len(prefix)
    if budget <= len(ELLIPSIS):
        return body
    return prefix + fit_escaped(note, budget)


def fit_escaped(text: str, budget: int) -> str:
    """``text`` HTML-escaped and cut to at most ``budget`` UTF-16 units, ending in "…" if cut.

    Cuts between characters, never inside an escape such as ``&amp;``.
    """
    escaped = _text(text)
    if utf16_len(escaped) <= budget:
        return escaped
    pieces: list[str] = []
    used = 0
    for char in text:
        piece = _text(char)
        used += utf16_len(piece)
        if used > budget - len(ELLIPSIS):
            break
        pieces.append(piece)
    return "".join(pieces) + ELLIPSIS


def format_number(value: Any) -> str:
    """A decimal string as plain digits without trailing zeros ("64000.5000" -> "64000.5")."""
    number = _decimal(value)
    if number is None:
        return str(value)
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's message limit."""
    return len(text.encode("utf-16-le")) // 2


def _activated(message: dict[str, Any]) -> str:
    return f"✅ <b>Entry filled</b>{_at_price(message)}"


def _target_hit(message: dict[str, Any]) -> str:
    total = len(message["signal"]["targets"])
    return f"🎯 <b>Target {message['targetIndex']} of {total} hit</b>{_at_price(message)}"


def _stop_hit(message: dict[str, Any]) -> str:
    return f"🛑 <b>Stop-loss hit</b>{_at_price(message)}"


def _closed(message: dict[str, Any]) -> str:
    return f"🔒 <b>Closed by provider</b>{_at_price(message)}"


def _cancelled(message: dict[str, Any]) -> str:
    return "🚫 <b>Signal cancelled</b>"


def _expired(message: dict[str, Any]) -> str:
    return "⌛ <b>Signal expired</b>"


def _stop_moved(message: dict[str, Any]) -> str:
    price = message.get("price")
    return "🛡 <b>Stop-loss moved</b>" + ("" if price is None else f" to {_code_num(price)}")


_EVENT_LINES: dict[str, EventLine] = {
    "ACTIVATED": _activated,
    "TARGET_HIT": _target_hit,
    "STOP_HIT": _stop_hit,
    "CLOSED": _closed,
    "CANCELLED": _cancelled,
    "EXPIRED": _expired,
    "STOP_MOVED": _stop_moved,
}


def _at_price(message: dict[str, Any]) -> str:
    price = message.get("price")
    return "" if price is None else f" at {_code_num(price)}"


def _side_symbol(signal: dict[str, Any]) -> str:
    side = str(signal["side"])
    mark = SIDE_MARKS.get(side, "⚪")
    return f"{mark} <b>{_text(side)}</b> <code>{_text(signal['symbol'])}</code>"


def _code_num(value: Any) -> str:
    return f"<code>{_text(format_number(value))}</code>"


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _text(value: str) -> str:
    return html.escape(value, quote=False)
