"""Thin entrypoints: the Lambda handler and the local HTTP server."""
