"""A local banq: OAuth token endpoint, Open API paths, the widget script and banq's widget page,
hosted payment page, QR approval page, webhook deliveries with retries, recurring-payment
installments, fault injection and a dashboard; optionally kept in a state file across restarts.

It stands for banq and imports nothing of the store (a package of its own, outside the apps;
import contracts in pyproject.toml). Run it with `python -m banq_emulator`. The shapes it speaks
are the ones the store assumes (docs/banq-api.md), not banq's own: banq's full API reference is
not public.
"""
