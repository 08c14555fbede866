"""CDK code of the lake service: the stack, its CDK app, and the Glue table it declares.

`catalog` is plain Python (no aws_cdk), so tests and tools can use the table definition without
paying for jsii.
"""
