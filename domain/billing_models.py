"""Tortoise models of the billing feature (registered in signalhub.db.MODEL_MODULES)."""

from __future__ import annotations
