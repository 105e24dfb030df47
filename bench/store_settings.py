"""The store as `make run` sets it up, plus one bare JSON view under the project's own middleware
(``/_bench/bare``), so that the framework floor is measured on both stacks. Only `make bench`
uses this; the store itself has no such URL."""

from storefront.settings import *  # noqa: F403

ROOT_URLCONF = "bench.store_urls"
