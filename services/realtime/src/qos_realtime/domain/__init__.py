"""Realtime's domain, pure: window rows and distributions (`rows`, `distributions`), window
configuration (`windows`), and how rows become CloudWatch metric data (`naming`, `datums`,
`records`, `batching`)."""
