"""Tests of the ingest CDK code: the Lambda bundle, the synthesized stack, cfn-lint, both apps.

jsii makes every synthesis cost seconds, so the bundle is built once per session and the stack
synthesized once per module; assertions then read the one template.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

from qos_ingest_infra import HANDLER, INGEST_ROOT, IngestStack, add_ingest_stack, build_lambda_asset
from qos_ingest_infra.stream_events import HANDLER as STREAM_EVENTS_HANDLER
from qos_shared_cdk.packaging import MARKER_FILE, AssetBuildError
from qos_shared_cdk.testing import template as kit

pytestmark = pytest.mark.infra
# The kit's shared test, run on this module's template.
test_template_passes_cfn_lint = kit.test_template_passes_cfn_lint

ENV_NAME = "test"
ORIGINS = ["https://player.example.com", "https://staging.player.example.com"]
RATE_LIMIT, BURST_LIMIT, RETENTION_HOURS, RESERVED = 123, 456, 48, 7
ROUTES = {("POST", "/v1/events"), ("POST", "/streams"), ("GET", "/healthz")}


def _fast_app(**context: Any) -> App:
    return kit.fast_app(INGEST_ROOT, **context)


# --- the Lambda bundle ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def lambda_asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lambda_asset(tmp_path_factory.mktemp("asset") / "lambda", progress=None)


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_bundle_has_the_runtime_code_and_nothing_of_the_build(lambda_asset: Path) -> None:
    assert (lambda_asset / "qos_ingest" / "__init__.py").is_file()
    assert (lambda_asset / "qos_shared" / "__init__.py").is_file()
    assert (lambda_asset / kit.handler_module(HANDLER)).is_file()
    assert (lambda_asset / kit.handler_module(STREAM_EVENTS_HANDLER)).is_file()
    assert (lambda_asset / "pydantic_settings").is_dir()
    assert (lambda_asset / "aws_lambda_powertools").is_dir()

    assert not (lambda_asset / "qos_ingest_infra").exists()
    assert not (lambda_asset / "qos_shared_cdk").exists()
    assert not (lambda_asset / "bin").exists()
    assert not (lambda_asset / ".lock").exists()
    assert not list(lambda_asset.rglob("__pycache__"))
    assert not list(lambda_asset.rglob("*.pyc"))
    assert not list(lambda_asset.glob("*.dist-info/direct_url.json"))


def test_bundle_native_code_is_built_for_lambda_x86_64(lambda_asset: Path) -> None:
    extensions = list((lambda_asset / "pydantic_core").glob("*.so"))
    assert [so.name for so in extensions] == ["_pydantic_core.cpython-312-x86_64-linux-gnu.so"]
    header = extensions[0].read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    assert header[4] == 2, "not a 64-bit ELF"
    assert int.from_bytes(header[18:20], "little") == 0x3E, "e_machine is not x86-64"

    (wheel_meta,) = lambda_asset.glob("pydantic_core-*.dist-info/WHEEL")
    tags = [line for line in wheel_meta.read_text().splitlines() if line.startswith("Tag:")]
    assert tags
    assert all("cp312" in tag and "manylinux" in tag and "x86_64" in tag for tag in tags)


def test_rebuild_replaces_a_previous_bundle(lambda_asset: Path, tmp_path: Path) -> None:
    out = tmp_path / "lambda"
    out.mkdir()
    (out / MARKER_FILE).write_text("")
    (out / "stale.py").write_text("left over from an older build")

    assert build_lambda_asset(out, progress=None) == out.resolve()

    assert not (out / "stale.py").exists()
    assert _files(out) == _files(lambda_asset)
    assert [p.name for p in tmp_path.iterdir()] == ["lambda"], "staging dir left behind"


def test_refuses_to_wipe_a_directory_it_did_not_build(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(AssetBuildError, match="refusing to delete"):
        build_lambda_asset(tmp_path, progress=None)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_failed_install_is_reported_and_keeps_the_previous_bundle(tmp_path: Path) -> None:
    out = tmp_path / "lambda"
    out.mkdir()
    (out / MARKER_FILE).write_text("")
    (out / "previous.py").write_text("")

    # Both packages require Python >= 3.11, so no resolution exists for 3.10.
    with pytest.raises(AssetBuildError, match=r"installing .* failed \(exit \d+\)") as raised:
        build_lambda_asset(out, python_version="3.10", progress=None)

    assert "command:" in str(raised.value)
    assert (out / "previous.py").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["lambda"], "staging dir left behind"


# --- the synthesized stack ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for the assembled demo page (the real one needs hls.js from npm)."""
    site = tmp_path_factory.mktemp("site")
    (site / "index.html").write_text("<!doctype html><title>demo</title>")
    return site


