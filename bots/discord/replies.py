"""What the Discord bot says: ``Reply`` values built by pure functions (Discord markdown).

Every outside value (provider names, slugs, user names, error messages) passes through
``escape_markdown``; numbers sit in backticks. Content stays under Discord's 2000
characters. Replies that carry secrets or personal data are ``ephemeral`` (flag 64:
only the caller sees them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from domain.discord_models import DiscordAlert, DiscordRole
from domain.models import (
    CopySettings,
    Position,
    Provider,
    Signal,
    Subscription,
    SubscriptionStatus,
)
from domain.portfolio import Mark, PnlSummary, Portfolio
from domain.publish_form import PAGE_FIELDS
from integrations.discord_format import SIDE_MARKS, cut, escape_markdown, format_number

MAX_CONTENT = 2000
PROVIDERS_SHOWN = 20
FAILURE = "⚠️ Something went wrong on our side. Please try again in a minute."
ENDED = (SubscriptionStatus.EXPIRED,)


@dataclass(frozen=True)
class Button:
    """A button under a reply: ``custom_id`` comes back in a component interaction;
    a ``url`` button (style ``link``) opens the page instead."""

    label: str
    custom_id: str = ""
    style: str = "primary"  # primary, secondary, success, danger, link
    url: str = ""


@dataclass(frozen=True)
class FormField:
    """One text input of a modal form (Discord: label up to 45 characters, placeholder
    up to 100, ``value`` prefilled, up to 4000)."""

    custom_id: str
    label: str
    placeholder: str = ""
    value: str = ""
    required: bool = True
    paragraph: bool = False
    max_length: int = 4000


@dataclass(frozen=True)
class Form:
    """A modal (up to 5 inputs); its submit comes back with ``custom_id`` (``sh:...``)."""

    custom_id: str
    title: str
    fields: tuple[FormField, ...]


@dataclass(frozen=True)
class Reply:
    """One answer to an interaction: text, Discord embed objects, buttons, visibility.

    ``modal``: open this form instead of answering with a message. ``update``: edit the
    message the pressed button (or the form it opened) sits on, instead of a new one.
    """

    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    ephemeral: bool = True
    buttons: list[Button] = field(default_factory=list)
    modal: Form | None = None
    update: bool = False


def md(text: object) -> str:
    """``text`` with Discord markdown escaped."""
    return escape_markdown(str(text))


def fit(text: str) -> str:
    """``text`` cut to Discord's 2000-character message limit."""
    return cut(text, MAX_CONTENT)


def error(message: str) -> Reply:
    """A domain error's message, shown to the caller only."""
    return Reply(fit(f"⚠️ {md(message)}"))


def price_per_month(provider: Provider) -> str:
    """``$3.00/month`` or ``free``."""
    price = Decimal(provider.monthly_price)
    return "free" if price == 0 else f"${price:.2f}/month"


def providers(items: list[Provider]) -> Reply:
    """/providers: the list, everyone in the channel sees it."""
    if not items:
        return Reply("No providers publish signals yet. Come back soon!", ephemeral=False)
    lines = ["📡 **Signal providers**"]
    for p in items[:PROVIDERS_SHOWN]:
        about = " ".join(p.description.split())[:120]
        lines.append(f"**{md(p.name)}** · `{p.slug}` · {price_per_month(p)}"
                     + (f"\n{md(about)}" if about else ""))
    if len(items) > PROVIDERS_SHOWN:
        lines.append(f"… and {len(items) - PROVIDERS_SHOWN} more")
    lines.append("Subscribe with `/subscribe provider:<slug>`.")
    return Reply(fit("\n".join(lines)), ephemeral=False)


def subscribed(sub: Subscription) -> Reply:
    """Confirmation of a subscription, with the next steps."""
    slug = sub.provider.slug
    return Reply(fit(f"✅ Subscribed to **{md(sub.provider.name)}**. Its signals arrive in "
                     "your direct messages with me (allow DMs from this server's members).\n"
                     f"Copy them into your paper account: `/copy provider:{slug} on:True`\n"
                     f"Stop: `/unsubscribe provider:{slug}`"))


def checkout(provider: Provider, url: str) -> Reply:
    """A priced provider: the Stripe Checkout link as a button (caller only)."""
    trial = getattr(provider, "trial_days", 0) or 0
    extra = f" The first {trial} days are free." if trial else ""
    return Reply(fit(f"💳 **{md(provider.name)}** costs {price_per_month(provider)}.{extra} "
                     "Pay with the button below; your subscription starts as soon as the "
                     "payment is confirmed and its signals then arrive in your DMs."),
                 buttons=[Button("Pay and subscribe", style="link", url=url)])


