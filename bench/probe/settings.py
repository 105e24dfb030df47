"""The probe server: the store's settings as they are (its middleware, database, apps, logging and
e-mail backend) with the probes' URLs. It is served by the store's own ASGI application
(``bench.procs.PROBE_APP``: the store's edge and ``StoreASGIHandler``), so a probe's figures
differ from the store's by the path's own work alone."""

from storefront.settings import *  # noqa: F403

ROOT_URLCONF = "bench.probe.urls"
