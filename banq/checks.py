"""System checks for banq configuration (issue 3 fills this in)."""
