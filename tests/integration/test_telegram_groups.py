"""A provider's community group (a forum supergroup) as a signal source.

Real bot in polling mode against the fake Bot API, real Update JSON: the bot is made an
admin of the group (``my_chat_member``), then members write in forum topics. Only the
provider owner's own messages are read as signals; everyone else's are left alone, and
commands in the group keep working in their topic.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from domain.linking_models import ChannelSource, PendingPost, SourceMode
from domain.models import Signal
from integrations.prices import ReplayPriceSource
from signalhub.bootstrap import Services
from tests.fakes.telegram_channels import FakeTelegramChannelsApi
from tests.integration import test_telegram_publishing as publishing
from tests.integration.test_telegram_publishing import (
    FAN_TG,
    PROVIDER_TG,
    buttons,
    eventually,
    make_desk,
    plain,
    press,
    push,
    signal_text,
)

# The bot in polling mode, its fake Bot API and the manual replay: the same fixtures.
api, bot, prices = publishing.api, publishing.bot, publishing.prices

GROUP = -1005554443332
TOPIC = 12


def add_forum(api: FakeTelegramChannelsApi) -> None:
    api.channels[GROUP] = {"id": GROUP, "type": "supergroup", "title": "BTC Desk community",
                           "is_forum": True}
    api.channel_admins[GROUP] = {PROVIDER_TG}


def in_topic(api: FakeTelegramChannelsApi, user_id: int, text: str) -> dict[str, Any]:
    return api.topic_message(user_id, GROUP, TOPIC, text)


async def test_only_the_providers_own_group_messages_become_signals(
        api: FakeTelegramChannelsApi, bot: Services, prices: ReplayPriceSource) -> None:
    await make_desk()
    add_forum(api)
    told = await push(api, api.bot_promoted(GROUP, PROVIDER_TG), PROVIDER_TG)
    source = await ChannelSource.get(chat_id=GROUP)
    assert source.mode is SourceMode.CONFIRM
    assert plain(told).startswith("📡 BTC Desk community feeds BTC Desk")

    api.push_update(in_topic(api, FAN_TG, signal_text(prices)))  # a member's copy: not read
    queued = await push(api, in_topic(api, PROVIDER_TG, signal_text(prices)), PROVIDER_TG)

    assert plain(queued).startswith("📥 New post in BTC Desk community:\n\n📣 BTC Desk · "
                                    "new signal #1")
    [draft] = await PendingPost.all()
    assert draft.chat_id == GROUP
    assert not await Signal.exists()
    answer = await press(api, buttons(queued)[0]["callback_data"],
                         message_id=queued.message_id)
    assert answer["text"] == "Published"
    assert await Signal.all().count() == 1


async def test_commands_in_the_group_are_answered_in_their_topic_not_read_as_posts(
        api: FakeTelegramChannelsApi, bot: Services) -> None:
    await make_desk()
    add_forum(api)
    await push(api, api.bot_promoted(GROUP, PROVIDER_TG), PROVIDER_TG)

    reply = await push(api, in_topic(api, PROVIDER_TG, "/help@signalhub_test_bot"), GROUP)

    assert reply.params["message_thread_id"] == TOPIC
    assert "/providers" in plain(reply)
    assert not await PendingPost.exists()


async def test_removing_the_bot_from_the_group_stops_reading_it(
        api: FakeTelegramChannelsApi, bot: Services, prices: ReplayPriceSource) -> None:
    await make_desk()
    add_forum(api)
    await push(api, api.bot_promoted(GROUP, PROVIDER_TG), PROVIDER_TG)
    api.push_update(api.bot_promoted(GROUP, PROVIDER_TG, removed=True))
    await eventually(lambda: _gone(ChannelSource.exists()))

    api.push_update(in_topic(api, PROVIDER_TG, signal_text(prices)))
    await push(api, in_topic(api, FAN_TG, "/help@signalhub_test_bot"), GROUP)
    assert not await PendingPost.exists()


async def _gone(exists: Awaitable[bool]) -> bool:
    return not await exists
