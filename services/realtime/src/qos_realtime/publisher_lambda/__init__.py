"""The CloudWatch publisher Lambda: its settings, its wiring and its handler."""
