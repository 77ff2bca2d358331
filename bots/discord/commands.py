"""The slash commands: discord.py ``app_commands`` wiring around ``bots.discord.handlers``.

``build_tree`` registers every command on a ``CommandTree``; each callback reads the
``Caller`` from the interaction payload, runs one handler and answers with its
``Reply`` (domain errors become an ephemeral reply saying what to fix). Buttons under
a /publish draft come back as component interactions (``handle_component``), the
forms (modals) they open as modal submits (``handle_modal``); both are answered by
their ``sh:<action>:<id>`` custom id alone, so they survive a restart of the bot.

    /providers  /subscribe  /unsubscribe  /subscriptions  /copy  /positions  /pnl
    /link [code]  /publish [text]  /close  /movesl  /cancel
    /alerts add|list|remove  /roles set|list|remove
    /source add|remove
    (alerts, roles, sources: servers only, shown to members with Manage Server; the
    permission is checked again server-side from the interaction's permission bits)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import discord
from discord import app_commands

from bots.discord import handlers, replies
from bots.discord.handlers import Caller
from bots.discord.replies import Reply
from domain.errors import DomainError
from signalhub.bootstrap import Services

log = logging.getLogger(__name__)
Handler = Callable[..., Awaitable[Reply]]
_STYLES = {"primary": discord.ButtonStyle.primary, "secondary": discord.ButtonStyle.secondary,
           "success": discord.ButtonStyle.success, "danger": discord.ButtonStyle.danger,
           "link": discord.ButtonStyle.link}
_PRESSES: dict[str, Handler] = {"publish": handlers.press_publish,
                                "edit": handlers.press_edit,
                                "cancel": handlers.press_cancel}
TOO_SLOW = "⌛ That took too long to open the form; press the button again."
PROVIDER_HELP = "the provider's slug, as /providers lists it"
SIGNAL_HELP = "the signal's id (shown when it was published: id N)"
DEFER_AFTER_S = 2.0  # Discord wants the first answer within 3 s


def caller_of(interaction: discord.Interaction) -> Caller:
    """The ``Caller`` of an interaction: user, server, channel, permission bits, id."""
    user = interaction.user
    return Caller(discord_user_id=user.id, name=user.display_name or user.name,
                  guild_id=interaction.guild_id, channel_id=interaction.channel_id,
                  permissions=interaction.permissions.value, interaction_id=interaction.id)


async def answer(services: Services, interaction: discord.Interaction, handler: Handler,
                 *args: Any, defer_after_s: float = DEFER_AFTER_S) -> None:
    """Run ``handler(services, caller, *args)`` and send its reply (errors: ephemeral).

    Discord drops an interaction not answered within 3 s: a handler still running after
    ``defer_after_s`` (a Stripe call, a slow database) gets an ephemeral "thinking…"
    answer first, and its reply follows as the follow-up.
    """
    task = asyncio.ensure_future(_reply_of(services, interaction, handler, args))
    done, _ = await asyncio.wait({task}, timeout=defer_after_s)
    if not done:
        await interaction.response.defer(ephemeral=True, thinking=True)
    await respond(interaction, await task)


async def _reply_of(services: Services, interaction: discord.Interaction, handler: Handler,
                    args: tuple[Any, ...]) -> Reply:
    try:
        return await handler(services, caller_of(interaction), *args)
    except DomainError as exc:
        return replies.error(exc.message)
    except Exception:
        log.exception("discord command %s failed", handler.__name__)
        return Reply(replies.FAILURE)


def message_kwargs(reply: Reply) -> dict[str, Any]:
    """``reply`` as keyword arguments of discord.py's send methods (no mentions)."""
    kwargs: dict[str, Any] = {
        "content": reply.content or None,
        "embeds": [discord.Embed.from_dict(e) for e in reply.embeds],
        "allowed_mentions": discord.AllowedMentions.none()}
    if reply.buttons:
        kwargs["view"] = buttons_view(reply)
    return kwargs


