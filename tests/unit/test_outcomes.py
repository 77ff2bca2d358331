"""Outcome rules on real candles: Binance BTC/USDT 1h, ``signalhub/data/BTC_USDT-1h.csv``.

Every price below is a real open, high, low or close of a candle listed in ``CHECKED``
(UTC open time: open, high, low, close), checked by hand against the file; the first
test re-checks the table so a changed data file cannot silently change these cases.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from domain.market import Candle
from domain.models import EventKind, Outcome, Side, SignalStatus
from domain.outcomes import (
    Levels,
    OutcomeEvent,
    PositionFill,
    Progress,
    evaluate_position,
    evaluate_signal,
    realized_pnl,
)
from integrations.prices import load_candles
from tests.support.setups import BTC_1H

D = Decimal
CHECKED: dict[str, tuple[str, str, str, str]] = {
    #                     open         high         low          close
    "2025-01-17 00:00": ("99987.3", "100434.96", "99950.77", "100120.58"),
    "2025-01-17 01:00": ("100120.58", "101833.28", "100050", "101659.8"),
    "2025-01-17 10:00": ("101861.26", "102581.45", "101794.14", "102321.53"),
    "2025-01-17 13:00": ("102745.68", "102980", "102422.45", "102474.14"),
    "2025-01-17 14:00": ("102474.14", "103395.47", "102279.41", "103378.95"),
    "2025-01-17 15:00": ("103379.23", "104254.19", "103285.79", "104000"),
    "2025-01-17 16:00": ("104000", "105000", "103841.18", "104972.81"),
    "2025-01-17 17:00": ("104972.81", "105269.24", "104025.49", "104125.46"),
    "2025-01-17 23:00": ("104410.4", "104526.32", "104065.25", "104077.48"),
    "2025-01-18 00:00": ("104077.47", "104656.87", "104075.34", "104656.87"),
    "2025-01-18 01:00": ("104656.87", "104656.87", "104082.19", "104268.14"),
    "2025-01-18 02:00": ("104268.14", "104500", "104259.98", "104327.98"),
    "2025-01-18 03:00": ("104327.99", "104479.31", "103000.25", "103559.82"),
    "2025-01-20 11:00": ("107964.56", "108550", "107780.51", "108239.19"),
    "2025-01-20 12:00": ("108239.19", "108700.01", "105472.95", "106917.59"),
    "2025-01-20 13:00": ("106918.83", "108125", "106651.11", "107956.31"),
    "2025-01-20 14:00": ("107956.31", "108130.08", "107277.28", "107866.65"),
    "2025-01-20 15:00": ("107866.65", "107990", "104480", "104957.99"),
    "2025-01-20 16:00": ("104957.99", "107050", "103708", "106670.38"),
}
BY_TS = {c.ts: c for c in load_candles(BTC_1H)}


def candle(utc: str) -> Candle:
    """The file's candle opening at ``utc`` ("YYYY-MM-DD HH:MM", UTC)."""
    ts = int(datetime.fromisoformat(f"{utc}+00:00").timestamp() * 1000)
    return BY_TS[ts]


def run(levels: Levels, progress: Progress, *utcs: str
        ) -> tuple[Progress, list[list[OutcomeEvent]]]:
    """Feed the candles at ``utcs`` in order; returns the final progress and events per candle."""
    per_candle = []
    for utc in utcs:
        progress, events = evaluate_signal(levels, progress, candle(utc))
        per_candle.append(events)
    return progress, per_candle


PENDING = Progress(SignalStatus.PENDING)
ACTIVE = Progress(SignalStatus.ACTIVE)

# BUY at 102422.45 (low of 2025-01-17 13:00), stop 101794.14 (low of 2025-01-17 10:00,
# below every low from 14:00 to 16:00), targets: the highs of 14:00, 15:00 and 16:00.
LONG = Levels(Side.BUY, D("102422.45"), D("102422.45"), D("101794.14"),
              (D("103395.47"), D("104254.19"), D("105000")))
