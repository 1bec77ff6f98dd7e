"""The compact Aurora scheduler (docs/architecture.md)."""
