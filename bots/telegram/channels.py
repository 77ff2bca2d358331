"""Providers' own channels and groups as signal sources.

Making the bot an admin of a channel or group (``my_chat_member``) registers it for
the provider of the person who added it (confirm mode), or asks which provider when
they run several. ``/addchannel`` does the same by name after checking with Telegram
that the sender administers the channel; ``/channels`` lists sources with mode
buttons. Every channel post (and edited post) goes to ``domain.chat_publishing.ingest_post``;
in a registered group only the provider's own messages do. What happened is told to
the provider in their private chat, with the preview and buttons when it waits for them.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Chat, ChatMemberUpdated, Message

from bots.telegram import chat_texts
from bots.telegram.chat_callbacks import ChannelModeChoice, ChannelProviderChoice
from bots.telegram.chat_commands import addchannel_arguments
from bots.telegram.chat_keyboards import (
    channel_keyboard,
    channel_provider_keyboard,
    draft_keyboard,
)
from domain import chat_publishing as drafts
from domain.errors import NotAllowed
from domain.linking_models import ChannelSource, Platform
from domain.models import Provider, User
from domain.users import telegram_user
from signalhub.bootstrap import Services

log = logging.getLogger(__name__)
TELEGRAM = Platform.TELEGRAM
ADMINS = (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.CREATOR)
GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)


async def tell(bot: Bot, chat_id: int | None, text: str, **kwargs: object) -> Message | None:
    """Send to a provider's private chat; a chat that is gone or blocked is only logged."""
    if chat_id is None:
        return None
    try:
        return await bot.send_message(chat_id, text, **kwargs)  # type: ignore[arg-type]
    except TelegramAPIError as exc:
        log.info("could not tell chat %s: %s", chat_id, exc)
        return None


async def bot_membership_changed(event: ChatMemberUpdated, bot: Bot) -> None:
    """Made admin of a channel (or added to a group): register it; removed: forget it."""
    status = event.new_chat_member.status
    if status in (ChatMemberStatus.LEFT, ChatMemberStatus.KICKED):
        await drafts.forget_channel(TELEGRAM, event.chat.id)
        return
    if status != ChatMemberStatus.ADMINISTRATOR:
        return  # only an admin bot reads every post (groups: privacy mode hides the rest)
    adder = event.from_user
    user = await telegram_user(adder.id, adder.id, adder.full_name.strip())
    await offer_channel(bot, user, event.chat)


async def offer_channel(bot: Bot, user: User, chat: Chat, mode: str = "confirm",
                        slug: str | None = None) -> None:
    """Register ``chat`` for the user's provider (or ask which one) and tell them."""
    title = chat.title or chat.username or str(chat.id)
    providers = await drafts.providers_of(user)
    if slug is None and len(providers) > 1:
        await tell(bot, user.telegram_chat_id, chat_texts.choose_channel_provider(title),
                   reply_markup=channel_provider_keyboard(chat.id, providers))
        return
    if slug is None and not providers:
        await tell(bot, user.telegram_chat_id,
                   chat_texts.NOT_A_PROVIDER_CHANNEL.format(title=title))
        return
    chosen = slug or providers[0].slug
    source = await drafts.register_channel(user, chosen, TELEGRAM, chat.id, mode, title)
    await tell_source(bot, user, source)


async def tell_source(bot: Bot, user: User, source: ChannelSource) -> None:
    provider = await Provider.get(id=source.provider_id)  # type: ignore[attr-defined]
    await tell(bot, user.telegram_chat_id, chat_texts.channel_text(source, provider),
               reply_markup=channel_keyboard(source))


async def check_admin(bot: Bot, chat_id: int | str, user_id: int) -> Chat:
    """The chat, if the bot can see it and ``user_id`` administers it; ``NotAllowed`` else."""
    try:
        chat = await bot.get_chat(chat_id)
        member = await bot.get_chat_member(chat.id, user_id)
    except TelegramAPIError:
        raise NotAllowed("I cannot see that channel: add me to it as an admin first") from None
    if member.status not in ADMINS:
        raise NotAllowed("only an admin of that channel can make it a signal source")
    return chat


async def add_channel_command(message: Message, command: CommandObject, user: User,
                              bot: Bot) -> None:
    request = addchannel_arguments(command.args)
    assert message.from_user is not None
    chat = await check_admin(bot, request.chat, message.from_user.id)
    await offer_channel(bot, user, chat, request.mode, request.slug)


async def refuse_addchannel_outside_private_chat(message: Message) -> None:
    await message.answer(chat_texts.ADDCHANNEL_PRIVATE_ONLY)


async def list_channels(message: Message, user: User) -> None:
    sources = await drafts.user_channels(user)
    if not sources:
        await message.answer(chat_texts.channels_empty())
    for source in sources[:10]:
        await message.answer(chat_texts.channel_text(source, source.provider),
                             reply_markup=channel_keyboard(source))


