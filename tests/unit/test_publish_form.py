"""The /publish form's steps are read from the draft text; answers become parser lines."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput
from domain.parsing import ParsedSignal, parse_message
from domain.publish_form import PAGE_FIELDS, QUESTIONS, add_answer, compose_form, next_question

# SOL_USDT 2025-12-16 08:00 C 126, H 126.61; 14:00 H 129.8; 2025-12-15 18:00 L 123.63
ANSWERS = ("SOL/USDT", "long", "126", "126.61, 129.8", "123.63", "skip")


def test_answers_fill_the_steps_in_order_and_parse_as_a_signal() -> None:
    text = ""
    for number, answer in enumerate(ANSWERS, start=1):
        question = next_question(text)
        assert question is not None and question.number == number
        assert question.field == QUESTIONS[number - 1][0]
        text = add_answer(text, question, answer)

    assert next_question(text) is None
    assert text == ("#SOL/USDT\nLONG\nEntry: 126\nTargets: 126.61, 129.8\nSL: 123.63\n"
                    "Leverage: none")
    parsed = parse_message(text)
    assert isinstance(parsed, ParsedSignal) and parsed.unread == ()
    assert parsed.leverage is None and parsed.symbol == "SOL/USDT"


@pytest.mark.parametrize(("step", "answer", "words"), [
    (0, "buy it now", "type the pair"),
    (1, "maybe", "LONG or SHORT"),
    (2, "soon", "the entry price"),
    (3, "high", "target prices"),
    (4, "tight", "stop-loss price"),
    (5, "lots", "leverage like 5x"),
])
def test_a_wrong_answer_says_what_to_type(step: int, answer: str, words: str) -> None:
    text = ""
    for previous in ANSWERS[:step]:
        question = next_question(text)
        assert question is not None
        text = add_answer(text, question, previous)
    question = next_question(text)
    assert question is not None
    with pytest.raises(InvalidInput) as raised:
        add_answer(text, question, answer)
    assert words in raised.value.rule


def test_market_entry_percent_stop_and_perp_are_accepted() -> None:
    text = ""
    for answer in ("ethusdt.p", "SHORT", "cmp", "2511.65 2463.2", "2%", "20x"):
        question = next_question(text)
        assert question is not None
        text = add_answer(text, question, answer)
    parsed = parse_message(text)
    assert isinstance(parsed, ParsedSignal)
    assert (parsed.symbol, parsed.market_entry, parsed.leverage) == ("ETH/USDT:USDT", True, 20)
    assert parsed.stop_percent is not None


# -- the one-page form (Discord's modal) ---------------------------------------------------

PAGE = {"pair": "SOL/USDT long", "entry": "126", "targets": "126.61, 129.8",
        "stop": "123.63", "leverage": ""}


def test_one_page_form_writes_the_text_the_step_by_step_form_writes() -> None:
    text = ""
    for answer in ANSWERS:
        question = next_question(text)
        assert question is not None
        text = add_answer(text, question, answer)
    assert compose_form(PAGE) == text
    assert [f.key for f in PAGE_FIELDS] == ["pair", "entry", "targets", "stop", "leverage"]


def test_one_page_form_reads_side_anywhere_and_perp() -> None:
    text = compose_form({"pair": "SHORT ethusdt.p", "entry": "cmp", "targets": "2511.65 2463.2",
                         "stop": "2%", "leverage": "20x"})
    assert text.splitlines()[:2] == ["#ETH/USDT perp", "SHORT"]
    parsed = parse_message(text)
    assert isinstance(parsed, ParsedSignal)
    assert (parsed.symbol, parsed.market_entry, parsed.leverage) == ("ETH/USDT:USDT", True, 20)


@pytest.mark.parametrize(("field", "answer", "words"), [
    ("pair", "SOL/USDT", "Pair and side: add LONG or SHORT"),
    ("pair", "buy it now long", "Pair and side: type the pair"),
    ("entry", "", "Entry (price, low-high zone, or CMP): type the entry price"),
    ("targets", "high", "Take-profit targets: type one or more target prices"),
    ("stop", "tight", "Stop-loss (price or %): type the stop-loss price"),
    ("leverage", "lots", "Leverage (optional): type the leverage like 5x"),
])
def test_one_page_form_names_each_wrong_field(field: str, answer: str, words: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        compose_form({**PAGE, field: answer})
    assert raised.value.field == "form" and words in raised.value.rule


def test_one_page_form_lists_every_problem_at_once() -> None:
    with pytest.raises(InvalidInput) as raised:
        compose_form({"pair": "SOL/USDT LONG", "entry": "", "targets": "", "stop": ""})
    rule = raised.value.rule
    assert [label in rule for label in ("Pair and side", "Entry", "Take-profit targets",
                                        "Stop-loss")] == [False, True, True, True]
    assert rule.endswith("(nothing was saved; run /publish again)")
