"""Tests of the search CDK code: the functions' bundle, the synthesized stack, cfn-lint, the app.

jsii makes every synthesis cost seconds, so the bundle is built once per session (around a
stand-in saved objects file, so these tests don't wait for the dashboards generator) and the
stack synthesized once per module; assertions then read the one template. Expected names and
values are written out here, or derived from `index.py`, not read from the stack's code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from qos_search_indexer.domain.design import design_sha256
from qos_search_indexer_infra import (
    DEFAULT_SAVED_OBJECTS,
    SEARCH_ROOT,
    IndexerSource,
    SearchIndexerStack,
    VpcPlacement,
    add_search_indexer_stack,
    build_lambda_asset,
)
from qos_shared_cdk.packaging import MARKER_FILE, AssetBuildError
from qos_shared_cdk.testing import template as kit

pytestmark = pytest.mark.infra
# The kit's shared test, run on this module's template.
test_template_passes_cfn_lint = kit.test_template_passes_cfn_lint

ENV_NAME = "test-1"
INGEST_STREAM_ARN = f"/qos/{ENV_NAME}/ingest/stream-arn"
VIEWS_STREAM_ARN = f"/qos/{ENV_NAME}/realtime/views-stream-arn"
DOMAIN_NAME = "qos-test-1-search"
HANDLER = "qos_search_indexer.entrypoints.setup_lambda.handler"
INDEXER_HANDLER = "qos_search_indexer.entrypoints.indexer_lambda.handler"
STAND_IN = b'{"type":"index-pattern","id":"qos-events","attributes":{"title":"qos-events-*"}}\n'


def _fast_app(**context: Any) -> App:
    return kit.fast_app(SEARCH_ROOT, **context)


@pytest.fixture(scope="session")
def saved_objects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dashboards") / "stand-in.ndjson"
    path.write_bytes(STAND_IN)
    return path


@pytest.fixture(scope="session")
def lambda_asset(tmp_path_factory: pytest.TempPathFactory, saved_objects: Path) -> Path:
    out = tmp_path_factory.mktemp("asset") / "lambda"
    return build_lambda_asset(out, saved_objects=saved_objects, progress=None)


@pytest.fixture(scope="module")
def template(lambda_asset: Path) -> Template:
    stack = SearchIndexerStack(
        _fast_app(),
        f"qos-{ENV_NAME}-search-indexer",
        env_name=ENV_NAME,
        lambda_asset_dir=lambda_asset,
        instance_count=2,
        volume_size_gib=20,
        delete_after_days=14,
        indexer=IndexerSource(
            batch_size=500,
            batching_window_s=10,
            parallelization_factor=2,
            retry_attempts=50,
            max_record_age_hours=3,
            memory_mib=1024,
        ),
        expire_failed_days=30,
    )
    return Template.from_stack(stack)


def _domain_arn(suffix: str = "") -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":es:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":domain/{DOMAIN_NAME}{suffix}",
            ],
        ]
    }


def _role_ids(resources: kit.Resources) -> tuple[str, str]:
    """(setup role, indexer role): the roles the two functions run as."""
    roles = []
    for handler in (HANDLER, INDEXER_HANDLER):
        _, function = _function(resources, handler)
        role = function["Properties"]["Role"]
        assert role == {"Fn::GetAtt": [role["Fn::GetAtt"][0], "Arn"]}
        roles.append(role["Fn::GetAtt"][0])
    setup, indexer = roles
    assert setup != indexer
    return setup, indexer


def _sign_in_role(resources: kit.Resources, name: str) -> str:
    """The id of a role of the Cognito sign-in (`ReaderRole`, `AdminRole`, ...)."""
    (rid,) = [
        rid
        for rid, r in resources.items()
        if r["Type"] == "AWS::IAM::Role" and rid.startswith(f"DashboardsSignIn{name}")
    ]
    return rid


def _function(resources: kit.Resources, handler: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (rid, r)
        for rid, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == handler
    ]
    return found


def _setup_function(resources: kit.Resources) -> tuple[str, dict[str, Any]]:
    return _function(resources, HANDLER)


def _statements(resources: kit.Resources, role_id: str) -> dict[str, dict[str, Any]]:
    statements: dict[str, dict[str, Any]] = {}
    for r in resources.values():
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]:
            for s in r["Properties"]["PolicyDocument"]["Statement"]:
                statements[s.get("Sid") or json.dumps(s["Action"])] = s
    return statements


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- the setup function's bundle ---------------------------------------------------------------


def test_bundle_has_the_handler_its_dependencies_and_the_saved_objects(
    lambda_asset: Path, saved_objects: Path
) -> None:
    assert (lambda_asset / "qos_search_indexer" / "entrypoints" / "setup_lambda.py").is_file()
    assert (lambda_asset / "qos_search_indexer" / "entrypoints" / "indexer_lambda.py").is_file()
    assert (lambda_asset / "qos_search_indexer" / "domain" / "index.py").is_file()
    assert (lambda_asset / "qos_shared" / "__init__.py").is_file()
    for dependency in ("aws_lambda_powertools", "botocore", "opensearchpy", "pydantic_core"):
        assert (lambda_asset / dependency).is_dir(), dependency
    assert (lambda_asset / "qos-dashboards.ndjson").read_bytes() == saved_objects.read_bytes()
    assert (lambda_asset / MARKER_FILE).is_file()
    assert not (lambda_asset / "qos_search_indexer_infra").exists()
    assert not (lambda_asset / "qos_shared_cdk").exists()
    assert not (lambda_asset / "qos_search_node").exists()  # dev tooling, not the function
    assert not (lambda_asset / "bin").exists()
    assert not list(lambda_asset.rglob("__pycache__"))
    assert not list(lambda_asset.glob("*.dist-info/direct_url.json"))
    (wheel_meta,) = lambda_asset.glob("pydantic_core-*.dist-info/WHEEL")
    tags = [ln for ln in wheel_meta.read_text().splitlines() if ln.startswith("Tag:")]
    assert any("cp312" in t and "manylinux" in t and "x86_64" in t for t in tags), tags


def test_bundle_build_refuses_missing_saved_objects_and_foreign_directories(
    tmp_path: Path, saved_objects: Path
) -> None:
    with pytest.raises(AssetBuildError, match=r"no Dashboards saved objects at .*absent\.ndjson"):
        build_lambda_asset(
            tmp_path / "out", saved_objects=tmp_path / "absent.ndjson", progress=None
        )
    (tmp_path / "mine.txt").write_text("not a bundle")
    with pytest.raises(AssetBuildError, match="refusing to delete"):
        build_lambda_asset(tmp_path, saved_objects=saved_objects, progress=None)
    assert (tmp_path / "mine.txt").is_file()


def test_bundle_defaults_to_the_committed_dashboards_file() -> None:
    assert DEFAULT_SAVED_OBJECTS == SEARCH_ROOT / "dashboards" / "qos-dashboards.ndjson"


# --- the domain -------------------------------------------------------------------------------


def test_domain_is_encrypted_https_only_with_iam_fine_grained_access_control(
    resources: kit.Resources,
) -> None:
    _, domain = kit.only(resources, "AWS::OpenSearchService::Domain")
    props = domain["Properties"]
    assert props["DomainName"] == DOMAIN_NAME
    assert props["EngineVersion"] == "OpenSearch_2.19"
    assert props["EncryptionAtRestOptions"] == {"Enabled": True}
    assert props["NodeToNodeEncryptionOptions"] == {"Enabled": True}
    endpoint = props["DomainEndpointOptions"]
    assert endpoint["EnforceHTTPS"] is True
    assert endpoint["TLSSecurityPolicy"].startswith("Policy-Min-TLS-1-2")
    security = props["AdvancedSecurityOptions"]
    assert security["Enabled"] is True
    assert security["InternalUserDatabaseEnabled"] is False
    assert security.get("AnonymousAuthEnabled", False) is False
    setup_role, _ = _role_ids(resources)
    assert security["MasterUserOptions"] == {"MasterUserARN": {"Fn::GetAtt": [setup_role, "Arn"]}}
    # The master user is the role the setup function runs as.
    _, function = _setup_function(resources)
    assert function["Properties"]["Role"] == {"Fn::GetAtt": [setup_role, "Arn"]}

    cluster = props["ClusterConfig"]
    assert (cluster["InstanceType"], cluster["InstanceCount"]) == ("t3.small.search", 2)
    assert cluster["ZoneAwarenessEnabled"] is True
    assert cluster["ZoneAwarenessConfig"] == {"AvailabilityZoneCount": 2}
    assert cluster["MultiAZWithStandbyEnabled"] is False
    assert props["EBSOptions"] == {"EBSEnabled": True, "VolumeType": "gp3", "VolumeSize": 20}
    assert "VPCOptions" not in props  # a public endpoint unless asked
    assert domain["DeletionPolicy"] == "Retain"  # the stack's default; the app picks per env


def test_domain_access_policy_names_only_the_stack_roles(resources: kit.Resources) -> None:
    _, domain = kit.only(resources, "AWS::OpenSearchService::Domain")
    policy = domain["Properties"]["AccessPolicies"]
    text = json.dumps(policy)
    assert '"Principal": "*"' not in text
    assert '{"AWS": "*"}' not in text
    assert '"AWS": ["*"]' not in text
    setup_role, indexer_role = _role_ids(resources)
    principals = []
    verbs = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert "Condition" not in statement
        assert statement["Resource"] == _domain_arn("/*")
        assert all(a.startswith("es:ESHttp") for a in kit.actions(statement))
        for principal in _listed(statement["Principal"]["AWS"]):
            principals.append(principal)
            verbs[principal["Fn::GetAtt"][0]] = sorted(kit.actions(statement))
    reader, admin = _sign_in_role(resources, "ReaderRole"), _sign_in_role(resources, "AdminRole")
    roles = (setup_role, indexer_role, reader, admin)
    assert sorted(map(json.dumps, principals)) == sorted(
        json.dumps({"Fn::GetAtt": [role, "Arn"]}) for role in roles
    )
    # The indexer only writes (_bulk is a POST); it never reads the domain.
    assert verbs[indexer_role] == ["es:ESHttpPost", "es:ESHttpPut"]


# --- Dashboards sign-in, logs, network ------------------------------------------------------

VPC_ID = "vpc-0123456789abcdef0"
SUBNETS = ("subnet-0aaa", "subnet-0bbb", "subnet-0ccc")
ADMIN_EMAIL = "ops.lead@example.com"


@pytest.fixture(scope="module")
def vpc_template(lambda_asset: Path) -> Template:
    """Two nodes in an existing VPC's subnets, with an admin e-mail."""
    stack = SearchIndexerStack(
        _fast_app(),
        f"qos-{ENV_NAME}-search-indexer",
        env_name=ENV_NAME,
        lambda_asset_dir=lambda_asset,
        instance_count=2,
        vpc=VpcPlacement(vpc_id=VPC_ID, subnet_ids=SUBNETS),
        dashboards_admin_email=ADMIN_EMAIL,
        cognito_domain_prefix="qos-test-1-dashboards",
    )
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def vpc_resources(vpc_template: Template) -> kit.Resources:
    resources: kit.Resources = vpc_template.to_json()["Resources"]
    return resources


