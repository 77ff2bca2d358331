"""The Telegram bot process: the dispatcher and its long-polling runner.

Router order is priority: start, providers, subscriptions, copy, risk, positions, token,
then the fallback that answers everything else with the help. Errors of every router
end in the error router (``errors``). Handlers receive ``user`` (``middlewares.UserMiddleware``)
and ``services`` (the process's ``Services``) by parameter name.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiogram import Bot, Dispatcher
from aiogram.types import BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeDefault

from bots.telegram import (
    channels,
    connect,
    copy,
    errors,
    fallback,
    link,
    payouts,
    positions,
    providers,
    publish,
    risk,
    settings,
    start,
    subscriptions,
    token,
)
from bots.telegram.commands import COMMANDS
from bots.telegram.middlewares import UserMiddleware
from integrations.telegram import make_bot
from signalhub.bootstrap import Services, bootstrap, shutdown
from signalhub.settings import Settings, require

FEATURES = (start, connect, providers, subscriptions, copy, risk, positions, token, payouts, link,
            publish, channels, settings, fallback)


def build_dispatcher(services: Services) -> Dispatcher:
    """A dispatcher with every router, the error router and the user middleware.

    Opens nothing; ``services`` is handed to handlers as ``services``.
    """
    dispatcher = Dispatcher(name="signalhub-telegram", services=services)
    users = UserMiddleware()
    dispatcher.message.middleware(users)
    dispatcher.callback_query.middleware(users)
    dispatcher.include_routers(errors.make_router(),
                               *(feature.make_router() for feature in FEATURES))
    return dispatcher


def bot_commands(private: bool) -> list[BotCommand]:
    """The command menu; groups do not see private-only commands (/token)."""
    return [BotCommand(command=c.name, description=c.description[:256])
            for c in COMMANDS if private or not c.private_only]


async def set_commands(bot: Bot) -> None:
    """Publish the command menu: all commands by default, fewer in groups."""
    await bot.set_my_commands(bot_commands(private=True), scope=BotCommandScopeDefault())
    await bot.set_my_commands(bot_commands(private=False),
                              scope=BotCommandScopeAllGroupChats())


async def run_polling(settings: Settings, services: Services | None = None) -> None:
    """Serve the bot by long polling until cancelled.

    Needs ``TELEGRAM_BOT_TOKEN`` (``SettingsError`` otherwise); ``TELEGRAM_API_BASE``
    moves the Bot API (local server, tests). Deletes any webhook (pending updates are
    kept), sets the command menu, then polls. Without ``services`` it bootstraps its own
    and shuts them down at the end; given ones are left open. On cancellation polling
    stops gracefully, the bot session is closed and ``CancelledError`` propagates.
    """
    bot_token = require(settings, "telegram_bot_token")
    own = services is None
    services = services if services is not None else await bootstrap(settings)
    bot = make_bot(bot_token, settings.telegram_api_base)
    try:
        await bot.delete_webhook(drop_pending_updates=False)
        await set_commands(bot)
        await poll(build_dispatcher(services), bot)
    finally:
        await bot.session.close()
        if own:
            await shutdown(services)


async def poll(dispatcher: Dispatcher, bot: Bot) -> None:
    """``start_polling`` in a task; on cancellation stop it cleanly, then re-raise.

    Cancelling ``start_polling`` directly would leave its polling task running.
    """
    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False))
    try:
        await asyncio.shield(polling)
    except asyncio.CancelledError:
        try:
            await dispatcher.stop_polling()
        except RuntimeError:  # not started yet
            polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        raise
