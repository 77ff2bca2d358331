"""Tortoise models of the discord feature (registered in signalhub.db.MODEL_MODULES).

Channel alerts: a Discord server admin asks for one provider's signals in one
channel (``DiscordAlert``), and every signal posted there remembers its message
(``DiscordAlertMessage``) so later events edit that message in place.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.models import Provider, Signal


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
