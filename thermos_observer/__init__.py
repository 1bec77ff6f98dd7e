"""Thermos observer: a read-only web UI and JSON API of the tasks on one node (port 1338)."""
