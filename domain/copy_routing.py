"""Which gateway a follower's copy orders go to: a ``Route`` per follower and the
``Gateways`` that turn it into an ``ExchangeGateway`` (paper unless live and confirmed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.paper_exchange import MarketLookup, MemoryPaperBook, PaperBook, PaperGateway
from domain.ports import ExchangeGateway, PriceSource
from domain.sizing import FillModel


@dataclass(frozen=True)
class Route:
    """Where one follower's orders go: ``mode`` paper or live, the ccxt exchange id
    (``paper`` for the paper exchange), the exchange account row and whether live mode
    was confirmed (``live_confirmed_at`` set)."""

    mode: str = "paper"
    exchange: str = "paper"
    account_id: int | None = None
    live_confirmed: bool = False
    quote: str = "USDT"

    @property
    def live(self) -> bool:
        """True only for a live account whose live mode was confirmed."""
        return self.mode == "live" and self.live_confirmed


PAPER = Route()


class Gateways(Protocol):
    """Gives each follower a route and a gateway (paper or live)."""

    async def routes(self, user_ids: list[int]) -> dict[int, Route]:
        """Route of each of ``user_ids`` (missing users trade paper)."""
        ...

    async def gateway(self, user_id: int, route: Route) -> ExchangeGateway:
        """The gateway of ``route`` for ``user_id``; raises ``PermanentError`` if the
        account can no longer be used (deleted, credentials unreadable)."""
        ...


class PaperGateways:
    """Every follower trades on the paper exchange (a ``PaperGateway`` per follower)."""

    def __init__(self, prices: PriceSource, book: PaperBook | None = None,
                 fill_model: FillModel = FillModel(), rules: MarketLookup | None = None
                 ) -> None:
        self.prices, self.fill_model, self.rules = prices, fill_model, rules
        self.book: PaperBook = book if book is not None else MemoryPaperBook()

    async def routes(self, user_ids: list[int]) -> dict[int, Route]:
        """Paper for everyone."""
        return dict.fromkeys(user_ids, PAPER)

    async def gateway(self, user_id: int, route: Route) -> ExchangeGateway:
        """A ``PaperGateway`` on the follower's paper account."""
        return PaperGateway(user_id, self.prices, self.book, self.fill_model, self.rules)
