"""Text primitives of the signal parser: cleaning, symbols, leverage and numbers.

All functions are pure. ``normalize`` must run first: the others expect its output
(no emoji, ASCII dashes, no thousands separators, no list indices, percentages turned
into ``pct<value>pct`` markers that no number pattern reads).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

DEFAULT_QUOTE = "USDT"
QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "BTC", "ETH", "BNB", "EUR")
_QUOTE_ALT = "|".join(QUOTES)

_KEYCAP = re.compile("\\d\ufe0f?\u20e3")
_NOT_TEXT = re.compile(r"[^\x00-\x7f\u00a0-\u024f]+")
_DASHES = re.compile("[\u2010-\u2015\u2212~\u2192]|->|=>")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_PERCENT = re.compile(r"[-+]?\s*\d+(?:\.\d+)?\s*%")
PCT = "pct"
_PCT_MARK = re.compile(rf"{PCT}(\d+(?:\.\d+)?){PCT}")
_INDEX = re.compile(r"(?m)(?:^[ \t]*\(?\d{1,2}[).:\-](?=\s)|(?<=\s)\(?\d{1,2}\)(?=\s))")
_THOUSAND_SUFFIX = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?k\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w%])")

_PAIR = re.compile(
    rf"(?<![A-Za-z0-9])[#$]?([A-Za-z0-9]{{2,15}})\s*/\s*({_QUOTE_ALT})(?![A-Za-z])",
    re.IGNORECASE,
)
_JOINED = re.compile(rf"(?<![A-Za-z0-9])[#$]?([A-Z0-9]{{2,15}}?)({_QUOTE_ALT})(?:\.P|PERP)?\b")
_JOINED_TAG = re.compile(rf"[#$]([A-Za-z0-9]{{2,15}}?)({_QUOTE_ALT})(?:\.P|PERP)?\b", re.I)
_LABELLED_TICKER = re.compile(
    r"(?im)^[ \t]*(?:coin|pair|symbol|asset|ticker|token)[ \t]*[:\-][ \t]*"
    r"[#$]?([A-Za-z][A-Za-z0-9]{1,14})\b"
)
_TICKER_TAG = re.compile(r"[#$]([A-Za-z][A-Za-z0-9]{1,14})\b")
_BARE_TICKER = re.compile(r"(?<![A-Za-z0-9#$/])([A-Z]{2,10})(?![A-Za-z0-9/])")
_NOT_TICKERS = frozenset(
    """LONG SHORT BUY SELL ENTRY ENTRIES TP SL TARGET TARGETS STOP LOSS ZONE LEV LEVERAGE
    CROSS ISOLATED SPOT FUTURES SIGNAL SIGNALS SCALP SWING VIP FREE NEW CMP USDT USD
    ALERT UPDATE TRADE PUMP BINANCE BYBIT OKX KUCOIN CRYPTO MARKET LIMIT NFA DYOR RR
    BREAKOUT TF TIMEFRAME THE AND FOR NOW OPEN CLOSE PERP TAKE PROFIT""".split()
)

_LEVERAGE = re.compile(
    r"(?:\b(?:leverage|lev)\b[\s:\-]*(?:(?:cross|isolated|isol?)\b[\s:\-]*)?\(?\s*"
    r"(\d{1,3})(?:\.0+)?\s*(?:x\b)?)"
    r"|(?:\b(?:cross|isolated)\b[\s:\-]*\(?\s*(\d{1,3})(?:\.0+)?\s*x\b)"
    r"|(?:(?<![\w.])(\d{1,3})(?:\.0+)?\s?x\b)",
    re.IGNORECASE,
)


def normalize(text: str) -> str:
    """Strip emoji and decorations, unify dashes, drop percentages and list indices."""
    text = _KEYCAP.sub(" ", text)
    text = _NOT_TEXT.sub(" ", text)
    text = _DASHES.sub("-", text.replace("\r\n", "\n"))
    text = _THOUSANDS.sub("", text)
    text = _PERCENT.sub(_percent_marker, text)
    text = _THOUSAND_SUFFIX.sub(_expand_thousands, text)
    return _INDEX.sub(" ", text)


def _percent_marker(match: re.Match[str]) -> str:
    """``(50%)`` → `` pct50pct ``: no number pattern sees it, ``split_percents`` does."""
    value = re.sub(r"[^\d.]", "", match.group())
    return f" {PCT}{value}{PCT} "


def split_percents(text: str) -> list[tuple[str, Decimal | None]]:
    """``text`` cut at percentage markers: (chunk, percentage written right after it)."""
    parts = _PCT_MARK.split(text)
    out: list[tuple[str, Decimal | None]] = []
    for i in range(0, len(parts), 2):
        value = parts[i + 1] if i + 1 < len(parts) else None
        out.append((parts[i], Decimal(value) if value else None))
    return out


def strip_percents(text: str) -> str:
    """``text`` without percentage markers."""
    return _PCT_MARK.sub(" ", text)


def _expand_thousands(match: re.Match[str]) -> str:
    """``64.5k`` → ``64500``."""
    return format(Decimal(match.group(1)) * 1000, "f")


def numbers_in(text: str) -> list[Decimal]:
    """Every positive number of ``text`` not glued to a word (``TP1``, ``10x``, ``4h``)."""
    out = []
    for match in _NUMBER.finditer(_LEVERAGE.sub(" ", strip_percents(text))):
        try:
            value = Decimal(match.group())
        except InvalidOperation:  # pragma: no cover - the pattern only yields numbers
            continue
        if value > 0:
            out.append(value)
    return out


def find_symbol(clean: str) -> str | None:
    """The pair as ``BASE/QUOTE``; a bare ``$BTC``/``#BTC``/``BTC`` gets ``DEFAULT_QUOTE``."""
    for pattern in (_PAIR, _JOINED_TAG, _JOINED):
        for match in pattern.finditer(clean):
            base, quote = match.group(1).upper(), match.group(2).upper()
            if base != quote and base not in _NOT_TICKERS:
                return f"{base}/{quote}"
    first_line = next((line for line in clean.splitlines() if line.strip()), "")
    sources = ((_LABELLED_TICKER, clean), (_TICKER_TAG, clean), (_BARE_TICKER, first_line))
    for pattern, where in sources:
        for match in pattern.finditer(where):
            base = match.group(1).upper()
            if base not in _NOT_TICKERS and not base.isdigit():
                return f"{base}/{DEFAULT_QUOTE}"
    return None


