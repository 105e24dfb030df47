"""pytest fixtures: live_store (see the module's owner issue)."""