# SELL at 108125 (high of 2025-01-20 13:00), stop 108550 (high of 2025-01-20 11:00, above
# every high from 14:00 to 16:00), targets: low of 14:00, close of 15:00, low of 16:00.
SHORT = Levels(Side.SELL, D("108125"), D("108125"), D("108550"),
               (D("107277.28"), D("104957.99"), D("103708")))


def activated(price: str) -> OutcomeEvent:
    return OutcomeEvent(EventKind.ACTIVATED, D(price))


def target(index: int, price: str) -> OutcomeEvent:
    return OutcomeEvent(EventKind.TARGET_HIT, D(price), index)


def stop(price: str) -> OutcomeEvent:
    return OutcomeEvent(EventKind.STOP_HIT, D(price))


def test_hand_checked_candles_match_the_data_file() -> None:
    for utc, (o, h, low, c) in CHECKED.items():
        bar = candle(utc)
        assert (bar.open, bar.high, bar.low, bar.close) == (D(o), D(h), D(low), D(c)), utc


# --- BUY ---------------------------------------------------------------------------


def test_pending_buy_waits_while_the_low_stays_above_the_entry() -> None:
    # 2025-01-17 15:00 low 103285.79 > entry 102422.45.
    assert evaluate_signal(LONG, PENDING, candle("2025-01-17 15:00")) == (PENDING, [])


def test_pending_buy_fills_at_entry_high_when_the_candle_opens_above_it() -> None:
    # 2025-01-17 14:00 opens 102474.14 above the entry, low 102279.41 reaches it: the limit
    # order fills at min(entry_high, open) = 102422.45.
    progress, events = evaluate_signal(LONG, PENDING, candle("2025-01-17 14:00"))

    assert events == [activated("102422.45")]
    assert progress == Progress(SignalStatus.ACTIVE)


def test_pending_buy_fills_at_the_open_when_the_candle_opens_inside_the_zone() -> None:
    # Zone 102422.45 (low of 13:00) .. 102745.68 (open of 13:00); 14:00 opens at 102474.14,
    # inside the zone, so min(entry_high, open) = the open.
    zone = Levels(Side.BUY, D("102422.45"), D("102745.68"), D("101794.14"), (D("103395.47"),))

    progress, events = evaluate_signal(zone, PENDING, candle("2025-01-17 14:00"))

    assert events == [activated("102474.14")]
    assert progress.status is SignalStatus.ACTIVE


def test_activation_candle_credits_no_target_even_when_its_high_reaches_one() -> None:
    # 2025-01-17 14:00 high 103395.47 == target 1, but the entry may have filled after it.
    progress, events = evaluate_signal(LONG, PENDING, candle("2025-01-17 14:00"))

    assert [e.kind for e in events] == [EventKind.ACTIVATED]
    assert progress.targets_hit == 0 and progress.outcome is None


def test_activation_candle_checks_the_stop() -> None:
    # Entry 104259.98 (low of 2025-01-18 02:00), stop 103559.82 (close of 03:00), target
    # 104500 (high of 02:00). 03:00 opens 104327.99 and falls to 103000.25: it fills the
    # entry at 104259.98, then the stop at min(stop, open) = 103559.82.
    levels = Levels(Side.BUY, D("104259.98"), D("104259.98"), D("103559.82"), (D("104500"),))

    progress, events = evaluate_signal(levels, PENDING, candle("2025-01-18 03:00"))

    assert events == [activated("104259.98"), stop("103559.82")]
    assert progress == Progress(SignalStatus.CLOSED, 0, Outcome.STOP_LOSS)


def test_active_buy_hits_several_targets_in_one_candle() -> None:
    # 2025-01-17 15:00: low 103285.79 above the stop; high 104254.19 reaches targets 1
    # (103395.47) and 2 (104254.19) but not 3 (105000).
    progress, events = evaluate_signal(LONG, ACTIVE, candle("2025-01-17 15:00"))

    assert events == [target(1, "103395.47"), target(2, "104254.19")]
    assert progress == Progress(SignalStatus.ACTIVE, 2)


