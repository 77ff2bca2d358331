"""What a shard of copy orders reads before deciding, in bulk: entitlement and copy
settings per (follower, provider), each follower's busy
slots (``max_open_positions``), open positions of exit legs, and the daily-loss latch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from tortoise.functions import Count

from domain.copy_exits import open_position_counts
from domain.copy_reports import ENTRY
from domain.daily_loss import HeldPosition
from domain.models import (
    CopyOrder,
    CopySettings,
    OrderStatus,
    Position,
    PositionStatus,
)
from domain.subscriptions import entitled_user_ids

SETTINGS_FIELDS = ("enabled", "scale_factor", "max_position_pct", "max_open_positions",
                   "max_daily_loss_pct", "slippage_guard_pct", "slippage_action",
                   "leverage_cap", "allowed_symbols", "denied_symbols", "exit_ladder",
                   "move_stop_to_breakeven")


@dataclass
class FollowContext:
    """What a shard's decisions read: entitled users per provider, copy settings per
    (user, provider), current stops per signal, positions per user for the day PnL, and
    the copy settings (subscription ids) whose daily loss limit was reached now."""

    entitled: dict[int, set[int]]
    settings: dict[tuple[int, int], Any]
    stops: dict[int, Decimal] = field(default_factory=dict)
    held: dict[int, list[HeldPosition]] = field(default_factory=dict)
    latched: set[int] = field(default_factory=set)


async def follow_context(orders: list[CopyOrder]) -> FollowContext:
    """Entitlement (billing's rule: ``domain.subscriptions.entitled_user_ids``) and copy
    settings of ``orders``' followers, one query per provider each; writes nothing."""
    by_provider: dict[int, set[int]] = {}
    for order in orders:
        by_provider.setdefault(order.signal.provider_id, set()).add(order.user_id)  # type: ignore[attr-defined]
    entitled: dict[int, set[int]] = {}
    settings: dict[tuple[int, int], Any] = {}
    for provider_id, users in by_provider.items():
        entitled[provider_id] = set(await entitled_user_ids(provider_id, sorted(users)))
        for row in await CopySettings.filter(subscription__provider_id=provider_id,
                                             subscription__user_id__in=sorted(users)
                                             ).values(*SETTINGS_FIELDS,
                                                      "subscription__user_id",
                                                      "subscription_id", "daily_loss_hit_on"):
            user_id = row.pop("subscription__user_id")
            settings[(user_id, provider_id)] = SimpleNamespace(**row)
    return FollowContext(entitled, settings)


async def latch_daily_loss(subscription_ids: set[int], now: datetime) -> None:
    """Record that the daily loss limit of these copy settings was reached on ``now``'s
    UTC day: their new signals are skipped until the next 00:00 UTC."""
    if subscription_ids:
        await CopySettings.filter(subscription_id__in=sorted(subscription_ids)).update(
            daily_loss_hit_on=now.astimezone(UTC).date())


async def open_positions_of(orders: list[CopyOrder]) -> dict[tuple[int, int], Position]:
    """OPEN positions of the exit legs among ``orders``, by (signal id, user id). One
    query; writes nothing."""
    exits = [o for o in orders if o.leg != ENTRY]
    if not exits:
        return {}
    rows = await Position.filter(signal_id__in={o.signal.id for o in exits},
                                 user_id__in={o.user_id for o in exits},  # type: ignore[attr-defined]
                                 status=PositionStatus.OPEN)
    return {(p.signal_id, p.user_id): p for p in rows}  # type: ignore[attr-defined]


async def busy_slots(user_ids: list[int]) -> dict[int, int]:
    """Per user: OPEN positions plus entry orders that may still open one (SENDING or
    PLACED without a fill yet). What ``max_open_positions`` is checked against."""
    counts = await open_position_counts(user_ids)
    rows = await CopyOrder.filter(user_id__in=user_ids, leg=ENTRY,
                                  status__in=(OrderStatus.SENDING, OrderStatus.PLACED)
                                  ).annotate(n=Count("id")).group_by("user_id").values(
        "user_id", "n")
    for row in rows:
        counts[row["user_id"]] = counts.get(row["user_id"], 0) + row["n"]
    return counts
