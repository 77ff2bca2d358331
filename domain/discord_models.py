"""Tortoise models of the discord feature (registered in signalhub.db.MODEL_MODULES).

Channel alerts: a Discord server admin asks for one provider's signals in one
channel (``DiscordAlert``), and every signal posted there remembers its message
(``DiscordAlertMessage``) so later events edit that message in place. A server role
can follow a paid subscription (``DiscordRole``, ``DiscordRoleGrant``).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.models import Provider, Signal, User


class DiscordAlert(Model):
    """One provider's signals posted into one Discord channel.

    ``guild_id``, ``channel_id`` and ``created_by`` are Discord snowflakes (the server,
    the text channel and the server admin who ran /alerts add, who is told by DM when
    the alert stops working). An alert whose channel was deleted or whose permission
    was lost is disabled (``enabled`` false) with the reason in ``disabled_reason``.
    """

    id = fields.IntField(primary_key=True)
    guild_id = fields.BigIntField(db_index=True)
    channel_id = fields.BigIntField()
    provider: fields.ForeignKeyRelation[Provider] = fields.ForeignKeyField(
        "models.Provider", related_name="discord_alerts", on_delete=fields.CASCADE
    )
    created_by = fields.BigIntField()
    enabled = fields.BooleanField(default=True)
    disabled_reason = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "discord_alerts"
        unique_together = (("channel_id", "provider"),)


class DiscordAlertMessage(Model):
    """The Discord message that shows one signal in one alert channel (edited in place)."""

    id = fields.IntField(primary_key=True)
    alert: fields.ForeignKeyRelation[DiscordAlert] = fields.ForeignKeyField(
        "models.DiscordAlert", related_name="messages", on_delete=fields.CASCADE
    )
    signal: fields.ForeignKeyRelation[Signal] = fields.ForeignKeyField(
        "models.Signal", related_name="discord_messages", on_delete=fields.CASCADE
    )
    message_id = fields.BigIntField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "discord_alert_messages"
        unique_together = (("alert", "signal"),)


class DiscordRole(Model):
    """A server role given to one provider's entitled subscribers with a linked Discord.

    Set by the provider's owner with /roles set in their server (``created_by`` is their
    Discord id). The worker adds the role to every entitled subscriber who linked
    Discord and takes it back when the subscription ends. ``enabled`` false: removed
    with /roles remove, or broken (role deleted, bot lost Manage Roles) with the reason.
    """

    id = fields.IntField(primary_key=True)
    guild_id = fields.BigIntField()
    role_id = fields.BigIntField()
    provider: fields.ForeignKeyRelation[Provider] = fields.ForeignKeyField(
        "models.Provider", related_name="discord_roles", on_delete=fields.CASCADE
    )
    created_by = fields.BigIntField()
    enabled = fields.BooleanField(default=True)
    disabled_reason = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "discord_roles"
        unique_together = (("guild_id", "provider"),)


class DiscordRoleGrant(Model):
    """A role SignalHub gave one member, so that it knows what to take back."""

    id = fields.IntField(primary_key=True)
    role: fields.ForeignKeyRelation[DiscordRole] = fields.ForeignKeyField(
        "models.DiscordRole", related_name="grants", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="discord_role_grants", on_delete=fields.CASCADE
    )
    discord_user_id = fields.BigIntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "discord_role_grants"
        unique_together = (("role", "user"),)
