"""CDK code of the ingest service: the Lambda bundle builder, the stack and its CDK app.

Kept free of imports so that `python -m qos_ingest_infra.packaging` doesn't pay for jsii.
"""