_PERP = re.compile(
    rf"(?i)(?:{_QUOTE_ALT})(?:\.P|PERP)\b|(?<![A-Za-z])(?:perps?|perpetuals?|futures?)(?![A-Za-z])"
)
LINEAR_QUOTES = frozenset({"USDT", "USDC"})


def as_perpetual(symbol: str, clean: str) -> str:
    """``BTC/USDT`` → ``BTC/USDT:USDT`` (ccxt linear perpetual) when the post says
    perpetual/futures or writes ``BTCUSDT.P``/``BTCUSDTPERP``; ``BTC/USD`` → the inverse
    ``BTC/USD:BTC``. Other quotes (BTC, ETH…) are spot only and stay as they are."""
    if ":" in symbol or not _PERP.search(clean):
        return symbol
    base, quote = symbol.split("/")
    if quote in LINEAR_QUOTES:
        return f"{symbol}:{quote}"
    return f"{symbol}:{base}" if quote == "USD" else symbol


def find_leverage(clean: str) -> int | None:
    """``Leverage: Cross 10x``, ``Lev 10x``, ``Isolated (10.0X)`` or a lone ``10x``.

    A range (``5x-10x``) gives its lower end; values outside 1..125 are ignored.
    """
    match = _LEVERAGE.search(clean)
    if match is None:
        return None
    value = int(next(g for g in match.groups() if g is not None))
    return value if 1 <= value <= 125 else None