async def choose_mode(query: CallbackQuery, callback_data: ChannelModeChoice, user: User,
                      message: Message) -> None:
    source = await drafts.own_source(user, callback_data.source_id)
    if callback_data.mode == "remove":
        await drafts.remove_channel(user, source.platform, source.chat_id)
        await query.answer("Removed")
        await message.edit_text(f"Removed: I no longer read {source.title or source.chat_id}.")
        return
    source = await drafts.set_channel_mode(user, source.id, callback_data.mode)
    await query.answer(f"Mode: {source.mode.value}")
    await message.edit_text(chat_texts.channel_text(source, source.provider),
                            reply_markup=channel_keyboard(source))


async def choose_provider(query: CallbackQuery, callback_data: ChannelProviderChoice,
                          user: User, bot: Bot, message: Message) -> None:
    chat = await check_admin(bot, callback_data.chat_id, query.from_user.id)
    provider = await Provider.get_or_none(id=callback_data.provider_id)
    if provider is None:
        raise NotAllowed("that provider no longer exists")
    source = await drafts.register_channel(user, provider.slug, TELEGRAM, chat.id, "confirm",
                                           chat.title or str(chat.id))
    await query.answer(f"{provider.name} it is")
    await message.edit_text(chat_texts.channel_text(source, provider),
                            reply_markup=channel_keyboard(source))


async def channel_post(message: Message, bot: Bot, services: Services) -> None:
    await ingest(message, bot, services, edited=False)


async def edited_channel_post(message: Message, bot: Bot, services: Services) -> None:
    await ingest(message, bot, services, edited=True)


async def is_source_group(message: Message) -> bool:
    """A group registered as a source, and a message of its provider's owner."""
    if message.from_user is None or message.chat.type not in GROUPS:
        return False
    source = await drafts.channel_source(TELEGRAM, message.chat.id)
    return source is not None and \
        source.provider.owner.telegram_user_id == message.from_user.id


async def ingest(message: Message, bot: Bot, services: Services, edited: bool) -> None:
    """Parse a post of a source chat and tell its provider what became of it."""
    reply_to = message.reply_to_message.message_id if message.reply_to_message else None
    result = await drafts.ingest_post(
        TELEGRAM, message.chat.id, message.message_id, message.text or message.caption or "",
        services.queue, services.bus, prices=services.prices, edited=edited,
        reply_to_message_id=reply_to,
        market_ts=services.prices.now_ms() if services.prices is not None else 0)
    if result.source is None or result.action == "ignored":
        return
    owner = result.source.provider.owner
    title = result.source.title or str(result.source.chat_id)
    if result.action == "published" and result.signal is not None:
        await tell(bot, owner.telegram_chat_id, chat_texts.ingested_published(
            result.signal, result.source.provider, title))
    elif result.action == "applied" and result.event is not None and result.signal:
        await tell(bot, owner.telegram_chat_id, chat_texts.event_done(result.event,
                                                                      result.signal))
    elif result.preview is not None:
        await show_queued(bot, owner, result.preview, title)


async def show_queued(bot: Bot, owner: User, preview: drafts.DraftPreview, title: str) -> None:
    """The preview of a channel post waiting for the provider, edited in place if shown."""
    text = (chat_texts.queued_header(title) + chat_texts.draft_preview(preview)
            if preview.ready else chat_texts.incomplete_post(title, preview.problem))
    markup = draft_keyboard(preview.post.id, preview.ready)
    post = preview.post
    if post.preview_chat_id is not None and post.preview_message_id is not None:
        try:
            await bot.edit_message_text(text, chat_id=post.preview_chat_id,
                                        message_id=post.preview_message_id, reply_markup=markup)
            return
        except TelegramAPIError as exc:
            log.info("preview of draft %s not edited: %s", post.id, exc)
    sent = await tell(bot, owner.telegram_chat_id, text, reply_markup=markup)
    if sent is not None:
        await drafts.set_preview_location(post, sent.chat.id, sent.message_id)


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    router.my_chat_member.register(bot_membership_changed)
    router.channel_post.register(channel_post)
    router.edited_channel_post.register(edited_channel_post)
    router.message.register(add_channel_command, Command("addchannel"),
                            F.chat.type == ChatType.PRIVATE)
    router.message.register(refuse_addchannel_outside_private_chat, Command("addchannel"))
    router.message.register(list_channels, Command("channels"))
    router.message.register(channel_post, is_source_group, ~F.text.startswith("/"))
    router.edited_message.register(edited_channel_post, is_source_group)
    router.callback_query.register(choose_mode, ChannelModeChoice.filter(),
                                   F.message.as_("message"))
    router.callback_query.register(choose_provider, ChannelProviderChoice.filter(),
                                   F.message.as_("message"))
    return router