def _trust(resources: kit.Resources, role_id: str) -> dict[str, Any]:
    statements: list[dict[str, Any]] = resources[role_id]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ]
    (statement,) = statements
    return statement


def test_dashboards_sign_in_is_cognito_without_self_sign_up(resources: kit.Resources) -> None:
    pool_id, pool = kit.only(resources, "AWS::Cognito::UserPool")
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Properties"]["UsernameAttributes"] == ["email"]
    _, hosted_ui = kit.only(resources, "AWS::Cognito::UserPoolDomain")
    assert hosted_ui["Properties"]["UserPoolId"] == {"Ref": pool_id}
    # The default prefix: the domain's name and the account (unique in the region).
    assert hosted_ui["Properties"]["Domain"] == {
        "Fn::Join": ["", [f"{DOMAIN_NAME}-", {"Ref": "AWS::AccountId"}]]
    }
    identity_id, identity = kit.only(resources, "AWS::Cognito::IdentityPool")
    assert identity["Properties"]["AllowUnauthenticatedIdentities"] is False

    reader, admin = _sign_in_role(resources, "ReaderRole"), _sign_in_role(resources, "AdminRole")
    for role in (reader, admin):  # only this identity pool's signed-in identities
        trust = _trust(resources, role)
        assert trust["Principal"] == {"Federated": "cognito-identity.amazonaws.com"}
        assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert trust["Condition"]["StringEquals"] == {
            "cognito-identity.amazonaws.com:aud": {"Ref": identity_id}
        }
        assert trust["Condition"]["ForAnyValue:StringLike"] == {
            "cognito-identity.amazonaws.com:amr": "authenticated"
        }
    _, attachment = kit.only(resources, "AWS::Cognito::IdentityPoolRoleAttachment")
    assert attachment["Properties"]["IdentityPoolId"] == {"Ref": identity_id}
    assert attachment["Properties"]["Roles"] == {"authenticated": {"Fn::GetAtt": [reader, "Arn"]}}
    _, group = kit.only(resources, "AWS::Cognito::UserPoolGroup")
    assert group["Properties"]["GroupName"] == "admins"
    assert group["Properties"]["RoleArn"] == {"Fn::GetAtt": [admin, "Arn"]}

    # The domain: Cognito options with the role OpenSearch Service configures Cognito with.
    _, domain = kit.only(resources, "AWS::OpenSearchService::Domain")
    service_role = _sign_in_role(resources, "OpenSearchCognitoRole")
    assert domain["Properties"]["CognitoOptions"] == {
        "Enabled": True,
        "UserPoolId": {"Ref": pool_id},
        "IdentityPoolId": {"Ref": identity_id},
        "RoleArn": {"Fn::GetAtt": [service_role, "Arn"]},
    }
    assert _trust(resources, service_role)["Principal"] == {
        "Service": "opensearchservice.amazonaws.com"
    }
    (managed,) = resources[service_role]["Properties"]["ManagedPolicyArns"]
    assert "policy/AmazonOpenSearchServiceCognitoAccess" in json.dumps(managed)
    hosted_ui_id, _ = kit.only(resources, "AWS::Cognito::UserPoolDomain")
    attachment_id, _ = kit.only(resources, "AWS::Cognito::IdentityPoolRoleAttachment")
    assert {hosted_ui_id, attachment_id} <= set(domain["DependsOn"])


