"""Subscription lifecycle driven by Stripe: the state machine, the ledger, notices.

States (``SubscriptionStatus``)::

    PENDING_PAYMENT -> ACTIVE | TRIALING -> PAST_DUE (grace) -> ACTIVE (paid again)
                                         -> CANCELLED (at period end, or at once) -> EXPIRED
    ACTIVE <-> PAUSED (Stripe ``pause_collection``)

Every change is a ``SubscriptionTransition`` row with its cause: ``stripe:<event id>``,
``user:<action>`` or ``schedule:<job>``.

Order independence: Stripe does not deliver events in order. A state carried by an
event is applied only if its *version* — ``event.created * 8 + rank(state)`` — is
greater than the subscription's ``stripe_version``; within one second the state later
in the lifecycle wins. The period end only moves forward (the largest seen wins), and
a PAST_DUE grace deadline is the earliest failure's time + grace. Whatever order the
same events arrive in, the subscription ends in the same state.

Money: Stripe amounts are integers in the currency's minor unit; they become exact
``Decimal`` major units (``from_minor_units``). The platform fee is Stripe's
``application_fee_amount`` of the invoice when present, else ``gross * pct / 100``
rounded half-up to the minor unit; the provider's net is ``gross - platform fee``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.billing_models import ConnectAccount, LedgerEntry, SubscriptionTransition
from domain.models import CopySettings, Delivery, Provider, Subscription, SubscriptionStatus, User

S = SubscriptionStatus
RANK = {S.PENDING_PAYMENT: 0, S.TRIALING: 1, S.ACTIVE: 2, S.PAUSED: 3, S.PAST_DUE: 4,
        S.CANCELLED: 5, S.EXPIRED: 6}
DEFAULT_GRACE = timedelta(days=3)
DEFAULT_FEE_PCT = Decimal("30")
# ISO 4217 currencies Stripe treats as zero-decimal (amounts are whole units).
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg",
                          "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"})
# Stripe statuses of a subscription that is unpaid but alive: Stripe's dunning (or the
# user paying the open invoice) can still charge it, so one we end access of is
# cancelled at Stripe first (``domain.billing_schedule``, ``domain.checkout``).
UNPAID_ALIVE = frozenset({"past_due", "unpaid", "incomplete"})
# ``cancellation_details.comment`` prefix of the cancellations SignalHub makes because
# access ended unpaid (or the Stripe subscription was replaced): ``status_of`` reads such
# a cancellation as EXPIRED, so its echo webhook agrees with what we recorded.
OUR_CANCEL = "signalhub:"
GRACE_ENDED = OUR_CANCEL + " payment grace period ended"
REPLACED = OUR_CANCEL + " replaced by a new checkout"
SUPERSEDED = OUR_CANCEL + " not the subscription's current Stripe subscription"


# --- pure rules ------------------------------------------------------------------


def from_minor_units(amount: int, currency: str) -> Decimal:
    """Stripe's integer ``amount`` in ``currency``'s minor unit as exact major units
    (``300, "usd"`` -> ``Decimal("3.00")``; ``300, "jpy"`` -> ``Decimal("300")``)."""
    if currency.lower() in ZERO_DECIMAL:
        return Decimal(amount)
    return Decimal(amount).scaleb(-2).quantize(Decimal("0.01"))


def amount_text(amount: Decimal, currency: str) -> str:
    """``amount`` as people read it, to the currency's minor unit with its code
    (``Decimal("3.00000000"), "usd"`` -> ``"3.00 USD"``; NUMERIC(24, 8) reads back with
    8 places)."""
    step = Decimal(1) if currency.lower() in ZERO_DECIMAL else Decimal("0.01")
    return f"{amount.quantize(step, ROUND_HALF_UP)} {currency.upper()}"


def to_minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` in major units as Stripe's integer minor units (rounded half-up)."""
    exponent = 0 if currency.lower() in ZERO_DECIMAL else 2
    return int((amount.scaleb(exponent)).quantize(Decimal(1), ROUND_HALF_UP))


