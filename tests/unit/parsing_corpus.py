"""Real-style channel posts with their expected parse, for ``test_parsing``.

Every price is a real candle value; the comment above each case names the file and the
candle (UTC open time, column) it comes from. BTC_USDT, ETH_USDT, SOL_USDT, XRP_USDT and
BNB_USDT are /work/shared/data/<PAIR>-1h.csv; ADA_BTC and LTC_BTC are
/work/shared/data/freqtrade/<PAIR>-5m.csv. Satoshi cases write the same prices as whole
satoshis (0.00005267 BTC → 5267).
"""

from __future__ import annotations

from typing import NamedTuple


class Case(NamedTuple):
    text: str
    symbol: str
    side: str
    entry: tuple[str, ...]
    targets: tuple[str, ...]
    stop: str | None
    leverage: int | None = None


CASES: list[Case] = [
    # BTC_USDT 2025-01-16 22:00 L 99377 (stop); 2025-01-17 00:00 L 99950.77, C 100120.58,
    # H 100434.96; 06:00 H 101586.96; 12:00 H 102959.66
    Case(
        "⚡⚡ #BTC/USDT ⚡⚡\nSignal Type: Regular (Long)\nLeverage: Cross (10.0X)\n"
        "Entry Targets:\n1) 99950.77\n2) 100120.58\nTake-Profit Targets:\n1) 100434.96\n"
        "2) 101586.96\n3) 102959.66\nStop Targets:\n1) 99377",
        "BTC/USDT", "BUY", ("99950.77", "100120.58"),
        ("100434.96", "101586.96", "102959.66"), "99377", 10,
    ),
    # BTC_USDT 2024-10-25 16:00 C 67670, H 67890.52, L 67355; 2024-10-26 04:00 L 66784.26;
    # 2024-10-25 22:00 L 66618.01; 2024-10-24 21:00 H 68850
    Case(
        "🔴 #BTCUSDT SHORT\n\nEntry Zone: 67670 - 67890.52\n\nTP1: 67355\nTP2: 66784.26\n"
        "TP3: 66618.01\n\nSL: 68850\nLeverage: Isolated (20.0X)",
        "BTC/USDT", "SELL", ("67670", "67890.52"), ("67355", "66784.26", "66618.01"),
        "68850", 20,
    ),
    # BTC_USDT 2025-12-16 08:00 O 86021.51, H 86380; 14:00 H 87763.92; 20:00 H 87836.47;
    # 2025-12-15 18:00 L 85146.64
    Case(
        "$BTC long 🚀\nBuy: 86021.51\nTargets: 86380 / 87763.92 / 87836.47\nStop: 85146.64",
        "BTC/USDT", "BUY", ("86021.51",), ("86380", "87763.92", "87836.47"), "85146.64",
    ),
    # BTC_USDT 2025-04-10 08:00 C 81549.99; 14:00 L 80634.26; 20:00 L 79570.12;
    # 2025-04-09 21:00 H 83588
    Case(
        "BTCUSDT SHORT 81549.99 TP 80634.26 TP 79570.12 SL 83588 Lev 5x",
        "BTC/USDT", "SELL", ("81549.99",), ("80634.26", "79570.12"), "83588", 5,
    ),
    # BTC_USDT 2025-09-24 00:00 L 111816.86, C 112230.72; 06:00 H 112779.37;
    # 12:00 H 113097.99; 2025-09-23 20:00 L 111458.73
    Case(
        "📈 BTC/USDT\nEntry zone 111816.86 - 112230.72\nTP1 112779.37 (50%)\nTP2 113097.99 (50%)"
        "\nSL 111458.73",
        "BTC/USDT", "BUY", ("111816.86", "112230.72"), ("112779.37", "113097.99"),
        "111458.73",
    ),
    # BTC_USDT 2025-07-02 16:00 O 108737.75, H 109646.45; 2025-07-02 01:00 L 105100.19
    Case(
        "#BTC\nEnter above 108737.75\nTarget 109646.45\nStop loss 105100.19\nLeverage: Cross 3x",
        "BTC/USDT", "BUY", ("108737.75",), ("109646.45",), "105100.19", 3,
    ),
    # BTC_USDT 2025-01-17 00:00 L 99950.77, H 100434.96; 06:00 H 101586.96;
    # 2025-01-16 15:00 L 97335.13 — no side written: inferred from the prices
    Case(
        "BTC/USDT\nEntry: 99950.77\nTargets: 100434.96, 101586.96\nSL: 97335.13",
        "BTC/USDT", "BUY", ("99950.77",), ("100434.96", "101586.96"), "97335.13",
    ),
    # BTC_USDT 2024-10-25 16:00 C 67670, L 67355; 2024-10-25 22:00 L 66618.01 — no stop given
    Case(
        "#BTC/USDT SHORT\nEntry 67670\nTP1 67355\nTP2 66618.01\nStop: will update later",
        "BTC/USDT", "SELL", ("67670",), ("67355", "66618.01"), None,
    ),
    # BTC_USDT 2025-12-16 08:00 L 85930.97, C 86281.18; 14:00 H 87763.92;
    # 2025-12-15 18:00 L 85146.64; thousands separators
    Case(
        "🟢 LONG $BTC\nEntry: 85,930.97 - 86,281.18\nTarget: 87,763.92\nSL: 85,146.64\n10x",
        "BTC/USDT", "BUY", ("85930.97", "86281.18"), ("87763.92",), "85146.64", 10,
    ),
    # ETH_USDT 2025-01-17 00:00 L 3307.5, C 3313.68, H 3317.86; 06:00 H 3376;
    # 12:00 H 3426.2; 2025-01-16 14:00 L 3265.44
    Case(
        "#ETH/USDT LONG\nBuy zone: 3307.5 - 3313.68\nTargets: 1) 3317.86 2) 3376 3) 3426.2\n"
        "Stop: 3265.44",
        "ETH/USDT", "BUY", ("3307.5", "3313.68"), ("3317.86", "3376", "3426.2"), "3265.44",
    ),
    # ETH_USDT 2024-10-25 16:00 C 2531.63, L 2511.65; 22:00 L 2463.2; 2024-10-26 04:00
    # L 2451.4; 2024-10-25 14:00 H 2566.33
    Case(
        "ETHUSDT 📉 SHORT\nEntry: 2531.63\nTP1: 2511.65 ✅\nTP2: 2463.2\nTP3: 2451.4\n"
        "SL: 2566.33\nLev 15x",
        "ETH/USDT", "SELL", ("2531.63",), ("2511.65", "2463.2", "2451.4"), "2566.33", 15,
    ),
    # ETH_USDT 2025-04-10 08:00 C 1592.71, H 1598.87, L 1583.4; 14:00 L 1556.53;
    # 20:00 L 1514.16; 2025-04-09 21:00 H 1689
    Case(
        "SELL #ETH\nEntry 1592.71-1598.87\nTake profit 1583.4 - 1556.53 - 1514.16\n"
        "Stop loss 1689",
        "ETH/USDT", "SELL", ("1592.71", "1598.87"), ("1583.4", "1556.53", "1514.16"), "1689",
    ),
    # ETH_USDT 2025-07-02 16:00 C 2560.69, H 2563.81; 22:00 H 2619.28;
    # 2025-07-02 01:00 L 2373
    Case(
        "ETH/USDT Long 2560.69\nTP 2563.81, 2619.28\nSL 2373",
        "ETH/USDT", "BUY", ("2560.69",), ("2563.81", "2619.28"), "2373",
    ),
    # ETH_USDT 2025-12-16 08:00 L 2920.02, C 2931.45; 14:00 H 2960.16; 20:00 H 2963.33;
    # 2025-12-16 04:00 L 2876
    Case(
        "💎 ETH 💎\n\nEntries: 2931.45, 2920.02\nTargets 2960.16 2963.33\nInvalidation 2876",
        "ETH/USDT", "BUY", ("2920.02", "2931.45"), ("2960.16", "2963.33"), "2876",
    ),
    # ETH_USDT 2025-09-24 00:00 C 4174.45; 06:00 H 4183.71; 12:00 H 4187.25;
    # 2025-09-23 03:00 L 4114.39
    Case(
        "Coin: #ETH/USDT\nDirection: Long\nEntry price: 4174.45\n"
        "Take-Profit:\n1️⃣ 4183.71\n2️⃣ 4187.25\nStop-Loss: 4114.39\nLeverage: 25x",
        "ETH/USDT", "BUY", ("4174.45",), ("4183.71", "4187.25"), "4114.39", 25,
    ),
    # ETH_USDT 2025-01-17 00:00 C 3313.68; 06:00 H 3376 — no stop-loss given
    Case(
        "#ETHUSDT LONG\nEntry: 3313.68\nTarget: 3376",
        "ETH/USDT", "BUY", ("3313.68",), ("3376",), None,
    ),
    # SOL_USDT 2025-01-17 00:00 L 209.84, C 210.9; 06:00 H 213.62; 12:00 H 220.43;
    # 2025-01-16 09:00 L 198.47
    Case(
        "$SOL LONG 🔥\nEntry: 209.84 - 210.9\nTP1: 213.62\nTP2: 220.43\nSL: 198.47\n"
        "Leverage: Cross 10x",
        "SOL/USDT", "BUY", ("209.84", "210.9"), ("213.62", "220.43"), "198.47", 10,
    ),
    # SOL_USDT 2024-10-25 16:00 C 172.02, L 170.73; 2024-10-26 04:00 L 165.3;
    # 2024-10-25 22:00 L 163.57; 2024-10-24 22:00 H 179.3
    Case(
        "#SOLUSDT Short\nSell: 172.02\nTargets: 170.73, 165.3, 163.57\nStop: 179.3",
        "SOL/USDT", "SELL", ("172.02",), ("170.73", "165.3", "163.57"), "179.3",
    ),
    # SOL_USDT 2025-04-10 08:00 C 114.61; 14:00 L 112.43; 20:00 L 111.27;
    # 2025-04-09 18:00 H 121
    Case(
        "SOL/USDT\nShort @ 114.61\nT1 112.43\nT2 111.27\nSL 121",
        "SOL/USDT", "SELL", ("114.61",), ("112.43", "111.27"), "121",
    ),
    # SOL_USDT 2025-12-16 08:00 C 126, H 126.61; 14:00 H 129.8; 2025-12-15 18:00 L 123.63
    Case(
        "#SOL/USDT\nEntry: 126\nTargets: 126.61 - 129.8\nStop Loss: 123.63",
        "SOL/USDT", "BUY", ("126",), ("126.61", "129.8"), "123.63",
    ),
    # SOL_USDT 2025-07-02 16:00 C 153.13; 2025-07-03 04:00 H 154.04; 2025-07-02 22:00
    # H 154.47; 2025-07-01 20:00 L 144.85
    Case(
        "🚨 SIGNAL ALERT 🚨\n\nPair: SOL/USDT\nSide: BUY\nEntry: 153.13\n"
        "TP 1: 154.04\nTP 2: 154.47\nSL: 144.85",
        "SOL/USDT", "BUY", ("153.13",), ("154.04", "154.47"), "144.85",
    ),
    # SOL_USDT 2025-09-24 00:00 C 213.45, H 215.61; 12:00 L 211.79; 06:00 L 208.62;
    # 2025-09-23 16:00 H 221.71
    Case(
        "#SOL SHORT\nEntry Zone: 213.45 - 215.61\nTake-Profit Targets:\n1) 211.79\n2) 208.62\n"
        "Stop Targets:\n1) 221.71\nLeverage: Isolated (5.0X)",
        "SOL/USDT", "SELL", ("213.45", "215.61"), ("211.79", "208.62"), "221.71", 5,
    ),
    # XRP_USDT 2025-01-17 00:00 L 3.2437, C 3.2747, H 3.2924; 06:00 H 3.3433;
    # 2025-01-16 16:00 H 3.4; 2025-01-16 00:00 L 2.9228
    Case(
        "#XRP/USDT 🟢 LONG\nEntry: 3.2437 - 3.2747\nTargets: 3.2924 - 3.3433 - 3.4\n"
        "Stop: 2.9228",
        "XRP/USDT", "BUY", ("3.2437", "3.2747"), ("3.2924", "3.3433", "3.4"), "2.9228",
    ),
    # XRP_USDT 2024-10-25 16:00 C 0.5224, L 0.5196; 22:00 L 0.5117; 2024-10-24 21:00
    # H 0.5338
    Case(
        "XRPUSDT SHORT\nEntry: 0.5224\nTP1 0.5196\nTP2 0.5117\nSL 0.5338\nLev 20x",
        "XRP/USDT", "SELL", ("0.5224",), ("0.5196", "0.5117"), "0.5338", 20,
    ),
    # XRP_USDT 2025-12-16 08:00 C 1.877, H 1.886; 14:00 H 1.935; 2025-12-16 04:00 L 1.852
    Case(
        "$XRP\nBuy 1.877\nSell 1.886 1.935\nStop 1.852",
        "XRP/USDT", "BUY", ("1.877",), ("1.886", "1.935"), "1.852",
    ),
    # XRP_USDT 2025-09-24 00:00 C 2.8282, H 2.8423; 06:00 H 2.8689; 12:00 H 2.8875;
    # 2025-09-23 03:00 L 2.7991
    Case(
        "XRP/USDT 4H\nLONG\nEntry: 2.8282\nTargets: 2.8423 | 2.8689 | 2.8875\nSL: 2.7991\n"
        "Risk: 2% of capital",
        "XRP/USDT", "BUY", ("2.8282",), ("2.8423", "2.8689", "2.8875"), "2.7991",
    ),
    # XRP_USDT 2025-04-10 08:00 C 1.9893; 20:00 L 1.9621; 2025-04-09 21:00 H 2.0897
    Case(
        "#XRP\nEntry 1.9893\nTP 1.9621\nSL 2.0897",
        "XRP/USDT", "SELL", ("1.9893",), ("1.9621",), "2.0897",
    ),
    # BNB_USDT 2025-01-17 00:00 O 708.1, C 711; 06:00 H 718.46; 12:00 H 728.74;
    # 2025-01-16 14:00 L 700.5
    Case(
        "#BNB/USDT LONG\nEntry: 708.1 - 711\nTP1 718.46 - 40%\nTP2 728.74 - 60%\nSL 700.5\n"
        "Leverage 10x",
        "BNB/USDT", "BUY", ("708.1", "711"), ("718.46", "728.74"), "700.5", 10,
    ),
    # BNB_USDT 2024-10-25 16:00 C 589.8; 22:00 L 581; 2024-10-26 04:00 L 578;
    # 2024-10-24 21:00 H 598
    Case(
        "BNBUSDT SHORT\nEntry 589.8\nTargets: 581, 578\nSL: 598",
        "BNB/USDT", "SELL", ("589.8",), ("581", "578"), "598",
    ),
    # BNB_USDT 2025-12-16 08:00 C 858.34; 14:00 H 874.39; 2025-12-15 18:00 L 840.75
    Case(
        "Long #BNB at 858.34, target 874.39, stop 840.75",
        "BNB/USDT", "BUY", ("858.34",), ("874.39",), "840.75",
    ),
    # BNB_USDT 2025-09-24 00:00 L 1013.51, C 1017.31, H 1024.36; 12:00 H 1019;
    # 2025-09-23 03:00 L 962.38
    Case(
        "#BNB/USDT\n📥 Entry Zone: 1013.51 - 1017.31\n🎯 Targets: 1019, 1024.36\n"
        "🛑 SL: 962.38\n⚖️ Lev 3x",
        "BNB/USDT", "BUY", ("1013.51", "1017.31"), ("1019", "1024.36"), "962.38", 3,
    ),
    # BNB_USDT 2025-04-10 08:00 C 578.19; 14:00 L 573.43; 2025-04-09 18:00 H 585.97
    Case(
        "BNB/USDT Short\nEntry: 578.19\nTarget 1: 573.43\nStop-loss: 585.97",
        "BNB/USDT", "SELL", ("578.19",), ("573.43",), "585.97",
    ),
    # ADA_BTC 2018-01-22 11:55 L 0.00005267, O 0.00005292, H 0.00005293;
    # 11:10 H 0.00005399; 10:10 L 0.00005200 — written in satoshis
    Case(
        "#ADA/BTC\nBuy 5267-5292\nSell 5293 - 5399\nStop 5200",
        "ADA/BTC", "BUY", ("0.00005267", "0.00005292"), ("0.00005293", "0.00005399"),
        "0.00005200",
    ),
    # ADA_BTC 2018-01-11 22:35 L 0.00005065, O 0.00005105, H 0.00005189; 23:35
    # H 0.00005193; 21:00 H 0.00005359; 23:05 L 0.00004973 — satoshis
    Case(
        "$ADA (BTC pair) ADABTC\nBuy zone: 5065 - 5105\nTargets: 5189 5193 5359\nSL: 4973",
        "ADA/BTC", "BUY", ("0.00005065", "0.00005105"),
        ("0.00005189", "0.00005193", "0.00005359"), "0.00004973",
    ),
    # ADA_BTC 2018-01-19 00:35 C 0.00005776, O 0.00005799, H 0.00005800; 01:05
    # H 0.00005823; 2018-01-18 22:45 H 0.00005867; 22:35 L 0.00005720 — satoshis
    Case(
        "ADA/BTC LONG\nEntry: 5776 - 5799\nTP1: 5800\nTP2: 5823\nTP3: 5867\nSL: 5720",
        "ADA/BTC", "BUY", ("0.00005776", "0.00005799"),
        ("0.00005800", "0.00005823", "0.00005867"), "0.00005720",
    ),
    # ADA_BTC 2018-01-25 23:15 L 0.00005717, H 0.00005739; 23:00 H 0.00005730;
    # 21:15 L 0.00005645 — written in full
    Case(
        "#ADABTC\nEntry: 0.00005717\nTargets: 0.00005730, 0.00005739\nStop: 0.00005645",
        "ADA/BTC", "BUY", ("0.00005717",), ("0.00005730", "0.00005739"), "0.00005645",
    ),
    # ADA_BTC 2018-01-15 09:55 O 0.00006044; 11:05 L 0.00005970; 08:30 L 0.00005931;
    # 10:35 L 0.00005917; 07:55 H 0.00006149 — short in satoshis
    Case(
        "#ADA/BTC SHORT\nEntry: 6044\nTargets: 5970, 5931, 5917\nStop: 6149",
        "ADA/BTC", "SELL", ("0.00006044",), ("0.00005970", "0.00005931", "0.00005917"),
        "0.00006149",
    ),
    # LTC_BTC 2018-01-22 08:35 L 0.01645277, C 0.01646061, H 0.01647163; 06:35
    # H 0.01655960; 08:00 L 0.01635151
    Case(
        "#LTC/BTC\nBuy: 0.01645277 - 0.01646061\nTP: 0.01647163 / 0.01655960\n"
        "SL: 0.01635151",
        "LTC/BTC", "BUY", ("0.01645277", "0.01646061"), ("0.01647163", "0.01655960"),
        "0.01635151",
    ),
    # LTC_BTC 2018-01-25 19:55 C 0.01605828; 20:25 L 0.01595101; 20:55 L 0.01589568;
    # 18:00 H 0.01623278
    Case(
        "LTCBTC SHORT\nEntry 0.01605828\nTP1 0.01595101\nTP2 0.01589568\nSL 0.01623278",
        "LTC/BTC", "SELL", ("0.01605828",), ("0.01595101", "0.01589568"), "0.01623278",
    ),
    # LTC_BTC 2018-01-18 21:15 O 0.01708190, H 0.01708200; 19:35 H 0.01720020;
    # 21:00 L 0.01697002 — no side word: inferred
    Case(
        "LTC/BTC\nEntry: 0.01708190\nTargets: 0.01708200, 0.01720020\nStop: 0.01697002",
        "LTC/BTC", "BUY", ("0.01708190",), ("0.01708200", "0.01720020"), "0.01697002",
    ),
    # ETH_USDT 2025-04-10 08:00 C 1592.71; 14:00 L 1556.53; 2025-04-09 21:00 H 1689 —
    # side only from the prices, one line
    Case(
        "ETH/USDT entry 1592.71 target 1556.53 stop 1689",
        "ETH/USDT", "SELL", ("1592.71",), ("1556.53",), "1689",
    ),
    # BTC_USDT 2025-09-24 00:00 C 112230.72; 06:00 H 112779.37; 12:00 H 113097.99;
    # 2025-09-23 20:00 L 111458.73 — several entries, hashtag decorations
    Case(
        "✅ #BTC #Futures #Signal\nLONG\nEntry 1: 112230.72\nEntry 2: 111816.86\n"
        "TP1: 112779.37\nTP2: 113097.99\nSL: 111458.73\nLeverage: 50x",
        "BTC/USDT:USDT", "BUY", ("111816.86", "112230.72"), ("112779.37", "113097.99"),
        "111458.73", 50,
    ),
    # SOL_USDT 2025-01-17 00:00 C 210.9; 12:00 H 220.43; 2025-01-16 09:00 L 198.47
    Case(
        "SOL looks ready 👀\nLong from 210.9\nTP 220.43\nSL 198.47",
        "SOL/USDT", "BUY", ("210.9",), ("220.43",), "198.47",
    ),
    # BTC_USDT 2025-07-02 16:00 C 109413.02, H 109646.45; 2025-07-02 01:00 L 105100.19
    Case(
        "Scalp BTC/USDT 15m\nBUY 109413.02\nTP 109646.45\nSL 105100.19",
        "BTC/USDT", "BUY", ("109413.02",), ("109646.45",), "105100.19",
    ),
    # SOL_USDT 2025-12-16 08:00 C 126, H 126.61; 14:00 H 129.8; 2025-12-15 18:00 L 123.63 —
    # target numbers written without a separator
    Case(
        "#SOL/USDT LONG\nEntry 126\nTarget 1 126.61\nTarget 2 129.8\nSL 123.63",
        "SOL/USDT", "BUY", ("126",), ("126.61", "129.8"), "123.63",
    ),
    # BTC_USDT 2025-01-17 00:00 H 100434.96; 2025-01-16 22:00 L 99377 — market entry
    Case(
        "#BTC/USDT LONG\nEntry: CMP\nTP: 100434.96\nSL: 99377",
        "BTC/USDT", "BUY", (), ("100434.96",), "99377",
    ),
    # ETH_USDT 2024-10-25 16:00 C 2531.63, L 2511.65; 22:00 L 2463.2 — stop as a percentage
    Case(
        "#ETH/USDT SHORT\nEntry: 2531.63\nTargets: 2511.65, 2463.2\nStop: 5%",
        "ETH/USDT", "SELL", ("2531.63",), ("2511.65", "2463.2"), None,
    ),
    # ETH_USDT 2025-07-02 16:00 C 2560.69; 22:00 H 2619.28; 2025-07-02 01:00 L 2373
    Case(
        "eth/usdt long\nentry 2560.69\ntp 2619.28\nsl 2373",
        "ETH/USDT", "BUY", ("2560.69",), ("2619.28",), "2373",
    ),
    # BTC_USDT 2025-12-16 08:00 O 86021.51, H 86380; 2025-12-15 18:00 L 85146.64
    Case(
        "LONG BTC 🚀\nEntry 86021.51\nTP 86380\nSL 85146.64\nLeverage: 5x-10x",
        "BTC/USDT", "BUY", ("86021.51",), ("86380",), "85146.64", 5,
    ),
    # BTC_USDT 2025-01-17 00:00 L 99950.77, C 100120.58, H 100434.96; 2025-01-16 22:00
    # L 99377
    Case(
        "Buy BTC between 99950.77 and 100120.58, target 100434.96, stop 99377",
        "BTC/USDT", "BUY", ("99950.77", "100120.58"), ("100434.96",), "99377",
    ),
    # SOL_USDT 2025-01-17 00:00 L 209.84; 06:00 H 213.62; 12:00 H 220.43;
    # 2025-01-16 09:00 L 198.47 — dollar signs, percentages per target on one line
    Case(
        "$SOL\nLong entry: $209.84\nTargets: $213.62 (30%) $220.43 (70%)\nSL: $198.47",
        "SOL/USDT", "BUY", ("209.84",), ("213.62", "220.43"), "198.47",
    ),
    # BNB_USDT 2025-04-10 08:00 C 578.19; 14:00 L 573.43; 2025-04-09 18:00 H 585.97
    Case(
        "📅 10 Apr 2025 08:00 UTC\nShort BNBUSDT.P\nEntry: 578.19\nTP: 573.43\nSL: 585.97",
        "BNB/USDT:USDT", "SELL", ("578.19",), ("573.43",), "585.97",
    ),
    # ADA_BTC 2018-01-22 11:55 L 0.00005267, O 0.00005292; 11:10 H 0.00005399;
    # 10:10 L 0.00005200
    Case(
        "ADA/BTC 💎 spot\nBuy: 5267 - 5292 sats\nTarget: 5399 sats\nStop: 5200 sats",
        "ADA/BTC", "BUY", ("0.00005267", "0.00005292"), ("0.00005399",), "0.00005200",
    ),
    # XRP_USDT 2025-01-17 00:00 C 3.2747; 06:00 H 3.3433; 2025-01-16 00:00 L 2.9228 —
    # Cornix-style stop with a list index and emoji keycaps
    Case(
        "⚡️⚡️ #XRP/USDT ⚡️⚡️\nExchanges: Binance Futures\nSignal Type: Regular (Long)\n"
        "Leverage: Isolated (7.0X)\n\nEntry Targets:\n1️⃣ 3.2747\n\nTake-Profit Targets:\n"
        "1️⃣ 3.3433\n\nStop Targets:\n1️⃣ 2.9228",
        "XRP/USDT:USDT", "BUY", ("3.2747",), ("3.3433",), "2.9228", 7,
    ),
    # BTC_USDT 2024-10-25 16:00 C 67670; 2024-10-25 07:00 L 67250; 2024-10-24 21:00 H 68850
    # — prices in thousands
    Case(
        "Short $BTC 67.67k, TP 67.25k, SL 68.85k",
        "BTC/USDT", "SELL", ("67670",), ("67250",), "68850",
    ),
    # SOL_USDT 2025-04-10 08:00 C 114.61; 14:00 L 112.43; 20:00 L 111.27;
    # 2025-04-09 18:00 H 121 — ticker on a labelled line
    Case(
        "New signal 📢\n\nCoin: SOL\nPosition: SHORT\nEntry: 114.61\nTP1: 112.43 TP2: 111.27\n"
        "SL: 121",
        "SOL/USDT", "SELL", ("114.61",), ("112.43", "111.27"), "121",
    ),
    # ETH_USDT 2025-09-24 00:00 C 4174.45, H 4194.37; 06:00 H 4183.71; 2025-09-23 20:00
    # L 4139.53 — perpetual, a share of the position per target
    Case(
        "ETH/USDT Perpetual LONG\nEntry: 4174.45\nTP1: 4183.71 (50%)\nTP2: 4194.37 (50%)\n"
        "SL: 4139.53\nLeverage: 10x",
        "ETH/USDT:USDT", "BUY", ("4174.45",), ("4183.71", "4194.37"), "4139.53", 10,
    ),
    # SOL_USDT 2025-09-24 00:00 C 213.45, H 215.61; 06:00 C 210.96, L 208.62 — the entry
    # given as the current market price
    Case(
        "#SOLUSDT PERP SHORT\nCMP: 213.45\nTP1 210.96\nTP2 208.62\nSL 215.61",
        "SOL/USDT:USDT", "SELL", ("213.45",), ("210.96", "208.62"), "215.61",
    ),
    # XRP_USDT 2025-04-10 08:00 C 1.9893; 14:00 L 1.981; 20:00 L 1.9621; 2025-04-09 21:00
    # H 2.0897 — futures named in the text
    Case(
        "XRP Futures 📉 Short\nEntry: 1.9893\nTargets: 1.981 - 1.9621\nStop: 2.0897\nLev 20x",
        "XRP/USDT:USDT", "SELL", ("1.9893",), ("1.981", "1.9621"), "2.0897", 20,
    ),
]