@pytest.fixture(scope="module")
def valid_settings(lambda_asset: Path, demo_site: Path) -> dict[str, Any]:
    """The settings of the stack under test, away from the defaults so that each shows; the
    bad-settings cases change one of them at a time."""
    return {
        "env_name": ENV_NAME,
        "asset_dir": lambda_asset,
        "demo_site_dir": demo_site,
        "cors_allow_origins": ORIGINS,
        "reserved_concurrency": RESERVED,
        "throttle_rate_limit": RATE_LIMIT,
        "throttle_burst_limit": BURST_LIMIT,
        "stream_retention_hours": RETENTION_HOURS,
    }


@pytest.fixture(scope="module")
def template(valid_settings: dict[str, Any]) -> Template:
    return Template.from_stack(IngestStack(_fast_app(), f"qos-{ENV_NAME}-ingest", **valid_settings))


def _stream_id(resources: kit.Resources) -> str:
    return kit.only(resources, "AWS::Kinesis::Stream")[0]


def _function_id(resources: kit.Resources) -> str:
    (found,) = [
        rid
        for rid, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == HANDLER
    ]
    return found


def _function(resources: kit.Resources) -> dict[str, Any]:
    return resources[_function_id(resources)]


def test_stream_is_on_demand_and_encrypted_with_the_aws_managed_key(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
            "RetentionPeriodHours": RETENTION_HOURS,
            "ShardCount": Match.absent(),
        },
    )


def test_function_runtime_handler_tracing_and_size(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.12",
            "Architectures": ["x86_64"],
            "Handler": "qos_ingest.entrypoints.lambda_handler.handler",
            "TracingConfig": {"Mode": "Active"},
            "MemorySize": 512,
            "Timeout": 15,
            "ReservedConcurrentExecutions": RESERVED,
        },
    )


def test_function_environment(resources: kit.Resources) -> None:
    variables = _function(resources)["Properties"]["Environment"]["Variables"]
    assert variables == {
        "QOS_INGEST_SINK": "kinesis",
        "QOS_INGEST_STREAM_NAME": {"Ref": _stream_id(resources)},
        "QOS_INGEST_CORS_ALLOW_ORIGINS": ",".join(ORIGINS),
        "POWERTOOLS_SERVICE_NAME": "qos-ingest",
        "POWERTOOLS_METRICS_NAMESPACE": "QoS/Ingest",
        "QOS_INGEST_PSEUDONYM_KEY_SECRET_ARN": {"Ref": _secret_id(resources, "user_id HMAC key")},
        "QOS_INGEST_ORIGIN_SECRET_ARN": {"Ref": _secret_id(resources, "origin-verify")},
    }


