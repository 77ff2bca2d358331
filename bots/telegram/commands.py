"""The bot's commands: the list users see, and parsing of command arguments.

Parsing is pure. Bad arguments raise ``UsageError``, whose ``text`` (plain text) says
exactly what to type instead; the error router replies with it.
"""

from __future__ import annotations

from dataclasses import dataclass

EXAMPLE_SLUG = "rsi-demo"
ON_OFF = {"on": True, "off": False}
# Options of /copy and /risk: name -> field of domain.sizing.CopyLimits.
LIMIT_OPTIONS = {
    "scale": "scale_factor", "max_pct": "max_position_pct", "max_open": "max_open_positions",
    "max_loss": "max_daily_loss_pct", "slippage": "slippage_guard_pct",
    "on_slippage": "slippage_action", "leverage": "leverage_cap", "allow": "allowed_symbols",
    "deny": "denied_symbols", "ladder": "exit_ladder", "breakeven": "move_stop_to_breakeven",
}
COPY_OPTIONS = tuple(LIMIT_OPTIONS)
OPTION_EXAMPLES = ("scale=0.5 max_pct=10 max_open=5 max_loss=5 slippage=0.5 "
                   "on_slippage=skip|limit leverage=10 allow=BTC/USDT,ETH/USDT deny=DOGE/USDT "
                   "ladder=50/30/20 breakeven=on")
COPY_USAGE = (f"/copy needs on or off and a provider slug, e.g. /copy on {EXAMPLE_SLUG} "
              "(optional: scale=0.5 max_pct=10 max_open=5)")
RISK_USAGE = (f"/risk needs a provider slug, e.g. /risk {EXAMPLE_SLUG} (optional changes: "
              f"{OPTION_EXAMPLES})")
PNL_USAGE = "/pnl takes a number of days from 1 to 3650, e.g. /pnl 30"
MAX_PNL_DAYS = 3650


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
    CommandInfo("risk", "<slug> [max_loss=5 ...]", "show and change your copy risk limits"),
    CommandInfo("positions", "", "your paper positions, PnL and balance"),
    CommandInfo("pnl", "[days]", "realized PnL, win rate and profit factor (default 30 days)"),
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
    limits: tuple[tuple[str, str], ...] = ()

    def changes(self) -> dict[str, object]:
        """Every limit given, as ``CopyLimits`` field -> typed text (for the domain)."""
        return {"scale_factor": self.scale_factor, "max_position_pct": self.max_position_pct,
                "max_open_positions": self.max_open_positions, **dict(self.limits)}


@dataclass(frozen=True)
class RiskRequest:
    """Arguments of /risk: the slug and the limits to change (``CopyLimits`` field -> text)."""

    slug: str
    changes: tuple[tuple[str, str], ...] = ()


def slug_argument(command: str, args: str | None) -> str:
    """The one provider slug of ``/<command> <slug>``, lower-cased; ``UsageError`` otherwise."""
    words = (args or "").split()
    if len(words) == 1:
        return words[0].lower()
    need = "needs a provider slug" if not words else "takes one provider slug"
    raise UsageError(f"/{command} {need}, e.g. /{command} {EXAMPLE_SLUG}")


def parse_copy(args: str | None) -> CopyRequest:
    """Parse ``on|off <slug> [scale=x] [max_pct=x] [max_open=n] [more limits]`` (on/off and
    slug in any order; every option of ``LIMIT_OPTIONS``).

    Values are passed on as typed; the domain checks them. Raises ``UsageError``.
    """
    words = (args or "").split()
    switches = [w.lower() for w in words if w.lower() in ON_OFF]
    options = [w for w in words if "=" in w]
    slugs = [w.lower() for w in words if w.lower() not in ON_OFF and "=" not in w]
    if len(switches) != 1 or len(slugs) != 1:
        raise UsageError(COPY_USAGE)
    given = copy_options(options)
    max_open = given.pop("max_open", None)
    scale, max_pct = given.pop("scale", None), given.pop("max_pct", None)
    rest = tuple((LIMIT_OPTIONS[k], v) for k, v in given.items())
    return CopyRequest(ON_OFF[switches[0]], slugs[0], scale, max_pct,
                       None if max_open is None else whole_number("max_open", max_open), rest)


def parse_risk(args: str | None) -> RiskRequest:
    """Parse ``<slug> [name=value ...]`` of /risk (options as /copy). Raises ``UsageError``."""
    words = (args or "").split()
    slugs = [w.lower() for w in words if "=" not in w]
    if len(slugs) != 1:
        raise UsageError(RISK_USAGE)
    given = copy_options([w for w in words if "=" in w], "/risk <slug>")
    return RiskRequest(slugs[0], tuple((LIMIT_OPTIONS[k], v) for k, v in given.items()))


def parse_days(args: str | None, default: int = 30) -> int:
    """The ``[days]`` of /pnl: 1–3650, ``default`` when omitted. Raises ``UsageError``."""
    words = (args or "").split()
    if not words:
        return default
    if len(words) != 1 or not words[0].isdigit() or not 1 <= int(words[0]) <= MAX_PNL_DAYS:
        raise UsageError(PNL_USAGE)
    return int(words[0])


def copy_options(options: list[str], after: str = "/copy on <slug>") -> dict[str, str]:
    """``{"scale": "0.5", ...}`` from ``["scale=0.5", ...]``; ``UsageError`` if unknown."""
    given: dict[str, str] = {}
    for option in options:
        key, _, value = option.partition("=")
        if key.lower() not in COPY_OPTIONS or not value:
            raise UsageError(f"unknown option {option!r}; use {OPTION_EXAMPLES} after "
                             f"{after}")
        given[key.lower()] = value
    return given


def whole_number(name: str, value: str) -> int:
    """``value`` as an int; ``UsageError`` naming ``name`` otherwise."""
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{name} needs a whole number, e.g. {name}=5") from None