def test_last_target_closes_the_signal_with_outcome_target() -> None:
    # 2025-01-17 16:00: low 103841.18, high 105000 == target 3.
    progress, events = evaluate_signal(LONG, Progress(SignalStatus.ACTIVE, 2),
                                       candle("2025-01-17 16:00"))

    assert events == [target(3, "105000")]
    assert progress == Progress(SignalStatus.CLOSED, 3, Outcome.TARGET)


def test_buy_replay_from_publish_to_last_target() -> None:
    progress, per_candle = run(LONG, PENDING, "2025-01-17 14:00", "2025-01-17 15:00",
                               "2025-01-17 16:00", "2025-01-17 17:00")

    assert per_candle == [
        [activated("102422.45")],
        [target(1, "103395.47"), target(2, "104254.19")],
        [target(3, "105000")],
        [],  # closed: later candles change nothing
    ]
    assert progress == Progress(SignalStatus.CLOSED, 3, Outcome.TARGET)


def test_stop_wins_when_one_candle_touches_stop_and_target() -> None:
    # Active BUY at 104327.98 (close of 2025-01-18 02:00), stop 104259.98 (low of 02:00),
    # target 104479.31. 03:00 (open 104327.99, high 104479.31, low 103000.25) touches both:
    # the pessimistic rule takes the stop, filled at min(stop, open) = 104259.98.
    levels = Levels(Side.BUY, D("104327.98"), D("104327.98"), D("104259.98"),
                    (D("104479.31"),))

    progress, events = evaluate_signal(levels, ACTIVE, candle("2025-01-18 03:00"))

    assert events == [stop("104259.98")]
    assert progress == Progress(SignalStatus.CLOSED, 0, Outcome.STOP_LOSS)


def test_stop_closes_with_stop_loss_after_targets_were_hit() -> None:
    # Same levels as above but already one target in: the stop still decides the outcome.
    levels = Levels(Side.BUY, D("104327.98"), D("104327.98"), D("104259.98"),
                    (D("104479.31"), D("104500")))

    progress, events = evaluate_signal(levels, Progress(SignalStatus.ACTIVE, 1),
                                       candle("2025-01-18 03:00"))

    assert events == [stop("104259.98")]
    assert progress == Progress(SignalStatus.CLOSED, 1, Outcome.STOP_LOSS)


# Entry 102980 (high of 2025-01-17 13:00), stop 102745.68 (open of 13:00), target
# 103395.47. 14:00 opens at 102474.14, already below the stop.
GAPPED = Levels(Side.BUY, D("102980"), D("102980"), D("102745.68"), (D("103395.47"),))


def test_active_buy_gapping_through_the_stop_fills_at_the_open() -> None:
    progress, events = evaluate_signal(GAPPED, ACTIVE, candle("2025-01-17 14:00"))

    assert events == [stop("102474.14")]
    assert progress.outcome is Outcome.STOP_LOSS


def test_pending_buy_gapping_through_entry_and_stop_fills_both_at_the_open() -> None:
    progress, events = evaluate_signal(GAPPED, PENDING, candle("2025-01-17 14:00"))

    assert events == [activated("102474.14"), stop("102474.14")]
    assert progress == Progress(SignalStatus.CLOSED, 0, Outcome.STOP_LOSS)


@pytest.mark.parametrize("status", [SignalStatus.CLOSED, SignalStatus.CANCELLED,
                                    SignalStatus.EXPIRED])
def test_finished_signals_ignore_candles(status: SignalStatus) -> None:
    done = Progress(status)

    assert evaluate_signal(LONG, done, candle("2025-01-17 14:00")) == (done, [])


# --- SELL (mirror) -----------------------------------------------------------------


def test_pending_sell_waits_while_the_high_stays_below_the_entry() -> None:
    # 2025-01-20 15:00 high 107990 < entry 108125.
    assert evaluate_signal(SHORT, PENDING, candle("2025-01-20 15:00")) == (PENDING, [])


