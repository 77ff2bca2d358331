"""What the bot says: Telegram HTML built by pure functions, every outside value escaped.

Providers' names and descriptions, slugs, user names and error messages all pass
through ``html.quote``; numbers sit in ``<code>`` so one tap copies them.
"""

from __future__ import annotations

from decimal import Decimal

from aiogram import html

from bots.telegram.commands import COMMANDS
from domain.models import CopySettings, Position, Provider, Subscription, SubscriptionStatus
from domain.portfolio import Mark, Portfolio
from integrations.telegram_format import MAX_MESSAGE_UTF16, SIDE_MARKS, format_number, utf16_len

DESCRIPTION_IN_LIST = 140
DESCRIPTION_IN_CARD = 1500
SUBSCRIPTIONS_SHOWN = 25
ABOUT = ("<b>SignalHub</b> sends you the trading signals of the providers you subscribe "
         "to, right in this chat, and can copy them into your paper account "
         "(simulated trading, no real money).")
FAILURE = "⚠️ Something went wrong on our side. Please try again in a minute."
TOKEN_PRIVATE_ONLY = ("🔒 /token works only in a private chat with me, so that nobody else "
                      "sees your token. Open a chat with me and send /token there.")


def command_lines(private: bool = True) -> str:
    """One line per command: ``/name arguments — description``."""
    return "\n".join(
        f"/{c.name}{' ' + html.quote(c.arguments) if c.arguments else ''} — "
        f"{html.quote(c.description)}"
        for c in COMMANDS if private or not c.private_only)


def help_text() -> str:
    """What the bot does and the command list."""
    return f"{ABOUT}\n\n{command_lines()}"


def greeting(name: str) -> str:
    """The /start reply for a user called ``name``."""
    return (f"👋 Hi {html.quote(name)}!\n\n{ABOUT}\n\nStart with /providers.\n\n"
            f"{command_lines()}")


def unknown_command(command: str) -> str:
    """Reply to a command the bot does not know, followed by the help."""
    return f"🤷 I don't know /{html.quote(command)}.\n\n{help_text()}"


def usage(text: str) -> str:
    """A ``UsageError`` text as a reply."""
    return f"✍️ {html.quote(text)}"


def error(message: str) -> str:
    """A domain error's message as a reply."""
    return f"⚠️ {html.quote(message)}"


def price_per_month(provider: Provider) -> str:
    """``$3.00/month`` or ``free``."""
    price = Decimal(provider.monthly_price)
    return "free" if price == 0 else f"${price:.2f}/month"


def provider_line(provider: Provider) -> str:
    """A provider in the list: name, slug, price and the start of its description."""
    head = (f"<b>{html.quote(provider.name)}</b> · <code>{html.quote(provider.slug)}</code>"
            f" · {price_per_month(provider)}")
    description = shorten(provider.description, DESCRIPTION_IN_LIST, one_line=True)
    return f"{head}\n{html.quote(description)}" if description else head


def providers_text(providers: list[Provider], page: int, pages: int) -> str:
    """One page of the provider list."""
    if not providers:
        return "No providers publish signals yet. Come back soon!"
    header = "📡 <b>Signal providers</b>"
    if pages > 1:
        header += f" (page {page + 1} of {pages})"
    body = "\n\n".join(provider_line(p) for p in providers)
    return f"{header}\n\n{body}\n\nPress a button to subscribe, or send /subscribe &lt;slug&gt;."


def provider_card(provider: Provider) -> str:
    """A provider's card (deep link /start <slug>)."""
    slug = html.quote(provider.slug)
    lines = [f"📡 <b>{html.quote(provider.name)}</b>",
             f"Slug: <code>{slug}</code> · {price_per_month(provider)}"]
    description = shorten(provider.description, DESCRIPTION_IN_CARD)
    if description:
        lines.append(f"\n{html.quote(description)}")
    lines.append(f"\nSubscribe with the button below or send /subscribe {slug}.")
    return "\n".join(lines)


def subscribed(provider: Provider, private: bool) -> str:
    """Confirmation of a subscription, with the next steps."""
    slug = html.quote(provider.slug)
    where = ("here" if private
             else "in your private chat with me (open it and press Start if you have not)")
    return (f"✅ Subscribed to <b>{html.quote(provider.name)}</b>. Its signals arrive {where}.\n"
            f"Copy them into your paper account: /copy on {slug}\n"
            f"Stop: /unsubscribe {slug}")


def unsubscribed(provider: Provider) -> str:
    """Confirmation of a cancelled subscription."""
    return (f"👋 Unsubscribed from <b>{html.quote(provider.name)}</b>; copy trading of its "
            "signals is off. Open paper positions stay until they close.")


def copy_settings(slug: str, settings: CopySettings) -> str:
    """The state of copy trading for one subscription after /copy."""
    if not settings.enabled:
        return (f"⏸ Copy trading for <code>{html.quote(slug)}</code> is off. "
                "You still receive its signals.")
    return (f"🤖 Copy trading for <code>{html.quote(slug)}</code> is on (paper account).\n"
            f"{limits_line(settings)}\nSee your positions with /positions.")


def limits_line(settings: CopySettings) -> str:
    """Scale, position size and open-position limit of copy settings."""
    return (f"Scale <code>{format_number(settings.scale_factor)}</code> · up to "
            f"<code>{format_number(settings.max_position_pct)}%</code> of equity per position"
            f" · at most <code>{settings.max_open_positions}</code> open positions")


