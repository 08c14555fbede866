"""The CloudWatch publisher's domain: window rows to PutMetricData calls, with no AWS SDK in sight.

`naming` maps the catalogue to CloudWatch names and units, `datums` turns rows into metric data,
`batching` splits them into calls within CloudWatch's limits, `records` reads the stream's JSON,
and `service` ties them together around a sink (`qos_realtime.sinks.cloudwatch` on AWS).
"""
