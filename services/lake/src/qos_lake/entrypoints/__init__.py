"""Command-line entry points of the lake service."""
