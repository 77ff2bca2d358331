"""The event message every channel receives: one channel-neutral shape per signal event.

``event_message`` is what goes on the bus (GraphQL subscriptions, the demo's live
lines) and what renderers (Telegram HTML, Discord embeds) turn into text.
"""

from __future__ import annotations

from typing import Any

from domain.models import Provider, Signal, SignalEvent, SignalState

TOPIC_PREFIX = "signals:"


def topic_for(provider_slug: str) -> str:
    """Bus topic of one provider's signal events."""
    return TOPIC_PREFIX + provider_slug


def signal_dict(signal: Signal, provider: Provider, state: SignalState | None) -> dict[str, Any]:
    """JSON-ready view of a signal: decimals as strings, times ISO-8601 UTC."""
    return {
        "id": signal.id,
        "providerSlug": provider.slug,
        "providerName": provider.name,
        "seq": signal.seq,
        "symbol": signal.symbol,
        "side": signal.side.value,
        "entryLow": str(signal.entry_low),
        "entryHigh": str(signal.entry_high),
        "stopLoss": str(signal.stop_loss),
        "targets": [str(t) for t in signal.targets],
        "leverage": signal.leverage,
        "note": signal.note,
        "status": state.status.value if state else "PENDING",
        "outcome": state.outcome.value if state and state.outcome else None,
        "targetsHit": state.targets_hit if state else 0,
        "contentHash": signal.content_hash,
        "createdAt": signal.created_at.isoformat(),
    }


def event_message(event: SignalEvent, signal: Signal, provider: Provider,
                  state: SignalState | None) -> dict[str, Any]:
    """The bus message of ``event``: ids, kind, target index, price and the signal view."""
    return {
        "eventId": event.id,
        "kind": event.kind.value,
        "targetIndex": event.target_index,
        "price": None if event.price is None else str(event.price),
        "note": event.note,
        "createdAt": event.created_at.isoformat(),
        "signal": signal_dict(signal, provider, state),
    }