def test_the_admin_groups_role_wins_through_a_token_rule_set_after_the_domain(
    resources: kit.Resources,
) -> None:
    calls = {
        json.dumps(r["Properties"]["Create"]): (rid, r)
        for rid, r in resources.items()
        if r["Type"] == "Custom::AWS"
    }
    assert len(calls) == 2
    by_action = {
        ("listUserPoolClients" if "listUserPoolClients" in text else "setIdentityPoolRoles"): v
        for text, v in calls.items()
    }
    lookup_id, lookup = by_action["listUserPoolClients"]
    assert "Domain" in lookup["DependsOn"]  # the client OpenSearch made exists by then
    _, set_roles = by_action["setIdentityPoolRoles"]
    text = json.dumps(set_roles["Properties"]["Create"])
    assert '\\"Type\\":\\"Token\\"' in text
    assert '\\"AmbiguousRoleResolution\\":\\"AuthenticatedRole\\"' in text
    assert json.dumps({"Fn::GetAtt": [lookup_id, "UserPoolClients.0.ClientId"]}) in text
    reader = _sign_in_role(resources, "ReaderRole")
    assert json.dumps({"Fn::GetAtt": [reader, "Arn"]}) in text


def test_no_admin_user_without_the_context_key(resources: kit.Resources) -> None:
    assert not [r for r in resources.values() if r["Type"] == "AWS::Cognito::UserPoolUser"]


def test_an_admin_user_is_invited_into_the_admin_group(vpc_resources: kit.Resources) -> None:
    user_id, user = kit.only(vpc_resources, "AWS::Cognito::UserPoolUser")
    props = user["Properties"]
    assert props["Username"] == ADMIN_EMAIL
    assert props["DesiredDeliveryMediums"] == ["EMAIL"]
    assert {"Name": "email", "Value": ADMIN_EMAIL} in props["UserAttributes"]
    _, member = kit.only(vpc_resources, "AWS::Cognito::UserPoolUserToGroupAttachment")
    assert (member["Properties"]["Username"], member["Properties"]["GroupName"]) == (
        ADMIN_EMAIL,
        "admins",
    )
    assert user_id in member["DependsOn"]
    _, hosted_ui = kit.only(vpc_resources, "AWS::Cognito::UserPoolDomain")
    assert hosted_ui["Properties"]["Domain"] == "qos-test-1-dashboards"


def test_domain_logs_go_to_groups_with_a_retention(resources: kit.Resources) -> None:
    _, domain = kit.only(resources, "AWS::OpenSearchService::Domain")
    options = domain["Properties"]["LogPublishingOptions"]
    assert set(options) == {
        "SEARCH_SLOW_LOGS",
        "INDEX_SLOW_LOGS",
        "ES_APPLICATION_LOGS",
        "AUDIT_LOGS",  # the domain has fine-grained access control, which audit logs need
    }
    groups = set()
    for option in options.values():
        assert option["Enabled"] is True
        (group_id, _) = option["CloudWatchLogsLogGroupArn"]["Fn::GetAtt"]
        assert resources[group_id]["Properties"]["RetentionInDays"] == 30
        groups.add(group_id)
    assert len(groups) == 4
    policy_id, policy = kit.only(resources, "AWS::Logs::ResourcePolicy")
    assert policy_id in domain["DependsOn"]
    document = json.loads(json.dumps(policy["Properties"]["PolicyDocument"]))
    text = json.dumps(document)
    for group_id in groups:
        assert json.dumps({"Fn::GetAtt": [group_id, "Arn"]}) in text
    assert "es.amazonaws.com" in text and "aws:SourceArn" in text


