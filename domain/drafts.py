"""Drafts of signals written in chat: parse, preview, publish once, edit, cancel.

Drafts (``/publish`` in a bot, or a post in a provider's channel) are ``PendingPost``
rows keyed by the chat message they came from: parsing the same message again (an
edit before publication) updates the same draft. A draft is published at most once:
``publish_post`` claims the row under a lock and returns the existing signal when
pressed twice.

``preview_message`` is the draft in the shape of ``domain.events.event_message``
(kind PUBLISHED), so each bot renders the preview with the very renderer its
subscribers' messages go through. Bots import these through ``domain.chat_publishing``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.linking_models import ChannelSource, PendingPost, Platform, PostStatus
from domain.models import Provider, Role, Signal, User
from domain.parsing import ParsedSignal, parse_message, to_draft
from domain.ports import EventBus, JobQueue, PriceSource
from domain.publishing import check_can_publish, publish_signal
from domain.signals import SignalDraft

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


async def editable_post(user: User, post_id: int) -> PendingPost:
    """Draft ``post_id`` of ``user`` that can still change (pending or being edited).

    Raises ``NotFound`` (not the user's draft) or ``InvalidInput`` (published/cancelled).
    """
    post = await own_post(user, post_id)
    _check_open(post)
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
