"""Slash-command handlers: plain async functions, no discord.py in here.

Each takes the process's ``Services``, the ``Caller`` (who, where, with which
permission bits: all read from the interaction payload) and the command's arguments,
calls one domain service and returns a ``Reply``. Domain errors propagate; the
command layer (``bots.discord.commands``) turns them into an ephemeral reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bots.discord import replies
from bots.discord.replies import Reply
from domain import alerts, chat_publishing, checkout, discord_roles, linking
from domain.discord_accounts import discord_account
from domain.errors import InvalidInput
from domain.linking_models import PendingPost, Platform
from domain.portfolio import load_pnl, load_portfolio
from domain.providers import get_provider, list_providers
from domain.publish_form import compose_form
from domain.publishing import cancel_signal
from domain.subscriptions import set_copy_trading, user_subscriptions
from integrations.discord_format import signal_embed
from signalhub.billing import billing_config, payment_gateway
from signalhub.bootstrap import Services


@dataclass(frozen=True)
class Caller:
    """Who ran a command and where: Discord snowflakes and the member's permission bits.

    ``guild_id`` is None in a DM. ``permissions`` are the member's resolved permissions
    in the channel as Discord sent them (``member.permissions``); 0 in a DM.
    ``interaction_id`` identifies the command message (drafts are keyed by it).
    """

    discord_user_id: int
    name: str
    guild_id: int | None
    channel_id: int | None
    permissions: int = 0
    interaction_id: int = 0


async def show_providers(services: Services, caller: Caller) -> Reply:
    """/providers: every provider, public in the channel."""
    return replies.providers(await list_providers())


async def subscribe_to(services: Services, caller: Caller, provider: str) -> Reply:
    """/subscribe provider: a free provider at once, a priced one with a Checkout link.

    The caller's account is created on first use. Raises ``NotFound`` (provider),
    ``NotAllowed`` (already subscribed, payments not set up; ``domain.checkout``).
    """
    user = await discord_account(caller.discord_user_id, caller.name)
    outcome = await checkout.checkout_link(user, provider, payment_gateway(services),
                                           billing_config(services.settings))
    if outcome.url is None:
        outcome.subscription.provider = outcome.provider
        return replies.subscribed(outcome.subscription)
    return replies.checkout(outcome.provider, outcome.url)


async def unsubscribe_from(services: Services, caller: Caller, provider: str) -> Reply:
    """/unsubscribe provider: a free subscription ends now, a paid one at period end."""
    user = await discord_account(caller.discord_user_id, caller.name)
    sub = await checkout.cancel(user, provider, payment_gateway(services))
    return replies.unsubscribed(sub, await get_provider(provider))


async def show_subscriptions(services: Services, caller: Caller) -> Reply:
    """/subscriptions: the caller's subscriptions (caller only)."""
    user = await discord_account(caller.discord_user_id, caller.name)
    return replies.subscriptions(await user_subscriptions(user))


async def set_copying(services: Services, caller: Caller, provider: str, on: bool,
                      scale: str | None = None, max_pct: str | None = None,
                      max_open: int | None = None) -> Reply:
    """/copy provider on [scale max_pct max_open]: paper copy trading for one subscription."""
    user = await discord_account(caller.discord_user_id, caller.name)
    settings = await set_copy_trading(user, provider, on, scale_factor=scale,
                                      max_position_pct=max_pct, max_open_positions=max_open)
    return replies.copy_settings(provider.strip().lower(), settings)


async def show_positions(services: Services, caller: Caller) -> Reply:
    """/positions: the caller's paper positions marked to market (caller only)."""
    user = await discord_account(caller.discord_user_id, caller.name)
    return replies.positions(await load_portfolio(user, services.prices))


