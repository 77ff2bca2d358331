"""Tortoise models of the billing feature (registered in signalhub.db.MODEL_MODULES).

Money is NUMERIC(24, 8) in the currency's major unit (US dollars for ``usd``),
converted exactly from Stripe's minor units (``domain.billing.from_minor_units``).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class StripeEvent(Model):
    """A Stripe webhook event, stored once by its id. A redelivery finds the row and
    changes nothing. ``processed_at`` is set when the worker has applied it."""

    id = fields.CharField(max_length=255, primary_key=True)
    type = fields.CharField(max_length=96)
    created = fields.BigIntField()
    payload: fields.Field[dict] = fields.JSONField()
    received_at = fields.DatetimeField(auto_now_add=True)
    processed_at = fields.DatetimeField(null=True)
    outcome = fields.TextField(default="")

    class Meta:
        table = "stripe_events"


class SubscriptionTransition(Model):
    """One change of a subscription's status and the cause of it (a Stripe event id
    as ``stripe:evt_...``, a user action as ``user:<action>``, a schedule as
    ``schedule:<job>``)."""

    id = fields.IntField(primary_key=True)
    subscription: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Subscription", related_name="transitions", on_delete=fields.CASCADE)
    from_status = fields.CharField(max_length=16)
    to_status = fields.CharField(max_length=16)
    cause = fields.CharField(max_length=128)
    note = fields.TextField(default="")
    at = fields.DatetimeField()

    class Meta:
        table = "subscription_transitions"


class LedgerEntry(Model):
    """One payment of a subscription invoice, unique per Stripe invoice.

    ``gross`` is what the subscriber paid, ``platform_fee`` the platform's share
    (application fee), ``provider_net`` = gross - platform_fee (transferred to the
    provider's connected account), ``stripe_fee`` Stripe's processing fee once its
    balance transaction is known (null until then).
    """

    id = fields.IntField(primary_key=True)
    subscription: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Subscription", related_name="ledger", null=True, on_delete=fields.SET_NULL)
    provider: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Provider", related_name="ledger", on_delete=fields.RESTRICT)
    user: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.User", related_name="payments", null=True, on_delete=fields.SET_NULL)
    currency = fields.CharField(max_length=3)
    gross = fields.DecimalField(max_digits=24, decimal_places=8)
    stripe_fee = fields.DecimalField(max_digits=24, decimal_places=8, null=True)
    platform_fee = fields.DecimalField(max_digits=24, decimal_places=8)
    provider_net = fields.DecimalField(max_digits=24, decimal_places=8)
    fee_pct = fields.DecimalField(max_digits=6, decimal_places=3)
    period_start = fields.DatetimeField()
    period_end = fields.DatetimeField()
    paid_at = fields.DatetimeField()
    stripe_invoice_id = fields.CharField(max_length=64, unique=True)
    stripe_subscription_id = fields.CharField(max_length=64, null=True)
    stripe_payment_intent_id = fields.CharField(max_length=64, null=True)
    stripe_event_id = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ledger_entries"


class ConnectAccount(Model):
    """A provider's Stripe Connect (Express) account and its onboarding state.

    ``stripe_version`` is the ``created`` time of the newest event applied, so an older
    ``account.updated`` never overwrites a newer one."""

    provider: fields.OneToOneRelation = fields.OneToOneField(
        "models.Provider", related_name="connect_account", on_delete=fields.CASCADE,
        primary_key=True)
    account_id = fields.CharField(max_length=64, unique=True)
    charges_enabled = fields.BooleanField(default=False)
    payouts_enabled = fields.BooleanField(default=False)
    details_submitted = fields.BooleanField(default=False)
    stripe_version = fields.BigIntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "connect_accounts"


class BillingCustomer(Model):
    """The Stripe customer of a user (one per user, created at the first checkout)."""

    user: fields.OneToOneRelation = fields.OneToOneField(
        "models.User", related_name="billing_customer", on_delete=fields.CASCADE,
        primary_key=True)
    customer_id = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "billing_customers"
