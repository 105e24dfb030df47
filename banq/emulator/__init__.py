"""A local banq: OAuth token endpoint, Open API paths, widget script, hosted payment page, QR
approval page, webhook deliveries with retries, fault injection and a dashboard.

It stands for banq and imports nothing of the store. Run it with `python -m banq.emulator`.
The shapes it speaks are the canonical ones of ../shared/banq-api.md section 5, not banq's own.
"""
