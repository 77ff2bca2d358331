"""Built-in strategies: pure functions from closed candles to signal drafts (no I/O)."""

from domain.strategies.rsi import RsiParams, rsi_signal

__all__ = ["RsiParams", "rsi_signal"]
