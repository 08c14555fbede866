"""Entrypoints: the local engine's command line."""