def test_no_vpc_by_default(resources: kit.Resources) -> None:
    assert not [rid for rid, r in resources.items() if r["Type"].startswith("AWS::EC2::")]
    for handler in (HANDLER, INDEXER_HANDLER):
        _, function = _function(resources, handler)
        assert "VpcConfig" not in function["Properties"]


def test_in_a_vpc_the_domain_admits_https_from_the_setup_and_indexer_groups(
    vpc_resources: kit.Resources,
) -> None:
    _, domain = kit.only(vpc_resources, "AWS::OpenSearchService::Domain")
    options = domain["Properties"]["VPCOptions"]
    assert options["SubnetIds"] == list(SUBNETS[:2])  # one per zone, two zones
    (domain_group,) = options["SecurityGroupIds"]
    groups = {rid: r for rid, r in vpc_resources.items() if r["Type"] == "AWS::EC2::SecurityGroup"}
    assert {r["Properties"]["VpcId"] for r in groups.values()} == {VPC_ID}
    assert "SecurityGroupIngress" not in groups[domain_group["Fn::GetAtt"][0]]["Properties"]
    ingress = [
        r["Properties"]
        for r in vpc_resources.values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
    ]
    assert {(i["FromPort"], i["ToPort"], i["IpProtocol"]) for i in ingress} == {(443, 443, "tcp")}
    assert all(i["GroupId"] == domain_group for i in ingress)
    sources = {i["SourceSecurityGroupId"]["Fn::GetAtt"][0] for i in ingress}
    assert len(sources) == 2

    _, function = _setup_function(vpc_resources)
    vpc_config = function["Properties"]["VpcConfig"]
    assert vpc_config["SubnetIds"] == list(SUBNETS)
    (setup_group,) = vpc_config["SecurityGroupIds"]
    assert setup_group["Fn::GetAtt"][0] in sources
    # The indexer function in the same subnets, in the other group the domain admits.
    _, indexer = _function(vpc_resources, INDEXER_HANDLER)
    indexer_config = indexer["Properties"]["VpcConfig"]
    assert indexer_config["SubnetIds"] == list(SUBNETS)
    (indexer_group,) = indexer_config["SecurityGroupIds"]
    assert {setup_group["Fn::GetAtt"][0], indexer_group["Fn::GetAtt"][0]} == sources
    for role in _role_ids(vpc_resources):  # each may attach its function to the subnets
        attach = _statements(vpc_resources, role)["AttachToVpc"]
        assert "ec2:CreateNetworkInterface" in kit.actions(attach)
    # Nothing else reaches into the VPC: no delivery stream, no other function placed there.
    assert not [r for r in vpc_resources.values() if r["Type"].startswith("AWS::KinesisFirehose")]
    placed = [
        r
        for r in vpc_resources.values()
        if r["Type"] == "AWS::Lambda::Function" and "VpcConfig" in r["Properties"]
    ]
    assert len(placed) == 2


def test_the_vpc_template_passes_cfn_lint(vpc_template: Template, tmp_path: Path) -> None:
    kit.assert_passes_cfn_lint(vpc_template, tmp_path)


# --- the indexer ------------------------------------------------------------------------------


def test_no_firehose_delivers_to_opensearch_any_more(resources: kit.Resources) -> None:
    opensearch_destinations = {
        "AmazonopensearchserviceDestinationConfiguration",
        "AmazonOpenSearchServerlessDestinationConfiguration",
        "ElasticsearchDestinationConfiguration",
    }
    streams = [r for r in resources.values() if r["Type"] == "AWS::KinesisFirehose::DeliveryStream"]
    assert not [s for s in streams if opensearch_destinations & set(s["Properties"])]
    assert streams == []  # nor any other: the indexer function is the one path to the domain
    assert "firehose.amazonaws.com" not in json.dumps(resources)


def test_indexer_function_runs_the_bundled_handler_against_the_domain(
    template: Template, resources: kit.Resources
) -> None:
    function_id, function = _function(resources, INDEXER_HANDLER)
    props = function["Properties"]
    assert (props["Runtime"], props["Architectures"]) == ("python3.12", ["x86_64"])
    assert props["MemorySize"] == 1024
    assert 60 <= props["Timeout"] <= 900
    _, setup = _setup_function(resources)
    assert props["Code"] == setup["Properties"]["Code"]  # one bundle, two handlers
    env = props["Environment"]["Variables"]
    domain_id, _ = kit.only(resources, "AWS::OpenSearchService::Domain")
    bucket_id, _ = kit.only(resources, "AWS::S3::Bucket")
    assert env == {
        "QOS_SEARCH_URL": {
            "Fn::Join": ["", ["https://", {"Fn::GetAtt": [domain_id, "DomainEndpoint"]}]]
        },
        "QOS_SEARCH_DEAD_LETTER_BUCKET": {"Ref": bucket_id},
        "QOS_SEARCH_DEAD_LETTER_PREFIX": "dead-letters/",
        "QOS_SEARCH_VIEWS_STREAM_ARN": {"Ref": kit.read_parameter(template, VIEWS_STREAM_ARN)},
        "QOS_SEARCH_VIEWS_DEAD_LETTER_PREFIX": "dead-letters/views/",
        "POWERTOOLS_SERVICE_NAME": "qos-search-indexer",
    }
    log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
    assert resources[log_group]["Type"] == "AWS::Logs::LogGroup"
    assert function_id.startswith("Indexer")


