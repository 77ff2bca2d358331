"""Client order ids (``domain.fanout.client_order_id``) against each exchange's own rule."""

from __future__ import annotations

import re

import pytest

from domain.fanout import client_order_id

# Each exchange's documented rule for the client order id ccxt sends for ``clientOrderId``.
EXCHANGE_RULES = {
    # binance newClientOrderId (spot and USDⓈ-M): ^[\.A-Z\:/a-z0-9_-]{1,36}$
    "binance": re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$"),
    # bybit orderLinkId: up to 36 letters (either case), digits, '-' and '_'
    "bybit": re.compile(r"^[A-Za-z0-9_-]{1,36}$"),
    # okx clOrdId: 1-32 case-sensitive alphanumerics
    "okx": re.compile(r"^[A-Za-z0-9]{1,32}$"),
    # bitget clientOid: up to 40 of ^[0-9A-Za-z_:#\-+\s]*$
    "bitget": re.compile(r"^[0-9A-Za-z_:#\-+\s]{1,40}$"),
    # gate text (ccxt prefixes 't-'): at most 28 of 0-9, A-Z, a-z, '_', '-', '.'
    "gate": re.compile(r"^[0-9A-Za-z_.-]{1,28}$"),
}
LARGEST = 2**31 - 1  # copy_orders/signals/users ids are 32-bit integers
LEGS = ["entry", "close", "tp1", "tp10", "sl1", "sl99"]


@pytest.mark.parametrize("exchange", sorted(EXCHANGE_RULES))
@pytest.mark.parametrize("leg", LEGS)
def test_client_order_ids_fit_every_exchange(exchange: str, leg: str) -> None:
    for signal_id, user_id in ((1, 1), (LARGEST, LARGEST), (12, 345_678)):
        cid = client_order_id(signal_id, user_id, leg)
        assert EXCHANGE_RULES[exchange].match(cid), (exchange, cid)


def test_client_order_ids_are_plain_and_never_truncated() -> None:
    assert client_order_id(7, 42, "entry") == "sh7u42entry"
    assert client_order_id(LARGEST, LARGEST, "close") == "sh2147483647u2147483647close"
    assert len(client_order_id(LARGEST, LARGEST, "sl99")) == 27


def test_client_order_ids_are_unambiguous() -> None:
    # Concatenations that a separator-free format could confuse stay distinct.
    ids = {client_order_id(s, u, leg) for s, u in ((1, 23), (12, 3), (123, 1), (1, 231))
           for leg in ("tp1", "tp12", "sl1", "sl11", "entry")}
    assert len(ids) == 20
    cid = client_order_id(12, 3, "tp12")
    match = re.fullmatch(r"sh(\d+)u(\d+)([a-z]+\d*)", cid)
    assert match is not None and match.groups() == ("12", "3", "tp12")


@pytest.mark.parametrize(("signal_id", "user_id", "leg", "message"), [
    (0, 1, "entry", "must be positive"),
    (1, -5, "entry", "must be positive"),
    (1, 1, "stop", "leg must be entry, close, tp<n> or sl<n>"),
    (1, 1, "tp0", "leg must be"),
    (1, 1, "sl-1", "leg must be"),
    (1, 1, "", "leg must be"),
    (10**12, 10**12, "entry", "over 32"),
])
def test_bad_client_order_id_input_is_refused(signal_id: int, user_id: int, leg: str,
                                              message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        client_order_id(signal_id, user_id, leg)