def test_logs_have_a_retention(resources: kit.Resources) -> None:
    log_groups = {rid: r for rid, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
    # The two functions', the API's access log, the demo page upload's, the WAF ARN reader's.
    assert len(log_groups) == 5
    assert all(r["Properties"]["RetentionInDays"] == 30 for r in log_groups.values())
    function_log = _function(resources)["Properties"]["LoggingConfig"]["LogGroup"]
    assert function_log["Ref"] in log_groups
    # No LogRetention custom resource (a helper Lambda with account-wide log permissions).
    assert not [r for r in resources.values() if r["Type"] == "Custom::LogRetention"]


def _route_paths(resources: kit.Resources) -> dict[str, str]:
    """Logical id of each API Gateway resource (and of the root, as `root`) -> its path."""
    parts = {
        rid: (r["Properties"]["ParentId"], r["Properties"]["PathPart"])
        for rid, r in resources.items()
        if r["Type"] == "AWS::ApiGateway::Resource"
    }

    def path(rid: str) -> str:
        parent, part = parts[rid]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{part}"

    return {rid: path(rid) for rid in parts}


def _methods(resources: kit.Resources) -> dict[tuple[str, str], dict[str, Any]]:
    paths = _route_paths(resources)
    methods = {}
    for r in resources.values():
        if r["Type"] != "AWS::ApiGateway::Method":
            continue
        ref = r["Properties"]["ResourceId"]
        path = paths[ref["Ref"]] if "Ref" in ref else "/"
        methods[(r["Properties"]["HttpMethod"], path)] = r["Properties"]
    return methods


def test_api_routes_proxy_to_the_function(resources: kit.Resources) -> None:
    methods = _methods(resources)
    routes = {key for key in methods if key[0] != "OPTIONS"}
    assert routes == ROUTES
    function_id = _function_id(resources)
    for key in ROUTES:
        integration = methods[key]["Integration"]
        assert integration["Type"] == "AWS_PROXY", key
        assert function_id in json.dumps(integration["Uri"]), key
    # One invoke permission per route, none for the console's test-invoke.
    permissions = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Permission"
        and r["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert len(permissions) == len(ROUTES)
    assert all("test-invoke-stage" not in json.dumps(p) for p in permissions)


def test_cors_preflight_answers_the_configured_origins(
    resources: kit.Resources,
) -> None:
    methods = _methods(resources)
    for _, path in ROUTES:
        preflight = methods[("OPTIONS", path)]
        assert preflight["Integration"]["Type"] == "MOCK"
        (response,) = preflight["Integration"]["IntegrationResponses"]
        headers = response["ResponseParameters"]
        assert headers["method.response.header.Access-Control-Allow-Headers"] == "'Content-Type'"
        assert headers["method.response.header.Access-Control-Allow-Methods"] == (
            "'GET,OPTIONS,POST'"
        )
        # With several origins API Gateway can't send a list: CDK answers with the first and a
        # mapping template echoes the request's Origin when it is one of the others.
        assert headers["method.response.header.Access-Control-Allow-Origin"] == f"'{ORIGINS[0]}'"
        template = response["ResponseTemplates"]["application/json"]
        assert all(origin in template for origin in ORIGINS[1:])
    assert ("OPTIONS", "/") in methods


def test_stage_throttling_tracing_and_access_logs(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": ENV_NAME,
            "TracingEnabled": True,
            "MethodSettings": [
                Match.object_like(
                    {
                        "HttpMethod": "*",
                        "ResourcePath": "/*",
                        "ThrottlingRateLimit": RATE_LIMIT,
                        "ThrottlingBurstLimit": BURST_LIMIT,
                    }
                )
            ],
            "AccessLogSetting": {
                "DestinationArn": Match.any_value(),
                "Format": Match.string_like_regexp(r"\$context\.xrayTraceId"),
            },
        },
    )
    template.has_resource_properties(
        "AWS::ApiGateway::RestApi", {"EndpointConfiguration": {"Types": ["REGIONAL"]}}
    )


def _statements(resources: kit.Resources) -> Iterator[dict[str, Any]]:
    """Every identity-policy statement in the template (inline role policies included)."""
    for r in resources.values():
        documents = []
        if r["Type"] == "AWS::IAM::Policy":
            documents.append(r["Properties"]["PolicyDocument"])
        if r["Type"] == "AWS::IAM::Role":
            documents.extend(p["PolicyDocument"] for p in r["Properties"].get("Policies", []))
        for document in documents:
            yield from document["Statement"]


def test_handler_role_is_least_privilege(resources: kit.Resources) -> None:
    role_id = _function(resources)["Properties"]["Role"]["Fn::GetAtt"][0]
    role = resources[role_id]["Properties"]
    assert "ManagedPolicyArns" not in role, "no AWSLambdaBasicExecutionRole (logs on *)"
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
    ]
    log_group_id = _function(resources)["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert policies == [
        [
            {
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]},
            },
            {
                "Action": "kinesis:PutRecords",
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [_stream_id(resources), "Arn"]},
                "Sid": "PutEventsOnIngestStream",
            },
            {
                "Action": "secretsmanager:GetSecretValue",
                "Effect": "Allow",
                # CDK's policy minimizer sorts the resources.
                "Resource": sorted(
                    [
                        {"Ref": _secret_id(resources, "user_id HMAC key")},
                        {"Ref": _secret_id(resources, "origin-verify")},
                    ],
                    key=json.dumps,
                ),
                "Sid": "ReadIngestSecrets",
            },
            {
                # X-Ray has no resource-level permissions: `*` is the only possible resource.
                "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                "Effect": "Allow",
                "Resource": "*",
            },
        ]
    ]