def subscriptions_text(subscriptions: list[Subscription]) -> str:
    """The user's subscriptions with copy-trading state (provider and settings loaded)."""
    active = [s for s in subscriptions if s.status is SubscriptionStatus.ACTIVE]
    if not active:
        return "You have no subscriptions yet. See /providers."
    lines = [f"📬 <b>Your subscriptions</b> ({len(active)})"]
    for sub in active[:SUBSCRIPTIONS_SHOWN]:
        settings = getattr(sub, "copy_settings", None)
        copying = "copy on" if settings is not None and settings.enabled else "copy off"
        lines.append(f"• <b>{html.quote(sub.provider.name)}</b> · "
                     f"<code>{html.quote(sub.provider.slug)}</code> · {copying}")
    if len(active) > SUBSCRIPTIONS_SHOWN:
        lines.append(f"… and {len(active) - SUBSCRIPTIONS_SHOWN} more")
    return "\n".join(lines)


def token_issued(token: str) -> str:
    """A freshly issued API token, shown this one time."""
    return (f"🔑 Your API token:\n<code>{html.quote(token)}</code>\n\n"
            "Send it as <code>Authorization: Bearer &lt;token&gt;</code>. It is shown only "
            "now; delete this message once you have stored it. Every /token makes a new one.")


def positions_text(portfolio: Portfolio) -> str:
    """/positions: balance, open positions and closed ones, within Telegram's 4096 limit.

    Open: entry, remaining amount, stop, targets hit and the market mark; closed: exit
    reason and realized PnL; newest first. When the whole would be too long, the oldest
    entries of the longer list give way to an "… and N more" line.
    """
    shown_open, shown_closed = len(portfolio.open), len(portfolio.closed)
    text = positions_page(portfolio, shown_open, shown_closed)
    while utf16_len(text) > MAX_MESSAGE_UTF16 and shown_open + shown_closed > 0:
        if shown_open >= shown_closed:
            shown_open -= 1
        else:
            shown_closed -= 1
        text = positions_page(portfolio, shown_open, shown_closed)
    return text


def positions_page(portfolio: Portfolio, shown_open: int, shown_closed: int) -> str:
    """``positions_text`` with the first ``shown_open`` open and ``shown_closed`` closed."""
    account = portfolio.account
    parts = [f"💼 <b>Paper account</b>: <code>{account.balance:,.2f}</code> "
             f"{html.quote(account.currency)} (started with {account.starting_balance:,.2f})"]
    if not portfolio.open_total and not portfolio.closed_total:
        parts.append("No paper positions yet. Switch copy trading on with "
                     "/copy on &lt;slug&gt; for a provider you subscribe to.")
        return "\n\n".join(parts)
    if portfolio.open_total:
        parts.append(section("Open positions", portfolio.open_total, [
            open_position(p, portfolio.marks.get(p.id), account.currency)
            for p in portfolio.open[:shown_open]]))
    if portfolio.closed_total:
        parts.append(section("Closed positions", portfolio.closed_total, [
            closed_position(p, account.currency) for p in portfolio.closed[:shown_closed]]))
    return "\n\n".join(parts)


def section(title: str, total: int, entries: list[str]) -> str:
    """A titled list of ``entries`` out of ``total``, saying how many are not shown."""
    more = total - len(entries)
    tail = [f"… and {more} more"] if more > 0 else []
    return "\n\n".join([f"<b>{title}</b> ({total})", *entries, *tail])


def position_head(position: Position) -> str:
    """Side, symbol and the signal (provider slug and number) of a position; a position
    on the follower's exchange account (not the paper account) is marked "live"."""
    signal = position.signal
    live = " · <b>live</b> (exchange account)" if position.mode == "live" else ""
    return (f"{side_mark(position.side.value)} <b>{position.side.value}</b> "
            f"<code>{html.quote(position.symbol)}</code> · "
            f"{html.quote(signal.provider.slug)} #{signal.seq}{live}")


def open_position(position: Position, mark: Mark | None, currency: str) -> str:
    """An open position: entry, remaining amount, stop, targets hit and the market mark."""
    lines = [
        position_head(position),
        f"Entry <code>{format_number(position.entry_price)}</code> · remaining "
        f"<code>{format_number(position.remaining_amount)}</code> of "
        f"<code>{format_number(position.amount)}</code>",
        f"Stop <code>{format_number(position.stop_loss)}</code> · targets hit "
        f"{position.targets_hit} of {len(position.targets)}",
    ]
    if mark is not None:
        lines.append(f"Now <code>{format_number(mark.price)}</code> · unrealized "
                     f"<code>{mark.unrealized_pnl:+,.2f}</code> {html.quote(currency)}")
    return "\n".join(lines)


def closed_position(position: Position, currency: str) -> str:
    """A closed position: exit reason and realized PnL (fees included)."""
    reason = f" · {html.quote(position.close_reason)}" if position.close_reason else ""
    return (f"{position_head(position)}{reason}\nRealized PnL "
            f"<code>{position.realized_pnl:+,.2f}</code> {html.quote(currency)}")


def side_mark(side: str) -> str:
    """🟢/🔴 for BUY/SELL."""
    return SIDE_MARKS.get(side, "⚪")


def shorten(text: str, limit: int, one_line: bool = False) -> str:
    """``text`` stripped (``one_line``: all whitespace runs made one space) and cut to
    ``limit`` characters, ending in "…" when cut."""
    text = " ".join(text.split()) if one_line else text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
