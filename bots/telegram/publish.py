"""/publish (free text, or a short guided form: pair, side, entry, targets, stop, leverage)
with a preview and Publish / Edit / Cancel buttons; /close, /movesl and /cancel for
published signals.

Drafts live in the domain (``domain.chat_publishing``): an edit of the /publish message,
or the text sent after pressing Edit, re-parses the same draft.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bots.telegram import chat_texts
from bots.telegram.chat_callbacks import DraftAction, DraftStep, FormAnswer
from bots.telegram.chat_commands import movesl_arguments, signal_id_and_note
from bots.telegram.chat_keyboards import draft_keyboard, form_keyboard
from bots.telegram.middlewares import UserMiddleware
from domain import chat_publishing as drafts
from domain.linking_models import Platform
from domain.models import Provider, Signal, User
from domain.publish_form import FormQuestion, answer_form, is_form, start_form
from domain.publishing import cancel_signal
from signalhub.bootstrap import Services

TELEGRAM = Platform.TELEGRAM


def _market_ts(services: Services) -> int:
    return services.prices.now_ms() if services.prices is not None else 0


async def show_preview(message: Message, preview: drafts.DraftPreview) -> None:
    """Send the preview with its buttons and remember where it is."""
    sent = await message.answer(chat_texts.draft_preview(preview),
                                reply_markup=draft_keyboard(preview.post.id, preview.ready))
    await drafts.set_preview_location(preview.post, sent.chat.id, sent.message_id)


async def publish_command(message: Message, command: CommandObject, user: User,
                          services: Services) -> None:
    """``/publish <signal>``: a preview; ``/publish`` or ``/publish <slug>``: the form."""
    text = command.args or ""
    if not drafts_has_signal_text(text):
        post = await drafts.start_blank_draft(user, text, platform=TELEGRAM,
                                              chat_id=message.chat.id,
                                              message_id=message.message_id)
        question = await start_form(post)
        await message.answer(chat_texts.form_question(question, first=True),
                             reply_markup=form_keyboard(post.id, question.choices))
        return
    preview = await drafts.draft_from_text(user, text, platform=TELEGRAM,
                                           chat_id=message.chat.id,
                                           message_id=message.message_id,
                                           prices=services.prices)
    await show_preview(message, preview)


def drafts_has_signal_text(text: str) -> bool:
    """More than a lone provider slug after /publish."""
    return len(text.split()) > 1


async def corrected_text(message: Message, user: User, services: Services) -> None:
    """Private text after Edit (or after /publish alone) becomes the draft's text."""
    post = await drafts.waiting_for_text(user, TELEGRAM, message.chat.id)
    if post is None or not message.text:
        raise SkipHandler()
    if is_form(post):
        await show_form_step(message, post.id,
                             await answer_form(user, post.id, message.text, services.prices))
        return
    preview = await drafts.revise_post(user, post.id, message.text, services.prices)
    await show_preview(message, preview)


async def show_form_step(message: Message, post_id: int,
                         step: FormQuestion | drafts.DraftPreview) -> None:
    """The form's next question, or the preview once every answer is in."""
    if isinstance(step, FormQuestion):
        await message.answer(chat_texts.form_question(step),
                             reply_markup=form_keyboard(post_id, step.choices))
    else:
        await show_preview(message, step)


async def press_form_choice(query: CallbackQuery, callback_data: FormAnswer, user: User,
                            message: Message, services: Services) -> None:
    """LONG / SHORT / skip buttons of the form."""
    step = await answer_form(user, callback_data.post_id, callback_data.value,
                             services.prices)
    await query.answer(callback_data.value)
    await message.edit_reply_markup(reply_markup=None)
    await show_form_step(message, callback_data.post_id, step)


async def edited_draft_message(message: Message, user: User, services: Services,
                               bot: Bot) -> None:
    """An edited /publish message re-parses its draft and updates the preview in place."""
    post = await drafts.draft_for_message(TELEGRAM, message.chat.id, message.message_id)
    if post is None or not message.text:
        return
    text = message.text.split(maxsplit=1)[1] if message.text.startswith("/") and \
        len(message.text.split(maxsplit=1)) > 1 else message.text
    preview = await drafts.draft_from_text(user, text, platform=TELEGRAM,
                                           chat_id=message.chat.id,
                                           message_id=message.message_id,
                                           prices=services.prices)
    markup = draft_keyboard(preview.post.id, preview.ready)
    if post.preview_chat_id is None or post.preview_message_id is None:
        await show_preview(message, preview)
        return
    await bot.edit_message_text(chat_texts.draft_preview(preview), chat_id=post.preview_chat_id,
                                message_id=post.preview_message_id, reply_markup=markup)


async def press_draft_button(query: CallbackQuery, callback_data: DraftAction, user: User,
                             message: Message, services: Services) -> None:
    """Publish, Edit or Cancel under a preview."""
    if callback_data.step is DraftStep.EDIT:
        await drafts.start_edit(user, callback_data.post_id)
        await query.answer("Send the corrected signal")
        await message.answer(chat_texts.SEND_CORRECTED)
        return
    if callback_data.step is DraftStep.CANCEL:
        await drafts.cancel_post(user, callback_data.post_id)
        await query.answer("Cancelled")
        await message.edit_text(chat_texts.DRAFT_CANCELLED)
        return
    signal, fresh = await drafts.publish_post(user, callback_data.post_id, services.queue,
                                              services.bus, services.prices,
                                              _market_ts(services))
    provider = await Provider.get(id=signal.provider_id)  # type: ignore[attr-defined]
    await query.answer("Published" if fresh else "Already published")
    await message.edit_reply_markup(reply_markup=None)
    await message.answer(chat_texts.published(signal, provider, fresh))


async def close_command(message: Message, command: CommandObject, user: User,
                        services: Services) -> None:
    signal_id, note = signal_id_and_note("close", command.args)
    event = await drafts.close_at_market(user, signal_id, note, services.queue, services.bus,
                                         services.prices)
    await message.answer(chat_texts.event_done(event, await Signal.get(id=signal_id)))


async def cancel_command(message: Message, command: CommandObject, user: User,
                         services: Services) -> None:
    signal_id, note = signal_id_and_note("cancel", command.args)
    event = await cancel_signal(user, signal_id, note or "cancelled by the provider",
                                services.queue, services.bus)
    await message.answer(chat_texts.event_done(event, await Signal.get(id=signal_id)))


async def movesl_command(message: Message, command: CommandObject, user: User,
                         services: Services) -> None:
    signal_id, price = movesl_arguments(command.args)
    event = await drafts.move_stop_to(user, signal_id, price, services.queue, services.bus)
    await message.answer(chat_texts.event_done(event, await Signal.get(id=signal_id)))


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    private = F.chat.type == ChatType.PRIVATE
    router.message.register(publish_command, Command("publish"))
    router.message.register(close_command, Command("close"))
    router.message.register(cancel_command, Command("cancel"))
    router.message.register(movesl_command, Command("movesl"))
    router.message.register(corrected_text, private, F.text, ~F.text.startswith("/"))
    router.edited_message.middleware(UserMiddleware())
    router.edited_message.register(edited_draft_message, private)
    router.callback_query.register(press_draft_button, DraftAction.filter(),
                                   F.message.as_("message"))
    router.callback_query.register(press_form_choice, FormAnswer.filter(),
                                   F.message.as_("message"))
    return router
