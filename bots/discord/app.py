"""The Discord bot process: a gateway client that registers and answers slash commands.

Commands need the gateway (Discord delivers interactions over it); posting signals
and DMs is done by the worker over REST (``workers.discord_jobs``). The client asks
only for the (unprivileged) guilds intent: slash commands and buttons need no
privileged one. With ``DISCORD_READ_CHANNELS`` it also asks for guild messages and
the privileged message content intent (switch it on in the developer portal first)
and reads posts of channels registered with /source add as signals.
"""

from __future__ import annotations

from typing import Any

import discord

from bots.discord.commands import build_tree, forward_post, handle_component, handle_modal
from bots.discord.handlers import ChannelPost
from integrations.discord_rest import MAX_RATELIMIT_WAIT_S, use_api_base
from signalhub.bootstrap import Services
from signalhub.settings import Settings, require


class SignalHubBot(discord.Client):
    """discord.py client with SignalHub's command tree; syncs the commands at login."""

    def __init__(self, services: Services) -> None:
        reads = services.settings.discord_read_channels
        super().__init__(intents=discord.Intents(guilds=True, guild_messages=reads,
                                                 message_content=reads),
                         application_id=services.settings.discord_application_id,
                         max_ratelimit_timeout=MAX_RATELIMIT_WAIT_S)
        self.services = services
        self.reads_channels = reads
        self.tree = build_tree(self, services)

    async def setup_hook(self) -> None:
        """Register the global commands (``PUT /applications/{id}/commands``) at login."""
        await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        """A post in a server channel: ingested when the channel is a signal source."""
        in_server = message.guild is not None or getattr(message.channel, "guild_id", None)
        if self.reads_channels and in_server and not self._mine(message.author.id):
            reference = message.reference.message_id if message.reference else None
            await forward_post(self.services, self, ChannelPost(
                message.channel.id, message.id, message.content, reference))

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """An edited post (cached or not): re-parsed before publication."""
        data: dict[str, Any] = dict(payload.data)
        author = int((data.get("author") or {}).get("id", 0))
        if self.reads_channels and data.get("guild_id") and "content" in data \
                and not self._mine(author):
            await forward_post(self.services, self, ChannelPost(
                payload.channel_id, payload.message_id, str(data["content"]), edited=True))

    def _mine(self, author_id: int) -> bool:
        return self.user is not None and author_id == self.user.id

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Button presses under /publish drafts and the forms they open (commands go
        through the tree)."""
        if interaction.type is discord.InteractionType.component:
            await handle_component(self.services, interaction)
        elif interaction.type is discord.InteractionType.modal_submit:
            await handle_modal(self.services, interaction)


async def run_bot(settings: Settings, services: Services) -> None:
    """Log in, sync commands and serve interactions until cancelled (needs the token)."""
    token = require(settings, "DISCORD_BOT_TOKEN")
    use_api_base(settings.discord_api_base)
    async with SignalHubBot(services) as bot:
        await bot.start(token)
