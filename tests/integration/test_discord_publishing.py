"""Discord /publish: the Edit button and the guided form, through real Interaction payloads.

A button press is a type 3 interaction; the form it opens comes back as a modal submit
(type 5: the modal's custom id and its text inputs' values, and the message whose button
opened it). Answers are read from the interaction callbacks the fake API received:
type 9 opens a modal, type 7 edits the message in place, type 4 sends a new one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from domain import users
from domain.linking_models import PendingPost
from domain.models import Role, Signal
from domain.providers import create_provider
from domain.publish_form import add_answer, next_question
from tests.support.discord import ALICE, CANDLES, CHANNEL, discord_bot, ephemeral, opt, payload, run

# BTC/USDT 1h candles of tests/support/setups.BTC_1H: CANDLES[2500] (entry = its close,
# TP1 = its high, SL = its low) and the highest high of the 20 candles after it.
CANDLE = CANDLES[2500]
LATER_HIGH = max(c.high for c in CANDLES[2501:2520])


@pytest.fixture
async def bot(clean_db, settings):  # noqa: ANN001
    """A logged-in bot, ALICE owning the free provider ``pub-free``."""
    owner = await users.create_user("pub-owner", Role.PROVIDER)
    owner.discord_user_id = ALICE
    await owner.save()
    await create_provider(owner, "pub-free", "Pub Free Signals", monthly_price="0")
    async with discord_bot(settings) as pair:
        yield pair


def shown(callback: dict[str, Any], message_id: int = 1400000000000000001) -> dict[str, Any]:
    """The message a callback put on screen, as Discord includes it in later interactions."""
    data = callback["data"]
    return {"id": str(message_id), "channel_id": str(CHANNEL), "type": 0,
            "content": data.get("content") or "", "embeds": data.get("embeds") or [],
            "components": data.get("components") or [], "flags": data.get("flags", 0),
            "author": {"id": "1100000000000000002", "username": "SignalHub",
                       "discriminator": "0", "global_name": "SignalHub", "avatar": None,
                       "bot": True},
            "timestamp": datetime.now(UTC).isoformat(), "edited_timestamp": None,
            "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
            "attachments": [], "pinned": False}


def press(custom_id: str, on: dict[str, Any]) -> dict[str, Any]:
    """A button press (type 3) on message ``on``."""
    return payload("", kind=3, data={"custom_id": custom_id, "component_type": 2}, message=on)


def submit(custom_id: str, values: dict[str, str], on: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    """A modal submit (type 5): each text input in its action row, as Discord sends it."""
    rows = [{"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in values.items()]
    return payload("", kind=5, data={"custom_id": custom_id, "components": rows}, message=on)


def buttons(callback: dict[str, Any]) -> dict[str, str]:
    """label → custom id of the buttons under a callback's message."""
    return {b["label"]: b["custom_id"]
            for row in callback["data"]["components"] for b in row["components"]}


def targets(callback: dict[str, Any]) -> str:
    [embed] = callback["data"]["embeds"]
    return {f["name"]: f["value"] for f in embed["fields"]}["Targets"]


def plain(value: Any) -> str:
    return format(value.normalize(), "f")


async def test_edit_opens_the_draft_text_and_the_submit_edits_the_preview_in_place(
        bot) -> None:  # noqa: ANN001
    client, api = bot
    text = f"#BTC/USDT LONG Entry: {CANDLE.close} TP1: {CANDLE.high} SL: {CANDLE.low}"
    preview = await run(client, api, payload("publish", [opt("text", text)]))
    assert list(buttons(preview)) == ["Publish", "Edit", "Cancel"]
    [post] = await PendingPost.all()

    form = await run(client, api, press(buttons(preview)["Edit"], shown(preview)))
    assert form["type"] == 9 and form["data"]["custom_id"] == f"sh:edit:{post.id}"
    [[box]] = [row["components"] for row in form["data"]["components"]]
    assert (box["custom_id"], box["style"], box["value"]) == ("text", 2, text)

    fixed = text.replace(f"TP1: {CANDLE.high}", f"TP1: {LATER_HIGH}")
    edited = await run(client, api, submit(f"sh:edit:{post.id}", {"text": fixed},
                                           shown(preview)))
    assert edited["type"] == 7  # UPDATE_MESSAGE: the preview itself, not a new message
    assert targets(edited) == f"TP1 {plain(LATER_HIGH)}"
    assert list(buttons(edited)) == ["Publish", "Edit", "Cancel"]
    [again] = await PendingPost.all()
    assert (again.id, again.text) == (post.id, fixed)

    junk = await run(client, api, submit(f"sh:edit:{post.id}", {"text": "gm everyone"},
                                         shown(edited)))
    assert junk["type"] == 4 and ephemeral(junk)
    assert "I could not read a signal there" in junk["data"]["content"]
    assert (await PendingPost.get(id=post.id)).text == fixed  # unchanged

    done = await run(client, api, press(buttons(edited)["Publish"], shown(edited)))
    assert "📣 Published" in done["data"]["content"]
    signal = await Signal.get(provider__slug="pub-free")
    assert [str(t) for t in signal.targets] == [str(LATER_HIGH)]
    late = await run(client, api, press(buttons(edited)["Edit"], shown(edited)))
    assert late["type"] == 4 and "already published" in late["data"]["content"]


