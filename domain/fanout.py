"""Fan-out of a signal event to subscribers (deliveries) and followers (copy orders).

Rows are bulk-inserted under unique keys (``ON CONFLICT DO NOTHING``), so running a
fan-out twice writes nothing new. The delivery ids returned are all of the event's
deliveries (whatever their status) so that shards, and the job ids built from them,
are the same on every run; delivery jobs skip rows already sent. Copy-order ids are
the intents still PENDING.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import NotFound
from domain.models import (
    CopyOrder,
    Delivery,
    EventKind,
    OrderStatus,
    SignalEvent,
    Subscription,
)
from domain.notifications import muted_subscriber_ids
from domain.subscriptions import entitled_q

CHANNEL_TELEGRAM = "telegram"
CHANNEL_DISCORD = "discord"


@dataclass
class FanOutPlan:
    """Pending work created (or found) for one event."""

    event_id: int
    delivery_ids: list[int] = field(default_factory=list)
    copy_order_ids: list[int] = field(default_factory=list)


def delivery_key(event_id: int, user_id: int, channel: str = CHANNEL_TELEGRAM) -> str:
    """Unique key of the delivery of one event to one user on one channel."""
    return f"ev:{event_id}:{user_id}:{channel}"


CLIENT_ID_MAX = 32  # okx clOrdId: 1-32 alphanumerics, the strictest of the exchanges
_LEG = re.compile(r"^(entry|close|tp[1-9][0-9]*|sl[1-9][0-9]*)$")


def client_order_id(signal_id: int, user_id: int, leg: str) -> str:
    """Deterministic client order id of an order leg: ``sh<signal>u<user><leg>``.

    One format valid on every supported exchange: letters and digits only, at most 32
    characters (okx ``clOrdId``: 1-32 alphanumerics; binance ``newClientOrderId``
    ``^[.A-Z:/a-z0-9_-]{1,36}$``; bybit ``orderLinkId`` up to 36 of letters, digits,
    ``-``, ``_``; bitget ``clientOid`` up to 40). Unambiguous: the signal's digits end
    at ``u``, the user's at the leg, which starts with a letter. Never truncated.
    ``leg`` is ``entry``, ``close``, ``tp<n>`` or ``sl<n>`` (n >= 1). Raises
    ``ValueError`` for ids that are not positive, a leg of another shape, or a result
    over 32 characters. Rows keep the id they were created with (older rows:
    ``sh-<signal>-<user>-<leg>``); look rows up by (signal, user, leg), not by
    re-deriving their id.
    """
    if signal_id < 1 or user_id < 1:
        raise ValueError(f"client order id: signal and user ids must be positive, got "
                         f"{signal_id} and {user_id}")
    if not _LEG.match(leg):
        raise ValueError(f"client order id: leg must be entry, close, tp<n> or sl<n>, "
                         f"got {leg!r}")
    cid = f"sh{signal_id}u{user_id}{leg}"
    if len(cid) > CLIENT_ID_MAX:
        raise ValueError(f"client order id {cid!r} is {len(cid)} characters, over "
                         f"{CLIENT_ID_MAX}")
    return cid


async def fan_out(event_id: int, now: datetime | None = None) -> FanOutPlan:
    """Create the delivery rows (and, for PUBLISHED, the copy-order intents) of an event.

    Subscribers: subscriptions of the signal's provider entitled at ``now`` (default:
    the current time; ``domain.subscriptions.entitled_q``) whose user has a reachable
    Telegram chat. Followers: those subscribers with copy trading enabled.
    Users with a linked Discord account get a ``discord`` delivery (a DM) as well.
    Users who switched this event kind off (``domain.notifications``) get no delivery,
    but still copy the signal.
    Idempotent. Raises ``NotFound`` for an unknown event.
    """
    event = await SignalEvent.get_or_none(id=event_id).select_related("signal")
    if event is None:
        raise NotFound(f"no signal event {event_id}")
    subs = await Subscription.filter(
        entitled_q(now),  # ACTIVE, TRIALING, PAST_DUE in grace, paid-up CANCELLED
        provider_id=event.signal.provider_id,  # type: ignore[attr-defined]
    ).values("user_id", "user__telegram_chat_id", "user__telegram_reachable",
             "user__discord_user_id", "copy_settings__enabled")
    muted = await muted_subscriber_ids(event.signal.provider_id, event.kind)  # type: ignore[attr-defined]
    heard = [s for s in subs if s["user_id"] not in muted]
    await Delivery.bulk_create([
        Delivery(key=delivery_key(event.id, s["user_id"]), user_id=s["user_id"],
                 event_id=event.id, channel=CHANNEL_TELEGRAM)
        for s in heard if s["user__telegram_chat_id"] and s["user__telegram_reachable"]
    ] + [  # users with a linked Discord account also get the event as a Discord DM
        Delivery(key=delivery_key(event.id, s["user_id"], CHANNEL_DISCORD),
                 user_id=s["user_id"], event_id=event.id, channel=CHANNEL_DISCORD)
        for s in heard if s["user__discord_user_id"]
    ], ignore_conflicts=True)
    plan = FanOutPlan(event.id)
    plan.delivery_ids = await Delivery.filter(event_id=event.id).order_by("id").values_list(
        "id", flat=True)  # type: ignore[assignment]
    if event.kind is EventKind.PUBLISHED:
        plan.copy_order_ids = await _copy_intents(event, [
            s["user_id"] for s in subs if s["copy_settings__enabled"]])
    return plan


async def _copy_intents(event: SignalEvent, follower_ids: list[int]) -> list[int]:
    signal = event.signal
    await CopyOrder.bulk_create([
        CopyOrder(signal_id=signal.id, user_id=uid, leg="entry",
                  client_order_id=client_order_id(signal.id, uid, "entry"),
                  symbol=signal.symbol, side=signal.side)
        for uid in follower_ids
    ], ignore_conflicts=True)
    return await CopyOrder.filter(
        signal_id=signal.id, leg="entry", status=OrderStatus.PENDING).order_by(
        "id").values_list("id", flat=True)  # type: ignore[return-value]


def shards(ids: list[int], size: int) -> list[list[int]]:
    """Split ``ids`` into consecutive shards of at most ``size``."""
    return [ids[i:i + size] for i in range(0, len(ids), size)]
