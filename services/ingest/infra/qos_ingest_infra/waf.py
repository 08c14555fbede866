"""The ingest edge's WAF web ACL, in a small stack of its own in us-east-1.

A web ACL that protects CloudFront distributions has the scope CLOUDFRONT, and AWS accepts such an
ACL only in us-east-1, whatever the region of the distribution's stack. So the ACL lives in
`qos-<env>-ingest-waf`, pinned to us-east-1, which writes the ACL's ARN to the SSM parameter
`/qos/<env>/ingest/web-acl-arn` (in us-east-1); the ingest stack, in any region, reads that
parameter at deploy time (`WebAclArnReader`, an SDK call in us-east-1) and deploys after this stack.

The rules, in order:

1. `RateLimitPerClientIp`: more than `rate_limit` requests from one client IP in five minutes are
   blocked (429) until the rate falls. CloudFront hands WAF the viewer's address, not a header.
2. `BodySizeLimit`: a declared body (Content-Length) over `max_body_bytes` is blocked (413) before
   it costs an invocation. WAF inspects at most 64 KiB of a body at CloudFront, far below the
   ingest's 1 MiB limit, so the rule reads the header; the function still checks the real size.
3. `AWSManagedRulesCommonRuleSet`, with its `SizeRestrictions_BODY` rule (8 KiB) only counting: a
   batch of events is legitimately larger, and rule 2 bounds the size.
4. `AWSManagedRulesKnownBadInputsRuleSet` (Log4j, and other known exploit payloads).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_wafv2 as wafv2
from aws_cdk import custom_resources as cr
from constructs import Construct

from qos_shared_cdk import ssm as names
from qos_shared_cdk.blocks import check

# CloudFront's web ACLs live in us-east-1 only.
WAF_REGION = "us-east-1"
RATE_WINDOW_SECONDS = 300
# WAF's own bounds for a rate-based rule's limit.
_MIN_RATE_LIMIT, _MAX_RATE_LIMIT = 10, 2_000_000_000
COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"
KNOWN_BAD_INPUTS_RULE_SET = "AWSManagedRulesKnownBadInputsRuleSet"
# The common rule set's body-size rule: 8 KiB, below a normal batch of events.
COMMON_BODY_SIZE_RULE = "SizeRestrictions_BODY"


def waf_stack_name(env_name: str) -> str:
    return f"{names.stack_name(env_name, names.INGEST)}-waf"


def greater_than_pattern(limit: int) -> str:
    """A regular expression that matches a decimal number (no sign, no leading zeros beyond a
    lone 0) exactly when it is greater than `limit`: WAF compares text, never numbers."""
    check(limit >= 0, "limit must not be negative")
    digits = str(limit)
    width = len(digits)
    # Longer numbers are always greater (a leading zero would make a longer, smaller number).
    options = [f"[1-9][0-9]{{{width},}}"]
    # Same length: equal up to position i, then a greater digit, then anything.
    for i, digit in enumerate(digits):
        if digit == "9":
            continue
        low = int(digit) + 1
        greater = str(low) if low == 9 else f"[{low}-9]"
        rest = width - i - 1
        tail = f"[0-9]{{{rest}}}" if rest else ""
        options.append(f"{digits[:i]}{greater}{tail}")
    # Leading zeros change no number's value.
    return "^0*(?:" + "|".join(options) + ")$"


class IngestWafStack(Stack):
    """`qos-<env>-ingest-waf` in us-east-1: the web ACL of the ingest and demo distributions."""

    def __init__(
        self,
        scope: Construct,
        *,
        env_name: str,
        account: str | None,
        rate_limit: int,
        max_body_bytes: int,
    ) -> None:
        names.check_env_name(env_name)
        check(
            _MIN_RATE_LIMIT <= rate_limit <= _MAX_RATE_LIMIT,
            f"waf_rate_limit must be between {_MIN_RATE_LIMIT} and {_MAX_RATE_LIMIT}",
        )
        check(max_body_bytes > 0, "max_body_bytes must be positive")
        name = waf_stack_name(env_name)
        super().__init__(
            scope,
            name,
            stack_name=name,
            env=Environment(account=account, region=WAF_REGION),
            description=f"QoS ingest ({env_name}): the edge's WAF web ACL (CLOUDFRONT, us-east-1)",
        )
        Tags.of(self).add("qos:env", env_name)
        Tags.of(self).add("qos:service", names.INGEST)
        self.env_name = env_name
        self.web_acl = _web_acl(self, f"qos-{env_name}-ingest-edge", rate_limit, max_body_bytes)
        self.parameter = ssm.StringParameter(
            self,
            "WebAclArnParameter",
            parameter_name=names.INGEST_WEB_ACL_ARN.name(env_name),
            string_value=self.web_acl.attr_arn,
            description=f"QoS ingest ({env_name}): web-acl-arn (CLOUDFRONT scope)",
        )
        CfnOutput(self, "WebAclArn", value=self.web_acl.attr_arn)


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _block(status: int) -> wafv2.CfnWebACL.RuleActionProperty:
    return wafv2.CfnWebACL.RuleActionProperty(
        block=wafv2.CfnWebACL.BlockActionProperty(
            custom_response=wafv2.CfnWebACL.CustomResponseProperty(response_code=status)
        )
    )


def _managed(
    name: str, priority: int, excluded: tuple[str, ...] = ()
) -> wafv2.CfnWebACL.RuleProperty:
    overrides = [
        wafv2.CfnWebACL.RuleActionOverrideProperty(
            name=rule,
            action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}),
        )
        for rule in excluded
    ]
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS",
                name=name,
                rule_action_overrides=overrides or None,
            )
        ),
        visibility_config=_visibility(name),
    )


def _web_acl(scope: Construct, name: str, rate_limit: int, max_body_bytes: int) -> wafv2.CfnWebACL:
    content_length = wafv2.CfnWebACL.FieldToMatchProperty(single_header={"Name": "content-length"})
    rules = [
        wafv2.CfnWebACL.RuleProperty(
            name="RateLimitPerClientIp",
            priority=0,
            action=_block(429),
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    aggregate_key_type="IP",
                    limit=rate_limit,
                    evaluation_window_sec=RATE_WINDOW_SECONDS,
                )
            ),
            visibility_config=_visibility("RateLimitPerClientIp"),
        ),
        wafv2.CfnWebACL.RuleProperty(
            name="BodySizeLimit",
            priority=1,
            action=_block(413),
            statement=wafv2.CfnWebACL.StatementProperty(
                regex_match_statement=wafv2.CfnWebACL.RegexMatchStatementProperty(
                    field_to_match=content_length,
                    regex_string=greater_than_pattern(max_body_bytes),
                    text_transformations=[
                        wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                    ],
                )
            ),
            visibility_config=_visibility("BodySizeLimit"),
        ),
        _managed(COMMON_RULE_SET, 2, excluded=(COMMON_BODY_SIZE_RULE,)),
        _managed(KNOWN_BAD_INPUTS_RULE_SET, 3),
    ]
    return wafv2.CfnWebACL(
        scope,
        "WebAcl",
        name=name,
        scope="CLOUDFRONT",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        rules=rules,
        visibility_config=_visibility(name),
    )


class WebAclArnReader(Construct):
    """The web ACL's ARN, read at deploy time from its SSM parameter in us-east-1 (an SDK call in
    that region) when the ingest stack is created. The ACL's name is fixed per environment, so an
    update of the WAF stack keeps its ARN."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        name = names.INGEST_WEB_ACL_ARN.name(env_name)
        stack = Stack.of(self)
        parameter_arn = stack.format_arn(
            service="ssm",
            region=WAF_REGION,
            resource="parameter",
            resource_name=name.lstrip("/"),
        )
        call = cr.AwsSdkCall(
            service="SSM",
            action="getParameter",
            parameters={"Name": name},
            region=WAF_REGION,
            physical_resource_id=cr.PhysicalResourceId.of(name),
        )
        self.resource = cr.AwsCustomResource(
            self,
            "Read",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[parameter_arn])]
            ),
            install_latest_aws_sdk=False,
            log_group=logs.LogGroup(self, "Logs", retention=log_retention),
        )
        self.arn = self.resource.get_response_field("Parameter.Value")
