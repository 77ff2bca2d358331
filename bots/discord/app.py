"""The Discord bot process: a gateway client that registers and answers slash commands.

Commands need the gateway (Discord delivers interactions over it); posting signals
and DMs is done by the worker over REST (``workers.discord_jobs``). The client asks
only for the (unprivileged) guilds intent: slash commands and buttons need no
privileged one. With ``DISCORD_READ_CHANNELS`` it also asks for guild messages and
the privileged message content intent (switch it on in the developer portal first)
and reads posts of channels registered with /source add as signals.
"""

from __future__ import annotations

import discord

from bots.discord.commands import build_tree, forward_post, handle_component
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
        if self._reads(message):
            await forward_post(self.services, self, message)

    async def on_message_edit(self, before: discord.Message, after: discord.Message) -> None:
        """An edited post (still in the message cache): re-parsed before publication."""
        if self._reads(after) and before.content != after.content:
            await forward_post(self.services, self, after, edited=True)

    def _reads(self, message: discord.Message) -> bool:
        in_server = message.guild is not None or getattr(message.channel, "guild_id", None)
        return bool(self.reads_channels and in_server
                    and (self.user is None or message.author.id != self.user.id))

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Button presses under /publish drafts (commands go through the tree)."""
        if interaction.type is discord.InteractionType.component:
            await handle_component(self.services, interaction)


async def run_bot(settings: Settings, services: Services) -> None:
    """Log in, sync commands and serve interactions until cancelled (needs the token)."""
    token = require(settings, "DISCORD_BOT_TOKEN")
    use_api_base(settings.discord_api_base)
    async with SignalHubBot(services) as bot:
        await bot.start(token)
