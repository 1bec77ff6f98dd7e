"""Quorum-replicated log (see docs/replicated-log.md)."""