def test_no_wildcard_actions_and_kinesis_only_put_records(
    resources: kit.Resources,
) -> None:
    # The handler's role (the CDK's deploy-time helpers have their own, checked by checkov).
    role_id = _function(resources)["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = kit.role_statements(resources, role_id)
    granted = [action for s in statements for action in kit.actions(s)]
    assert granted
    assert not [a for a in granted if "*" in a]
    assert {a for a in granted if a.startswith("kinesis:")} == {"kinesis:PutRecords"}
    assert not [a for a in granted if a.startswith("kms:")]
    for statement in statements:
        assert statement["Effect"] == "Allow"
        if statement["Resource"] == "*":
            assert all(a.startswith("xray:") for a in kit.actions(statement)), statement


def test_ssm_parameters_publish_the_stream_and_the_api(
    resources: kit.Resources,
) -> None:
    parameters = {
        r["Properties"]["Name"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::SSM::Parameter"
    }
    stream_id = _stream_id(resources)
    assert set(parameters) == {
        f"/qos/{ENV_NAME}/ingest/stream-name",
        f"/qos/{ENV_NAME}/ingest/stream-arn",
        f"/qos/{ENV_NAME}/ingest/api-url",
        f"/qos/{ENV_NAME}/ingest/edge-url",
        f"/qos/{ENV_NAME}/ingest/demo-page-url",
    }
    assert all(p["Type"] == "String" for p in parameters.values())
    assert parameters[f"/qos/{ENV_NAME}/ingest/stream-name"]["Value"] == {"Ref": stream_id}
    assert parameters[f"/qos/{ENV_NAME}/ingest/stream-arn"]["Value"] == {
        "Fn::GetAtt": [stream_id, "Arn"]
    }
    api_url = json.dumps(parameters[f"/qos/{ENV_NAME}/ingest/api-url"]["Value"])
    assert ".execute-api." in api_url


def test_outputs_and_no_cross_stack_exports(template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    assert "execute-api" in json.dumps(outputs["ApiUrl"]["Value"])
    events = json.dumps(outputs["EventsUrl"]["Value"])
    assert events.endswith('/v1/events"]]}')
    assert _distribution_id(template.to_json()["Resources"], "ApiDistribution") in events
    demo = json.dumps(outputs["DemoPageUrl"]["Value"])
    assert _distribution_id(template.to_json()["Resources"], "DemoPageDistribution") in demo
    kit.assert_no_exports(template)


test_bad_settings_are_refused_before_synthesis = kit.bad_settings_test(
    IngestStack,
    [
        ({"env_name": "Prod"}, "env_name"),
        ({"env_name": "dev_1"}, "env_name"),
        ({"cors_allow_origins": []}, "empty"),
        ({"cors_allow_origins": ["*", "https://a.example"]}, "alone"),
        ({"cors_allow_origins": ["https://a.example/"]}, "not origins"),
        ({"cors_allow_origins": ["a.example"]}, "not origins"),
        ({"throttle_rate_limit": 0}, "positive"),
        ({"reserved_concurrency": 0}, "reserved_concurrency"),
        ({"stream_retention_hours": 12}, "between 24 and 8760"),
        ({"stream_retention_hours": 10_000}, "between 24 and 8760"),
    ],
)


def test_missing_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"qos_ingest_infra\.packaging"):
        IngestStack(_fast_app(), "S", env_name="dev", asset_dir=tmp_path, demo_site_dir=tmp_path)


# --- the apps ----------------------------------------------------------------------------------


def test_ingest_app_reads_its_settings_from_cli_style_context(
    lambda_asset: Path, demo_site: Path
) -> None:
    # `-c key=value` gives strings; cdk.json gives JSON values. Both must work.
    app = _fast_app(
        **{
            "qos:env": "qa",
            "qos:ingest:lambdaAssetDir": str(lambda_asset),
            "qos:ingest:demoSiteDir": str(demo_site),
            "qos:ingest:reservedConcurrency": "none",
            "qos:ingest:corsAllowOrigins": "https://a.example, https://b.example",
            "qos:ingest:throttleRateLimit": "50",
            "qos:ingest:throttleBurstLimit": "60",
            "qos:ingest:streamRetentionHours": "72",
            "qos:ingest:manageApiGatewayAccountRole": "false",
        }
    )
    stack = add_ingest_stack(app, env_name="qa", env=None)
    assert stack.stack_name == "qos-qa-ingest"
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::ApiGateway::Account", 0)
    template.has_resource_properties("AWS::Kinesis::Stream", {"RetentionPeriodHours": 72})
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "qa",
            "MethodSettings": [
                Match.object_like({"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 60})
            ],
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like(
                    {"QOS_INGEST_CORS_ALLOW_ORIGINS": "https://a.example,https://b.example"}
                )
            },
            "ReservedConcurrentExecutions": Match.absent(),
        },
    )


# --- the edge: secrets, CloudFront, WAF, the demo page ----------------------------------------


def _secret_id(resources: kit.Resources, what: str) -> str:
    (found,) = [
        rid
        for rid, r in resources.items()
        if r["Type"] == "AWS::SecretsManager::Secret" and what in r["Properties"]["Description"]
    ]
    return found


def _distribution_id(resources: kit.Resources, prefix: str) -> str:
    (found,) = [
        rid
        for rid, r in resources.items()
        if r["Type"] == "AWS::CloudFront::Distribution" and rid.startswith(prefix)
    ]
    return found


def _distribution(resources: kit.Resources, prefix: str) -> dict[str, Any]:
    config: dict[str, Any] = resources[_distribution_id(resources, prefix)]["Properties"][
        "DistributionConfig"
    ]
    return config


def test_two_generated_secrets_kept_with_the_stack(resources: kit.Resources) -> None:
    secrets = {rid: r for rid, r in resources.items() if r["Type"] == "AWS::SecretsManager::Secret"}
    assert len(secrets) == 2
    for secret in secrets.values():
        assert secret["DeletionPolicy"] == "Retain"
        generated = secret["Properties"]["GenerateSecretString"]
        assert generated["ExcludePunctuation"] is True
        assert generated["PasswordLength"] >= 32
        assert "SecretString" not in secret["Properties"], "no value in the template"


def test_api_distribution_forwards_the_viewer_headers_and_the_origin_secret(
    resources: kit.Resources,
) -> None:
    config = _distribution(resources, "ApiDistribution")
    (origin,) = config["Origins"]
    assert ".execute-api." in json.dumps(origin["DomainName"])
    assert "OriginPath" in origin, "the stage's path"
    (header,) = origin["OriginCustomHeaders"]
    assert header["HeaderName"] == "x-qos-origin-verify"
    value = json.dumps(header["HeaderValue"])
    assert "{{resolve:secretsmanager:" in value
    assert _secret_id(resources, "origin-verify") in value
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert set(behavior["AllowedMethods"]) >= {"POST", "OPTIONS", "GET"}
    policy_id = behavior["OriginRequestPolicyId"]["Ref"]
    policy = resources[policy_id]["Properties"]["OriginRequestPolicyConfig"]
    assert policy["HeadersConfig"]["HeaderBehavior"] == "whitelist"
    assert {h.lower() for h in policy["HeadersConfig"]["Headers"]} == {
        "cloudfront-viewer-country",
        "cloudfront-viewer-country-region",
        "cloudfront-viewer-city",
        "cloudfront-viewer-latitude",
        "cloudfront-viewer-longitude",
        "cloudfront-is-mobile-viewer",
        "cloudfront-is-tablet-viewer",
        "cloudfront-is-desktop-viewer",
        "cloudfront-is-smarttv-viewer",
        "user-agent",
    }
    assert policy["QueryStringsConfig"]["QueryStringBehavior"] == "none"
    assert policy["CookiesConfig"]["CookieBehavior"] == "none"


def test_both_distributions_use_the_web_acl_read_from_us_east_1(
    resources: kit.Resources,
) -> None:
    (reader_id,) = [rid for rid, r in resources.items() if r["Type"] == "Custom::AWS"]
    call = json.dumps(resources[reader_id]["Properties"]["Create"])
    assert "us-east-1" in call
    assert f"/qos/{ENV_NAME}/ingest/web-acl-arn" in call
    for prefix in ("ApiDistribution", "DemoPageDistribution"):
        acl = _distribution(resources, prefix)["WebACLId"]
        assert acl == {"Fn::GetAtt": [reader_id, "Parameter.Value"]}


def test_cors_allowlist_is_answered_at_the_edge(resources: kit.Resources) -> None:
    behavior = _distribution(resources, "ApiDistribution")["DefaultCacheBehavior"]
    policy = resources[behavior["ResponseHeadersPolicyId"]["Ref"]]["Properties"]
    cors = policy["ResponseHeadersPolicyConfig"]["CorsConfig"]
    assert cors["AccessControlAllowOrigins"]["Items"] == ORIGINS
    assert cors["AccessControlAllowCredentials"] is False
    assert cors["OriginOverride"] is True


def test_cors_defaults_to_the_demo_page_only(lambda_asset: Path, demo_site: Path) -> None:
    stack = IngestStack(
        _fast_app(), "S", env_name="dev", asset_dir=lambda_asset, demo_site_dir=demo_site
    )
    resources = Template.from_stack(stack).to_json()["Resources"]
    demo_id = _distribution_id(resources, "DemoPageDistribution")
    expected = {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [demo_id, "DomainName"]}]]}
    behavior = _distribution(resources, "ApiDistribution")["DefaultCacheBehavior"]
    policy = resources[behavior["ResponseHeadersPolicyId"]["Ref"]]["Properties"]
    assert policy["ResponseHeadersPolicyConfig"]["CorsConfig"]["AccessControlAllowOrigins"][
        "Items"
    ] == [expected]
    variables = _function(resources)["Properties"]["Environment"]["Variables"]
    assert variables["QOS_INGEST_CORS_ALLOW_ORIGINS"] == expected
    assert "*" not in json.dumps(variables["QOS_INGEST_CORS_ALLOW_ORIGINS"])


