"""Providers publish by chat: the drafts API (``domain.drafts``), signal commands and
channel ingestion.

Channel ingestion (``ingest_post``): a post in a registered channel (``ChannelSource``)
is parsed; a complete signal is published (mode auto) or queued for one tap in the
provider's private chat (mode confirm); a signal the parser could not complete is
queued with the problem; posts that are not signals are ignored. Lifecycle posts are
applied to the signal they reply to, else to the provider's latest open signal of the
named symbol, else to its only open signal; anything ambiguous is ignored with a log
line. "Cancelled" cancels, "Closed ..." and "Closed at stoploss" close (at the market
price, or at the stop), "SL moved to entry/<price>" moves the stop. "TP2 ✅" changes
nothing: target hits are recorded only from market prices by the monitor.

The draft functions of ``domain.drafts`` are re-exported here: bots (Telegram and
Discord) use this one module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from domain.drafts import (
    DRAFT_STATUSES,
    EXAMPLE_SIGNAL,
    DraftPreview,
    cancel_post,
    choose_provider,
    describe_problem,
    draft_for_message,
    draft_from_text,
    editable_post,
    own_post,
    preview_message,
    preview_of,
    providers_of,
    publish_post,
    revise_post,
    set_preview_location,
    start_blank_draft,
    start_edit,
    waiting_for_text,
)
from domain.errors import DomainError, InvalidInput, NotAllowed, NotFound
from domain.linking_models import ChannelSource, PendingPost, Platform, PostStatus, SourceMode
from domain.models import Provider, Signal, SignalEvent, SignalState, User
from domain.parsing import ParsedUpdate, UpdateKind, parse_message
from domain.ports import EventBus, JobQueue, PriceSource
from domain.providers import get_provider
from domain.publishing import (
    OPEN_STATUSES,
    cancel_signal,
    check_can_publish,
    close_signal,
    move_stop_loss,
)

__all__ = [
    "DRAFT_STATUSES", "EXAMPLE_SIGNAL", "DraftPreview", "IngestResult", "apply_update",
    "cancel_post", "channel_source", "choose_provider", "close_at_market", "describe_problem",
    "draft_for_message", "draft_from_text", "editable_post", "entry_of", "forget_channel",
    "ingest_post", "move_stop_to", "new_stop_of", "open_signals", "own_post", "own_source",
    "preview_message", "preview_of", "providers_of", "publish_post", "register_channel",
    "remove_channel", "revise_post", "set_channel_mode", "set_preview_location",
    "start_blank_draft", "start_edit", "user_channels", "waiting_for_text",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    """What ``ingest_post`` did with one channel post.

    ``action``: ``published`` (signal), ``queued`` (draft awaiting confirmation,
    ``preview``), ``incomplete`` (draft the parser could not complete, ``preview.problem``),
    ``applied`` (lifecycle ``event``) or ``ignored`` (``reason``).
    """

    action: str
    reason: str = ""
    source: ChannelSource | None = None
    preview: DraftPreview | None = None
    signal: Signal | None = None
    event: SignalEvent | None = None


# -- signal commands ---------------------------------------------------------------------


async def close_at_market(user: User, signal_id: int, note: str, queue: JobQueue,
                          bus: EventBus, prices: PriceSource | None) -> SignalEvent:
    """``/close <id>``: close at the last market price (when the price source knows it)."""
    signal = await Signal.get_or_none(id=signal_id)
    price = prices.last_price(signal.symbol) if signal is not None and prices else None
    return await close_signal(user, signal_id, note or "closed by the provider", queue, bus,
                              price=price)


async def open_signals(provider: Provider) -> list[Signal]:
    """The provider's PENDING/ACTIVE signals, newest first."""
    ids = await SignalState.filter(signal__provider_id=provider.id,
                                   status__in=OPEN_STATUSES).values_list("signal_id", flat=True)
    return await Signal.filter(id__in=list(ids)).order_by("-seq")


# -- channels -----------------------------------------------------------------------------


async def register_channel(user: User, provider_slug: str, platform: Platform | str,
                           chat_id: int, mode: SourceMode | str = SourceMode.CONFIRM,
                           title: str = "") -> ChannelSource:
    """Make chat ``chat_id`` a source of ``provider_slug``'s signals (or change its mode).

    ``mode`` auto publishes complete signal posts, confirm queues them for the provider.
    Raises ``NotFound``/``NotAllowed`` (provider), ``InvalidInput`` (mode, or a channel
    registered by another provider).
    """
    provider = await get_provider(provider_slug)
    check_can_publish(user, provider)
    try:
        chosen = SourceMode(str(mode).lower())
    except ValueError:
        raise InvalidInput("mode", "must be auto or confirm") from None
    where = Platform(str(platform))
    source = await ChannelSource.get_or_none(platform=where, chat_id=chat_id)
    if source is not None and source.provider_id != provider.id:  # type: ignore[attr-defined]
        raise InvalidInput("channel", "this channel already feeds another provider; remove "
                                      "it there first")
    if source is None:
        return await ChannelSource.create(provider=provider, added_by=user, platform=where,
                                          chat_id=chat_id, mode=chosen, title=title[:128])
    source.mode, source.title = chosen, title[:128] or source.title
    await source.save()
    return source