def split_payment(gross: Decimal, currency: str, fee_pct: Decimal,
                  application_fee: Decimal | None = None) -> tuple[Decimal, Decimal]:
    """``(platform fee, provider net)`` of a payment of ``gross``.

    The platform fee is ``application_fee`` (what Stripe actually took) when known,
    else ``gross * fee_pct / 100`` rounded half-up to the minor unit. 3.00 at 30 % ->
    (0.90, 2.10).
    """
    if application_fee is None:
        step = Decimal(1) if currency.lower() in ZERO_DECIMAL else Decimal("0.01")
        application_fee = (gross * fee_pct / 100).quantize(step, ROUND_HALF_UP)
    return application_fee, gross - application_fee


def version(created: int, status: SubscriptionStatus) -> int:
    """Ordering key of a state seen at ``created`` (Unix s): later wins, then rank."""
    return created * 8 + RANK[status]


def timestamp(value: int | None) -> datetime | None:
    """A Stripe Unix-seconds timestamp as an aware UTC datetime (None stays None)."""
    return None if value is None else datetime.fromtimestamp(int(value), UTC)


def subscription_period_end(obj: dict[str, Any]) -> datetime | None:
    """End of the current period of a Stripe subscription object.

    Current API versions keep it on each subscription item
    (``items.data[].current_period_end``); older ones on the subscription itself.
    """
    items = (obj.get("items") or {}).get("data") or []
    ends = [i["current_period_end"] for i in items if i.get("current_period_end")]
    if ends:
        return timestamp(max(ends))
    return timestamp(obj.get("current_period_end"))


def status_of(obj: dict[str, Any]) -> tuple[SubscriptionStatus, bool]:
    """``(our status, cancel at period end)`` for a Stripe subscription object."""
    stripe_status = obj.get("status")
    cancel_at_end = bool(obj.get("cancel_at_period_end"))
    if stripe_status in ("active", "trialing"):
        if cancel_at_end:
            return S.CANCELLED, True
        if obj.get("pause_collection"):
            return S.PAUSED, False
        return (S.TRIALING if stripe_status == "trialing" else S.ACTIVE), False
    if stripe_status == "past_due":
        return S.PAST_DUE, False
    if stripe_status == "paused":
        return S.PAUSED, False
    if stripe_status == "incomplete":
        return S.PENDING_PAYMENT, False
    if stripe_status == "canceled":
        details = obj.get("cancellation_details") or {}
        if str(details.get("comment") or "").startswith(OUR_CANCEL):
            return S.EXPIRED, False  # we ended it unpaid (or replaced): not a user's cancel
        reason = details.get("reason")
        ended, period_end = timestamp(obj.get("ended_at")), subscription_period_end(obj)
        if reason == "cancellation_requested" and ended and period_end and ended < period_end:
            return S.CANCELLED, False
        return S.EXPIRED, False
    return S.EXPIRED, False  # unpaid, incomplete_expired


def is_entitled_state(status: SubscriptionStatus, cancel_at_period_end: bool,
                      period_end: datetime | None, grace_until: datetime | None,
                      now: datetime) -> bool:
    """The entitlement rule on one row's fields (``domain.subscriptions.entitled_q``
    is the same rule as a query): ACTIVE, TRIALING; PAST_DUE before ``grace_until``;
    CANCELLED at period end before the period ends. Nothing else."""
    if status in (S.ACTIVE, S.TRIALING):
        return True
    if status is S.PAST_DUE:
        return grace_until is not None and now < grace_until
    if status is S.CANCELLED:
        return cancel_at_period_end and period_end is not None and now < period_end
    return False


@dataclass(frozen=True)
class StripeState:
    """What one Stripe event says about a subscription."""

    status: SubscriptionStatus
    created: int
    cause: str
    cancel_at_period_end: bool = False
    period_end: datetime | None = None
    grace_until: datetime | None = None


