"""A local banq: OAuth token endpoint, Open API paths, the widget script and banq's widget page,
hosted payment page, QR approval page, webhook deliveries with retries, recurring-payment
installments, fault injection and a dashboard; optionally kept in a state file across restarts.

It stands for banq and imports nothing of the store. Run it with `python -m banq.emulator`.
The shapes it speaks are the canonical ones of ../shared/banq-api.md section 5, not banq's own.
"""
