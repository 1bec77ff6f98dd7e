"""Compact Aurora scheduler."""