@dataclass
class Applied:
    """Result of applying events: transitions made and notices to send."""

    transitions: list[SubscriptionTransition] = field(default_factory=list)
    notice_ids: list[int] = field(default_factory=list)
    outcome: str = ""
    paid_invoice: str | None = None
    cancel_stripe: list[str] = field(default_factory=list)  # stray Stripe subscriptions


# --- applying states ---------------------------------------------------------------


def access_ended(status: SubscriptionStatus, cancel_at_period_end: bool) -> bool:
    """True for the states that end a subscription's access for good or until the user
    acts: EXPIRED, CANCELLED at once, PAUSED, PENDING_PAYMENT (PAST_DUE in grace and
    CANCELLED at period end still run)."""
    if status is S.CANCELLED:
        return not cancel_at_period_end
    return status in (S.EXPIRED, S.PAUSED, S.PENDING_PAYMENT)


async def stop_copying(sub: Subscription) -> int:
    """Switch copy trading of ``sub`` off; how many settings rows changed (0 or 1).
    Resuming or re-subscribing never switches it back on: the user does."""
    return await CopySettings.filter(subscription_id=sub.id, enabled=True).update(enabled=False)


async def record_transition(sub: Subscription, to: SubscriptionStatus, cause: str,
                            at: datetime, note: str = "",
                            cancel_at_period_end: bool | None = None
                            ) -> SubscriptionTransition | None:
    """Set ``sub.status`` to ``to`` (and ``cancel_at_period_end`` when given) and store
    the transition row (not ``sub`` itself); None if nothing changed.

    A CANCELLED subscription whose cancellation moves from the period end to now is a
    transition too (CANCELLED -> CANCELLED, note ``at once``). Every path that changes a
    status comes here, so this is where copy trading switches off when the new state
    ends access (``access_ended``).
    """
    at_end = sub.cancel_at_period_end if cancel_at_period_end is None else cancel_at_period_end
    ends_now = (sub.status is S.CANCELLED and to is S.CANCELLED and sub.cancel_at_period_end
                and not at_end)
    sub.cancel_at_period_end = at_end
    if sub.status is to and not ends_now:
        return None
    row = await SubscriptionTransition.create(subscription=sub, from_status=sub.status.value,
                                              to_status=to.value, cause=cause[:128],
                                              note=note or ("at once" if ends_now else ""),
                                              at=at)
    sub.status = to
    if access_ended(to, at_end):
        await stop_copying(sub)
    return row


async def record_creation(sub: Subscription, cause: str, at: datetime
                          ) -> SubscriptionTransition:
    """The first transition of a new subscription (from ``NEW`` to its status)."""
    return await SubscriptionTransition.create(subscription=sub, from_status="NEW",
                                               to_status=sub.status.value, cause=cause[:128],
                                               at=at)


async def apply_state(sub: Subscription, state: StripeState,
                      fresh: bool = False) -> SubscriptionTransition | None:
    """Apply ``state`` to ``sub`` (locked by the caller) if it is newer; saves ``sub``.

    ``fresh``: the state was just read from Stripe's API (a user action's answer, the
    reconcile), so it is newer than anything applied before. The period end only
    moves forward. Returns the transition made, if any.
    """
    if state.period_end and (sub.current_period_end is None
                             or state.period_end > sub.current_period_end):
        sub.current_period_end = state.period_end
    row = None
    new_version = version(state.created, state.status)
    if fresh:
        new_version = max(new_version, sub.stripe_version + 1)
    was_past_due = sub.status is S.PAST_DUE
    if new_version > sub.stripe_version:
        sub.stripe_version = new_version
        row = await record_transition(sub, state.status, state.cause,
                                      timestamp(state.created) or datetime.now(UTC),
                                      cancel_at_period_end=state.cancel_at_period_end)
        if state.status is not S.PAST_DUE:
            sub.grace_until = None
    if sub.status is S.PAST_DUE and state.grace_until is not None:
        if not was_past_due or sub.grace_until is None or state.grace_until < sub.grace_until:
            sub.grace_until = state.grace_until
    await sub.save()
    return row


