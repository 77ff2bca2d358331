"""``signalhub parse``: one message in, its parse as JSON out (for providers to check)."""

from __future__ import annotations

import json
from decimal import Decimal

from domain.parsing import ParsedSignal, ParsedUpdate, parse_message


def parse_to_json(text: str) -> str:
    """The parse of ``text`` as JSON, decimals as strings.

    A signal gives ``{"symbol", "side", "entry", "targets", "stop_loss", "leverage",
    "confidence", "unread"}``; an update post gives ``{"update", "target", "symbol"}``;
    a post that is neither gives ``null``.
    """
    parsed = parse_message(text)
    if parsed is None:
        return "null"
    if isinstance(parsed, ParsedUpdate):
        return json.dumps(
            {"update": parsed.kind.value, "target": parsed.target, "symbol": parsed.symbol}
        )
    return json.dumps(_signal_dict(parsed), ensure_ascii=False)


def _signal_dict(parsed: ParsedSignal) -> dict[str, object]:
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