def unsubscribed(sub: Subscription, provider: Provider) -> Reply:
    """Confirmation of a cancelled subscription (at once, or at the end of the period)."""
    name = md(provider.name)
    end = getattr(sub, "current_period_end", None)
    if getattr(sub, "cancel_at_period_end", False) and end is not None:
        return Reply(fit(f"🛑 **{name}** is cancelled: its signals keep coming until "
                         f"{end:%Y-%m-%d %H:%M} UTC, then stop."))
    return Reply(fit(f"👋 Unsubscribed from **{name}**; copy trading of its signals is "
                     "off. Open paper positions stay until they close."))


def subscriptions(items: list[Subscription]) -> Reply:
    """/subscriptions: the caller's current subscriptions (not expired, not cancelled
    unless paid up to the period end), with copy-trading state; a status other than
    active is named."""
    current = [s for s in items if s.status not in ENDED and not (
        s.status is SubscriptionStatus.CANCELLED and not getattr(s, "cancel_at_period_end",
                                                                  False))]
    if not current:
        return Reply("You have no subscriptions yet. See `/providers`.")
    lines = [f"📬 **Your subscriptions** ({len(current)})"]
    for sub in current[:25]:
        settings = getattr(sub, "copy_settings", None)
        copying = "copy on" if settings is not None and settings.enabled else "copy off"
        status = "" if sub.status is SubscriptionStatus.ACTIVE else \
            f" · {sub.status.value.lower().replace('_', ' ')}"
        lines.append(f"• **{md(sub.provider.name)}** · `{sub.provider.slug}` · {copying}"
                     f"{status}")
    return Reply(fit("\n".join(lines)))


def copy_settings(slug: str, settings: CopySettings) -> Reply:
    """The state of copy trading for one subscription after /copy."""
    if not settings.enabled:
        return Reply(f"⏸ Copy trading for `{slug}` is off. You still receive its signals.")
    return Reply(fit(
        f"🤖 Copy trading for `{slug}` is on (paper account).\nScale "
        f"`{format_number(settings.scale_factor)}` · up to "
        f"`{format_number(settings.max_position_pct)}%` of equity per position · at most "
        f"`{settings.max_open_positions}` open positions\nSee them with `/positions`."))


def positions(portfolio: Portfolio) -> Reply:
    """/positions: balance, open positions with marks, recent closed ones (caller only)."""
    account = portfolio.account
    lines = [f"💼 **Paper account**: `{account.balance:,.2f}` {account.currency} "
             f"(started with {account.starting_balance:,.2f})"]
    if not portfolio.open_total and not portfolio.closed_total:
        lines.append("No paper positions yet. Switch copy trading on with `/copy` for a "
                     "provider you subscribe to.")
    if portfolio.open_total:
        lines.append(f"\n**Open positions** ({portfolio.open_total})")
        lines += [open_position(p, portfolio.marks.get(p.id)) for p in portfolio.open]
    if portfolio.closed_total:
        lines.append(f"\n**Closed positions** ({portfolio.closed_total})")
        lines += [closed_position(p) for p in portfolio.closed]
    return Reply(fit("\n".join(lines)))


def position_head(position: Position) -> str:
    """Side, symbol and the signal (provider slug and number) of a position."""
    side = position.side.value
    return (f"{SIDE_MARKS.get(side, '⚪')} **{side}** `{position.symbol}` · "
            f"{md(position.signal.provider.slug)} #{position.signal.seq}")


def open_position(position: Position, mark: Mark | None) -> str:
    """One open position: entry, remaining amount, stop and the unrealized PnL."""
    line = (f"{position_head(position)} · entry `{format_number(position.entry_price)}` · "
            f"amount `{format_number(position.remaining_amount)}` · stop "
            f"`{format_number(position.stop_loss)}`")
    if mark is not None:
        line += (f" · now `{format_number(mark.price)}` "
                 f"(`{mark.unrealized_pnl:+,.2f}`)")
    return line


def closed_position(position: Position) -> str:
    """One closed position: exit reason and realized PnL (fees included)."""
    reason = f" · {md(position.close_reason)}" if position.close_reason else ""
    return f"{position_head(position)}{reason} · PnL `{position.realized_pnl:+,.2f}`"