def test_sell_replay_from_publish_to_last_target() -> None:
    # 14:00 opens 107956.31 below the entry and rises to 108130.08: fills at
    # max(entry_low, open) = 108125; its low 107277.28 == target 1 is not credited.
    # 15:00 (high 107990, low 104480) reaches targets 1 and 2; 16:00 (high 107050,
    # low 103708) reaches target 3. No high reaches the stop 108550.
    progress, per_candle = run(SHORT, PENDING, "2025-01-20 14:00", "2025-01-20 15:00",
                               "2025-01-20 16:00")

    assert per_candle == [
        [activated("108125")],
        [target(1, "107277.28"), target(2, "104957.99")],
        [target(3, "103708")],
    ]
    assert progress == Progress(SignalStatus.CLOSED, 3, Outcome.TARGET)


def test_pending_sell_fills_at_the_open_when_the_candle_opens_inside_the_zone() -> None:
    # Zone 106918.83 (open of 2025-01-20 13:00) .. 107956.31 (close of 13:00); 14:00 opens
    # at 107956.31: max(entry_low, open) = the open. Stop 108550 is not reached.
    zone = Levels(Side.SELL, D("106918.83"), D("107956.31"), D("108550"), (D("105472.95"),))

    progress, events = evaluate_signal(zone, PENDING, candle("2025-01-20 14:00"))

    assert events == [activated("107956.31")]
    assert progress.status is SignalStatus.ACTIVE


def test_sell_stop_wins_when_one_candle_touches_stop_and_target() -> None:
    # Active SELL at 104957.99 (close of 2025-01-20 15:00), stop 106651.11 (low of 13:00),
    # target 104480 (low of 15:00). 16:00 (open 104957.99, high 107050, low 103708)
    # touches both: the stop fills at max(stop, open) = 106651.11.
    levels = Levels(Side.SELL, D("104957.99"), D("104957.99"), D("106651.11"), (D("104480"),))

    progress, events = evaluate_signal(levels, ACTIVE, candle("2025-01-20 16:00"))

    assert events == [stop("106651.11")]
    assert progress == Progress(SignalStatus.CLOSED, 0, Outcome.STOP_LOSS)


def test_sell_gapping_through_the_stop_fills_at_the_open() -> None:
    # Entry 106651.11 (low of 2025-01-20 13:00), stop 106918.83 (open of 13:00), target
    # 105472.95 (low of 12:00). 14:00 opens at 107956.31, above the stop.
    levels = Levels(Side.SELL, D("106651.11"), D("106651.11"), D("106918.83"),
                    (D("105472.95"),))

    assert evaluate_signal(levels, ACTIVE, candle("2025-01-20 14:00"))[1] == [
        stop("107956.31")]
    assert evaluate_signal(levels, PENDING, candle("2025-01-20 14:00"))[1] == [
        activated("107956.31"), stop("107956.31")]


# --- paper positions ---------------------------------------------------------------

AMOUNT = D("0.01")  # BTC
THIRD = D("0.003333333333")  # 0.01 / 3 rounded down to 1e-12
LAST_THIRD = D("0.003333333334")  # 0.01 - 2 × THIRD


def fill(reason: str, price: str, amount: Decimal, index: int = 0) -> PositionFill:
    return PositionFill(reason, D(price), amount, index)


def test_position_splits_evenly_and_the_last_target_takes_the_remainder() -> None:
    # LONG on 2025-01-17 15:00 (targets 1 and 2), then 16:00 (target 3).
    first = evaluate_position(LONG, AMOUNT, AMOUNT, 0, candle("2025-01-17 15:00"))
    remaining = AMOUNT - sum(f.amount for f in first)
    last = evaluate_position(LONG, AMOUNT, remaining, 2, candle("2025-01-17 16:00"))

    assert first == [fill("target 1", "103395.47", THIRD, 1),
                     fill("target 2", "104254.19", THIRD, 2)]
    assert last == [fill("target 3", "105000", LAST_THIRD, 3)]
    assert sum(f.amount for f in first + last) == AMOUNT