UPDATES: list[tuple[str, str, int | None]] = [
    ("#BTC/USDT Take-Profit target 2 ✅\nProfit: 4.5%\nPeriod: 6 Hours", "TARGET_HIT", 2),
    ("ETHUSDT TP1 hit 🎯", "TARGET_HIT", 1),
    ("✅ Target 3 reached on #SOL", "TARGET_HIT", 3),
    ("All targets achieved 🔥🔥 #XRP", "TARGET_HIT", None),
    ("#BNB/USDT Cancelled ❌", "CANCELLED", None),
    ("Signal cancelled, do not enter", "CANCELLED", None),
    ("Closed at stoploss 😔", "STOP_HIT", None),
    ("#ADA/BTC Stop loss hit", "STOP_HIT", None),
    ("Stopped out on ETH, next one", "STOP_HIT", None),
    ("#BTC Close now in profit 💰", "CLOSED", None),
    ("Position closed manually", "CLOSED", None),
    ("#ETH/USDT closed 🔒", "CLOSED", None),
]

NOT_SIGNALS: list[str] = [
    "Good morning traders ☀️ Markets are quiet today.",
    "BTC looking strong, could test the highs soon 🚀",
    "Join our VIP channel: t.me/example — 50% off this week!",
    "",
    "Weekly results: 12 wins, 3 losses, +38.5%",
    "What do you think about ETH? 🤔",
    "Markets closed early for the holiday, see you Monday",
    # BTC_USDT 2025-01-17 00:00 H 100434.96; 12:00 H 102959.66; 2025-01-16 15:00 L 97335.13
    "BTC broke 100434.96! Next target 102959.66, support 97335.13",
    "Set a stop loss on every trade, always",
]

# (post, new stop or None for "to the entry"); prices are real candle values:
# BTC_USDT 2025-01-17 00:00 L 99950.77; SOL_USDT 2025-12-15 18:00 L 123.63;
# ADA_BTC 2018-01-22 10:10 L 0.00005200 (written as 5200 satoshis).
STOP_MOVES: list[tuple[str, str | None]] = [
    ("Stop loss moved to entry", None),
    ("#BTC/USDT TP1 ✅ Move SL to entry", None),
    ("Move stop to breakeven on ETH 🛡", None),
    ("SL moved to 99950.77", "99950.77"),
    ("#SOL SL -> 123.63", "123.63"),
    ("#ADA/BTC stop loss has been moved to 5200", "0.00005200"),
]