async def show_pnl(services: Services, caller: Caller, days: int = 30) -> Reply:
    """/pnl [days]: closed-trade statistics over ``days`` and the open positions' mark.

    Raises ``InvalidInput`` unless 1 <= days <= 3650 (``domain.portfolio.load_pnl``).
    """
    user = await discord_account(caller.discord_user_id, caller.name)
    summary = await load_pnl(user.id, days, datetime.now(UTC))
    return replies.pnl(summary, await load_portfolio(user, services.prices))


async def link_account(services: Services, caller: Caller, code: str | None = None) -> Reply:
    """/link: without a code, a new one-time code; with one, link this Discord account.

    Raises ``InvalidInput`` for a wrong, expired or used code, ``LinkRefused`` when both
    accounts hold data (``domain.linking``).
    """
    if not code:
        user = await discord_account(caller.discord_user_id, caller.name)
        return replies.link_code(await linking.issue_code(user, Platform.DISCORD))
    result = await linking.redeem_code(code, Platform.DISCORD,
                                       platform_user_id=caller.discord_user_id)
    return replies.linked(result.account.name, result.absorbed_user_id is not None,
                          result.already_linked)


async def add_alert(services: Services, caller: Caller, provider: str) -> Reply:
    """/alerts add provider: post the provider's signals in this channel (Manage Server)."""
    alert, new = await alerts.add_alert(
        provider, guild_id=caller.guild_id, channel_id=_channel(caller),
        discord_user_id=caller.discord_user_id, permissions=caller.permissions)
    return replies.alert_added(alert, new)


async def remove_alert(services: Services, caller: Caller, provider: str) -> Reply:
    """/alerts remove provider: stop posting it in this channel (Manage Server)."""
    alert = await alerts.remove_alert(provider, guild_id=caller.guild_id,
                                      channel_id=_channel(caller),
                                      permissions=caller.permissions)
    return replies.alert_removed(alert)


async def list_alerts(services: Services, caller: Caller) -> Reply:
    """/alerts list: the server's alerts (Manage Server)."""
    return replies.alert_list(await alerts.list_alerts(caller.guild_id, caller.permissions))


async def set_role(services: Services, caller: Caller, provider: str, role_id: int) -> Reply:
    """/roles set provider role: give the role to the provider's entitled subscribers."""
    mapping, changed = await discord_roles.set_role(
        provider, guild_id=caller.guild_id, role_id=role_id,
        discord_user_id=caller.discord_user_id, permissions=caller.permissions)
    return replies.role_set(mapping, changed)


async def remove_role(services: Services, caller: Caller, provider: str) -> Reply:
    """/roles remove provider: stop; the worker takes the role back from everyone."""
    mapping = await discord_roles.remove_role(provider, guild_id=caller.guild_id,
                                              permissions=caller.permissions)
    return replies.role_removed(mapping)


async def list_roles(services: Services, caller: Caller) -> Reply:
    """/roles list: the server's subscriber roles (Manage Server)."""
    return replies.role_list(await discord_roles.list_roles(caller.guild_id,
                                                            caller.permissions))


async def add_source(services: Services, caller: Caller, provider: str, mode: str,
                     title: str = "") -> Reply:
    """/source add provider mode: read this channel's posts as the provider's signals.

    The caller must own the provider (linked account) and manage the server, since
    every post here may then publish a signal. Raises ``InvalidInput`` outside a server
    or for a bad mode, ``NotAllowed``, ``NotFound`` (``chat_publishing.register_channel``).
    """
    alerts.require_manage_server(caller.guild_id, caller.permissions)
    user = await discord_account(caller.discord_user_id, caller.name)
    source = await chat_publishing.register_channel(user, provider, Platform.DISCORD,
                                                    _channel(caller), mode, title)
    return replies.source_added(source, services.settings.discord_read_channels)


async def remove_source(services: Services, caller: Caller) -> Reply:
    """/source remove: stop reading this channel's posts."""
    alerts.require_manage_server(caller.guild_id, caller.permissions)
    user = await discord_account(caller.discord_user_id, caller.name)
    await chat_publishing.remove_channel(user, Platform.DISCORD, _channel(caller))
    return replies.source_removed()


