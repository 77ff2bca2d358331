"""Microseconds per message for ``parse_message`` over the test corpus.

Run: ``.venv/bin/python benchmarks/parse.py`` from the repository root.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from domain.parsing import parse_message  # noqa: E402
from tests.unit.parsing_corpus import CASES, NOT_SIGNALS, UPDATES  # noqa: E402

ROUNDS = 200


def main() -> None:
    texts = [c.text for c in CASES] + [u[0] for u in UPDATES] + NOT_SIGNALS
    start = time.perf_counter()
    for _ in range(ROUNDS):
        for text in texts:
            parse_message(text)
    elapsed = time.perf_counter() - start
    per_message = elapsed / (ROUNDS * len(texts)) * 1e6
    print(f"{len(texts)} messages x {ROUNDS} rounds: {per_message:.1f} µs per message")


if __name__ == "__main__":
    main()
