"""Tortoise models of the exchange feature (registered in signalhub.db.MODEL_MODULES)."""

from __future__ import annotations
