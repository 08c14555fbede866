"""QoS composition: the local stack and the AWS app that put the services together."""

__version__ = "0.1.0"
