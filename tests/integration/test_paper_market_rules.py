"""Paper orders follow the real exchange's market rules: the amount is rounded down to
Binance's BTC/USDT lot step (0.00001) and an order under its 5 USDT minimum notional is
skipped with that reason, as a live order on binance would be.

The worker's own job (``execute_copy_orders`` with ``default_gateways``: the paper
exchange looks markets up in the shipped binance snapshot, since the replayed candles
are Binance's). Real PostgreSQL and Redis; the entry is the close of the engine tests'
real setup candle (``tests.integration.test_copy_engine.SETUP``).
"""

from __future__ import annotations

from decimal import Decimal

from domain.copy_reports import ENTRY
from domain.models import CopyOrder, OrderStatus, PaperAccount, Position
from domain.sizing import reason_lines
from integrations.exchange_markets import SnapshotMarkets, price_exchange
from tests.integration.test_copy_engine import SETUP, _followers, _intents, _publish, world
from workers.context import WorkerDeps
from workers.copy_jobs import execute_copy_orders

__all__ = ["world"]  # the engine tests' fixture
LOT = Decimal("0.00001")  # binance BTCUSDT LOT_SIZE stepSize (shipped snapshot)


async def test_paper_amounts_are_rounded_to_the_lot_step_and_small_orders_skipped(
        world) -> None:  # noqa: ANN001
    services, _, _ = world
    owner, [rich, poor] = await _followers(2)
    # 10% of 40 USDT is a 4 USDT position: under binance's 5 USDT minimum notional.
    await PaperAccount.filter(user_id=poor.id).update(balance=Decimal(40),
                                                      starting_balance=Decimal(40))
    signal = await _publish(services, owner)

    await execute_copy_orders({"deps": WorkerDeps(services, None, None)},
                              await _intents(signal.id))

    filled = await CopyOrder.get(signal_id=signal.id, user_id=rich.id, leg=ENTRY)
    assert filled.status is OrderStatus.FILLED, filled.reason
    assert filled.amount % LOT == 0 and filled.amount > 0
    # The largest lot multiple within 10% of 10,000 USDT at the expected fill price.
    assert filled.amount == (Decimal(1000) / filled.price).quantize(LOT, rounding="ROUND_DOWN")
    position = await Position.get(user_id=rich.id)
    assert all(Decimal(a) % LOT == 0 for a in position.exit_amounts)

    skipped = await CopyOrder.get(signal_id=signal.id, user_id=poor.id, leg=ENTRY)
    assert skipped.status is OrderStatus.SKIPPED
    [reason] = reason_lines(skipped.reason)
    # 4 USDT rounded down to whole lots at the fill price is 3.94 USDT.
    assert reason == ("skipped: notional 3.94 USDT is under the market minimum 5 USDT of "
                      "BTC/USDT"), reason
    assert not await Position.filter(user_id=poor.id).exists()
    assert SETUP.entry > 0  # the setup the entry was taken from


def test_the_lookup_knows_the_shipped_markets_and_nothing_else() -> None:
    markets = SnapshotMarkets(price_exchange("replay:/any/folder"))
    spot, perp = markets("BTC/USDT"), markets("BTC/USDT:USDT")
    assert spot is not None and (spot.amount_step, spot.min_notional) == (LOT, Decimal(5))
    assert perp is not None and perp.linear and perp.amount_step == Decimal("0.001")
    assert markets("DOGE/USDT") is None
    assert SnapshotMarkets(price_exchange("ccxt:kraken:BTC/USD"))("BTC/USDT") is None
    assert price_exchange("ccxt:bybit") == "bybit"


def test_the_precision_modes_are_ccxts() -> None:
    from ccxt.base import decimal_to_precision as ccxt_precision

    from integrations import exchange_markets

    assert (exchange_markets.TICK_SIZE, exchange_markets.DECIMAL_PLACES) == (
        ccxt_precision.TICK_SIZE, ccxt_precision.DECIMAL_PLACES)
