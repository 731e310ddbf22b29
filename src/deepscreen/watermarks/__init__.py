"""Invisible watermarks that generators embed, decoded from pixels (no I/O)."""
