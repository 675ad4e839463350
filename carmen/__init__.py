"""Composition root: the `carmen` command line, the demo federation and the citizen simulator."""