def test_demo_page_is_a_private_bucket_behind_cloudfront_with_its_config(
    resources: kit.Resources,
) -> None:
    (bucket_id,) = [rid for rid, r in resources.items() if r["Type"] == "AWS::S3::Bucket"]
    bucket = resources[bucket_id]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    config = _distribution(resources, "DemoPageDistribution")
    assert config["DefaultRootObject"] == "index.html"
    (origin,) = config["Origins"]
    assert "OriginAccessControlId" in origin
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    (policy,) = [r for r in resources.values() if r["Type"] == "AWS::S3::BucketPolicy"]
    reads = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    ]
    assert [s["Principal"] for s in reads] == [{"Service": "cloudfront.amazonaws.com"}]
    assert _distribution_id(resources, "DemoPageDistribution") in json.dumps(reads[0]["Condition"])
    (upload,) = [r for r in resources.values() if r["Type"] == "Custom::CDKBucketDeployment"]
    assert len(upload["Properties"]["SourceObjectKeys"]) == 2, "the site and its config.json"
    # config.json's deploy-time value: the edge's events URL.
    site_markers, config_markers = upload["Properties"]["SourceMarkers"]
    assert site_markers == {}
    (endpoint,) = config_markers.values()
    assert endpoint == {
        "Fn::Join": [
            "",
            [
                '"https://',
                {"Fn::GetAtt": [_distribution_id(resources, "ApiDistribution"), "DomainName"]},
                '/v1/events"',
            ],
        ]
    }
    assert upload["Properties"]["DistributionId"] == {
        "Ref": _distribution_id(resources, "DemoPageDistribution")
    }


