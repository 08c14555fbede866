"""Realtime's domain: window results as rows, and how the catalogue's metrics become those rows."""