def pnl(summary: PnlSummary, portfolio: Portfolio) -> Reply:
    """/pnl: closed-trade statistics of the period, then equity and the unrealized mark."""
    account = portfolio.account
    unrealized = sum((m.unrealized_pnl for m in portfolio.marks.values()), Decimal(0))
    lines = [f"📈 **Paper PnL, last {summary.days} days** ({account.currency})",
             f"Realized: `{summary.realized:+,.2f}` on {summary.trades} closed trade(s) "
             "(fees included)"]
    if summary.trades:
        rate = "—" if summary.win_rate is None else f"{summary.win_rate * 100:.0f}%"
        factor = "—" if summary.profit_factor is None else f"{summary.profit_factor:.2f}"
        lines.append(f"Wins {summary.wins} · losses {summary.losses} · win rate {rate} · "
                     f"profit factor {factor}")
    lines += [f"Unrealized: `{unrealized:+,.2f}` on {len(portfolio.marks)} open position(s)",
              f"Equity: `{Decimal(account.balance) + unrealized:,.2f}` (balance "
              f"`{account.balance:,.2f}`)"]
    unmarked = portfolio.open_total - len(portfolio.marks)
    if unmarked > 0:
        lines.append(f"{unmarked} open position(s) have no market price yet and are not "
                     "counted in unrealized.")
    return Reply("\n".join(lines))


def link_code(code: str) -> Reply:
    """A new one-time link code (a secret: caller only)."""
    return Reply(f"🔗 Your link code: `{code}`\nIt works once, for 10 minutes. Send "
                 f"`/link {code}` to the SignalHub Telegram bot (or use it in the API) to "
                 "join that account with this Discord account.")


def linked(account_name: str, merged: bool, already: bool) -> Reply:
    """Outcome of redeeming a link code."""
    if already:
        return Reply("✅ This Discord account was already linked to that account.")
    extra = " Your empty Discord-only account was merged into it." if merged else ""
    return Reply(fit(f"✅ Linked: this Discord account now uses **{md(account_name)}**'s "
                     f"subscriptions, copy settings and positions.{extra}"))


def alert_added(alert: DiscordAlert, new: bool) -> Reply:
    """Confirmation of /alerts add (seen by the channel: it concerns it)."""
    name = md(alert.provider.name)
    if not new:
        return Reply(f"ℹ️ **{name}** signals are already posted in this channel.")
    return Reply(fit(f"🔔 **{name}** (`{alert.provider.slug}`) signals will be posted in "
                     "this channel; each message is updated as the signal moves."),
                 ephemeral=False)


def alert_removed(alert: DiscordAlert) -> Reply:
    """Confirmation of /alerts remove."""
    return Reply(fit(f"🔕 **{md(alert.provider.name)}** signals are no longer posted in "
                     "this channel."), ephemeral=False)


def alert_list(items: list[DiscordAlert]) -> Reply:
    """/alerts list: every alert of the server, disabled ones with the reason."""
    if not items:
        return Reply("This server has no alerts. Add one in a channel with "
                     "`/alerts add provider:<slug>`.")
    lines = [f"🔔 **Alerts of this server** ({len(items)})"]
    for a in items:
        state = "" if a.enabled else f" · ⚠️ disabled: {md(a.disabled_reason)}"
        lines.append(f"• <#{a.channel_id}> · **{md(a.provider.name)}** (`{a.provider.slug}`)"
                     f"{state}")
    return Reply(fit("\n".join(lines)))


def role_set(mapping: DiscordRole, changed: bool) -> Reply:
    """Confirmation of /roles set."""
    if not changed:
        return Reply(f"ℹ️ <@&{mapping.role_id}> already follows **{md(mapping.provider.name)}**"
                     " subscriptions here.")
    return Reply(fit(f"🏷 Entitled subscribers of **{md(mapping.provider.name)}** who linked "
                     f"Discord get <@&{mapping.role_id}> within a minute, and lose it when "
                     "their subscription ends. My role must be above it, with Manage Roles."))


def role_removed(mapping: DiscordRole) -> Reply:
    """Confirmation of /roles remove."""
    return Reply(fit(f"🏷 <@&{mapping.role_id}> no longer follows **{md(mapping.provider.name)}**"
                     "; I am taking it back from the members I gave it to."))


def role_list(items: list[DiscordRole]) -> Reply:
    """/roles list: the server's role mappings, disabled ones with the reason."""
    if not items:
        return Reply("This server gives no subscriber roles. Add one with "
                     "`/roles set provider:<slug> role:<role>`.")
    lines = [f"🏷 **Subscriber roles of this server** ({len(items)})"]
    for m in items:
        state = "" if m.enabled else f" · off: {md(m.disabled_reason)}"
        lines.append(f"• <@&{m.role_id}> · **{md(m.provider.name)}** (`{m.provider.slug}`)"
                     f"{state}")
    return Reply(fit("\n".join(lines)))