def _mappings(template: Template, resources: kit.Resources) -> dict[str, tuple[str, Any]]:
    """The event source mappings by the SSM parameter of the stream each reads."""
    found: dict[str, tuple[str, Any]] = {}
    for parameter in (INGEST_STREAM_ARN, VIEWS_STREAM_ARN):
        arn = {"Ref": kit.read_parameter(template, parameter)}
        [(mapping_id, mapping)] = [
            (rid, r)
            for rid, r in resources.items()
            if r["Type"] == "AWS::Lambda::EventSourceMapping"
            and r["Properties"]["EventSourceArn"] == arn
        ]
        found[parameter] = (mapping_id, mapping)
    every = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert len(found) == len(every) == 2
    return found


@pytest.mark.parametrize(
    ("parameter", "construct"),
    [(INGEST_STREAM_ARN, "IndexerEventSource"), (VIEWS_STREAM_ARN, "IndexerViewsEventSource")],
    ids=["ingest", "views"],
)
def test_event_source_mappings_read_each_stream_with_partial_batch_failures(
    template: Template, resources: kit.Resources, parameter: str, construct: str
) -> None:
    mapping_id, mapping = _mappings(template, resources)[parameter]
    props = mapping["Properties"]
    function_id, _ = _function(resources, INDEXER_HANDLER)
    assert props["FunctionName"] == {"Ref": function_id}
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["BatchSize"] == 500
    assert props["MaximumBatchingWindowInSeconds"] == 10
    assert props["ParallelizationFactor"] == 2
    assert props["BisectBatchOnFunctionError"] is True
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["MaximumRetryAttempts"] == 50
    assert props["MaximumRecordAgeInSeconds"] == 3 * 3600
    queue_id, queue = kit.only(resources, "AWS::SQS::Queue")
    assert props["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}
    }
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 86400
    # After the setup (template and role mapping first) and the role's policy (Lambda checks
    # that the role may read the stream when it creates the mapping).
    setup_id, _ = kit.only(resources, "Custom::QosSearchSetup")
    _, indexer_role = _role_ids(resources)
    policies = [
        rid
        for rid, r in resources.items()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": indexer_role} in r["Properties"]["Roles"]
    ]
    assert {setup_id, indexer_role, *policies} <= set(mapping["DependsOn"])
    assert mapping_id.startswith(construct)


