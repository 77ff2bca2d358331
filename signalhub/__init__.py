"""Composition root of SignalHub: settings, wiring of adapters, and the CLI."""