@dataclass(frozen=True)
class ChannelPost:
    """A message posted (or edited) in a server channel, as the gateway delivered it."""

    channel_id: int
    message_id: int
    text: str
    reply_to_message_id: int | None = None
    edited: bool = False


@dataclass(frozen=True)
class OwnerDm:
    """A DM for a provider's owner about one channel post. ``draft`` is set for a draft
    preview: its ``preview_chat_id``/``preview_message_id``, once recorded with
    ``remember_preview``, locate the DM to edit in place when the post is edited."""

    discord_user_id: int
    reply: Reply
    draft: PendingPost | None = None


async def ingest_channel_post(services: Services, post: ChannelPost) -> OwnerDm | None:
    """Feed a channel post to ``chat_publishing.ingest_post``.

    Returns the DM for the provider's owner: the draft's preview when it awaits their
    confirmation or a fix, the confirmation (with the signal's id) when it was published
    at once (mode auto). None otherwise (applied, ignored, or an owner without a linked
    Discord account).
    """
    market_ts = services.prices.now_ms() if services.prices is not None else 0
    result = await chat_publishing.ingest_post(
        Platform.DISCORD, post.channel_id, post.message_id, post.text, services.queue,
        services.bus, prices=services.prices, edited=post.edited,
        reply_to_message_id=post.reply_to_message_id, market_ts=market_ts)
    if result.source is None or result.preview is None:
        return None
    owner_discord = result.source.provider.owner.discord_user_id  # loaded by ingest_post
    if owner_discord is None:
        return None
    if result.action == "published" and result.signal is not None:
        return OwnerDm(owner_discord, replies.published(
            result.signal, result.source.provider, where=str(post.channel_id)))
    if result.action not in ("queued", "incomplete"):
        return None
    return OwnerDm(owner_discord, preview_reply(result.preview, from_channel=post.channel_id),
                   result.preview.post)


async def remember_preview(draft: PendingPost, channel_id: int, message_id: int) -> None:
    """Record the DM holding ``draft``'s preview (edited in place on the next re-parse)."""
    await chat_publishing.set_preview_location(draft, channel_id, message_id)


async def start_publish(services: Services, caller: Caller, text: str | None = None
                        ) -> Reply:
    """/publish [text]: a written signal → its preview; nothing or a lone provider slug →
    the guided form for that provider (the caller's only one when none is named).

    Raises ``NotAllowed`` for a caller who runs no provider, ``InvalidInput`` when they
    run several and named none, or for text that holds no signal.
    """
    text = (text or "").strip()
    if len(text.split()) > 1:
        return await publish_text(services, caller, text)
    user = await discord_account(caller.discord_user_id, caller.name)
    provider, _ = await chat_publishing.choose_provider(user, text)
    return replies.publish_form(provider.slug)


async def publish_text(services: Services, caller: Caller, text: str) -> Reply:
    """/publish text: parse a signal written in free text into a draft and preview it.

    Raises ``NotAllowed`` for a caller who runs no provider, ``InvalidInput`` for text
    that holds no signal (``domain.chat_publishing.draft_from_text``).
    """
    user = await discord_account(caller.discord_user_id, caller.name)
    preview = await chat_publishing.draft_from_text(
        user, text, platform=Platform.DISCORD, chat_id=_channel(caller),
        message_id=caller.interaction_id, prices=services.prices)
    return preview_reply(preview)


async def submit_form(services: Services, caller: Caller, slug: str,
                      answers: dict[str, str]) -> Reply:
    """The guided form submitted: its answers as one draft (``compose_form``), previewed.

    Raises ``InvalidInput`` (field ``form``: every wrong answer and what to type; no
    draft is stored), ``NotFound``/``NotAllowed`` (provider).
    """
    user = await discord_account(caller.discord_user_id, caller.name)
    text = compose_form(answers)
    preview = await chat_publishing.draft_from_text(
        user, text, platform=Platform.DISCORD, chat_id=_channel(caller),
        message_id=caller.interaction_id, provider=await get_provider(slug),
        prices=services.prices)
    return preview_reply(preview)