async def respond(interaction: discord.Interaction, reply: Reply) -> None:
    """Send ``reply`` as the interaction's response (or a follow-up once responded).

    A ``modal`` reply opens the form; an ``update`` reply edits the message the button
    (or the form it opened) sits on.
    """
    done = interaction.response.is_done()
    if reply.modal is not None:
        if done:  # a deferred interaction cannot open a form any more
            await interaction.followup.send(TOO_SLOW, ephemeral=True)
        else:
            await interaction.response.send_modal(modal_of(reply.modal))
        return
    kwargs = message_kwargs(reply)
    if reply.update and not done and interaction.message is not None:
        await interaction.response.edit_message(**{"view": None, **kwargs})
    elif done:
        await interaction.followup.send(**kwargs, ephemeral=reply.ephemeral)
    else:
        await interaction.response.send_message(**kwargs, ephemeral=reply.ephemeral)


def modal_of(form: replies.Form) -> discord.ui.Modal:
    """``form`` as a discord.py modal. It is stopped before it is sent, so discord.py
    does not hold it in memory: its submit is answered by ``handle_modal``."""
    modal = discord.ui.Modal(title=form.title, custom_id=form.custom_id)
    for f in form.fields:
        modal.add_item(discord.ui.TextInput(
            label=f.label, custom_id=f.custom_id, placeholder=f.placeholder or None,
            default=f.value or None, required=f.required, max_length=f.max_length,
            style=discord.TextStyle.paragraph if f.paragraph else discord.TextStyle.short))
    modal.stop()
    return modal


def buttons_view(reply: Reply) -> discord.ui.View:
    """A view holding ``reply``'s buttons (their presses go to ``handle_component``)."""
    view = discord.ui.View(timeout=None)
    for b in reply.buttons:
        if b.url:
            view.add_item(discord.ui.Button(label=b.label, url=b.url,
                                            style=discord.ButtonStyle.link))
        else:
            view.add_item(discord.ui.Button(label=b.label, custom_id=b.custom_id,
                                            style=_STYLES[b.style]))
    return view


async def handle_component(services: Services, interaction: discord.Interaction) -> bool:
    """Answer a press of one of our buttons (``sh:<action>:<draft id>``); False if not ours."""
    data = interaction.data or {}
    custom_id = str(data.get("custom_id", ""))
    parts = custom_id.split(":")
    if interaction.type is not discord.InteractionType.component or len(parts) != 3 \
            or parts[0] != "sh" or parts[1] not in _PRESSES or not parts[2].isdigit():
        return False
    await answer(services, interaction, _PRESSES[parts[1]], int(parts[2]))
    return True


async def handle_modal(services: Services, interaction: discord.Interaction) -> bool:
    """Answer a submitted form of ours (``sh:edit:<draft id>``, ``sh:form:<slug>``)."""
    data = interaction.data or {}
    parts = str(data.get("custom_id", "")).split(":")
    if interaction.type is not discord.InteractionType.modal_submit or len(parts) != 3 \
            or parts[0] != "sh":
        return False
    values = modal_values(data.get("components") or [])  # type: ignore[arg-type]
    if parts[1] == "edit" and parts[2].isdigit():
        await answer(services, interaction, handlers.submit_edit, int(parts[2]),
                     values.get("text", ""))
    elif parts[1] == "form" and parts[2]:
        await answer(services, interaction, handlers.submit_form, parts[2], values)
    else:
        return False
    return True


def modal_values(components: list[dict[str, Any]]) -> dict[str, str]:
    """custom id → value of each text input of a modal submit (in rows or labels)."""
    values: dict[str, str] = {}
    for c in components:
        inner = c.get("components") or ([c["component"]] if c.get("component") else [])
        if inner:
            values.update(modal_values(inner))
        elif c.get("custom_id"):
            values[str(c["custom_id"])] = str(c.get("value") or "")
    return values


