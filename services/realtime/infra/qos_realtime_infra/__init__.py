"""CDK code of the realtime service: the Lambda bundle builder, the stack and its CDK app.

Kept free of imports so that `python -m qos_realtime_infra.packaging` doesn't pay for jsii.
"""
