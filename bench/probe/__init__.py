"""Minimal hand-written Django views doing the core work of each hot path, served by the store's
own ASGI application and middleware: what the store is measured against."""
