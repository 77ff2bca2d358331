"""The short guided form of /publish: pair, side, entry, targets, stop-loss, leverage.

The answers are written into the draft's text in the parser's own format
(``#BTC/USDT`` / ``LONG`` / ``Entry: …`` / ``Targets: …`` / ``SL: …`` / ``Leverage: …``),
so the step a draft is at is read from its text and the finished form is parsed and
previewed exactly like a signal typed in one message. A whole signal pasted at any
step replaces the form. Form drafts are ``PendingPost`` rows in EDITING whose
``problem`` starts with ``FORM_MARK``.

``compose_form`` is the same form on one page (Discord's modal: at most 5 text
inputs, so pair and side share one): each answer goes through the very line writers
of the step-by-step form, so equal answers make equal draft text on every platform.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
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


@dataclass(frozen=True)
class PageField:
    """One answer of the one-page form: ``key`` in the answers, the label, an example."""

    key: str
    label: str
    example: str
    required: bool = True


PAGE_FIELDS = (
    PageField("pair", "Pair and side", "BTC/USDT LONG (add perp for the perpetual)"),
    PageField("entry", "Entry (price, low-high zone, or CMP)", "86021.51 or 86000 - 86400"),
    PageField("targets", "Take-profit targets", "86380 87763.92"),
    PageField("stop", "Stop-loss (price or %)", "85146.64 or 2%"),
    PageField("leverage", "Leverage (optional)", "5x; leave empty for spot", required=False),
)


def split_pair_side(answer: str) -> tuple[str, str]:
    """``"BTC/USDT perp LONG"`` → (``"BTC/USDT perp"``, ``"LONG"``); side "" if absent."""
    words = answer.split()
    at = [i for i, w in enumerate(words) if w.lower() in SIDES]
    if len(at) != 1:
        return answer.strip(), ""
    return " ".join(words[:at[0]] + words[at[0] + 1:]), words[at[0]]


def compose_form(answers: Mapping[str, str]) -> str:
    """The draft text of the one-page form (``PAGE_FIELDS`` keys → answers).

    Written line by line by ``add_answer`` in the step-by-step form's order, so it
    equals the text that form makes from the same answers; an empty leverage is
    "skip". Raises ``InvalidInput`` (field ``form``) naming every missing or wrong
    answer by its label with what to type instead.
    """
    pair, side = split_pair_side(answers.get("pair", ""))
    given = {"pair": pair, "side": side, "entry": answers.get("entry", ""),
             "targets": answers.get("targets", ""), "stop": answers.get("stop", ""),
             "leverage": answers.get("leverage", "").strip() or "skip"}
    labels = {f.key: f.label for f in PAGE_FIELDS} | {"side": "Pair and side"}
    text, problems = "", []
    for number, (field, question, choices) in enumerate(QUESTIONS, start=1):
        step = FormQuestion(number, len(QUESTIONS), field, question, choices)
        try:
            text = add_answer(text, step, given[field])
        except InvalidInput as exc:
            rule = exc.rule if field != "side" else "add LONG or SHORT, e.g. BTC/USDT LONG"
            problems.append(f"{labels[field]}: {rule}")
    if problems:
        raise InvalidInput("form", "fix " + "; ".join(problems)
                           + " (nothing was saved; run /publish again)")
    return text
