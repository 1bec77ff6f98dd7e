"""The compact Aurora scheduler (see DESIGN.md §2)."""
