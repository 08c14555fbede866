"""The edge's web ACL stack (us-east-1) and its body-size pattern."""

from __future__ import annotations

import random
import re

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from qos_ingest_infra.waf import IngestWafStack, greater_than_pattern

pytestmark = pytest.mark.infra


@pytest.mark.parametrize("limit", [0, 9, 10, 99, 1000, 1048576, 1999999, 123456789])
def test_pattern_matches_exactly_the_numbers_above_the_limit(limit: int) -> None:
    pattern = re.compile(greater_than_pattern(limit))
    rng = random.Random(limit)
    near = range(max(0, limit - 1500), limit + 1500)
    far = [rng.randrange(0, 10 * (limit + 1) * 10) for _ in range(3000)]
    for n in [*near, *far, 10**12]:
        assert bool(pattern.fullmatch(str(n))) == (n > limit), n
        assert bool(pattern.fullmatch("00" + str(n))) == (n > limit), n
    for text in ("", "-5", "1e9", "abc", " 99999999"):
        assert not pattern.fullmatch(text), text


@pytest.fixture(scope="module")
def waf() -> Template:
    stack = IngestWafStack(
        App(), env_name="test", account="123456789012", rate_limit=321, max_body_bytes=1048576
    )
    assert stack.region == "us-east-1"
    assert stack.stack_name == "qos-test-ingest-waf"
    return Template.from_stack(stack)


def test_web_acl_rules(waf: Template) -> None:
    (acl,) = waf.find_resources("AWS::WAFv2::WebACL").values()
    props = acl["Properties"]
    assert props["Scope"] == "CLOUDFRONT"
    assert props["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in props["Rules"]}
    assert [r["Name"] for r in sorted(props["Rules"], key=lambda r: r["Priority"])] == [
        "RateLimitPerClientIp",
        "BodySizeLimit",
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
    ]
    rate = rules["RateLimitPerClientIp"]
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == 321
    assert rate["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert rate["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    body = rules["BodySizeLimit"]
    regex = body["Statement"]["RegexMatchStatement"]
    assert regex["FieldToMatch"] == {"SingleHeader": {"Name": "content-length"}}
    assert re.fullmatch(regex["RegexString"], "1048577")
    assert not re.fullmatch(regex["RegexString"], "1048576")
    assert body["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 413
    common = rules["AWSManagedRulesCommonRuleSet"]
    group = common["Statement"]["ManagedRuleGroupStatement"]
    assert group["VendorName"] == "AWS"
    # Its 8 KiB body rule would refuse ordinary batches: counted only.
    assert group["RuleActionOverrides"] == [
        {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}
    ]
    assert common["OverrideAction"] == {"None": {}}


def test_web_acl_arn_is_published_in_ssm(waf: Template) -> None:
    waf.has_resource_properties(
        "AWS::SSM::Parameter",
        {
            "Name": "/qos/test/ingest/web-acl-arn",
            "Value": {"Fn::GetAtt": [next(iter(waf.find_resources("AWS::WAFv2::WebACL"))), "Arn"]},
        },
    )


def test_bad_rate_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="waf_rate_limit"):
        IngestWafStack(App(), env_name="test", account=None, rate_limit=5, max_body_bytes=1)
