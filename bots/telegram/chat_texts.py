"""What the bot says about linking, publishing, channels and settings: pure HTML builders.

Outside values pass through ``html.quote``; previews reuse the subscribers' renderer
(``integrations.telegram_format.render_event``) so a provider sees exactly their message.
"""

from __future__ import annotations

from aiogram import html

from domain.chat_publishing import EXAMPLE_SIGNAL, DraftPreview
from domain.linking import LinkResult
from domain.linking_models import ChannelSource, NotificationPreferences, SourceMode
from domain.models import EventKind, Provider, Signal, SignalEvent
from domain.notifications import EVENT_LABELS, format_clock
from domain.publish_form import FormQuestion
from integrations.telegram_format import MAX_MESSAGE_UTF16, render_event, utf16_len

PREVIEW_FOOTER = ("\n\n👀 <i>Preview: this is exactly what your subscribers will get.</i> "
                  "Publish it?")
LINK_PRIVATE_ONLY = ("🔒 /link works only in a private chat with me, so that nobody else "
                     "sees your code. Open a chat with me and send /link there.")
ADDCHANNEL_PRIVATE_ONLY = ("🔒 /addchannel works only in a private chat with me. Or simply add "
                           "me to your channel as an admin: I will ask you there.")
SEND_CORRECTED = ("✏️ Send me the corrected signal as one message (or edit your earlier "
                  "message); I will show a new preview.")
DRAFT_CANCELLED = "✖️ Draft cancelled; nothing was published."
NOT_A_PROVIDER_CHANNEL = ("I was added to {title}, but you do not run a provider yet, so I "
                          "will not read its posts.")


def deep_link(bot_username: str, slug: str) -> str:
    """``https://t.me/<bot>?start=<slug>``: opens the bot on the provider's card."""
    return f"https://t.me/{bot_username}?start={slug}"


def link_deep_link(bot_username: str, code: str) -> str:
    """``https://t.me/<bot>?start=link_<CODE>``: one tap links Telegram with a code made
    elsewhere (Discord, the API)."""
    return f"https://t.me/{bot_username}?start=link_{code.replace('-', '')}"


def link_code_issued(code: str) -> str:
    """A fresh link code and where to enter it."""
    return (f"🔗 Your link code: <code>{html.quote(code)}</code>\n\n"
            f"In Discord, run <code>/link {html.quote(code)}</code> with the SignalHub bot; "
            "in the API, call the <code>redeemLinkCode</code> mutation with it. It works "
            "once and expires in 10 minutes.\n\nSubscriptions, copy settings and positions "
            "then follow your one account in every app.")


def linked(result: LinkResult) -> str:
    """Confirmation of ``redeem_code``."""
    if result.already_linked:
        return "🔗 This Telegram account is already linked to that account; nothing changed."
    merged = (" Your separate, empty Telegram account was merged into it."
              if result.absorbed_user_id is not None else "")
    return (f"✅ Linked. Telegram now uses the account of <b>{html.quote(result.account.name)}"
            f"</b>: its subscriptions, copy settings and positions are here too.{merged}\n"
            "See them with /subscriptions and /positions.")


def form_question(question: FormQuestion, first: bool = False) -> str:
    """One step of the /publish form."""
    intro = ("📝 Let's write the signal together (or paste a whole signal at any time, "
             "e.g.\n<pre>" + html.quote(EXAMPLE_SIGNAL) + "</pre>)\n\n") if first else ""
    return (f"{intro}<b>{question.number}/{question.total}</b> "
            f"{html.quote(question.question)}")


def draft_preview(preview: DraftPreview) -> str:
    """The preview of a draft, or what is missing before it can be published."""
    if preview.ready and preview.message is not None:
        card = render_event(preview.message)
        if utf16_len(card + PREVIEW_FOOTER) <= MAX_MESSAGE_UTF16:
            return card + PREVIEW_FOOTER
        return card
    problem = html.quote(preview.problem or "this draft cannot be published")
    return (f"⚠️ Not ready to publish — {problem}\n\n"
            "Press Edit and send the corrected signal, or edit your message.")