def test_indexer_role_may_read_the_stream_write_documents_dead_letters_and_logs(
    template: Template, resources: kit.Resources
) -> None:
    _, indexer_role = _role_ids(resources)
    trust = resources[indexer_role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    assert "ManagedPolicyArns" not in resources[indexer_role]["Properties"]
    statements = list(_statements(resources, indexer_role).values())
    by_action = {a: s for s in statements for a in kit.actions(s)}
    streams = [
        {"Ref": kit.read_parameter(template, INGEST_STREAM_ARN)},
        {"Ref": kit.read_parameter(template, VIEWS_STREAM_ARN)},
    ]
    reads = [
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
    ]
    assert sorted(a for a in by_action if a.startswith("kinesis:")) == reads
    # Each stream is read with exactly these actions, and no other resource is.
    for stream in streams:
        readers = [s for s in statements if stream in _listed(s["Resource"])]
        assert sorted(a for s in readers for a in kit.actions(s)) == reads, stream
    kinesis = [s for s in statements if any(a.startswith("kinesis:") for a in kit.actions(s))]
    assert sorted((r for s in kinesis for r in _listed(s["Resource"])), key=str) == sorted(
        streams, key=str
    )
    assert by_action["es:ESHttpPost"] == by_action["es:ESHttpPut"]
    assert by_action["es:ESHttpPost"]["Resource"] == _domain_arn("/*")
    assert "es:ESHttpGet" not in by_action and "es:ESHttpDelete" not in by_action
    bucket_id, _ = kit.only(resources, "AWS::S3::Bucket")
    put = by_action["s3:PutObject"]
    assert _listed(put["Resource"]) == [
        {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/dead-letters/*"]]}
    ]
    queue_id, _ = kit.only(resources, "AWS::SQS::Queue")
    assert by_action["sqs:SendMessage"]["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    services = {a.split(":")[0] for a in by_action}
    assert services == {"kinesis", "es", "s3", "sqs", "logs"}
    assert all(s["Effect"] == "Allow" for s in statements)


def test_alarms_watch_the_failure_queue_the_errors_and_the_iterator_age(
    resources: kit.Resources,
) -> None:
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    by_metric = {(a["Namespace"], a["MetricName"]): a for a in alarms}
    assert set(by_metric) == {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "IteratorAge"),
    }
    queue_id, _ = kit.only(resources, "AWS::SQS::Queue")
    function_id, _ = _function(resources, INDEXER_HANDLER)
    queue = by_metric[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    assert queue["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
    ]
    for key in (("AWS/Lambda", "Errors"), ("AWS/Lambda", "IteratorAge")):
        assert by_metric[key]["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": function_id}}
        ]
    assert queue["Threshold"] == 0 and by_metric[("AWS/Lambda", "Errors")]["Threshold"] == 0
    assert by_metric[("AWS/Lambda", "IteratorAge")]["Threshold"] == 15 * 60 * 1000
    assert by_metric[("AWS/Lambda", "IteratorAge")]["Statistic"] == "Maximum"
    for alarm in alarms:
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"


def test_failed_documents_bucket_is_private_encrypted_and_expires(resources: kit.Resources) -> None:
    _, rules = kit.assert_private_bucket(resources)
    assert rules["ExpireFailures"]["ExpirationInDays"] == 30
    assert "Prefix" not in rules["ExpireFailures"]  # the bucket holds dead letters only


def test_setup_role_may_only_set_up_the_domain_and_log(resources: kit.Resources) -> None:
    setup_role, _ = _role_ids(resources)
    trust = resources[setup_role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    statements = list(_statements(resources, setup_role).values())
    by_service: dict[str, dict[str, Any]] = {}
    for s in statements:
        by_service[kit.actions(s)[0].split(":")[0]] = s
    assert set(by_service) == {"es", "logs"}
    assert sorted(kit.actions(by_service["es"])) == [
        "es:ESHttpGet",
        "es:ESHttpPost",
        "es:ESHttpPut",
    ]
    assert by_service["es"]["Resource"] == _domain_arn("/*")
    assert sorted(kit.actions(by_service["logs"])) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    _, function = _setup_function(resources)
    log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert by_service["logs"]["Resource"] == {"Fn::GetAtt": [log_group, "Arn"]}
    # No managed policies (AWSLambdaBasicExecutionRole writes to every log group).
    assert "ManagedPolicyArns" not in resources[setup_role]["Properties"]


def test_no_policy_in_the_stack_grants_a_wildcard_action(resources: kit.Resources) -> None:
    for rid, r in resources.items():
        if r["Type"] != "AWS::IAM::Policy":
            continue
        for statement in r["Properties"]["PolicyDocument"]["Statement"]:
            for action in kit.actions(statement):
                assert "*" not in action, f"{rid}: {action}"


# --- the setup custom resource ----------------------------------------------------------------


def test_setup_custom_resource_runs_the_bundled_handler_with_the_settings(
    resources: kit.Resources, saved_objects: Path
) -> None:
    setup_id, setup = kit.only(resources, "Custom::QosSearchSetup")
    props = setup["Properties"]
    domain_id, _ = kit.only(resources, "AWS::OpenSearchService::Domain")
    _, indexer_role = _role_ids(resources)
    assert props["DomainEndpoint"] == {"Fn::GetAtt": [domain_id, "DomainEndpoint"]}
    # The role mapped to the writer security role: the indexer's.
    assert props["IndexerRoleArn"] == {"Fn::GetAtt": [indexer_role, "Arn"]}
    # Two nodes: one replica by default, so a node's loss loses no data.
    assert (props["Shards"], props["Replicas"], props["DeleteAfterDays"]) == (1, 1, 14)
    assert props["SavedObjectsSha256"] == hashlib.sha256(saved_objects.read_bytes()).hexdigest()
    assert props["DesignSha256"] == design_sha256(shards=1, replicas=1, delete_after_days=14)
    assert "RunId" not in props
    # The Cognito roles the setup maps to the read-only and admin security roles.
    reader, admin = _sign_in_role(resources, "ReaderRole"), _sign_in_role(resources, "AdminRole")
    assert props["DashboardsReaderRoleArn"] == {"Fn::GetAtt": [reader, "Arn"]}
    assert props["DashboardsAdminRoleArn"] == {"Fn::GetAtt": [admin, "Arn"]}
    assert props["AuditLogs"] is True

    function_id, function = _setup_function(resources)
    fp = function["Properties"]
    assert (fp["Runtime"], fp["Architectures"]) == ("python3.12", ["x86_64"])
    assert fp["Timeout"] >= 120
    assert fp["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "qos-search-setup"
    # The Provider framework's function invokes ours, and is the resource's service token.
    framework_id = kit.provider_framework_function(resources, function_id)
    assert props["ServiceToken"] == {"Fn::GetAtt": [framework_id, "Arn"]}
    assert setup["DeletionPolicy"] == "Delete"
    assert setup_id == "Setup"


def test_ssm_parameters_and_outputs_publish_the_domain(resources: kit.Resources) -> None:
    names = kit.ssm_parameters(resources)
    prefix = f"/qos/{ENV_NAME}/search-indexer/"
    assert {n.removeprefix(prefix) for n in names} == {
        "domain-endpoint",
        "domain-arn",
        "dashboards-url",
        "index-pattern",
        "indexer-function-name",
        "failed-documents-bucket",
    }
    domain_id, _ = kit.only(resources, "AWS::OpenSearchService::Domain")
    endpoint = {"Fn::GetAtt": [domain_id, "DomainEndpoint"]}
    assert names[prefix + "domain-endpoint"] == endpoint
    dashboards = {"Fn::Join": ["", ["https://", endpoint, "/_dashboards/"]]}
    assert names[prefix + "dashboards-url"] == dashboards
    assert names[prefix + "index-pattern"] == "qos-events-*"


def test_outputs_give_the_dashboards_url(template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    domain_id = "Domain"
    assert outputs["DashboardsUrl"]["Value"] == {
        "Fn::Join": [
            "",
            ["https://", {"Fn::GetAtt": [domain_id, "DomainEndpoint"]}, "/_dashboards/"],
        ]
    }
    assert {"DomainEndpoint", "IndexerFunctionName", "SetupFunctionName"} <= set(outputs)
    assert "DeliveryStreamName" not in outputs


# --- the app and its context ------------------------------------------------------------------


def test_app_reads_its_settings_from_context(lambda_asset: Path, tmp_path: Path) -> None:
    app = _fast_app(
        **{
            "qos:search-indexer:lambdaAssetDir": str(lambda_asset),
            "qos:search-indexer:instanceCount": "3",
            "qos:search-indexer:replicas": "2",
            "qos:search-indexer:domainLogs": "true",
            "qos:search-indexer:indexerBatchSize": 250,
            "qos:search-indexer:indexerRetryAttempts": "20",
            "qos:search-indexer:setupRunId": "2026-11-28",
            "qos:search-indexer:engineVersion": "OpenSearch_3.7",
        }
    )
    template = Template.from_stack(add_search_indexer_stack(app, env_name="prod", env=None))
    resources: kit.Resources = template.to_json()["Resources"]
    _, domain = kit.only(resources, "AWS::OpenSearchService::Domain")
    props = domain["Properties"]
    assert props["DomainName"] == "qos-prod-search"
    assert props["EngineVersion"] == "OpenSearch_3.7"
    assert props["ClusterConfig"]["InstanceCount"] == 3
    assert props["ClusterConfig"]["ZoneAwarenessConfig"] == {"AvailabilityZoneCount": 3}
    assert domain["DeletionPolicy"] == "Retain"  # prod
    assert set(props["LogPublishingOptions"]) == {
        "ES_APPLICATION_LOGS",
        "SEARCH_SLOW_LOGS",
        "INDEX_SLOW_LOGS",
        "AUDIT_LOGS",
    }
    assert "VPCOptions" not in props
    (logs_policy_id, logs_policy) = kit.only(resources, "AWS::Logs::ResourcePolicy")
    assert logs_policy_id in domain["DependsOn"]
    policy_text = json.dumps(logs_policy["Properties"]["PolicyDocument"])
    assert "es.amazonaws.com" in policy_text and "aws:SourceArn" in policy_text
    _, setup = kit.only(resources, "Custom::QosSearchSetup")
    assert (setup["Properties"]["Replicas"], setup["Properties"]["RunId"]) == (2, "2026-11-28")
    mappings = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert len(mappings) == 2
    for mapping in mappings:
        mp = mapping["Properties"]
        assert (mp["BatchSize"], mp["MaximumRetryAttempts"]) == (250, 20)
        assert (mp["MaximumBatchingWindowInSeconds"], mp["MaximumRecordAgeInSeconds"]) == (
            5,
            6 * 3600,
        )
    kit.assert_passes_cfn_lint(template, tmp_path)


def test_app_defaults_for_a_development_environment(lambda_asset: Path) -> None:
    app = _fast_app(**{"qos:search-indexer:lambdaAssetDir": str(lambda_asset)})
    stack = add_search_indexer_stack(app, env_name="dev", env=None)
    assert stack.stack_name == "qos-dev-search-indexer"
    resources: kit.Resources = Template.from_stack(stack).to_json()["Resources"]
    _, domain = kit.only(resources, "AWS::OpenSearchService::Domain")
    cluster = domain["Properties"]["ClusterConfig"]
    assert (cluster["InstanceType"], cluster["InstanceCount"]) == ("t3.small.search", 1)
    assert cluster["ZoneAwarenessEnabled"] is False
    assert "ZoneAwarenessConfig" not in cluster
    assert domain["DeletionPolicy"] == "Delete"  # not prod: goes with the stack
    _, setup = kit.only(resources, "Custom::QosSearchSetup")
    assert setup["Properties"]["Replicas"] == 0  # one node: a replica could never be placed
    assert "VPCOptions" not in domain["Properties"]
    assert set(domain["Properties"]["LogPublishingOptions"]) >= {"AUDIT_LOGS"}
    mappings = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert len(mappings) == 2
    for mapping in mappings:
        mp = mapping["Properties"]
        assert (mp["BatchSize"], mp["ParallelizationFactor"], mp["MaximumRetryAttempts"]) == (
            1000,
            1,
            1000,
        )


def test_app_puts_the_domain_in_a_new_vpc_and_invites_the_admin(
    lambda_asset: Path, tmp_path: Path
) -> None:
    app = _fast_app(
        **{
            "qos:search-indexer:lambdaAssetDir": str(lambda_asset),
            "qos:search-indexer:vpc": "true",
            "qos:search-indexer:adminEmail": ADMIN_EMAIL,
        }
    )
    template = Template.from_stack(add_search_indexer_stack(app, env_name="dev", env=None))
    resources: kit.Resources = template.to_json()["Resources"]
    # Isolated subnets, no NAT: the domain and both functions talk inside the VPC.
    vpc_id, _ = kit.only(resources, "AWS::EC2::VPC")
    subnets = [rid for rid, r in resources.items() if r["Type"] == "AWS::EC2::Subnet"]
    assert len(subnets) == 2
    assert all(resources[s]["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets)
    assert not [r for r in resources.values() if r["Type"] == "AWS::EC2::NatGateway"]
    assert not [r for r in resources.values() if r["Type"] == "AWS::EC2::InternetGateway"]
    _, domain = kit.only(resources, "AWS::OpenSearchService::Domain")
    (subnet,) = domain["Properties"]["VPCOptions"]["SubnetIds"]  # one node, one zone
    assert subnet["Ref"] in subnets
    assert resources[subnet["Ref"]]["Properties"]["VpcId"] == {"Ref": vpc_id}
    for handler in (HANDLER, INDEXER_HANDLER):
        _, function = _function(resources, handler)
        placed = function["Properties"]["VpcConfig"]["SubnetIds"]
        assert sorted(s["Ref"] for s in placed) == sorted(subnets)
    # The indexer's dead letters reach S3 through a gateway endpoint on the subnets' routes.
    _, endpoint = kit.only(resources, "AWS::EC2::VPCEndpoint")
    props = endpoint["Properties"]
    assert props["VpcEndpointType"] == "Gateway"
    assert props["VpcId"] == {"Ref": vpc_id}
    assert ".s3" in json.dumps(props["ServiceName"])
    tables = {
        a["Properties"]["RouteTableId"]["Ref"]
        for a in resources.values()
        if a["Type"] == "AWS::EC2::SubnetRouteTableAssociation"
        and a["Properties"]["SubnetId"]["Ref"] in subnets
    }
    assert len(tables) == 2
    assert sorted(t["Ref"] for t in props["RouteTableIds"]) == sorted(tables)
    _, user = kit.only(resources, "AWS::Cognito::UserPoolUser")
    assert user["Properties"]["Username"] == ADMIN_EMAIL
    kit.assert_passes_cfn_lint(template, tmp_path)


def test_app_vpc_context_names_a_vpc_and_its_subnets_together(lambda_asset: Path) -> None:
    for context, message in (
        ({"vpcId": VPC_ID}, "needs qos:search-indexer:subnetIds"),
        ({"subnetIds": "subnet-1,subnet-2"}, "needs qos:search-indexer:vpcId"),
    ):
        app = _fast_app(
            **{"qos:search-indexer:lambdaAssetDir": str(lambda_asset)},
            **{f"qos:search-indexer:{k}": v for k, v in context.items()},
        )
        with pytest.raises(ValueError, match=message):
            add_search_indexer_stack(app, env_name="dev", env=None)


def test_without_domain_logs_the_setup_leaves_auditing_off(lambda_asset: Path) -> None:
    app = _fast_app(
        **{
            "qos:search-indexer:lambdaAssetDir": str(lambda_asset),
            "qos:search-indexer:domainLogs": "false",
        }
    )
    template = Template.from_stack(add_search_indexer_stack(app, env_name="dev", env=None))
    found: kit.Resources = template.to_json()["Resources"]
    _, domain = kit.only(found, "AWS::OpenSearchService::Domain")
    assert "LogPublishingOptions" not in domain["Properties"]
    assert not [r for r in found.values() if r["Type"] == "AWS::Logs::ResourcePolicy"]
    _, setup = kit.only(found, "Custom::QosSearchSetup")
    assert setup["Properties"]["AuditLogs"] is False


def test_app_fails_clearly_without_the_saved_objects(tmp_path: Path) -> None:
    app = _fast_app(**{"qos:search-indexer:savedObjects": str(tmp_path / "none.ndjson")})
    with pytest.raises(AssetBuildError, match="no Dashboards saved objects at"):
        add_search_indexer_stack(app, env_name="dev", env=None)


def test_stack_refuses_a_bundle_without_handler_or_saved_objects(
    lambda_asset: Path, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match=r"setup_lambda\.py is missing"):
        SearchIndexerStack(_fast_app(), "S", env_name="dev", lambda_asset_dir=tmp_path)
    entrypoints = tmp_path / "qos_search_indexer" / "entrypoints"
    entrypoints.mkdir(parents=True)
    (entrypoints / "setup_lambda.py").write_text("")
    with pytest.raises(FileNotFoundError, match=r"indexer_lambda\.py is missing"):
        SearchIndexerStack(_fast_app(), "S", env_name="dev", lambda_asset_dir=tmp_path)
    (entrypoints / "indexer_lambda.py").write_text("")
    with pytest.raises(FileNotFoundError, match=r"has no qos-dashboards\.ndjson"):
        SearchIndexerStack(_fast_app(), "S", env_name="dev", lambda_asset_dir=tmp_path)


@pytest.fixture
def valid_settings(lambda_asset: Path) -> dict[str, Any]:
    """What the bad-settings cases change one at a time: the stack's required settings."""
    return {"env_name": "test", "lambda_asset_dir": lambda_asset}


test_bad_settings_are_refused_before_synthesis = kit.bad_settings_test(
    SearchIndexerStack,
    [
        ({"env_name": "Prod"}, "env_name"),
        ({"env_name": "a-very-long-env-name"}, "domain name"),
        ({"engine_version": "2.19"}, "OpenSearch_X.Y"),
        ({"instance_type": "t3.small"}, ".search"),
        ({"instance_count": 4, "availability_zone_count": 3}, "multiple"),
        ({"replicas": 1}, "below instance_count"),
        ({"volume_size_gib": 5}, "volume_size_gib"),
        ({"delete_after_days": 0}, "delete_after_days"),
        ({"dashboards_admin_email": "not an address"}, "e-mail"),
        (
            {"vpc": VpcPlacement(vpc_id="vpc-1", subnet_ids=("s-1",)), "instance_count": 2},
            "subnets",
        ),
    ],
)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 10_001}, "batch_size"),
        ({"batching_window_s": 301}, "batching_window_s"),
        ({"parallelization_factor": 11}, "parallelization_factor"),
        ({"retry_attempts": -1}, "retry_attempts"),
        ({"max_record_age_hours": 24}, "max_record_age_hours"),
        ({"memory_mib": 128}, "memory_mib"),
    ],
)
def test_bad_indexer_settings_are_refused(settings: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IndexerSource(**settings)


def test_app_sizes_the_domain_and_the_indexer_from_context(lambda_asset: Path) -> None:
    app = _fast_app(
        **{
            "qos:search-indexer:lambdaAssetDir": str(lambda_asset),
            "qos:search-indexer:instanceType": "r6g.large.search",
            "qos:search-indexer:instanceCount": 2,
            "qos:search-indexer:volumeSizeGiB": "200",
            "qos:search-indexer:shards": "4",
            "qos:search-indexer:indexerMemoryMiB": "1024",
            "qos:search-indexer:indexerReservedConcurrency": "10",
        }
    )
    resources: kit.Resources = Template.from_stack(
        add_search_indexer_stack(app, env_name="qa", env=None)
    ).to_json()["Resources"]
    _, domain = kit.only(resources, "AWS::OpenSearchService::Domain")
    cluster = domain["Properties"]["ClusterConfig"]
    assert (cluster["InstanceType"], cluster["InstanceCount"]) == ("r6g.large.search", 2)
    assert domain["Properties"]["EBSOptions"]["VolumeSize"] == 200
    _, setup = kit.only(resources, "Custom::QosSearchSetup")
    assert (setup["Properties"]["Shards"], setup["Properties"]["Replicas"]) == (4, 1)
    (indexer,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == INDEXER_HANDLER
    ]
    assert (indexer["MemorySize"], indexer["ReservedConcurrentExecutions"]) == (1024, 10)


def test_app_refuses_a_volume_below_the_minimum_by_its_key(lambda_asset: Path) -> None:
    app = _fast_app(
        **{
            "qos:search-indexer:lambdaAssetDir": str(lambda_asset),
            "qos:search-indexer:volumeSizeGiB": "5",
        }
    )
    with pytest.raises(ValueError, match="qos:search-indexer:volumeSizeGiB: 10-16384"):
        add_search_indexer_stack(app, env_name="qa", env=None)