def test_access_logs_leave_out_the_client_ip(template: Template) -> None:
    (stage,) = template.find_resources("AWS::ApiGateway::Stage").values()
    log_format = stage["Properties"]["AccessLogSetting"]["Format"]
    assert "sourceIp" not in log_format
    assert "$context.identity.sourceIp" not in log_format
    assert "requestId" in log_format


def test_checkov_skips_carry_a_reason(resources: kit.Resources) -> None:
    skipped = [
        entry
        for r in resources.values()
        for entry in r.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skipped
    assert all(entry["id"].startswith("CKV") and entry["comment"].strip() for entry in skipped)
    handler_skips = {e["id"] for e in _function(resources)["Metadata"]["checkov"]["skip"]}
    # Reserved concurrency is set, so the concurrency finding is fixed, not skipped.
    assert "CKV_AWS_115" not in handler_skips


# --- scaling settings (qos_shared_cdk.scaling) -------------------------------------------------


def test_a_provisioned_stream_memory_and_reservation_come_from_context(
    lambda_asset: Path, demo_site: Path
) -> None:
    app = _fast_app(
        **{
            "qos:ingest:lambdaAssetDir": str(lambda_asset),
            "qos:ingest:demoSiteDir": str(demo_site),
            "qos:ingest:streamMode": "provisioned",
            "qos:ingest:streamShards": "6",
            "qos:ingest:memoryMiB": 1024,
            "qos:ingest:reservedConcurrency": "300",
        }
    )
    template = Template.from_stack(add_ingest_stack(app, env_name="qa", env=None))
    template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {"StreamModeDetails": {"StreamMode": "PROVISIONED"}, "ShardCount": 6},
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": HANDLER, "MemorySize": 1024, "ReservedConcurrentExecutions": 300},
    )


