"""Tortoise models of the linking feature (registered in signalhub.db.MODEL_MODULES).

One account across Telegram, Discord and the API (``LinkCode``), providers' own chat
channels feeding the parser (``ChannelSource``), parsed drafts waiting for the provider
(``PendingPost``) and each user's notification preferences.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from domain.models import Provider, Signal, User


class Platform(StrEnum):
    TELEGRAM = "telegram"
    DISCORD = "discord"
    API = "api"


class SourceMode(StrEnum):
    AUTO = "auto"
    CONFIRM = "confirm"


class PostStatus(StrEnum):
    PENDING = "PENDING"
    EDITING = "EDITING"
    PUBLISHED = "PUBLISHED"
    CANCELLED = "CANCELLED"


class LinkCode(Model):
    """A one-time code that links another app's identity to the issuing account.

    Only the SHA-256 of the code is stored. Valid until ``expires_at`` and once.
    """

    id = fields.IntField(primary_key=True)
    code_hash = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="link_codes", on_delete=fields.CASCADE)
    platform = fields.CharEnumField(Platform, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "link_codes"


class ChannelSource(Model):
    """A provider's own Telegram channel or Discord channel whose posts are parsed.

    Mode auto publishes every complete signal post, confirm queues it for one tap in
    the provider's private chat. One provider per chat.
    """

    id = fields.IntField(primary_key=True)
    provider: fields.ForeignKeyRelation[Provider] = fields.ForeignKeyField(
        "models.Provider", related_name="channel_sources", on_delete=fields.CASCADE)
    added_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="channel_sources", on_delete=fields.CASCADE)
    platform = fields.CharEnumField(Platform, max_length=16)
    chat_id = fields.BigIntField()
    title = fields.CharField(max_length=128, default="")
    mode = fields.CharEnumField(SourceMode, max_length=8, default=SourceMode.CONFIRM)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "channel_sources"
        unique_together = (("platform", "chat_id"),)


class PendingPost(Model):
    """A parsed draft awaiting the provider: a channel post or a /publish message.

    Keyed by the chat message it came from, so an edit of that message before
    publication re-parses it. ``preview_chat_id``/``preview_message_id`` locate the
    preview with the Publish / Edit / Cancel buttons.
    """

    id = fields.IntField(primary_key=True)
    provider: fields.ForeignKeyRelation[Provider] = fields.ForeignKeyField(
        "models.Provider", related_name="pending_posts", on_delete=fields.CASCADE)
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="pending_posts", on_delete=fields.CASCADE)
    source: fields.ForeignKeyNullableRelation[ChannelSource] = fields.ForeignKeyField(
        "models.ChannelSource", related_name="posts", null=True,
        on_delete=fields.SET_NULL)
    platform = fields.CharEnumField(Platform, max_length=16)
    chat_id = fields.BigIntField()
    message_id = fields.BigIntField()
    text = fields.TextField(default="")
    status = fields.CharEnumField(PostStatus, max_length=16, default=PostStatus.PENDING)
    problem = fields.TextField(default="")
    signal: fields.ForeignKeyNullableRelation[Signal] = fields.ForeignKeyField(
        "models.Signal", related_name="posts", null=True,
        on_delete=fields.SET_NULL)
    preview_chat_id = fields.BigIntField(null=True)
    preview_message_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "pending_posts"
        unique_together = (("platform", "chat_id", "message_id"),)


class NotificationPreferences(Model):
    """Which signal events a user receives and their quiet hours (local time).

    ``muted_kinds`` lists EventKind values not delivered. Quiet hours run from
    ``quiet_start`` to ``quiet_end`` (minutes after local midnight, may wrap past
    midnight, equal or null means none) in the IANA ``time_zone``.
    """

    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "models.User", related_name="notification_preferences", on_delete=fields.CASCADE,
        primary_key=True)
    muted_kinds: fields.Field[list[str]] = fields.JSONField(default=list)
    quiet_start = fields.IntField(null=True)
    quiet_end = fields.IntField(null=True)
    time_zone = fields.CharField(max_length=64, default="UTC")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "notification_preferences"
