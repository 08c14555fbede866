"""Test support of the deploy kit: the infra-test conftest and the stack tests' assertions.

Kept free of imports: `infra_tests` must load where aws-cdk-lib is missing (to say so).
"""