async def remove_channel(user: User, platform: Platform | str, chat_id: int) -> ChannelSource:
    """Stop reading chat ``chat_id``. Raises ``NotFound`` or ``NotAllowed``."""
    source = await channel_source(platform, chat_id)
    if source is None:
        raise NotFound("this channel is not a signal source")
    check_can_publish(user, await Provider.get(id=source.provider_id))  # type: ignore[attr-defined]
    await source.delete()
    return source


async def own_source(user: User, source_id: int) -> ChannelSource:
    """Channel source ``source_id`` of a provider ``user`` publishes for; ``NotFound``."""
    source = await ChannelSource.get_or_none(id=source_id).select_related("provider__owner")
    if source is None:
        raise NotFound(f"no signal channel {source_id}")
    try:
        check_can_publish(user, source.provider)
    except NotAllowed:
        raise NotFound(f"no signal channel {source_id} of yours") from None
    return source


async def set_channel_mode(user: User, source_id: int, mode: SourceMode | str) -> ChannelSource:
    """Change a channel's mode (auto, confirm). Raises ``NotFound``, ``InvalidInput``."""
    source = await own_source(user, source_id)
    await register_channel(user, source.provider.slug, source.platform, source.chat_id,
                           mode, source.title)
    return await own_source(user, source_id)


async def user_channels(user: User) -> list[ChannelSource]:
    """Channel sources of every provider ``user`` owns, provider loaded."""
    return await ChannelSource.filter(provider__owner_id=user.id).select_related(
        "provider__owner").order_by("id")


async def forget_channel(platform: Platform | str, chat_id: int) -> bool:
    """Drop the source of a chat the bot was removed from; True if there was one."""
    return bool(await ChannelSource.filter(platform=Platform(str(platform)),
                                           chat_id=chat_id).delete())


async def channel_source(platform: Platform | str, chat_id: int) -> ChannelSource | None:
    """The source registered for (platform, chat_id), provider and owner loaded."""
    return await ChannelSource.get_or_none(platform=Platform(str(platform)), chat_id=chat_id
                                           ).select_related("provider__owner")


async def ingest_post(platform: Platform | str, chat_id: int, message_id: int, text: str,
                      queue: JobQueue, bus: EventBus, *, prices: PriceSource | None = None,
                      edited: bool = False, reply_to_message_id: int | None = None,
                      market_ts: int = 0) -> IngestResult:
    """Handle one post (or ``edited`` post) of a channel; see the module docstring.

    Acts for the provider's owner. Never raises for a post's content: refusals of the
    domain (an ACTIVE signal cannot be cancelled, ...) become ``ignored`` with the
    reason, logged. Safe to call twice for one post (one draft, one signal).
    """
    source = await channel_source(platform, chat_id)
    if source is None:
        return IngestResult("ignored", "not a registered signal channel")
    parsed = parse_message(text or "")
    if isinstance(parsed, ParsedUpdate):
        if edited:
            return _ignored(source, "edited update posts are not applied again")
        return await apply_update(source, parsed, queue, bus, prices, reply_to_message_id)
    if parsed is None:
        return await _not_a_signal(source, chat_id, message_id, edited)
    owner = source.provider.owner
    try:
        preview = await draft_from_text(owner, text, platform=platform, chat_id=chat_id,
                                        message_id=message_id, provider=source.provider,
                                        prices=prices, source=source)
    except DomainError as exc:
        return _ignored(source, exc.message)
    if not preview.ready:
        return IngestResult("incomplete", preview.problem, source, preview)
    if source.mode is SourceMode.CONFIRM:
        return IngestResult("queued", "", source, preview)
    signal, _ = await publish_post(owner, preview.post.id, queue, bus, prices, market_ts)
    return IngestResult("published", "", source, preview, signal)


async def _not_a_signal(source: ChannelSource, chat_id: int, message_id: int,
                        edited: bool) -> IngestResult:
    if edited:
        await PendingPost.filter(platform=source.platform, chat_id=chat_id,
                                 message_id=message_id, status__in=DRAFT_STATUSES
                                 ).update(status=PostStatus.CANCELLED)
    return IngestResult("ignored", "not a signal", source)


def _ignored(source: ChannelSource, reason: str) -> IngestResult:
    log.info("channel %s of %s: post ignored: %s", source.chat_id, source.provider.slug, reason)
    return IngestResult("ignored", reason, source)