def draft_preview(embed: dict[str, Any] | None, problem: str, post_id: int,
                  from_channel: int | None = None, unread: tuple[str, ...] = (),
                  update: bool = False) -> Reply:
    """A draft (from /publish or a channel post) as subscribers will see it, with
    Publish / Edit / Cancel buttons (no Publish while it cannot be published: then what
    to fix, and every field the parser could not read). ``update``: replaces the
    message the Edit form was opened from."""
    where = f"Your post in <#{from_channel}> " if from_channel else ""
    fix = "Edit the post, or press Edit, to fix it." if from_channel else "Press Edit to fix it."
    edit = Button("Edit", f"sh:edit:{post_id}", "primary")
    cancel = Button("Cancel", f"sh:cancel:{post_id}", "secondary")
    if embed is None or problem:
        missing = ", ".join(UNREAD_NAMES.get(u, u) for u in unread)
        also = f"\nNot read: {missing}." if missing else ""
        return Reply(fit(f"✍️ {where}is not publishable yet: {md(problem)}{also}\n"
                         f"{fix}"), buttons=[edit, cancel], update=update)
    head = (f"📥 {where}reads as a signal. Publish it?" if from_channel
            else "👀 Preview: this is exactly what subscribers will see.")
    return Reply(head, embeds=[embed], update=update,
                 buttons=[Button("Publish", f"sh:publish:{post_id}", "success"), edit, cancel])


UNREAD_NAMES = {"symbol": "the pair", "side": "the side", "entry": "the entry",
                "targets": "the targets", "stop_loss": "the stop-loss"}


def edit_form(post_id: int, text: str) -> Reply:
    """The Edit button: a form holding the draft's current text, to correct and resend."""
    return Reply(modal=Form(f"sh:edit:{post_id}", "Edit the signal", (FormField(
        "text", "Signal", value=text[:4000], paragraph=True,
        placeholder="#BTC/USDT LONG Entry: 86021.51 TP1: 86380 SL: 85146.64"),)))


def publish_form(slug: str = "") -> Reply:
    """/publish without a signal: the guided form (``domain.publish_form.PAGE_FIELDS``),
    for the provider ``slug`` when one was named."""
    fields = tuple(FormField(f.key, f.label, placeholder=f.example[:100],
                             required=f.required, max_length=200) for f in PAGE_FIELDS)
    return Reply(modal=Form(f"sh:form:{slug}", "Publish a signal", fields))


def source_added(source: Any, reading: bool) -> Reply:
    """Confirmation of /source add (``reading``: this deployment reads channel posts)."""
    mode = ("published at once" if str(source.mode.value) == "auto"
            else "sent to you by DM for one-tap confirmation")
    text = (f"📥 Posts in this channel that read as signals are now {mode} "
            f"(provider `{source.provider.slug}`). Other posts are ignored.")
    if not reading:
        text += ("\n⚠️ This SignalHub does not read Discord channel posts yet "
                 "(DISCORD_READ_CHANNELS is off): ask its operator to switch it on.")
    return Reply(fit(text))


def source_removed() -> Reply:
    """Confirmation of /source remove."""
    return Reply("📭 Posts in this channel are no longer read as signals.")


def published(signal: Signal, provider: Provider, new: bool = True, where: str = "") -> Reply:
    """After Publish (or an auto-published post in channel ``where``): the signal's
    number, its id and the commands that manage it (they take the id)."""
    head = ("📣 Published" if new else "ℹ️ Already published") + (
        f" from <#{where}>" if where else "")
    told = " Subscribers are being notified." if new else ""
    return Reply(fit(
        f"{head}: **{md(provider.name)}** signal #{signal.seq} · {signal.side.value} "
        f"`{signal.symbol}` (id `{signal.id}`).{told}\nManage it: `/movesl signal:"
        f"{signal.id} price:<price>` · `/close signal:{signal.id}` · "
        f"`/cancel signal:{signal.id}`"))


def signal_changed(what: str, signal: Signal, price: Any) -> Reply:
    """After /close, /movesl or /cancel: what happened to which signal, at which price
    (the signal named as everywhere: its number, symbol and id)."""
    name = f"Signal #{signal.seq} `{signal.symbol}` (id `{signal.id}`)"
    at = "" if price is None else f" at `{format_number(price)}`"
    text = {"closed": f"🔒 {name} closed{at}.",
            "stop moved": f"🔧 Stop-loss of {name[0].lower()}{name[1:]} moved to "
                          f"`{format_number(price)}`.",
            "cancelled": f"🚫 {name} cancelled."}[what]
    return Reply(f"{text} Subscribers are being notified.")


def draft_cancelled() -> Reply:
    """After the Cancel button."""
    return Reply("🗑 Draft cancelled; nothing was published.")
