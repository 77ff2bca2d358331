"""Tortoise models of the linking feature (registered in signalhub.db.MODEL_MODULES)."""

from __future__ import annotations
