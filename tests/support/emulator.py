"""pytest fixtures: emulator (see the module's owner issue)."""
