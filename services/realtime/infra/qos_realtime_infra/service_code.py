"""Everything the realtime CDK code takes from the service's own package, in one place.

When the service's modules move, this is the one file to re-point: the publisher's entry point,
the publisher settings the stack mirrors, the Flink application's lifecycle Lambda and the Flink
job's packaging.
"""

from __future__ import annotations

from qos_realtime.domain.datums import PublisherConfig
from qos_realtime.domain.naming import DEFAULT_NAMESPACE

__all__ = [
    "DEFAULT_NAMESPACE",
    "FLINK_PACKAGING",
    "FLINK_SOURCES",
    "HANDLER",
    "LIFECYCLE_HANDLER",
    "PublisherConfig",
]

HANDLER = "qos_realtime.entrypoints.publisher_lambda.handler"
# The custom resource that starts the Flink application after a deploy (same bundle).
LIFECYCLE_HANDLER = "qos_realtime.entrypoints.application_lambda.handler"
# Imported only when the app builds the Flink application zip.
FLINK_PACKAGING = "qos_realtime.flink_package"
# The Flink job rides in the qos-realtime wheel but is no code of the publisher.
FLINK_SOURCES = (
    "qos_realtime/adapters/flink",
    "qos_realtime/entrypoints/flink_job.py",
    "qos_realtime/flink_package.py",
    "qos_realtime/flink_connector.py",
)