async def lock_subscription(sub_id: int) -> Subscription:
    """Re-read a subscription under a row lock (PostgreSQL; a no-op on SQLite)."""
    sub = await Subscription.filter(id=sub_id).select_for_update().get()
    await sub.fetch_related("provider", "user")
    return sub


# --- connect accounts --------------------------------------------------------------


async def apply_account(account: dict[str, Any], created: int) -> ConnectAccount | None:
    """Record an ``account.updated`` object on its provider's ConnectAccount (row locked:
    call inside a transaction). Older events than the one applied last change nothing.
    None if no provider has this account id.
    """
    row = await ConnectAccount.filter(account_id=account["id"]).select_for_update().first()
    if row is None or created < row.stripe_version:
        return row
    row.charges_enabled = bool(account.get("charges_enabled"))
    row.payouts_enabled = bool(account.get("payouts_enabled"))
    row.details_submitted = bool(account.get("details_submitted"))
    row.stripe_version = created
    await row.save()
    return row


async def payouts_ready(provider: Provider) -> bool:
    """True when the provider's connected account can take charges (onboarding done)."""
    return await ConnectAccount.exists(provider=provider, charges_enabled=True)


# --- ledger ------------------------------------------------------------------------


async def record_payment(invoice: dict[str, Any], sub: Subscription, event_id: str,
                         fee_pct: Decimal, stripe_subscription_id: str | None = None
                         ) -> tuple[LedgerEntry, bool]:
    """The ledger entry of a paid invoice (created once per invoice id), linked to ``sub``.

    Returns ``(entry, created)``. Amounts from ``amount_paid`` in minor units; period
    from the first line item's ``period``. ``stripe_subscription_id``: the Stripe
    subscription the invoice belongs to when it is not ``sub``'s current one (a late
    payment of an older one); default ``sub.stripe_subscription_id``.
    """
    currency = str(invoice.get("currency", "usd")).lower()
    gross = from_minor_units(int(invoice.get("amount_paid") or 0), currency)
    fee_minor = invoice.get("application_fee_amount")
    fee = None if fee_minor is None else from_minor_units(int(fee_minor), currency)
    platform_fee, provider_net = split_payment(gross, currency, fee_pct, fee)
    lines = (invoice.get("lines") or {}).get("data") or [{}]
    period = lines[0].get("period") or {}
    paid_at = timestamp((invoice.get("status_transitions") or {}).get("paid_at")
                        or invoice.get("created"))
    defaults = dict(
        subscription=sub, provider_id=sub.provider_id, user_id=sub.user_id,  # type: ignore[attr-defined]
        currency=currency, gross=gross, platform_fee=platform_fee,
        provider_net=provider_net, fee_pct=fee_pct,
        period_start=timestamp(period.get("start") or invoice.get("period_start")),
        period_end=timestamp(period.get("end") or invoice.get("period_end")),
        paid_at=paid_at,
        stripe_subscription_id=stripe_subscription_id or sub.stripe_subscription_id,
        stripe_event_id=event_id)
    return await LedgerEntry.get_or_create(defaults, stripe_invoice_id=invoice["id"])


async def record_stripe_fee(invoice_id: str, fee_minor: int, currency: str,
                            payment_intent: str | None = None) -> bool:
    """Store Stripe's processing fee of a ledger entry; False if there is no entry."""
    updated = await LedgerEntry.filter(stripe_invoice_id=invoice_id).update(
        stripe_fee=from_minor_units(fee_minor, currency),
        stripe_payment_intent_id=payment_intent)
    return bool(updated)


@dataclass(frozen=True)
class MonthTotal:
    """Sums of ledger entries paid in one calendar month (UTC) and one currency."""

    month: str
    currency: str
    payments: int
    gross: Decimal
    stripe_fees: Decimal
    platform_fees: Decimal
    provider_net: Decimal