async def press_edit(services: Services, caller: Caller, post_id: int) -> Reply:
    """The Edit button under a draft: a form holding the draft's current text.

    Raises ``NotFound`` (not the caller's draft), ``InvalidInput`` (published/cancelled).
    """
    user = await discord_account(caller.discord_user_id, caller.name)
    post = await chat_publishing.editable_post(user, post_id)
    return replies.edit_form(post.id, post.text)


async def submit_edit(services: Services, caller: Caller, post_id: int, text: str) -> Reply:
    """The Edit form submitted: the same draft re-parsed, its preview replaced in place.

    Raises ``NotFound``, ``InvalidInput`` (published/cancelled draft, or no signal in
    ``text``: the draft keeps its text) (``chat_publishing.revise_post``).
    """
    user = await discord_account(caller.discord_user_id, caller.name)
    preview = await chat_publishing.revise_post(user, post_id, text, services.prices)
    channel = preview.post.chat_id if preview.post.source_id else None  # type: ignore[attr-defined]
    return preview_reply(preview, from_channel=channel, update=True)


def preview_reply(preview: chat_publishing.DraftPreview, from_channel: int | None = None,
                  update: bool = False) -> Reply:
    """A draft's preview rendered with the subscribers' embed, with its buttons."""
    embed = signal_embed(preview.message) if preview.message is not None else None
    unread = preview.parsed.unread if preview.parsed is not None else ()
    return replies.draft_preview(embed, preview.problem, preview.post.id, from_channel,
                                 unread, update)


async def close_signal(services: Services, caller: Caller, signal_id: int,
                       note: str | None = None) -> Reply:
    """/close id [note]: close the caller's open signal at the last market price."""
    user = await discord_account(caller.discord_user_id, caller.name)
    event = await chat_publishing.close_at_market(user, signal_id, note or "", services.queue,
                                                  services.bus, services.prices)
    return replies.signal_changed("closed", event.signal, event.price)


async def move_stop(services: Services, caller: Caller, signal_id: int, price: str) -> Reply:
    """/movesl id price|entry|be|breakeven: move the stop-loss (the words: to break-even).

    Raises ``InvalidInput`` (what to type), ``InvalidSignal`` when the new stop breaks
    the rules (``chat_publishing.move_stop_to``).
    """
    user = await discord_account(caller.discord_user_id, caller.name)
    event = await chat_publishing.move_stop_to(user, signal_id, price, services.queue,
                                               services.bus)
    return replies.signal_changed("stop moved", event.signal, event.price)


async def cancel_signal_cmd(services: Services, caller: Caller, signal_id: int,
                            note: str | None = None) -> Reply:
    """/cancel id [note]: cancel a signal whose entry was not filled yet."""
    user = await discord_account(caller.discord_user_id, caller.name)
    event = await cancel_signal(user, signal_id, note or "", services.queue, services.bus)
    return replies.signal_changed("cancelled", event.signal, None)


async def press_publish(services: Services, caller: Caller, post_id: int) -> Reply:
    """The Publish button under a draft: publish it (a second press changes nothing)."""
    user = await discord_account(caller.discord_user_id, caller.name)
    market_ts = services.prices.now_ms() if services.prices is not None else 0
    signal, new = await chat_publishing.publish_post(user, post_id, services.queue,
                                                     services.bus, services.prices, market_ts)
    return replies.published(signal, await signal.provider, new)


async def press_cancel(services: Services, caller: Caller, post_id: int) -> Reply:
    """The Cancel button under a draft."""
    user = await discord_account(caller.discord_user_id, caller.name)
    await chat_publishing.cancel_post(user, post_id)
    return replies.draft_cancelled()


def _channel(caller: Caller) -> int:
    if caller.channel_id is None:
        raise InvalidInput("channel", "run this command in a channel")
    return caller.channel_id
