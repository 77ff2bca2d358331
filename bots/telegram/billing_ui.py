"""Texts, buttons and callback data of billing in Telegram: pure builders, no I/O."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from aiogram import html
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from domain.models import Provider, Subscription, SubscriptionStatus

S = SubscriptionStatus
SHOWN = 20
STATUS_WORDS = {
    S.PENDING_PAYMENT: "⏳ waiting for payment", S.TRIALING: "🎁 trial",
    S.ACTIVE: "✅ active", S.PAST_DUE: "⚠️ payment failed", S.PAUSED: "⏸ paused",
    S.CANCELLED: "🛑 cancelled", S.EXPIRED: "ended",
}


class BillingAction(CallbackData, prefix="bill"):
    """Cancel, pause or resume the presser's subscription to ``slug``."""

    action: str
    slug: str


def day(value: datetime | None) -> str:
    """``2026-12-22`` (UTC) or ``-``."""
    return value.strftime("%Y-%m-%d") if value else "-"


def price(provider: Provider) -> str:
    """``$3.00/month``."""
    return f"${Decimal(provider.monthly_price):.2f}/month"


def checkout_text(provider: Provider, trial_days: int) -> str:
    """The message carrying a Checkout link."""
    trial = f" with a {trial_days}-day free trial" if trial_days else ""
    return (f"💳 <b>{html.quote(provider.name)}</b> costs {price(provider)}{trial}.\n"
            "Pay securely with Stripe using the button below; your subscription starts as "
            "soon as the payment is confirmed and its signals arrive here.")


def checkout_keyboard(provider: Provider, url: str) -> InlineKeyboardMarkup:
    """One URL button to the Checkout page."""
    builder = InlineKeyboardBuilder()
    builder.button(text=f"💳 Pay {price(provider)}", url=url)
    return builder.as_markup()


def link_keyboard(text: str, url: str) -> InlineKeyboardMarkup:
    """One URL button."""
    builder = InlineKeyboardBuilder()
    builder.button(text=text, url=url)
    return builder.as_markup()


def status_line(sub: Subscription) -> str:
    """One subscription: name, slug, copy switch, status and the date that matters for it
    (copy settings loaded, or taken as off)."""
    provider = sub.provider
    settings = getattr(sub, "copy_settings", None)
    copying = "copy on" if settings is not None and settings.enabled else "copy off"
    head = (f"• <b>{html.quote(provider.name)}</b> · <code>{html.quote(provider.slug)}</code>"
            f" · {copying} · {STATUS_WORDS[sub.status]}")
    if Decimal(sub.monthly_price) == 0 and not sub.stripe_subscription_id:
        return head + " · free"
    if sub.status in (S.ACTIVE, S.TRIALING):
        head += f" · renews {day(sub.current_period_end)}"
    elif sub.status is S.CANCELLED and sub.cancel_at_period_end:
        head += f" · signals until {day(sub.current_period_end)}"
    elif sub.status is S.PAST_DUE:
        head += f" · signals until {day(sub.grace_until)}; update your card"
    return head + f" · ${Decimal(sub.monthly_price):.2f}/month"


def subscriptions_text(subs: list[Subscription]) -> str:
    """The user's subscriptions (provider loaded), ended ones left out."""
    shown = [s for s in subs if s.status is not S.EXPIRED]
    if not shown:
        return "You have no subscriptions yet. See /providers."
    lines = [f"📬 <b>Your subscriptions</b> ({len(shown)})"]
    lines += [status_line(s) for s in shown[:SHOWN]]
    if len(shown) > SHOWN:
        lines.append(f"… and {len(shown) - SHOWN} more")
    return "\n".join(lines)


def actions(sub: Subscription) -> list[tuple[str, str]]:
    """(button text, action) that apply to one subscription."""
    name = sub.provider.name[:24]
    paid = bool(sub.stripe_subscription_id)
    if sub.status in (S.ACTIVE, S.TRIALING):
        return [(f"🛑 Cancel · {name}", "cancel")] + (
            [(f"⏸ Pause · {name}", "pause")] if paid else [])
    if sub.status is S.PAST_DUE:
        return [(f"🛑 Cancel · {name}", "cancel")]
    if sub.status is S.PAUSED:
        return [(f"▶️ Resume · {name}", "resume"), (f"🛑 Cancel · {name}", "cancel")]
    return []


def subscriptions_keyboard(subs: list[Subscription], portal_url: str | None
                           ) -> InlineKeyboardMarkup | None:
    """Cancel / Pause / Resume per subscription, then the customer-portal link."""
    builder = InlineKeyboardBuilder()
    count = 0
    for sub in subs[:SHOWN]:
        for text, action in actions(sub):
            builder.button(text=text, callback_data=BillingAction(action=action,
                                                                  slug=sub.provider.slug))
            count += 1
    if portal_url:
        builder.button(text="💳 Manage billing (cards, invoices)", url=portal_url)
        count += 1
    if not count:
        return None
    builder.adjust(1)
    return builder.as_markup()


def action_done(action: str, sub: Subscription) -> str:
    """Short confirmation of a Cancel / Pause / Resume press (at most 200 chars)."""
    name = sub.provider.name
    if action == "cancel" and sub.cancel_at_period_end:
        return f"Cancelled {name}: signals continue until {day(sub.current_period_end)}"[:200]
    if action == "cancel":
        return f"Cancelled {name}"[:200]
    if action == "pause":
        return f"Paused {name}: no signals and no charges until you resume"[:200]
    return f"Resumed {name}"[:200]


def payouts_text(url: str) -> str:
    """The /payouts reply."""
    return ("🏦 <b>Payouts</b>\nSet up (or finish) your Stripe account to take paid "
            "subscribers: you receive your share of each payment automatically. The link "
            f"below expires in a few minutes; send /payouts for a new one.\n{html.quote(url)}")
