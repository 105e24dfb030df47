"""Minimal hand-written Django views doing the core work of each hot path, on Django's stock
middleware: what the store is measured against."""