def test_a_provisioned_stream_is_sized_from_the_expected_rate(
    lambda_asset: Path, demo_site: Path
) -> None:
    # 3,500 events/s of 1,000 bytes: 3.5 MB/s and 3,500 records/s, i.e. 3.5 shards' worth,
    # doubled for headroom and rounded up.
    app = _fast_app(
        **{
            "qos:ingest:lambdaAssetDir": str(lambda_asset),
            "qos:ingest:demoSiteDir": str(demo_site),
            "qos:ingest:streamMode": "provisioned",
            "qos:ingest:expectedEventsPerSecond": "3500",
        }
    )
    template = Template.from_stack(add_ingest_stack(app, env_name="qa", env=None))
    template.has_resource_properties("AWS::Kinesis::Stream", {"ShardCount": 7})


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"qos:ingest:streamMode": "provisioned"}, "streamShards or"),
        ({"qos:ingest:streamShards": "4"}, "needs qos:ingest:streamMode provisioned"),
        ({"qos:ingest:streamMode": "burst"}, "on-demand or provisioned"),
        ({"qos:ingest:memoryMiB": "64"}, "memoryMiB: 128-10240"),
    ],
)
def test_bad_scaling_context_is_refused_by_key(
    lambda_asset: Path, demo_site: Path, context: dict[str, str], message: str
) -> None:
    app = _fast_app(
        **{
            "qos:ingest:lambdaAssetDir": str(lambda_asset),
            "qos:ingest:demoSiteDir": str(demo_site),
            **context,
        }
    )
    with pytest.raises(ValueError, match=message):
        add_ingest_stack(app, env_name="qa", env=None)
