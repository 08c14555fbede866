from qos_shared_cdk.testing.infra_tests import *  # noqa: F403 - the infra-test hooks (ADR 0010)