async def monthly_totals(start: datetime, end: datetime,
                         provider: Provider | None = None) -> list[MonthTotal]:
    """Ledger sums by month (``YYYY-MM``, UTC) and currency of payments with
    ``start <= paid_at < end``, for one provider or all; oldest month first."""
    query = LedgerEntry.filter(paid_at__gte=start, paid_at__lt=end)
    if provider is not None:
        query = query.filter(provider=provider)
    totals: dict[tuple[str, str], list[Any]] = {}
    for entry in await query.order_by("paid_at"):
        key = (entry.paid_at.astimezone(UTC).strftime("%Y-%m"), entry.currency)
        acc = totals.setdefault(key, [0, Decimal(0), Decimal(0), Decimal(0), Decimal(0)])
        acc[0] += 1
        acc[1] += entry.gross
        acc[2] += entry.stripe_fee or Decimal(0)
        acc[3] += entry.platform_fee
        acc[4] += entry.provider_net
    return [MonthTotal(month, currency, *acc) for (month, currency), acc in totals.items()]


# --- notices -----------------------------------------------------------------------


async def notify(user: User, key: str, text: str) -> int | None:
    """A personal Telegram notice as a PENDING Delivery (unique ``key``); its id, or
    None when the user has no reachable Telegram chat. Idempotent per key."""
    if not user.telegram_chat_id or not user.telegram_reachable:
        return None
    row, _ = await Delivery.get_or_create({"user": user, "channel": "telegram", "text": text},
                                          key=f"{key}:{user.id}:telegram"[:96])
    return row.id


async def lifecycle_notices(sub: Subscription, row: SubscriptionTransition) -> list[int]:
    """Notices for a transition: the subscriber on payment/end, the provider's owner on a
    new paid subscriber. Returns the Delivery ids written (keyed by the transition row,
    so a second call writes nothing).

    The end notice goes with the one transition that ends access of a subscription that
    had it: to EXPIRED or to CANCELLED at once, from anything but PENDING_PAYMENT (never
    paid) or EXPIRED. Every path that ends access (Stripe's events, a user's cancel, the
    schedule, the reconcile) records that transition once, so the subscriber is told once.
    """
    provider, user = sub.provider, sub.user
    to, before = S(row.to_status), S(row.from_status)
    ids: list[int | None] = []
    key = f"billing:{row.id}"
    if to in (S.ACTIVE, S.TRIALING) and before in (S.PENDING_PAYMENT, S.CANCELLED, S.EXPIRED):
        owner = await User.get(id=provider.owner_id)  # type: ignore[attr-defined]
        ids.append(await notify(owner, key, f"New subscriber: {user.name} subscribed to "
                                            f"{provider.name} ({to.value.lower()})."))
        ids.append(await notify(user, key, f"You are subscribed to {provider.name}: its "
                                           "signals will arrive here."))
    elif (to is S.EXPIRED or (to is S.CANCELLED and not sub.cancel_at_period_end)) \
            and before not in (S.PENDING_PAYMENT, S.EXPIRED):
        ids.append(await notify(user, key, f"Your subscription to {provider.name} has ended; "
                                           f"/subscribe {provider.slug} to subscribe again."))
    return [i for i in ids if i is not None]


async def payment_notice(sub: Subscription, event_id: str, paid: bool,
                         amount: Decimal, currency: str) -> int | None:
    """Tell the subscriber a payment succeeded or failed (one notice per event)."""
    provider = sub.provider
    if paid:
        until = sub.current_period_end.strftime("%Y-%m-%d") if sub.current_period_end else "-"
        text = (f"Payment received: {amount_text(amount, currency)} for {provider.name}. "
                f"Renews on {until}.")
    else:
        until = sub.grace_until.strftime("%Y-%m-%d %H:%M UTC") if sub.grace_until else "soon"
        text = (f"Payment of {amount_text(amount, currency)} for {provider.name} failed. "
                f"Signals keep coming until {until}: update your card with /subscriptions "
                "(Manage billing).")
    return await notify(sub.user, f"pay:{event_id}", text)
