"""Providers publish by chat: drafts from free text, previews, and channel ingestion.

Drafts (``/publish`` in a bot, or a post in a provider's channel) are ``PendingPost``
rows keyed by the chat message they came from: parsing the same message again (an
edit before publication) updates the same draft. A draft is published at most once:
``publish_post`` locks the row and returns the existing signal when pressed twice.

``preview_message`` is the draft in the shape of ``domain.events.event_message``
(kind PUBLISHED), so each bot renders the preview with the very renderer its
subscribers' messages go through.

Channel ingestion (``ingest_post``): a post in a registered channel (``ChannelSource``)
is parsed; a complete signal is published (mode auto) or queued for one tap in the
provider's private chat (mode confirm); a signal the parser could not complete is
queued with the problem; posts that are not signals are ignored. Lifecycle posts are
applied to the signal they reply to, else to the provider's latest open signal of the
named symbol, else to its only open signal; anything ambiguous is ignored with a log
line. "Cancelled" cancels, "Closed ..." and "Closed at stoploss" close (at the market
price, or at the stop), "SL moved to entry/<price>" moves the stop. "TP2 ✅" changes
nothing: target hits are recorded only from market prices by the monitor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from domain.errors import DomainError, InvalidInput, NotAllowed, NotFound
from domain.linking_models import ChannelSource, PendingPost, Platform, PostStatus, SourceMode
from domain.models import Provider, Role, Signal, SignalEvent, SignalState, User
from domain.parsing import ParsedSignal, ParsedUpdate, UpdateKind, parse_message, to_draft
from domain.ports import EventBus, JobQueue, PriceSource
from domain.providers import get_provider
from domain.publishing import (
    OPEN_STATUSES,
    cancel_signal,
    check_can_publish,
    close_signal,
    move_stop_loss,
    publish_signal,
)
from domain.signals import SignalDraft

log = logging.getLogger(__name__)
DRAFT_STATUSES = (PostStatus.PENDING, PostStatus.EDITING)


@dataclass(frozen=True)
class DraftPreview:
    """A parsed draft. ``problem`` is "" when it can be published, else what to fix;
    ``message`` is the preview (``event_message`` shape) when ``draft`` is valid."""

    post: PendingPost
    provider: Provider
    parsed: ParsedSignal | None
    draft: SignalDraft | None
    problem: str
    message: dict[str, Any] | None

    @property
    def ready(self) -> bool:
        """True when Publish would succeed now."""
        return self.draft is not None and not self.problem


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


# -- providers a user publishes for ---------------------------------------------------


async def providers_of(user: User) -> list[Provider]:
    """Providers ``user`` owns, by slug."""
    return await Provider.filter(owner_id=user.id).order_by("slug")


async def choose_provider(user: User, text: str) -> tuple[Provider, str]:
    """(provider, rest of ``text``): a leading slug the user publishes for picks it,
    else the user's only provider. Raises ``NotAllowed`` (no provider) or
    ``InvalidInput`` (field ``provider``: several, name one first)."""
    stripped = text.strip()
    first = stripped.split(maxsplit=1)[0] if stripped else ""
    rest = stripped[len(first):].strip()
    mine = await providers_of(user)
    chosen = next((p for p in mine if p.slug == first.lower()), None)
    if chosen is None and user.role is Role.ADMIN and first:
        chosen = await Provider.get_or_none(slug=first.lower())
    if chosen is not None:
        return chosen, rest
    if not mine:
        raise NotAllowed("you do not run a provider yet; create one first (GraphQL "
                         "createProvider) with a provider account")
    if len(mine) > 1:
        slugs = ", ".join(p.slug for p in mine)
        raise InvalidInput("provider", f"you publish for several providers ({slugs}); start "
                                       f"with the slug, e.g. /publish {mine[0].slug} #BTC/USDT "
                                       "LONG ...")
    return mine[0], stripped


# -- drafts -------------------------------------------------------------------------------


async def draft_from_text(user: User, text: str, *, platform: Platform | str, chat_id: int,
                          message_id: int, provider: Provider | None = None,
                          prices: PriceSource | None = None,
                          source: ChannelSource | None = None) -> DraftPreview:
    """Parse ``text`` into the draft of chat message (platform, chat_id, message_id).

    Creates the ``PendingPost`` or re-parses it when the same message comes again
    (edited). ``provider`` defaults to ``choose_provider``; a leading slug is removed
    from the text. ``prices`` fills a market entry (``CMP``) with the last price.
    Raises ``NotAllowed``/``InvalidInput`` (provider), ``InvalidInput`` (``text``) for a
    post that holds no signal, or one already published (signals are append-only).
    """
    if provider is None:
        provider, text = await choose_provider(user, text)
    else:
        check_can_publish(user, provider)
    where = Platform(str(platform))
    post = await PendingPost.get_or_none(platform=where, chat_id=chat_id, message_id=message_id)
    if post is not None and post.status is PostStatus.PUBLISHED:
        raise InvalidInput("text", "this message was already published; signals cannot be "
                                   "edited, send /movesl or /close instead")
    preview = await _evaluate(text, provider, prices)
    if post is None:
        post = PendingPost(platform=where, chat_id=chat_id, message_id=message_id)
    post.provider, post.author, post.source = provider, user, source
    post.text, post.problem, post.status = text, preview[2], PostStatus.PENDING
    await post.save()
    return DraftPreview(post, provider, *preview)


async def start_blank_draft(user: User, text: str, *, platform: Platform | str, chat_id: int,
                            message_id: int) -> PendingPost:
    """An empty draft waiting for the signal's text (``/publish`` with nothing or a slug).

    The next text the user sends in ``chat_id`` goes to ``revise_post``. Raises what
    ``choose_provider`` raises.
    """
    provider, _ = await choose_provider(user, text)
    await PendingPost.filter(author_id=user.id, status=PostStatus.EDITING).update(
        status=PostStatus.PENDING)
    return await PendingPost.create(
        platform=Platform(str(platform)), chat_id=chat_id, message_id=message_id,
        provider=provider, author=user, status=PostStatus.EDITING,
        problem="waiting for the signal's text", preview_chat_id=chat_id)


async def draft_for_message(platform: Platform | str, chat_id: int, message_id: int
                            ) -> PendingPost | None:
    """The unpublished draft made from chat message (platform, chat_id, message_id), if any."""
    return await PendingPost.get_or_none(platform=Platform(str(platform)), chat_id=chat_id,
                                         message_id=message_id, status__in=DRAFT_STATUSES)


async def _evaluate(text: str, provider: Provider, prices: PriceSource | None
                    ) -> tuple[ParsedSignal | None, SignalDraft | None, str,
                               dict[str, Any] | None]:
    """(parse, draft, problem, preview message) of ``text``."""
    parsed = parse_message(text)
    if not isinstance(parsed, ParsedSignal):
        raise InvalidInput("text", "I could not read a signal there. Write it like:\n"
                                   f"{EXAMPLE_SIGNAL}")
    market = None
    if parsed.market_entry and parsed.symbol and prices is not None:
        market = prices.last_price(parsed.symbol)
    try:
        draft = to_draft(parsed, market_price=market)
    except InvalidInput as exc:
        return parsed, None, describe_problem(exc), None
    return parsed, draft, "", preview_message(draft, provider, await _next_seq(provider))


EXAMPLE_SIGNAL = ("#BTC/USDT LONG\nEntry: 86021.51\nTP1: 86380\nTP2: 87763.92\n"
                  "SL: 85146.64\nLeverage: 5x")


def describe_problem(exc: InvalidInput) -> str:
    """A parser/validation error as a sentence saying what to add or fix."""
    names = {"symbol": "the symbol (e.g. #BTC/USDT)", "side": "the side (LONG or SHORT)",
             "entryLow": "the entry price (Entry: 86021.51)",
             "stopLoss": "the stop-loss (SL: 85146.64)",
             "targets": "at least one target (TP1: 86380)"}
    field = exc.field.split("[")[0]
    if field in names and "could not read" in exc.rule:
        return f"Missing {names[field]}: {exc.rule}."
    return f"{exc.field}: {exc.rule}."


async def _next_seq(provider: Provider) -> int:
    last = await Signal.filter(provider_id=provider.id).order_by("-seq").first()
    return last.seq + 1 if last else 1


def preview_message(draft: SignalDraft, provider: Provider, seq: int) -> dict[str, Any]:
    """``draft`` as the PUBLISHED event message subscribers would get (ids 0, status PENDING)."""
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    signal = {
        "id": 0, "providerSlug": provider.slug, "providerName": provider.name, "seq": seq,
        "symbol": draft.symbol, "side": draft.side.value, "entryLow": str(draft.entry_low),
        "entryHigh": str(draft.entry_high), "stopLoss": str(draft.stop_loss),
        "targets": [str(t) for t in draft.targets], "leverage": draft.leverage,
        "note": draft.note, "status": "PENDING", "outcome": None, "targetsHit": 0,
        "contentHash": "", "createdAt": now,
    }
    return {"eventId": 0, "kind": "PUBLISHED", "targetIndex": 0, "price": None, "note": "",
            "createdAt": now, "signal": signal}


async def preview_of(post: PendingPost, prices: PriceSource | None = None) -> DraftPreview:
    """The current preview of a stored draft (re-parsed from its text)."""
    provider = await Provider.get(id=post.provider_id)  # type: ignore[attr-defined]
    try:
        return DraftPreview(post, provider, *await _evaluate(post.text, provider, prices))
    except InvalidInput as exc:
        return DraftPreview(post, provider, None, None, describe_problem(exc), None)


async def own_post(user: User, post_id: int) -> PendingPost:
    """The draft ``post_id`` of ``user`` (or any, for an admin); ``NotFound`` otherwise."""
    post = await PendingPost.get_or_none(id=post_id)
    if post is None or (post.author_id != user.id  # type: ignore[attr-defined]
                        and user.role is not Role.ADMIN):
        raise NotFound(f"no draft {post_id} of yours")
    return post


async def set_preview_location(post: PendingPost, chat_id: int, message_id: int) -> None:
    """Remember where the preview with the buttons is, so it can be edited later."""
    post.preview_chat_id, post.preview_message_id = chat_id, message_id
    await post.save(update_fields=["preview_chat_id", "preview_message_id", "updated_at"])


async def publish_post(user: User, post_id: int, queue: JobQueue, bus: EventBus,
                       prices: PriceSource | None = None, market_ts: int = 0
                       ) -> tuple[Signal, bool]:
    """Publish draft ``post_id`` as the provider's next signal; (signal, newly published).

    The draft is claimed under a row lock in its own transaction (status PUBLISHED), then
    published through ``publish_signal`` (its own transaction, so the fan-out job is
    enqueued after the signal is committed), then linked to the signal. A second press
    returns the signal already published (False); a press while the first is still
    publishing gets ``InvalidInput``. If publishing fails the claim is undone.
    Raises ``NotFound`` (not the user's draft), ``InvalidInput`` (cancelled, or the text
    is not a complete signal: the problem says what to fix), ``NotAllowed``.
    """
    owned = await own_post(user, post_id)
    async with in_transaction():
        post = await PendingPost.filter(id=owned.id).select_for_update().get()
        if post.status is PostStatus.PUBLISHED:
            if post.signal_id is None:  # type: ignore[attr-defined]
                raise InvalidInput("draft", "this draft is being published right now")
            return await Signal.get(id=post.signal_id), False  # type: ignore[attr-defined]
        if post.status is PostStatus.CANCELLED:
            raise InvalidInput("draft", "this draft was cancelled; send /publish again")
        preview = await preview_of(post, prices)
        if preview.draft is None:
            raise InvalidInput("draft", preview.problem)
        previous = post.status
        post.status = PostStatus.PUBLISHED
        await post.save(update_fields=["status", "updated_at"])
    try:
        signal = await publish_signal(user, preview.provider.slug, preview.draft, queue, bus,
                                      market_ts=market_ts)
    except BaseException:
        await PendingPost.filter(id=post.id).update(status=previous)
        raise
    post.signal_id, post.problem = signal.id, ""  # type: ignore[attr-defined]
    await post.save(update_fields=["signal_id", "problem", "updated_at"])
    return signal, True


async def start_edit(user: User, post_id: int) -> PendingPost:
    """Mark draft ``post_id`` as waiting for its corrected text (``revise_waiting``).

    Any other draft of the user waiting for text goes back to PENDING. Raises
    ``NotFound`` or ``InvalidInput`` when the draft is published or cancelled.
    """
    post = await own_post(user, post_id)
    _check_open(post)
    await PendingPost.filter(author_id=user.id, status=PostStatus.EDITING).update(
        status=PostStatus.PENDING)
    post.status = PostStatus.EDITING
    await post.save(update_fields=["status", "updated_at"])
    return post


async def waiting_for_text(user: User, platform: Platform | str, chat_id: int
                           ) -> PendingPost | None:
    """The user's draft in ``chat_id`` waiting for corrected text after Edit, if any."""
    return await PendingPost.filter(author_id=user.id, platform=Platform(str(platform)),
                                    preview_chat_id=chat_id,
                                    status=PostStatus.EDITING).order_by("-id").first()