async def test_edit_of_someone_elses_draft_is_refused(bot) -> None:  # noqa: ANN001
    client, api = bot
    text = f"#BTC/USDT LONG Entry: {CANDLE.close} TP1: {CANDLE.high} SL: {CANDLE.low}"
    preview = await run(client, api, payload("publish", [opt("text", text)]))
    other = await users.create_user("other", Role.PROVIDER)
    other.discord_user_id = 910000000000000199
    await other.save()
    body = press(buttons(preview)["Edit"], shown(preview))
    body["member"]["user"]["id"] = str(other.discord_user_id)
    refused = await run(client, api, body)
    assert refused["type"] == 4 and "no draft" in refused["data"]["content"]


GOOD = {"pair": "BTC/USDT LONG", "entry": str(CANDLE.close), "targets": str(CANDLE.high),
        "stop": str(CANDLE.low), "leverage": ""}


async def test_guided_form_composes_the_telegram_form_text_and_previews_it(
        bot) -> None:  # noqa: ANN001
    client, api = bot
    form = await run(client, api, payload("publish"))
    inputs = [row["components"][0] for row in form["data"]["components"]]
    assert [(i["custom_id"], i["label"]) for i in inputs] == [
        ("pair", "Pair and side"), ("entry", "Entry (price, low-high zone, or CMP)"),
        ("targets", "Take-profit targets"), ("stop", "Stop-loss (price or %)"),
        ("leverage", "Leverage (optional)")]
    assert [i["required"] for i in inputs] == [True, True, True, True, False]

    preview = await run(client, api, submit("sh:form:pub-free", GOOD))
    assert preview["type"] == 4 and ephemeral(preview)
    assert preview["data"]["embeds"][0]["title"] == "🟢 BUY BTC/USDT · #1"
    assert list(buttons(preview)) == ["Publish", "Edit", "Cancel"]
    telegram_text = ""  # the step-by-step (Telegram) form, same answers
    for answer in ("BTC/USDT", "LONG", GOOD["entry"], GOOD["targets"], GOOD["stop"], "skip"):
        question = next_question(telegram_text)
        assert question is not None
        telegram_text = add_answer(telegram_text, question, answer)
    [post] = await PendingPost.all()
    assert post.text == telegram_text


@pytest.mark.parametrize(("field", "answer", "said"), [
    ("pair", "BTC/USDT", "Pair and side: add LONG or SHORT"),
    ("pair", "bitcoin please LONG", "Pair and side: type the pair like BTC/USDT"),
    ("entry", "", "Entry (price, low-high zone, or CMP): type the entry price"),
    ("targets", "moon", "Take-profit targets: type one or more target prices"),
    ("stop", "tight", "Stop-loss (price or %): type the stop-loss price"),
    ("leverage", "lots", "Leverage (optional): type the leverage like 5x"),
])
async def test_guided_form_says_which_field_to_fix_and_stores_nothing(
        bot, field: str, answer: str, said: str) -> None:  # noqa: ANN001
    client, api = bot
    reply = await run(client, api, submit("sh:form:pub-free", {**GOOD, field: answer}))
    assert reply["type"] == 4 and ephemeral(reply)
    assert said in reply["data"]["content"] and "run /publish again" in \
        reply["data"]["content"]
    assert not await PendingPost.all().exists()


async def test_guided_form_draft_the_rules_refuse_lists_what_to_fix(bot) -> None:  # noqa: ANN001
    client, api = bot
    above = {**GOOD, "stop": str(CANDLE.high + 1)}  # a LONG stop above its entry
    reply = await run(client, api, submit("sh:form:pub-free", above))
    assert "is not publishable yet" in reply["data"]["content"]
    assert list(buttons(reply)) == ["Edit", "Cancel"]
    assert await PendingPost.all().count() == 1
    assert not await Signal.all().exists()


async def test_guided_form_for_another_providers_slug_is_refused(bot) -> None:  # noqa: ANN001
    client, api = bot
    stranger = await users.create_user("stranger", Role.PROVIDER)
    await create_provider(stranger, "not-yours", "Not Yours", monthly_price="0")
    refused = await run(client, api, submit("sh:form:not-yours", GOOD))
    assert "you do not publish for provider 'not-yours'" in refused["data"]["content"]
    assert not await PendingPost.all().exists()


async def test_a_draft_missing_fields_lists_what_was_not_read(bot) -> None:  # noqa: ANN001
    client, api = bot
    text = f"#BTC/USDT LONG Entry: {CANDLE.close} TP1: {CANDLE.high}"  # no stop-loss
    reply = await run(client, api, payload("publish", [opt("text", text)]))
    content = reply["data"]["content"]
    assert "is not publishable yet: Missing the stop-loss" in content
    assert "Not read: the stop-loss." in content
    assert list(buttons(reply)) == ["Edit", "Cancel"]