async def apply_update(source: ChannelSource, update: ParsedUpdate, queue: JobQueue,
                       bus: EventBus, prices: PriceSource | None,
                       reply_to_message_id: int | None = None) -> IngestResult:
    """Apply a lifecycle post to the signal it is about (rules in the module docstring)."""
    if update.kind is UpdateKind.TARGET_HIT:
        return _ignored(source, "target hits are recorded from market prices, not from posts")
    signal = await _signal_for_update(source, update, reply_to_message_id)
    if signal is None:
        return _ignored(source, f"{update.kind.value}: no single open signal matches")
    owner = source.provider.owner
    try:
        event = await _apply(owner, signal, update, queue, bus, prices)
    except DomainError as exc:
        return _ignored(source, f"{update.kind.value} on signal {signal.id}: {exc.message}")
    return IngestResult("applied", update.kind.value, source, signal=signal, event=event)


async def _apply(owner: User, signal: Signal, update: ParsedUpdate, queue: JobQueue,
                 bus: EventBus, prices: PriceSource | None) -> SignalEvent:
    if update.kind is UpdateKind.CANCELLED:
        return await cancel_signal(owner, signal.id, "cancelled by the provider's post",
                                   queue, bus)
    if update.kind is UpdateKind.STOP_HIT:
        state = await SignalState.get(signal_id=signal.id)
        return await close_signal(owner, signal.id, "the provider reports the stop-loss hit",
                                  queue, bus, price=state.stop_loss)
    if update.kind is UpdateKind.STOP_MOVED:
        price = update.price if update.price is not None else entry_of(signal)
        return await move_stop_loss(owner, signal.id, price, "", queue, bus)
    return await close_at_market(owner, signal.id, "closed by the provider's post", queue,
                                 bus, prices)


def entry_of(signal: Signal) -> Decimal:
    """Break-even price of a signal: its entry, or the zone's edge nearer the stop."""
    return Decimal(signal.entry_low if signal.side.value == "BUY" else signal.entry_high)


BREAK_EVEN_WORDS = ("entry", "be", "breakeven")
NEW_STOP_HELP = ("type the new stop-loss price (e.g. 85146.64), or entry, be or breakeven "
                 "to move it to the entry")


def new_stop_of(signal: Signal, argument: str) -> Decimal:
    """The stop-loss ``argument`` of ``/movesl`` names for ``signal`` (quote currency).

    A price (thousands commas ignored), or one of ``BREAK_EVEN_WORDS`` (any case) for the
    break-even price ``entry_of(signal)``. Raises ``InvalidInput`` (field ``price``)
    saying what to type. Whether the stop may move there is ``move_stop_loss``'s rule.
    """
    word = argument.strip().replace(",", "")
    if word.lower() in BREAK_EVEN_WORDS:
        return entry_of(signal)
    try:
        price = Decimal(word)
    except InvalidOperation:
        raise InvalidInput("price", NEW_STOP_HELP) from None
    if not price.is_finite():
        raise InvalidInput("price", NEW_STOP_HELP)
    return price


async def move_stop_to(user: User, signal_id: int, argument: str, queue: JobQueue,
                       bus: EventBus, note: str = "") -> SignalEvent:
    """``/movesl <id> <price|entry|be|breakeven>`` in any bot: move the signal's stop.

    ``argument`` is read by ``new_stop_of``; the move is ``move_stop_loss`` (a
    STOP_MOVED event, the state's and followers' stops, fan-out after commit).
    Raises ``NotFound`` (no such signal), ``InvalidInput`` (``price``: what to type),
    ``NotAllowed``, ``InvalidSignal`` (the new stop breaks the rules); nothing changes then.
    """
    signal = await Signal.get_or_none(id=signal_id)
    if signal is None:
        raise NotFound(f"no signal with id {signal_id}")
    return await move_stop_loss(user, signal_id, new_stop_of(signal, argument), note,
                                queue, bus)


async def _signal_for_update(source: ChannelSource, update: ParsedUpdate,
                             reply_to_message_id: int | None) -> Signal | None:
    if reply_to_message_id is not None:
        post = await PendingPost.get_or_none(platform=source.platform, chat_id=source.chat_id,
                                             message_id=reply_to_message_id)
        if post is not None and post.signal_id is not None:  # type: ignore[attr-defined]
            return await Signal.get(id=post.signal_id)  # type: ignore[attr-defined]
    candidates = await open_signals(source.provider)
    if update.symbol is not None:
        base = update.symbol.split("/")[0]
        matching = [s for s in candidates if s.symbol.split("/")[0] == base]
        return matching[0] if matching else None
    return candidates[0] if len(candidates) == 1 else None