async def revise_post(user: User, post_id: int, text: str,
                      prices: PriceSource | None = None) -> DraftPreview:
    """Replace the text of draft ``post_id`` and parse it again (after Edit).

    The draft stays in EDITING until the text parses (then PENDING). Raises ``NotFound``,
    ``InvalidInput`` (published/cancelled draft, or no signal in ``text``).
    """
    post = await own_post(user, post_id)
    _check_open(post)
    provider = await Provider.get(id=post.provider_id)  # type: ignore[attr-defined]
    preview = await _evaluate(text, provider, prices)
    post.text, post.problem, post.status = text, preview[2], PostStatus.PENDING
    await post.save()
    return DraftPreview(post, provider, *preview)


async def cancel_post(user: User, post_id: int) -> PendingPost:
    """Cancel draft ``post_id`` (nothing is published). Idempotent for a cancelled draft.

    Raises ``NotFound``, or ``InvalidInput`` when it was already published.
    """
    post = await own_post(user, post_id)
    if post.status is PostStatus.PUBLISHED:
        raise InvalidInput("draft", "this draft was already published; use /cancel <id> or "
                                    "/close <id> for the signal")
    post.status = PostStatus.CANCELLED
    await post.save(update_fields=["status", "updated_at"])
    return post


def _check_open(post: PendingPost) -> None:
    if post.status not in DRAFT_STATUSES:
        raise InvalidInput("draft", f"this draft is already {post.status.value.lower()}")


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
