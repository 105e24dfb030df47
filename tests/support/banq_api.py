"""pytest fixtures: banq_api (see the module's owner issue)."""
