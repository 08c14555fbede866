"""Tests of the search CDK code: the setup bundle, the synthesized stack, cfn-lint, the app.

jsii makes every synthesis cost seconds, so the bundle is built once per session (around a
stand-in saved objects file, so these tests don't wait for the dashboards generator) and the
stack synthesized once per module; assertions then read the one template. Expected names and
values are written out here, or derived from `index.py`, not read from the stack's code.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from qos_search_indexer.domain.design import design_sha256
from qos_search_indexer.domain.index import index_template
from qos_search_indexer_infra import (
    DEFAULT_SAVED_OBJECTS,
    SEARCH_ROOT,
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
DOMAIN_NAME = "qos-test-1-search"
HANDLER = "qos_search_indexer.entrypoints.setup_lambda.handler"
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
        buffer_size_mib=10,
        buffer_interval_seconds=120,
        retry_seconds=600,
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
    """(setup role, Firehose role), found by what assumes them (the setup role among the
    Lambda roles by its name: the Provider framework and the SDK calls have their own)."""
    by_service: dict[str, str] = {}
    for rid, r in resources.items():
        if r["Type"] != "AWS::IAM::Role":
            continue
        (statement,) = r["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        service = statement["Principal"].get("Service")
        if service == "lambda.amazonaws.com" and not rid.startswith("SetupRole"):
            continue
        if service is not None:
            by_service[service] = rid
    return by_service["lambda.amazonaws.com"], by_service["firehose.amazonaws.com"]


def _sign_in_role(resources: kit.Resources, name: str) -> str:
    """The id of a role of the Cognito sign-in (`ReaderRole`, `AdminRole`, ...)."""
    (rid,) = [
        rid
        for rid, r in resources.items()
        if r["Type"] == "AWS::IAM::Role" and rid.startswith(f"DashboardsSignIn{name}")
    ]
    return rid


def _setup_function(resources: kit.Resources) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (rid, r)
        for rid, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == HANDLER
    ]
    return found


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
    setup_role, firehose_role = _role_ids(resources)
    principals = []
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert "Condition" not in statement
        assert statement["Resource"] == _domain_arn("/*")
        assert all(a.startswith("es:ESHttp") for a in kit.actions(statement))
        principals += _listed(statement["Principal"]["AWS"])
    roles = (
        setup_role,
        firehose_role,
        _sign_in_role(resources, "ReaderRole"),
        _sign_in_role(resources, "AdminRole"),
    )
    assert sorted(map(json.dumps, principals)) == sorted(
        json.dumps({"Fn::GetAtt": [role, "Arn"]}) for role in roles
    )


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
    _, function = _setup_function(resources)
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
    setup_role, firehose_role = _role_ids(vpc_resources)
    attach = _statements(vpc_resources, setup_role)["AttachToVpc"]
    assert "ec2:CreateNetworkInterface" in kit.actions(attach)

    _, stream = kit.only(vpc_resources, "AWS::KinesisFirehose::DeliveryStream")
    destination = stream["Properties"]["AmazonopensearchserviceDestinationConfiguration"]
    (indexer_group,) = destination["VpcConfiguration"]["SecurityGroupIds"]
    assert indexer_group["Fn::GetAtt"][0] in sources - {setup_group["Fn::GetAtt"][0]}
    assert "ec2:CreateNetworkInterface" in kit.actions(
        _statements(vpc_resources, firehose_role)["DeliverIntoVpc"]
    )


def test_the_vpc_template_passes_cfn_lint(vpc_template: Template, tmp_path: Path) -> None:
    kit.assert_passes_cfn_lint(vpc_template, tmp_path)


# --- Firehose ---------------------------------------------------------------------------------


def test_firehose_reads_the_ingest_stream_into_daily_indices(
    template: Template, resources: kit.Resources
) -> None:
    # Created after the role's policy (Firehose validates access), checked by the kit.
    stream, role_id = kit.kinesis_delivery_stream(template, resources, INGEST_STREAM_ARN)
    props = stream["Properties"]
    assert props["DeliveryStreamName"] == "qos-test-1-search"
    dest = props["AmazonopensearchserviceDestinationConfiguration"]
    domain_id, _ = kit.only(resources, "AWS::OpenSearchService::Domain")
    assert dest["DomainARN"] == {"Fn::GetAtt": [domain_id, "Arn"]}
    assert dest["IndexName"] == "qos-events"
    assert dest["IndexRotationPeriod"] == "OneDay"
    # Firehose names a day's index <IndexName>-YYYY-MM-DD: the template must match it.
    (pattern,) = index_template()["index_patterns"]
    assert fnmatch.fnmatchcase(f"{dest['IndexName']}-2026-11-28", pattern)
    assert dest["BufferingHints"] == {"SizeInMBs": 10, "IntervalInSeconds": 120}
    assert dest["RetryOptions"] == {"DurationInSeconds": 600}
    assert dest["S3BackupMode"] == "FailedDocumentsOnly"
    backup = dest["S3Configuration"]
    bucket_id, _ = kit.only(resources, "AWS::S3::Bucket")
    assert backup["BucketARN"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert backup["Prefix"] == "failed/"
    assert backup["ErrorOutputPrefix"] == (
        "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
    )
    assert backup["CompressionFormat"] == "GZIP"
    assert dest["CloudWatchLoggingOptions"]["Enabled"] is True
    assert backup["CloudWatchLoggingOptions"]["Enabled"] is True
    _, firehose_role = _role_ids(resources)
    assert role_id == firehose_role
    role_arn = {"Fn::GetAtt": [firehose_role, "Arn"]}
    assert dest["RoleARN"] == backup["RoleARN"] == role_arn
    # Created after the setup (template and role mapping in place before the first document).
    setup_id, _ = kit.only(resources, "Custom::QosSearchSetup")
    assert setup_id in stream["DependsOn"]


def test_failed_documents_bucket_is_private_encrypted_and_expires(resources: kit.Resources) -> None:
    _, rules = kit.assert_private_bucket(resources)
    assert rules["ExpireFailures"]["ExpirationInDays"] == 30
    assert "Prefix" not in rules["ExpireFailures"]  # the bucket holds failures only


def test_firehose_role_has_least_privilege(template: Template, resources: kit.Resources) -> None:
    _, firehose_role = _role_ids(resources)
    # Besides reading the stream, finding the bucket and logging: the domain, the backups.
    own_sids = {"DescribeDomain", "WriteDocuments", "ReadClusterState", "WriteFailedDocuments"}
    statements = kit.assert_firehose_role(
        template, resources, firehose_role, INGEST_STREAM_ARN, own_sids
    )
    assert sorted(kit.actions(statements["DescribeDomain"])) == [
        "es:DescribeDomain",
        "es:DescribeDomainConfig",
        "es:DescribeDomains",
    ]
    assert sorted(kit.actions(statements["WriteDocuments"])) == ["es:ESHttpPost", "es:ESHttpPut"]
    assert statements["WriteDocuments"]["Resource"] == [_domain_arn(), _domain_arn("/*")]
    # GET only on the paths Firehose reads, never the whole domain.
    get = statements["ReadClusterState"]
    assert kit.actions(get) == ["es:ESHttpGet"]
    assert _domain_arn("/*") not in get["Resource"]
    assert _domain_arn("/_cluster/stats") in get["Resource"]
    assert _domain_arn("/qos-events*/_stats") in get["Resource"]
    bucket_id, _ = kit.only(resources, "AWS::S3::Bucket")
    bucket_arn = {"Fn::GetAtt": [bucket_id, "Arn"]}
    write = statements["WriteFailedDocuments"]
    assert sorted(kit.actions(write)) == ["s3:AbortMultipartUpload", "s3:PutObject"]
    assert sorted(map(json.dumps, write["Resource"])) == sorted(
        json.dumps({"Fn::Join": ["", [bucket_arn, suffix]]})
        for suffix in ("/failed/*", "/errors/*")
    )
    assert statements["LocateBucket"]["Resource"] == bucket_arn
    assert kit.actions(statements["WriteLogs"]) == ["logs:PutLogEvents"]


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
    _, firehose_role = _role_ids(resources)
    assert props["DomainEndpoint"] == {"Fn::GetAtt": [domain_id, "DomainEndpoint"]}
    assert props["FirehoseRoleArn"] == {"Fn::GetAtt": [firehose_role, "Arn"]}
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
        "delivery-stream-name",
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
    assert {"DomainEndpoint", "DeliveryStreamName", "SetupFunctionName"} <= set(outputs)


# --- the app and its context ------------------------------------------------------------------


def test_app_reads_its_settings_from_context(lambda_asset: Path, tmp_path: Path) -> None:
    app = _fast_app(
        **{
            "qos:search-indexer:lambdaAssetDir": str(lambda_asset),
            "qos:search-indexer:instanceCount": "3",
            "qos:search-indexer:replicas": "2",
            "qos:search-indexer:domainLogs": "true",
            "qos:search-indexer:bufferIntervalSeconds": 30,
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
    _, stream = kit.only(resources, "AWS::KinesisFirehose::DeliveryStream")
    hints = stream["Properties"]["AmazonopensearchserviceDestinationConfiguration"][
        "BufferingHints"
    ]
    assert hints == {"SizeInMBs": 5, "IntervalInSeconds": 30}
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
    # Isolated subnets, no NAT: the domain and the setup function talk inside the VPC.
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
    _, function = _setup_function(resources)
    assert sorted(s["Ref"] for s in function["Properties"]["VpcConfig"]["SubnetIds"]) == sorted(
        subnets
    )
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
    with pytest.raises(FileNotFoundError, match="holds no setup function bundle"):
        SearchIndexerStack(_fast_app(), "S", env_name="dev", lambda_asset_dir=tmp_path)
    handler = tmp_path / "qos_search_indexer" / "entrypoints" / "setup_lambda.py"
    handler.parent.mkdir(parents=True)
    handler.write_text("")
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
        ({"buffer_size_mib": 101}, "1-100"),
        ({"buffer_interval_seconds": 901}, "0-900"),
        ({"retry_seconds": 7201}, "0-7200"),
        ({"delete_after_days": 0}, "delete_after_days"),
        ({"dashboards_admin_email": "not an address"}, "e-mail"),
        (
            {"vpc": VpcPlacement(vpc_id="vpc-1", subnet_ids=("s-1",)), "instance_count": 2},
            "subnets",
        ),
    ],
)
