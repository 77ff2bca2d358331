"""Pure billing rules: money from Stripe's minor units, the 70/30 split, Stripe statuses,
event ordering and the entitlement rule (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.billing import (
    access_ended,
    amount_text,
    from_minor_units,
    is_entitled_state,
    split_payment,
    status_of,
    subscription_period_end,
    to_minor_units,
    version,
)
from domain.billing_events import invoice_metadata, invoice_subscription_id
from domain.models import SubscriptionStatus as S

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())


@pytest.mark.parametrize(("amount", "currency", "expected"), [
    (300, "usd", Decimal("3.00")), (1, "usd", Decimal("0.01")), (0, "eur", Decimal("0.00")),
    (999999, "USD", Decimal("9999.99")), (300, "jpy", Decimal("300")),
])
def test_minor_units_become_exact_decimals(amount: int, currency: str,
                                           expected: Decimal) -> None:
    value = from_minor_units(amount, currency)
    assert value == expected and str(value) == str(expected)
    assert to_minor_units(value, currency) == amount


@pytest.mark.parametrize(("amount", "currency", "text"), [
    ("3.00000000", "usd", "3.00 USD"), ("2.10000000", "eur", "2.10 EUR"),
    ("0.005", "usd", "0.01 USD"), ("300.00000000", "jpy", "300 JPY"),
])
def test_amounts_in_notices_read_in_the_currencys_minor_unit(amount: str, currency: str,
                                                             text: str) -> None:
    assert amount_text(Decimal(amount), currency) == text


@pytest.mark.parametrize(("gross", "pct", "fee", "net"), [
    ("3.00", "30", "0.90", "2.10"), ("9.99", "30", "3.00", "6.99"),
    ("0.05", "30", "0.02", "0.03"), ("10.00", "0", "0.00", "10.00"),
    ("3.00", "12.5", "0.38", "2.62"),
])
def test_split_rounds_the_platform_fee_half_up_to_the_cent(gross: str, pct: str, fee: str,
                                                           net: str) -> None:
    assert split_payment(Decimal(gross), "usd", Decimal(pct)) == (Decimal(fee), Decimal(net))


def test_split_takes_stripes_application_fee_when_known() -> None:
    assert split_payment(Decimal("3.00"), "usd", Decimal("30"), Decimal("0.89")) == (
        Decimal("0.89"), Decimal("2.11"))


def sub(status: str, **more: object) -> dict:
    return {"id": "sub_1", "object": "subscription", "status": status,
            "cancel_at_period_end": False, "pause_collection": None,
            "items": {"data": [{"current_period_end": T + 86400}]}, **more}


@pytest.mark.parametrize(("obj", "expected"), [
    (sub("active"), (S.ACTIVE, False)),
    (sub("trialing"), (S.TRIALING, False)),
    (sub("active", cancel_at_period_end=True), (S.CANCELLED, True)),
    (sub("active", pause_collection={"behavior": "void"}), (S.PAUSED, False)),
    (sub("past_due"), (S.PAST_DUE, False)),
    (sub("paused"), (S.PAUSED, False)),
    (sub("incomplete"), (S.PENDING_PAYMENT, False)),
    (sub("incomplete_expired"), (S.EXPIRED, False)),
    (sub("unpaid"), (S.EXPIRED, False)),
    (sub("canceled", ended_at=T, cancellation_details={"reason": "cancellation_requested"}),
     (S.CANCELLED, False)),
    (sub("canceled", ended_at=T + 86400,
         cancellation_details={"reason": "cancellation_requested"}), (S.EXPIRED, False)),
    (sub("canceled", ended_at=T, cancellation_details={"reason": "payment_failed"}),
     (S.EXPIRED, False)),
])
def test_stripe_subscription_status_maps_to_ours(obj: dict, expected: tuple) -> None:
    assert status_of(obj) == expected


def test_period_end_comes_from_the_items_in_current_api_versions() -> None:
    assert subscription_period_end(sub("active")) == NOW + timedelta(days=1)
    old_style = {"status": "active", "current_period_end": T}
    assert subscription_period_end(old_style) == NOW


def test_a_later_event_wins_and_within_a_second_the_later_lifecycle_state() -> None:
    assert version(T + 1, S.PENDING_PAYMENT) > version(T, S.EXPIRED)
    assert version(T, S.PAST_DUE) > version(T, S.ACTIVE) > version(T, S.PENDING_PAYMENT)
    assert version(T, S.EXPIRED) > version(T, S.CANCELLED)


def test_invoice_subscription_id_from_parent_or_the_old_field() -> None:
    current = {"parent": {"type": "subscription_details", "subscription_details": {
        "subscription": "sub_new", "metadata": {"user_id": "7"}}}}
    assert invoice_subscription_id(current) == "sub_new"
    assert invoice_metadata(current) == {"user_id": "7"}
    assert invoice_subscription_id({"subscription": "sub_old", "parent": None}) == "sub_old"
    assert invoice_subscription_id({"parent": None}) is None


@pytest.mark.parametrize(("status", "at_end", "period_end", "grace", "entitled"), [
    (S.ACTIVE, False, None, None, True),
    (S.TRIALING, False, NOW + timedelta(days=3), None, True),
    (S.PAST_DUE, False, None, NOW + timedelta(seconds=1), True),
    (S.PAST_DUE, False, None, NOW, False),
    (S.PAST_DUE, False, None, None, False),
    (S.CANCELLED, True, NOW + timedelta(days=1), None, True),
    (S.CANCELLED, True, NOW, None, False),
    (S.CANCELLED, False, NOW + timedelta(days=1), None, False),
    (S.PAUSED, False, NOW + timedelta(days=1), None, False),
    (S.PENDING_PAYMENT, False, None, None, False),
    (S.EXPIRED, False, NOW + timedelta(days=1), None, False),
])
def test_entitlement_rule(status: S, at_end: bool, period_end: datetime | None,
                          grace: datetime | None, entitled: bool) -> None:
    assert is_entitled_state(status, at_end, period_end, grace, NOW) is entitled


@pytest.mark.parametrize(("status", "at_end", "ended"), [
    (S.ACTIVE, False, False), (S.TRIALING, False, False), (S.PAST_DUE, False, False),
    (S.CANCELLED, True, False), (S.CANCELLED, False, True), (S.EXPIRED, False, True),
    (S.PAUSED, False, True), (S.PENDING_PAYMENT, False, True),
])
def test_states_that_end_access_and_so_copy_trading(status: S, at_end: bool,
                                                    ended: bool) -> None:
    assert access_ended(status, at_end) is ended


def test_billing_settings_defaults_and_bad_values() -> None:
    from signalhub.settings import load_settings

    settings = load_settings()
    assert settings.platform_fee_pct == Decimal("30") and settings.grace_period_days == 3
    with pytest.raises(SystemExit, match="^setting PLATFORM_FEE_PCT: must be a percent"):
        load_settings(platform_fee_pct="100")
    with pytest.raises(SystemExit, match="^setting STRIPE_API_BASE: must be an http"):
        load_settings(stripe_api_base="localhost:12111")
    with pytest.raises(SystemExit, match="^setting GRACE_PERIOD_DAYS: must be 0 to 60 days"):
        load_settings(grace_period_days=-1)
