"""The Discord bot process: a gateway client that registers and answers slash commands.

Only commands need the gateway (Discord delivers interactions over it); posting
signals and DMs is done by the worker over REST (``workers.discord_jobs``). The
client asks only for the (unprivileged) guilds intent: slash commands and buttons
need no privileged one.
"""

from __future__ import annotations

import discord

from bots.discord.commands import build_tree, handle_component
from integrations.discord_rest import MAX_RATELIMIT_WAIT_S, use_api_base
from signalhub.bootstrap import Services
from signalhub.settings import Settings, require


class SignalHubBot(discord.Client):
    """discord.py client with SignalHub's command tree; syncs the commands at login."""

    def __init__(self, services: Services) -> None:
        super().__init__(intents=discord.Intents(guilds=True),
                         application_id=services.settings.discord_application_id,
                         max_ratelimit_timeout=MAX_RATELIMIT_WAIT_S)
        self.services = services
        self.tree = build_tree(self, services)

    async def setup_hook(self) -> None:
        """Register the global commands (``PUT /applications/{id}/commands``) at login."""
        await self.tree.sync()

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
