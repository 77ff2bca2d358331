"""/connect: a private-chat wizard that connects an exchange account (paper mode), and
/exchange [live <phrase>|paper|disconnect] to see it, opt in to live trading, go back
to paper, or disconnect it.

Steps: exchange id -> market type (spot|linear) -> testnet (yes|no) -> API base URL
(or skip) -> API key -> secret -> passphrase (only where the exchange has one). Each
message holding a key part is deleted (deleteMessage) as soon as it is read; the parts
wait in the dispatcher's FSM storage (process memory) for at most the next message,
and the last one seals them (AES-256-GCM) and clears the state before the exchange is
asked for the balance. In groups /connect only says to use a private chat. Sending
``cancel`` (no slash) stops the wizard; ``/connect`` starts over.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message

from domain.errors import DomainError, ExternalServiceError
from domain.exchange_accounts import (
    BASE_URL_RE,
    EXCHANGE_ID_RE,
    LIVE_CONFIRMATION,
    AccountDraft,
    Connected,
    active_account,
    check_key_parts,
    confirm_live,
    connect_account,
    disconnect_account,
    switch_to_paper,
)
from domain.exchange_models import ExchangeAccount, TradingMode
from domain.models import User
from integrations.secrets import ExchangeCredentials, SecretError
from signalhub.exchange_accounts import exchange_services

log = logging.getLogger(__name__)

PRIVATE_ONLY = ("🔒 /connect and /exchange work only in a private chat with me, so that "
                "nobody sees your API key. Open a chat with me and send /connect there.")
ASK_EXCHANGE = ("🔌 Connect an exchange account. Copy trading stays in <b>paper</b> mode "
                "until you confirm live trading.\n\nWhich exchange? Send its ccxt id, e.g. "
                "<code>binance</code>, <code>bybit</code>, <code>okx</code>. "
                "Send <code>cancel</code> to stop.")
ASK_MARKET = "Market type: <code>spot</code> or <code>linear</code> (USDT perpetuals)?"
ASK_TESTNET = "Use the exchange's testnet? <code>yes</code> or <code>no</code>"
ASK_BASE_URL = ("Custom API URL (regional endpoint or proxy), e.g. "
                "<code>https://api.binance.us</code>, or <code>skip</code>.")
ASK_KEY = ("Send the API key (reading + trading only, withdrawals off). I delete your "
           "message right after reading it.")
ASK_SECRET = "Now the API secret. I delete it right away too."
ASK_PASSWORD = "This exchange also has a passphrase: send it (deleted right away)."
CANCELLED = "Stopped: nothing was stored."
DELETE_FAILED = ("⚠️ I could not delete your message: please delete it yourself.")
YES_NO = {"yes": True, "y": True, "no": False, "n": False}


class ConnectWizard(StatesGroup):
    exchange = State()
    market_type = State()
    testnet = State()
    base_url = State()
    api_key = State()
    secret = State()
    password = State()


async def start_wizard(message: Message, state: FSMContext) -> None:
    await state.clear()
    await state.set_state(ConnectWizard.exchange)
    await message.answer(ASK_EXCHANGE)


async def refuse_outside_private_chat(message: Message) -> None:
    await message.answer(PRIVATE_ONLY)


async def cancel_wizard(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(CANCELLED)


async def read_exchange(message: Message, state: FSMContext) -> None:
    from integrations.exchange_ccxt import needs_password  # ccxt: imported on first use

    exchange_id = (message.text or "").strip().lower()
    try:
        if not EXCHANGE_ID_RE.match(exchange_id):
            raise DomainError("send a ccxt exchange id like binance, bybit or okx")
        password = needs_password(exchange_id)
    except DomainError as exc:
        await message.answer(f"⚠️ {html.escape(exc.message)}")
        return
    await state.update_data(exchange=exchange_id, needs_password=password)
    await state.set_state(ConnectWizard.market_type)
    await message.answer(ASK_MARKET)


async def read_market_type(message: Message, state: FSMContext) -> None:
    market_type = (message.text or "").strip().lower()
    if market_type not in ("spot", "linear"):
        await message.answer(f"⚠️ {ASK_MARKET}")
        return
    await state.update_data(market_type=market_type)
    await state.set_state(ConnectWizard.testnet)
    await message.answer(ASK_TESTNET)


async def read_testnet(message: Message, state: FSMContext) -> None:
    answer = YES_NO.get((message.text or "").strip().lower())
    if answer is None:
        await message.answer(f"⚠️ {ASK_TESTNET}")
        return
    await state.update_data(testnet=answer)
    await state.set_state(ConnectWizard.base_url)
    await message.answer(ASK_BASE_URL)


async def read_base_url(message: Message, state: FSMContext) -> None:
    text = (message.text or "").strip()
    if text.lower() != "skip" and not BASE_URL_RE.match(text):
        await message.answer(f"⚠️ {ASK_BASE_URL}")
        return
    await state.update_data(api_base_url=None if text.lower() == "skip" else text)
    await state.set_state(ConnectWizard.api_key)
    await message.answer(ASK_KEY)


async def read_api_key(message: Message, state: FSMContext) -> None:
    api_key = await _take_secret(message)
    try:
        check_key_parts(api_key, api_key)
    except DomainError as exc:
        await message.answer(f"⚠️ {html.escape(exc.message)}")
        return
    await state.update_data(api_key=api_key)
    await state.set_state(ConnectWizard.secret)
    await message.answer(ASK_SECRET)


async def read_secret(message: Message, state: FSMContext, user: User,
                      services: Any) -> None:
    secret = await _take_secret(message)
    data = await state.get_data()
    if data.get("needs_password"):
        await state.update_data(secret=secret)
        await state.set_state(ConnectWizard.password)
        await message.answer(ASK_PASSWORD)
        return
    await _finish(message, state, user, services, secret, None)


async def read_password(message: Message, state: FSMContext, user: User,
                        services: Any) -> None:
    password = await _take_secret(message)
    secret = (await state.get_data()).get("secret", "")
    await _finish(message, state, user, services, secret, password)


async def _take_secret(message: Message) -> str:
    """The message's text, after deleting the message from the chat."""
    text = (message.text or "").strip()
    try:
        await message.delete()
    except TelegramAPIError as exc:
        log.warning("could not delete a credentials message in chat %s: %s",
                    message.chat.id, type(exc).__name__)
        await message.answer(DELETE_FAILED)
    return text


