"""Tortoise models of the discord feature (registered in signalhub.db.MODEL_MODULES)."""

from __future__ import annotations
