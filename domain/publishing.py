"""Publishing and correcting signals: the one service every entrypoint calls.

``publish_signal`` stores, in one transaction, the signal (hash-chained to the
provider's previous one), its lifecycle state, a PUBLISHED event and an outbox row;
after commit it dispatches the outbox row (job ``fan_out_signal``) and announces the
event on the bus. A crash after commit loses nothing: the outbox sweep re-enqueues.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from domain import outbox
from domain.errors import InvalidInput, InvalidSignal, NotAllowed, NotFound
from domain.events import event_message, topic_for
from domain.models import (
    EventKind,
    OutboxMessage,
    Outcome,
    Position,
    PositionStatus,
    Provider,
    Role,
    Side,
    Signal,
    SignalEvent,
    SignalState,
    SignalStatus,
    User,
)
from domain.ports import EventBus, JobQueue
from domain.providers import get_provider
from domain.signals import (
    GENESIS_HASH,
    SignalDraft,
    canonical_content,
    chain_hash,
    parse_price,
)

OPEN_STATUSES = (SignalStatus.PENDING, SignalStatus.ACTIVE)


def check_can_publish(user: User, provider: Provider) -> None:
    """Raise ``NotAllowed`` unless ``user`` owns ``provider`` or is an admin."""
    if provider.owner_id != user.id and user.role is not Role.ADMIN:  # type: ignore[attr-defined]
        raise NotAllowed(f"you do not publish for provider {provider.slug!r}")


async def publish_signal(user: User, provider_slug: str, draft: SignalDraft,
                         queue: JobQueue, bus: EventBus, market_ts: int = 0) -> Signal:
    """Store a validated ``draft`` as the provider's next signal and start its fan-out.

    Rows written (one transaction): signals, signal_states, signal_events (PUBLISHED),
    outbox (``signal.published``). After commit: enqueues ``fan_out_signal(signal_id)``
    and publishes the event message on the provider's bus topic. ``market_ts`` (Unix ms)
    is the market clock at publish: outcomes are evaluated on candles opening at or after it.
    Raises ``NotFound`` (provider), ``NotAllowed`` (not the owner); nothing is stored then.
    """
    provider = await get_provider(provider_slug)
    check_can_publish(user, provider)
    async with in_transaction():
        locked = await Provider.filter(id=provider.id).select_for_update().get()
        signal = await _insert_signal(locked, draft)
        state = await SignalState.create(signal=signal, stop_loss=draft.stop_loss,
                                         symbol=draft.symbol, since_ts=market_ts)
        event = await SignalEvent.create(signal=signal, kind=EventKind.PUBLISHED)
        row = await OutboxMessage.create(topic="signal.published", ref_id=signal.id)
    await after_commit(queue, bus, [row], [event_message(event, signal, provider, state)])
    return signal


async def _insert_signal(provider: Provider, draft: SignalDraft) -> Signal:
    last = await Signal.filter(provider_id=provider.id).order_by("-seq").first()
    seq = last.seq + 1 if last else 1
    prev_hash = last.content_hash if last else GENESIS_HASH
    created_at = datetime.now(UTC).replace(microsecond=0)
    content = canonical_content(draft, provider_slug=provider.slug, seq=seq,
                                created_at=created_at)
    return await Signal.create(
        provider=provider, seq=seq, symbol=draft.symbol, side=draft.side,
        entry_low=draft.entry_low, entry_high=draft.entry_high, stop_loss=draft.stop_loss,
        targets=[str(t) for t in draft.targets], leverage=draft.leverage, note=draft.note,
        prev_hash=prev_hash, content_hash=chain_hash(prev_hash, content),
        created_at=created_at,
    )


async def after_commit(queue: JobQueue, bus: EventBus, rows: list[OutboxMessage],
                       messages: list[dict[str, Any]]) -> None:
    """Dispatch outbox rows and announce messages; failures are left to the outbox sweep."""
    try:
        await outbox.dispatch(queue, rows)
    except Exception:  # noqa: BLE001 - the sweep re-enqueues whatever did not go out
        pass
    for message in messages:
        try:
            await bus.publish(topic_for(message["signal"]["providerSlug"]), message)
        except Exception:  # noqa: BLE001 - live listeners are best effort
            pass


async def close_signal(user: User, signal_id: int, note: str, queue: JobQueue,
                       bus: EventBus, price: Any = None) -> SignalEvent:
    """Close an open signal by its provider (outcome CLOSED_BY_PROVIDER).

    ``price`` is the market price at close (quote currency) if known. Writes a CLOSED
    event, updates the state and an outbox row (``signal.event``); after commit the
    event fans out (followers' paper positions close at market) and is announced.
    Raises ``NotFound``, ``NotAllowed``, or ``InvalidInput`` if the signal is not open.
    """
    signal = await Signal.get_or_none(id=signal_id).select_related("provider")
    if signal is None:
        raise NotFound(f"no signal with id {signal_id}")
    check_can_publish(user, signal.provider)
    async with in_transaction():
        state = await SignalState.filter(signal_id=signal.id).select_for_update().get()
        if state.status not in OPEN_STATUSES:
            raise InvalidInput("signalId", f"signal {signal_id} is already {state.status}")
        state.status, state.outcome = SignalStatus.CLOSED, Outcome.CLOSED_BY_PROVIDER
        await state.save()
        event = await SignalEvent.create(signal=signal, kind=EventKind.CLOSED,
                                         note=note.strip()[:1000], price=price)
        row = await OutboxMessage.create(topic="signal.event", ref_id=event.id)
    message = event_message(event, signal, signal.provider, state)
    await after_commit(queue, bus, [row], [message])
    return event


async def cancel_signal(user: User, signal_id: int, note: str, queue: JobQueue,
                        bus: EventBus) -> SignalEvent:
    """Cancel a signal whose entry has not been filled yet (status PENDING).

    Writes a CANCELLED event, the state (CANCELLED, no outcome) and an outbox row
    (``signal.event``); after commit it fans out and is announced. An ACTIVE signal
    cannot be cancelled (its outcome would disappear from the statistics): close it.
    Raises ``NotFound``, ``NotAllowed``, or ``InvalidInput`` (field ``signalId``).
    """
    signal = await _own_signal(user, signal_id)
    async with in_transaction():
        state = await SignalState.filter(signal_id=signal.id).select_for_update().get()
        if state.status is SignalStatus.ACTIVE:
            raise InvalidInput("signalId", f"signal {signal_id} is ACTIVE (its entry was "
                                           f"filled); close it instead of cancelling")
        if state.status is not SignalStatus.PENDING:
            raise InvalidInput("signalId", f"signal {signal_id} is already {state.status}")
        state.status = SignalStatus.CANCELLED
        await state.save()
        event = await SignalEvent.create(signal=signal, kind=EventKind.CANCELLED,
                                         note=note.strip()[:1000])
        row = await OutboxMessage.create(topic="signal.event", ref_id=event.id)
    await after_commit(queue, bus, [row], [event_message(event, signal, signal.provider, state)])
    return event


async def move_stop_loss(user: User, signal_id: int, new_stop: Any, note: str,
                         queue: JobQueue, bus: EventBus) -> SignalEvent:
    """Move an open signal's stop-loss to ``new_stop`` (quote currency).

    Rules: while PENDING the stop stays beyond the entry (below ``entry_low`` for BUY,
    above ``entry_high`` for SELL); once ACTIVE it may pass the entry (break-even,
    trailing) but must stay short of the next target not yet hit. Writes a STOP_MOVED
    event (``target_index`` = the move's number, 1 for the first; ``price`` = the new
    stop), the state's ``stop_loss``, the stop of followers' open paper positions of this
    signal and an outbox row; after commit it fans out and is announced.
    Raises ``NotFound``, ``NotAllowed``, ``InvalidSignal``/``InvalidInput``.
    """
    signal = await _own_signal(user, signal_id)
    stop = parse_price("stopLoss", new_stop)
    async with in_transaction():
        state = await SignalState.filter(signal_id=signal.id).select_for_update().get()
        if state.status not in OPEN_STATUSES:
            raise InvalidInput("signalId", f"signal {signal_id} is already {state.status}")
        check_stop_move(signal, state, stop)
        old = Decimal(state.stop_loss)
        state.stop_loss = stop
        await state.save()
        moves = await SignalEvent.filter(signal_id=signal.id, kind=EventKind.STOP_MOVED).count()
        text = f"Stop-loss moved from {format_decimal(old)} to {format_decimal(stop)}"
        event = await SignalEvent.create(
            signal=signal, kind=EventKind.STOP_MOVED, target_index=moves + 1, price=stop,
            note=f"{text}. {note.strip()}"[:1000] if note.strip() else text)
        await Position.filter(signal_id=signal.id, status=PositionStatus.OPEN).update(
            stop_loss=stop)
        row = await OutboxMessage.create(topic="signal.event", ref_id=event.id)
    await after_commit(queue, bus, [row], [event_message(event, signal, signal.provider, state)])
    return event


def check_stop_move(signal: Signal, state: SignalState, stop: Decimal) -> None:
    """Raise ``InvalidSignal`` (``stopLoss``) if ``stop`` breaks the rules of ``move_stop_loss``."""
    targets = [Decimal(t) for t in signal.targets]
    next_target = targets[state.targets_hit] if state.targets_hit < len(targets) else None
    buy = signal.side is Side.BUY
    if state.status is SignalStatus.PENDING:
        if buy and not stop < signal.entry_low:
            raise InvalidSignal("stopLoss", "before the entry fills, a BUY stop-loss must "
                                            "stay below the entry")
        if not buy and not stop > signal.entry_high:
            raise InvalidSignal("stopLoss", "before the entry fills, a SELL stop-loss must "
                                            "stay above the entry")
    if next_target is not None and buy and not stop < next_target:
        raise InvalidSignal("stopLoss", f"must stay below the next target {next_target}")
    if next_target is not None and not buy and not stop > next_target:
        raise InvalidSignal("stopLoss", f"must stay above the next target {next_target}")


async def _own_signal(user: User, signal_id: int) -> Signal:
    signal = await Signal.get_or_none(id=signal_id).select_related("provider")
    if signal is None:
        raise NotFound(f"no signal with id {signal_id}")
    check_can_publish(user, signal.provider)
    return signal


def format_decimal(value: Decimal) -> str:
    """Plain digits without exponent or trailing zeros (``64000.500`` → ``64000.5``)."""
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "") else text
