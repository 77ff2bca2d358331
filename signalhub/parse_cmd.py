"""``signalhub parse``: one message in, its parse as JSON out (for providers to check)."""

from __future__ import annotations

import json
from decimal import Decimal

from domain.parsing import ParsedSignal, ParsedUpdate, UpdateKind, parse_message


def parse_to_json(text: str) -> str:
    """The parse of ``text`` as JSON, decimals as strings.

    A signal gives ``{"symbol", "side", "entry", "targets", "stop_loss", "leverage",
    "confidence", "unread"}``, plus ``market_entry`` (true), ``stop_percent`` and
    ``target_percents`` (per target, null where none) only when the post has them; an
    update post gives ``{"update", "target", "symbol"}`` (plus ``price``, the new stop or
    null for the entry, for STOP_MOVED); a post that is neither gives ``null``.
    """
    parsed = parse_message(text)
    if parsed is None:
        return "null"
    if isinstance(parsed, ParsedUpdate):
        body: dict[str, object] = {"update": parsed.kind.value, "target": parsed.target,
                                   "symbol": parsed.symbol}
        if parsed.kind is UpdateKind.STOP_MOVED:
            body["price"] = None if parsed.price is None else _text(parsed.price)
        return json.dumps(body)
    return json.dumps(_signal_dict(parsed), ensure_ascii=False)


def _signal_dict(parsed: ParsedSignal) -> dict[str, object]:
    body = _core(parsed)
    if parsed.market_entry:
        body["market_entry"] = True
    if parsed.stop_percent is not None:
        body["stop_percent"] = _text(parsed.stop_percent)
    if parsed.target_percents:
        body["target_percents"] = [None if p is None else _text(p)
                                   for p in parsed.target_percents]
    return body


def _core(parsed: ParsedSignal) -> dict[str, object]:
    return {
        "symbol": parsed.symbol,
        "side": parsed.side.value if parsed.side else None,
        "entry": [_text(p) for p in parsed.entry],
        "targets": [_text(p) for p in parsed.targets],
        "stop_loss": _text(parsed.stop_loss) if parsed.stop_loss is not None else None,
        "leverage": parsed.leverage,
        "confidence": parsed.confidence,
        "unread": list(parsed.unread),
    }


def _text(price: Decimal) -> str:
    """Plain decimal text without exponent (``1E-8`` scaled satoshis stay readable)."""
    return format(price, "f")
