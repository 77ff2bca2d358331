"""Local stand-ins for external services (Telegram, ...), served on loopback.

Plain modules: tests and benchmarks import them alike; nothing here imports pytest.
"""
