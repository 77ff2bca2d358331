"""The short guided form of /publish: pair, side, entry, targets, stop-loss, leverage.

The answers are written into the draft's text in the parser's own format
(``#BTC/USDT`` / ``LONG`` / ``Entry: …`` / ``Targets: …`` / ``SL: …`` / ``Leverage: …``),
so the step a draft is at is read from its text and the finished form is parsed and
previewed exactly like a signal typed in one message. A whole signal pasted at any
step replaces the form. Form drafts are ``PendingPost`` rows in EDITING whose
``problem`` starts with ``FORM_MARK``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from domain.drafts import DraftPreview, own_post, revise_post
from domain.errors import InvalidInput
from domain.linking_models import PendingPost, PostStatus
from domain.models import User
from domain.parsing import ParsedSignal, parse_message
from domain.parsing_text import find_leverage, find_symbol, normalize, numbers_in
from domain.ports import PriceSource

FORM_MARK = "form: "
SIDES = {"long": "LONG", "buy": "LONG", "short": "SHORT", "sell": "SHORT"}
SKIP = ("skip", "none", "no", "-", "spot")


@dataclass(frozen=True)
class FormQuestion:
    """Step ``number`` of ``total``: what to ask, and the one-tap answers (may be empty)."""

    number: int
    total: int
    field: str
    question: str
    choices: tuple[str, ...] = ()


QUESTIONS = (
    ("pair", "Which pair? e.g. BTC/USDT (add “perp” for the perpetual: BTC/USDT perp)", ()),
    ("side", "Long or short?", ("LONG", "SHORT")),
    ("entry", "Entry price, a zone (64000 - 64500) or CMP for the market price?", ()),
    ("targets", "Take-profit targets, e.g. 64800 65500 66200?", ()),
    ("stop", "Stop-loss price, or a percentage like 2%?", ()),
    ("leverage", "Leverage, e.g. 5x, or skip for spot?", ("skip",)),
)
_LINE = {"side": re.compile(r"(?m)^(LONG|SHORT)$"), "entry": re.compile(r"(?m)^Entry: "),
         "targets": re.compile(r"(?m)^Targets: "), "stop": re.compile(r"(?m)^SL: "),
         "leverage": re.compile(r"(?m)^Leverage: ")}


def is_form(post: PendingPost) -> bool:
    """True for a draft being filled in through the form."""
    return post.status is PostStatus.EDITING and post.problem.startswith(FORM_MARK)


def next_question(text: str) -> FormQuestion | None:
    """The first step ``text`` has no answer for; None when the form is complete."""
    for number, (field, question, choices) in enumerate(QUESTIONS, start=1):
        done = (find_symbol(normalize(text)) is not None if field == "pair"
                else bool(_LINE[field].search(text)))
        if not done:
            return FormQuestion(number, len(QUESTIONS), field, question, choices)
    return None


def add_answer(text: str, question: FormQuestion, answer: str) -> str:
    """``text`` with the answer to ``question`` appended as one line in the parser's format.

    Raises ``InvalidInput`` (field ``answer``) saying what to type instead.
    """
    answer = answer.strip()
    line = _ANSWERS[question.field](answer)
    return f"{text}\n{line}".strip()


def _pair(answer: str) -> str:
    words = answer.split()
    extra = [w for w in words[1:] if not re.fullmatch(r"(?i)perps?|perpetual|futures?", w)]
    symbol = find_symbol(normalize(answer.upper())) if len(words) >= 1 and not extra else None
    if symbol is None:
        raise InvalidInput("answer", "type the pair like BTC/USDT or ETHUSDT")
    suffix = " perp" if re.search(r"(?i)perp|futures|\.p\b", answer) else ""
    return f"#{symbol}{suffix}"


def _side(answer: str) -> str:
    side = SIDES.get(answer.lower())
    if side is None:
        raise InvalidInput("answer", "answer LONG or SHORT")
    return side


def _prices(label: str, example: str, allow: tuple[str, ...] = ()) -> Callable[[str], str]:
    def read(answer: str) -> str:
        if answer.upper() in allow:
            return f"{label}: {answer.upper()}"
        if not numbers_in(normalize(answer.replace(",", " "))):
            raise InvalidInput("answer", f"type {example}")
        return f"{label}: {answer}"
    return read


def _stop(answer: str) -> str:
    if re.fullmatch(r"\d{1,2}(?:\.\d+)?\s*%", answer):
        return f"SL: {answer}"
    return _prices("SL", "the stop-loss price, e.g. 63500, or a percentage like 2%")(answer)


def _leverage(answer: str) -> str:
    if answer.lower() in SKIP:
        return "Leverage: none"
    value = find_leverage(f"Leverage {answer}")
    if value is None:
        raise InvalidInput("answer", "type the leverage like 5x (1–125), or skip")
    return f"Leverage: {value}x"


_ANSWERS: dict[str, Callable[[str], str]] = {
    "pair": _pair, "side": _side,
    "entry": _prices("Entry", "the entry price, a zone like 64000 - 64500, or CMP",
                     ("CMP",)),
    "targets": _prices("Targets", "one or more target prices, e.g. 64800 65500"),
    "stop": _stop, "leverage": _leverage,
}


async def start_form(post: PendingPost) -> FormQuestion:
    """Put a blank draft in form mode; returns the first question."""
    question = next_question("")
    assert question is not None
    post.text, post.problem = "", FORM_MARK + question.field
    await post.save(update_fields=["text", "problem", "updated_at"])
    return question


async def answer_form(user: User, post_id: int, answer: str,
                      prices: PriceSource | None = None) -> FormQuestion | DraftPreview:
    """Record the answer to the form's current step: the next question, or the preview.

    A complete signal pasted instead replaces the form. Raises ``NotFound``,
    ``InvalidInput`` (``answer``: what to type instead; nothing is stored then).
    """
    post = await own_post(user, post_id)
    if isinstance(parse_message(answer), ParsedSignal):
        return await revise_post(user, post.id, answer, prices)
    question = next_question(post.text)
    if question is None:
        return await revise_post(user, post.id, post.text, prices)
    text = add_answer(post.text, question, answer)
    following = next_question(text)
    if following is None:
        return await revise_post(user, post.id, text, prices)
    post.text, post.problem = text, FORM_MARK + following.field
    await post.save(update_fields=["text", "problem", "updated_at"])
    return following