def test_position_closes_every_target_of_one_candle() -> None:
    # BUY at 100120.58 (close of 2025-01-17 00:00), stop 99950.77 (low of 00:00); targets
    # 100434.96 (high of 00:00), 101659.8 (close of 01:00), 101833.28 (high of 01:00).
    # 01:00 (low 100050, high 101833.28) reaches all three.
    levels = Levels(Side.BUY, D("100120.58"), D("100120.58"), D("99950.77"),
                    (D("100434.96"), D("101659.8"), D("101833.28")))

    fills = evaluate_position(levels, AMOUNT, AMOUNT, 0, candle("2025-01-17 01:00"))

    assert fills == [fill("target 1", "100434.96", THIRD, 1),
                     fill("target 2", "101659.8", THIRD, 2),
                     fill("target 3", "101833.28", LAST_THIRD, 3)]


def test_stop_closes_what_remains_after_a_target() -> None:
    # BUY at 104077.48 (close of 2025-01-17 23:00), stop 104065.25 (low of 23:00); targets
    # 104656.87 (high of 2025-01-18 00:00), 105000 (high of 2025-01-17 16:00), 105269.24
    # (high of 17:00). 2025-01-18 00:00 reaches target 1 (low 104075.34 stays above the
    # stop); 01:00 and 02:00 touch nothing (highs 104656.87, 104500; lows 104082.19,
    # 104259.98); 03:00 opens 104327.99 and falls to 103000.25: stop at 104065.25.
    levels = Levels(Side.BUY, D("104077.48"), D("104077.48"), D("104065.25"),
                    (D("104656.87"), D("105000"), D("105269.24")))
    remaining, hit, per_candle = AMOUNT, 0, []
    for utc in ("2025-01-18 00:00", "2025-01-18 01:00", "2025-01-18 02:00",
                "2025-01-18 03:00"):
        fills = evaluate_position(levels, AMOUNT, remaining, hit, candle(utc))
        remaining -= sum(f.amount for f in fills)
        hit = max([hit, *(f.target_index for f in fills)])
        per_candle.append(fills)

    assert per_candle == [[fill("target 1", "104656.87", THIRD, 1)], [], [],
                          [fill("stop-loss", "104065.25", AMOUNT - THIRD)]]
    assert remaining == 0


def test_sell_position_stop_fills_at_the_open_it_gapped_to() -> None:
    # SHORT's stop 108550 is not gapped, so use the gap of 2025-01-20 14:00 (see above).
    levels = Levels(Side.SELL, D("106651.11"), D("106651.11"), D("106918.83"),
                    (D("105472.95"),))

    assert evaluate_position(levels, AMOUNT, AMOUNT, 0, candle("2025-01-20 14:00")) == [
        fill("stop-loss", "107956.31", AMOUNT)]


def test_closed_position_gets_no_fills() -> None:
    assert evaluate_position(LONG, AMOUNT, D(0), 3, candle("2025-01-17 16:00")) == []


# --- PnL ---------------------------------------------------------------------------


@pytest.mark.parametrize(("side", "entry", "exit_price", "pnl"), [
    # BUY 0.01 at 102422.45: target 103395.47 gains 973.02 × 0.01; stop 101794.14 loses.
    (Side.BUY, "102422.45", "103395.47", "9.7302"),
    (Side.BUY, "102422.45", "101794.14", "-6.2831"),
    # SELL 0.01 at 108125: target 107277.28 gains 847.72 × 0.01; stop 108550 loses.
    (Side.SELL, "108125", "107277.28", "8.4772"),
    (Side.SELL, "108125", "108550", "-4.25"),
])
def test_realized_pnl_sign_follows_the_side(side: Side, entry: str, exit_price: str,
                                           pnl: str) -> None:
    assert realized_pnl(side, D(entry), D(exit_price), AMOUNT) == D(pnl)
