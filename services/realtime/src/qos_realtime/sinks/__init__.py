"""Adapters that deliver the realtime service's output to AWS (CloudWatch metrics)."""
