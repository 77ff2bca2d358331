"""The bot's commands: the list users see, and parsing of command arguments.

Parsing is pure. Bad arguments raise ``UsageError``, whose ``text`` (plain text) says
exactly what to type instead; the error router replies with it.
"""

from __future__ import annotations

from dataclasses import dataclass

EXAMPLE_SLUG = "rsi-demo"
ON_OFF = {"on": True, "off": False}
COPY_OPTIONS = ("scale", "max_pct", "max_open")
COPY_USAGE = (f"/copy needs on or off and a provider slug, e.g. /copy on {EXAMPLE_SLUG} "
              "(optional: scale=0.5 max_pct=10 max_open=5)")


@dataclass(frozen=True)
class CommandInfo:
    """One command as the help and Telegram's command menu show it."""

    name: str
    arguments: str
    description: str
    private_only: bool = False


COMMANDS = (
    CommandInfo("start", "", "start; /start <slug> shows a provider"),
    CommandInfo("help", "", "what I do and my commands"),
    CommandInfo("providers", "", "signal providers, with Subscribe buttons"),
    CommandInfo("subscribe", "<slug>", "receive a provider's signals"),
    CommandInfo("unsubscribe", "<slug>", "stop a provider's signals and copy trading"),
    CommandInfo("subscriptions", "", "your subscriptions and copy settings"),
    CommandInfo("copy", "on|off <slug> [scale=0.5]",
                "copy a provider's signals into your paper account"),
    CommandInfo("positions", "", "your paper positions, PnL and balance"),
    CommandInfo("token", "", "a new API token (private chat only)", private_only=True),
    CommandInfo("payouts", "[slug]", "providers: set up Stripe payouts to take paid subscribers"),
    CommandInfo("connect", "", "connect an exchange account (private chat only)",
                private_only=True),
    CommandInfo("exchange", "[live <phrase>|paper|disconnect]",
                "your exchange account: live opt-in, paper, disconnect", private_only=True),
    CommandInfo("link", "[code]", "link Telegram, Discord and the API to one account",
                private_only=True),
    CommandInfo("settings", "", "which signal events you get"),
    CommandInfo("quiet", "22:00 07:00 [zone]|off", "quiet hours: messages arrive silently"),
    CommandInfo("publish", "<signal text>", "providers: publish a signal, with a preview"),
    CommandInfo("movesl", "<id> <price>|entry", "providers: move a signal's stop-loss"),
    CommandInfo("close", "<id> [note]", "providers: close a signal at market"),
    CommandInfo("cancel", "<id> [note]", "providers: cancel a signal not yet entered"),
    CommandInfo("channels", "", "providers: your signal channels and their modes"),
    CommandInfo("addchannel", "@channel [slug] [auto|confirm]",
                "providers: read signals from your channel", private_only=True),
)


class UsageError(Exception):
    """A command was typed wrongly; ``text`` (plain) says what to type instead."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True)
class CopyRequest:
    """Arguments of /copy; limits are None when not given (kept as they are)."""

    enabled: bool
    slug: str
    scale_factor: str | None = None
    max_position_pct: str | None = None
    max_open_positions: int | None = None


def slug_argument(command: str, args: str | None) -> str:
    """The one provider slug of ``/<command> <slug>``, lower-cased; ``UsageError`` otherwise."""
    words = (args or "").split()
    if len(words) == 1:
        return words[0].lower()
    need = "needs a provider slug" if not words else "takes one provider slug"
    raise UsageError(f"/{command} {need}, e.g. /{command} {EXAMPLE_SLUG}")


def parse_copy(args: str | None) -> CopyRequest:
    """Parse ``on|off <slug> [scale=x] [max_pct=x] [max_open=n]`` (on/off and slug in any order).

    Numbers are passed on as typed; the domain checks their ranges. Raises ``UsageError``.
    """
    words = (args or "").split()
    switches = [w.lower() for w in words if w.lower() in ON_OFF]
    options = [w for w in words if "=" in w]
    slugs = [w.lower() for w in words if w.lower() not in ON_OFF and "=" not in w]
    if len(switches) != 1 or len(slugs) != 1:
        raise UsageError(COPY_USAGE)
    given = copy_options(options)
    max_open = given.get("max_open")
    return CopyRequest(ON_OFF[switches[0]], slugs[0], given.get("scale"), given.get("max_pct"),
                       None if max_open is None else whole_number("max_open", max_open))


def copy_options(options: list[str]) -> dict[str, str]:
    """``{"scale": "0.5", ...}`` from ``["scale=0.5", ...]``; ``UsageError`` if unknown."""
    given: dict[str, str] = {}
    for option in options:
        key, _, value = option.partition("=")
        if key.lower() not in COPY_OPTIONS or not value:
            raise UsageError(f"unknown option {option!r}; use scale=0.5, max_pct=10 or "
                             "max_open=5 after /copy on <slug>")
        given[key.lower()] = value
    return given


def whole_number(name: str, value: str) -> int:
    """``value`` as an int; ``UsageError`` naming ``name`` otherwise."""
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{name} needs a whole number, e.g. {name}=5") from None
