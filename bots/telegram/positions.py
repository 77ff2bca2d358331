"""/positions: paper and live positions, realized and unrealized PnL, paper balance."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bots.telegram import texts
from domain.models import User
from domain.portfolio import load_portfolio
from signalhub.bootstrap import Services


async def show_positions(message: Message, user: User, services: Services) -> None:
    portfolio = await load_portfolio(user, services.prices)
    await message.answer(texts.positions_text(portfolio))


def make_router() -> Router:
    """A new router with this module's handlers (a router joins one dispatcher only)."""
    router = Router(name=__name__)
    router.message.register(show_positions, Command("positions"))
    return router