async def _finish(message: Message, state: FSMContext, user: User, services: Any,
                  secret: str, password: str | None) -> None:
    data = await state.get_data()
    await state.clear()  # the key parts leave the FSM storage before any network call
    try:
        check_key_parts(data["api_key"], secret, password)
        wiring = exchange_services(services)
        credentials = ExchangeCredentials(data["api_key"], secret, password or None)
        sealed = wiring.box.encrypt(credentials, user.id)
        draft = AccountDraft(data["exchange"], data["market_type"], credentials.key_hint,
                             data["testnet"], data.get("api_base_url"))
        connected = await connect_account(user, draft, sealed, wiring.validate)
    except ExternalServiceError as exc:
        await message.answer(f"⚠️ The exchange did not accept the check, nothing was "
                             f"stored: {html.escape(exc.message)}")
        return
    except (DomainError, SecretError) as exc:
        text = exc.message if isinstance(exc, DomainError) else str(exc)
        await message.answer(f"⚠️ Not connected: {html.escape(text)}\nSend /connect to try "
                             "again.")
        return
    await message.answer(connected_text(connected))


def connected_text(connected: Connected) -> str:
    """The wizard's last message: account, balances, warnings, what paper mode means."""
    account = connected.account
    balances = ", ".join(f"{format(total.normalize(), 'f')} {currency}"
                         for currency, total in sorted(connected.validation.balances.items())
                         if total) or "none"
    lines = [f"✅ Connected {html.escape(account.exchange_id)} {account.market_type.value}"
             f"{' testnet' if account.testnet else ''} (key …{html.escape(account.api_key_hint)},"
             f" account #{account.id}).",
             f"Balances: {html.escape(balances)}",
             "Mode: <b>paper</b>. Live trading needs an explicit confirmation "
             "(GraphQL <code>confirmLiveTrading</code>)."]
    lines += [f"⚠️ {html.escape(w)}" for w in connected.warnings]
    return "\n".join(lines)


EXCHANGE_USAGE = (f"/exchange shows your exchange account; /exchange live {LIVE_CONFIRMATION} "
                  "switches it to live trading, /exchange paper back to paper, /exchange "
                  "disconnect removes it.")
NO_ACCOUNT = "You have no exchange account connected: copy trading uses paper. Send /connect."


async def manage_exchange(message: Message, command: CommandObject, user: User) -> None:
    """/exchange [live <phrase>|paper|disconnect] on the user's ACTIVE account."""
    account = await active_account(user.id)
    if account is None:
        await message.answer(NO_ACCOUNT)
        return
    action, _, rest = (command.args or "").strip().partition(" ")
    action = action.lower()
    if action == "live":
        account = await confirm_live(user, account.id, rest)
    elif action == "paper":
        account = await switch_to_paper(user, account.id)
    elif action == "disconnect":
        await disconnect_account(user, account.id)
        await message.answer(f"🔌 Disconnected {html.escape(account.exchange_id)} account "
                             f"#{account.id}: its key is erased, copy trading is back on "
                             "paper. Positions on the exchange are left as they are.")
        return
    elif action:
        await message.answer(f"✍️ {html.escape(EXCHANGE_USAGE)}")
        return
    await message.answer(account_text(account))


def account_text(account: ExchangeAccount) -> str:
    """One account as /exchange shows it, with the next step for its mode."""
    mode = ("<b>LIVE</b>: copy orders go to the exchange with real money"
            if account.mode == TradingMode.LIVE else
            "<b>paper</b>: orders are simulated. To trade for real send: <code>/exchange live "
            f"{html.escape(LIVE_CONFIRMATION)}</code>")
    return (f"🔌 {html.escape(account.exchange_id)} {account.market_type.value}"
            f"{' testnet' if account.testnet else ''}, key …{html.escape(account.api_key_hint)}"
            f" (account #{account.id})\nMode: {mode}")


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    private = F.chat.type == ChatType.PRIVATE
    text = F.text & ~F.text.startswith("/")
    router.message.register(start_wizard, Command("connect"), private)
    router.message.register(refuse_outside_private_chat, Command("connect"))
    router.message.register(manage_exchange, Command("exchange"), private)
    router.message.register(refuse_outside_private_chat, Command("exchange"))
    router.message.register(cancel_wizard, StateFilter(ConnectWizard), private,
                            F.text.lower().in_({"cancel", "stop"}))
    steps = ((ConnectWizard.exchange, read_exchange),
             (ConnectWizard.market_type, read_market_type),
             (ConnectWizard.testnet, read_testnet), (ConnectWizard.base_url, read_base_url),
             (ConnectWizard.api_key, read_api_key), (ConnectWizard.secret, read_secret),
             (ConnectWizard.password, read_password))
    for step, handler in steps:
        router.message.register(handler, step, private, text)
    return router