def build_tree(client: discord.Client, services: Services) -> app_commands.CommandTree:
    """A command tree on ``client`` with every SignalHub command bound to ``services``."""
    tree = app_commands.CommandTree(client)

    @tree.command(name="providers", description="Signal providers you can subscribe to")
    async def providers(interaction: discord.Interaction) -> None:
        await answer(services, interaction, handlers.show_providers)

    @tree.command(name="subscribe", description="Receive a provider's signals in your DMs")
    @app_commands.describe(provider=PROVIDER_HELP)
    async def subscribe(interaction: discord.Interaction, provider: str) -> None:
        await answer(services, interaction, handlers.subscribe_to, provider)

    @tree.command(name="unsubscribe", description="Stop a provider's signals and copy trading")
    @app_commands.describe(provider=PROVIDER_HELP)
    async def unsubscribe(interaction: discord.Interaction, provider: str) -> None:
        await answer(services, interaction, handlers.unsubscribe_from, provider)

    @tree.command(name="subscriptions", description="Your subscriptions and copy settings")
    async def subscriptions(interaction: discord.Interaction) -> None:
        await answer(services, interaction, handlers.show_subscriptions)

    @tree.command(name="copy", description="Copy a provider's signals into your paper account")
    @app_commands.describe(provider=PROVIDER_HELP, on="switch copy trading on or off",
                           scale="size factor 0.1–2.0", max_pct="max % of equity per position",
                           max_open="max open positions (1–100)")
    async def copy(interaction: discord.Interaction, provider: str, on: bool,
                   scale: str | None = None, max_pct: str | None = None,
                   max_open: app_commands.Range[int, 1, 100] | None = None) -> None:
        await answer(services, interaction, handlers.set_copying, provider, on, scale,
                     max_pct, max_open)

    @tree.command(name="positions", description="Your paper positions, PnL and balance")
    async def positions(interaction: discord.Interaction) -> None:
        await answer(services, interaction, handlers.show_positions)

    @tree.command(name="pnl", description="Your realized and unrealized paper PnL")
    @app_commands.describe(days="period of closed trades in days (default 30)")
    async def pnl(interaction: discord.Interaction,
                  days: app_commands.Range[int, 1, 3650] = 30) -> None:
        await answer(services, interaction, handlers.show_pnl, days)

    @tree.command(name="link", description="Link this Discord account with Telegram or the API")
    @app_commands.describe(code="a code from /link in the other app; leave empty for a new one")
    async def link(interaction: discord.Interaction, code: str | None = None) -> None:
        await answer(services, interaction, handlers.link_account, code)

    @tree.command(name="publish", description="Publish a signal written in free text")
    @app_commands.describe(text="the signal; leave empty (or give your provider's slug) "
                                "for a form")
    async def publish(interaction: discord.Interaction, text: str | None = None) -> None:
        await answer(services, interaction, handlers.start_publish, text)

    @tree.command(name="close", description="Close your open signal at the market price")
    @app_commands.describe(signal=SIGNAL_HELP, note="a note for subscribers")
    async def close(interaction: discord.Interaction, signal: int,
                    note: str | None = None) -> None:
        await answer(services, interaction, handlers.close_signal, signal, note)

    @tree.command(name="movesl", description="Move your signal's stop-loss")
    @app_commands.describe(signal=SIGNAL_HELP,
                           price="the new stop-loss price, or entry, be or breakeven "
                                 "for break-even")
    async def movesl(interaction: discord.Interaction, signal: int, price: str) -> None:
        await answer(services, interaction, handlers.move_stop, signal, price)

    @tree.command(name="cancel", description="Cancel your signal whose entry was not filled")
    @app_commands.describe(signal=SIGNAL_HELP, note="a note for subscribers")
    async def cancel(interaction: discord.Interaction, signal: int,
                     note: str | None = None) -> None:
        await answer(services, interaction, handlers.cancel_signal_cmd, signal, note)

    tree.add_command(alerts_group(services))
    tree.add_command(roles_group(services))
    tree.add_command(source_group(services))
    return tree


