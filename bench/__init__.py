"""``make bench``: the store's hot paths measured against minimal hand-written probes."""
