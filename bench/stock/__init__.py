"""The stock server: Django's stock ASGI handler and stock middleware (what ``startproject``
writes) with one bare JSON view. Only the framework floor is measured on it: the store's handler
and middleware against Django's own. The path probes run on the store's stack (bench/probe/)."""