async def forward_post(services: Services, client: discord.Client,
                       post: handlers.ChannelPost) -> None:
    """Feed a server channel's post to ingestion and DM the provider's owner about it.

    A draft's preview DM is sent once and edited in place (``PATCH
    channels/{dm}/messages/{id}``) when the post is edited before publication; a preview
    someone deleted is sent again.
    """
    try:
        found = await handlers.ingest_channel_post(services, post)
        if found is not None:
            await _dm_owner(client, found)
    except Exception:
        log.exception("discord channel post %s could not be ingested", post.message_id)


async def _dm_owner(client: discord.Client, dm: handlers.OwnerDm) -> None:
    kwargs = message_kwargs(dm.reply)
    draft = dm.draft
    if draft is not None and draft.preview_chat_id and draft.preview_message_id:
        channel = client.get_partial_messageable(draft.preview_chat_id,
                                                 type=discord.ChannelType.private)
        try:
            await channel.get_partial_message(draft.preview_message_id).edit(**kwargs)
            return
        except discord.NotFound:
            pass  # the provider deleted the preview: send a new one
    sent = await (await client.create_dm(discord.Object(id=dm.discord_user_id))).send(**kwargs)
    if draft is not None:
        await handlers.remember_preview(draft, sent.channel.id, sent.id)


def alerts_group(services: Services) -> app_commands.Group:
    """/alerts add|list|remove: servers only, shown to members with Manage Server."""
    group = app_commands.Group(name="alerts", description="Post a provider's signals in a "
                               "channel of this server", guild_only=True,
                               default_permissions=discord.Permissions(manage_guild=True))

    @group.command(name="add", description="Post a provider's signals in this channel")
    @app_commands.describe(provider=PROVIDER_HELP)
    async def add(interaction: discord.Interaction, provider: str) -> None:
        await answer(services, interaction, handlers.add_alert, provider)

    @group.command(name="list", description="This server's alerts")
    async def list_(interaction: discord.Interaction) -> None:
        await answer(services, interaction, handlers.list_alerts)

    @group.command(name="remove", description="Stop posting a provider's signals here")
    @app_commands.describe(provider=PROVIDER_HELP)
    async def remove(interaction: discord.Interaction, provider: str) -> None:
        await answer(services, interaction, handlers.remove_alert, provider)

    return group


def roles_group(services: Services) -> app_commands.Group:
    """/roles set|list|remove: a server role that follows a provider's subscription."""
    group = app_commands.Group(name="roles", description="Give a provider's paying "
                               "subscribers a role in this server", guild_only=True,
                               default_permissions=discord.Permissions(manage_guild=True))

    @group.command(name="set", description="Give this role to the provider's subscribers")
    @app_commands.describe(provider=PROVIDER_HELP, role="the role subscribers get")
    async def set_(interaction: discord.Interaction, provider: str, role: discord.Role) -> None:
        await answer(services, interaction, handlers.set_role, provider, role.id)

    @group.command(name="list", description="This server's subscriber roles")
    async def list_(interaction: discord.Interaction) -> None:
        await answer(services, interaction, handlers.list_roles)

    @group.command(name="remove", description="Stop giving the provider's subscribers a role")
    @app_commands.describe(provider=PROVIDER_HELP)
    async def remove(interaction: discord.Interaction, provider: str) -> None:
        await answer(services, interaction, handlers.remove_role, provider)

    return group


def source_group(services: Services) -> app_commands.Group:
    """/source add|remove: read this channel's posts as a provider's signals."""
    group = app_commands.Group(name="source", description="Read this channel's posts as "
                               "your provider's signals", guild_only=True,
                               default_permissions=discord.Permissions(manage_guild=True))

    @group.command(name="add", description="Read this channel's posts as signals")
    @app_commands.describe(provider="your provider's slug",
                           mode="auto: publish at once; confirm: DM me each draft first")
    async def add(interaction: discord.Interaction, provider: str,
                  mode: Literal["confirm", "auto"] = "confirm") -> None:
        title = getattr(interaction.channel, "name", "") or ""
        await answer(services, interaction, handlers.add_source, provider, mode, title)

    @group.command(name="remove", description="Stop reading this channel's posts")
    async def remove(interaction: discord.Interaction) -> None:
        await answer(services, interaction, handlers.remove_source)

    return group