def published(signal: Signal, provider: Provider, fresh: bool = True) -> str:
    """Confirmation of a published draft with the commands that manage the signal."""
    head = "✅ Published" if fresh else "ℹ️ Already published"
    return (f"{head}: <b>{html.quote(provider.name)}</b> signal #{signal.seq} · "
            f"{html.quote(signal.side.value)} <code>{html.quote(signal.symbol)}</code> "
            f"(id <code>{signal.id}</code>).\n"
            f"Manage it: /movesl {signal.id} &lt;price&gt; · /close {signal.id} · "
            f"/cancel {signal.id}")


def event_done(event: SignalEvent, signal: Signal) -> str:
    """Confirmation of /close, /cancel, /movesl (or an applied channel update), naming the
    signal by its number and the id those commands take (as the Discord bot does)."""
    what = {EventKind.CLOSED: "🔒 closed", EventKind.CANCELLED: "🚫 cancelled",
            EventKind.STOP_MOVED: "🛡 stop-loss moved"}.get(event.kind, event.kind.value)
    detail = f": {html.quote(event.note)}" if event.note else ""
    return (f"Signal #{signal.seq} <code>{html.quote(signal.symbol)}</code> (id {signal.id}) "
            f"{what}{detail}. Your subscribers are being told.")


def settings_text(prefs: NotificationPreferences) -> str:
    """/settings: which events arrive and the quiet hours."""
    muted = set(prefs.muted_kinds or [])
    on = [label for kind, label in EVENT_LABELS.items() if kind.value not in muted]
    off = [label for kind, label in EVENT_LABELS.items() if kind.value in muted]
    lines = ["⚙️ <b>Notifications</b>",
             f"🔔 You get: {html.quote(', '.join(on)) if on else 'nothing'}"]
    if off:
        lines.append(f"🔕 Switched off: {html.quote(', '.join(off))}")
    if prefs.quiet_start is not None and prefs.quiet_end is not None:
        lines.append(f"🌙 Quiet hours: {format_clock(prefs.quiet_start)}–"
                     f"{format_clock(prefs.quiet_end)} ({html.quote(prefs.time_zone)}): "
                     "messages arrive without a sound.")
    else:
        lines.append("🌙 No quiet hours. Set them with /quiet 22:00 07:00 Europe/Berlin")
    lines.append("\nPress a button to switch an event on or off.")
    return "\n".join(lines)


def channel_text(source: ChannelSource, provider: Provider) -> str:
    """A channel source and what its mode does."""
    what = ("every complete signal post is published at once" if source.mode is SourceMode.AUTO
            else "I send you each signal post to confirm with one tap")
    title = html.quote(source.title or str(source.chat_id))
    return (f"📡 <b>{title}</b> feeds <b>{html.quote(provider.name)}</b>: {what}. Posts that "
            "are not signals are ignored; updates such as “SL moved to entry”, “Cancelled” or "
            "“Closed” apply to your open signal.")


def choose_channel_provider(title: str) -> str:
    """Ask which provider a new channel feeds."""
    return (f"📡 I was added to <b>{html.quote(title)}</b>. Which provider's signals are "
            "posted there?")


def channels_empty() -> str:
    """/channels without sources."""
    return ("You have no signal channels yet. Add me to your Telegram channel as an admin "
            "(or send /addchannel @your_channel), and I will read its posts.")


def ingested_published(signal: Signal, provider: Provider, title: str) -> str:
    """Told to the provider after an auto-published channel post."""
    return (f"📣 From {html.quote(title)}: " + published(signal, provider)[2:])


def incomplete_post(title: str, problem: str) -> str:
    """Told to the provider when a channel post looked like a signal but was not complete."""
    return (f"⚠️ A post in {html.quote(title)} looks like a signal but cannot be published — "
            f"{html.quote(problem)}\nEdit the post (I read it again), or press Edit here.")


def queued_header(title: str) -> str:
    """Above a preview of a channel post waiting for confirmation."""
    return f"📥 New post in {html.quote(title)}:\n\n"
