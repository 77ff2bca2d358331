"""Adapters behind the domain ports: Redis, Telegram, prices, arq."""
