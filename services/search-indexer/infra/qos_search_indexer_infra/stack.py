"""The search service's CloudFormation stack: ingest stream -> Firehose -> OpenSearch Service.

- an OpenSearch Service domain (`qos-<env>-search`): encrypted at rest and node to node, HTTPS
  only (TLS 1.2 minimum), fine-grained access control whose master user is the setup function's
  IAM role (no internal users, no passwords), and an access policy that names the two roles that
  may call it (the setup function and Firehose), never `*`;
- a Firehose delivery stream reading the ingest stream (its ARN from SSM,
  `/qos/<env>/ingest/stream-arn`, resolved at deploy time) into daily indices
  `qos-events-YYYY-MM-DD` (index `qos-events`, rotated daily), documents it could not index
  backed up to an S3 bucket (SSE-S3, public access blocked, TLS only, expiring);
- the setup custom resource (a Python Lambda behind the CDK `Provider`): the Firehose role's
  security role and role mapping, the ingest pipeline and index template, the ISM retention
  policy and the Dashboards saved objects, applied with SigV4-signed requests on every deploy
  whose inputs changed (`qos_search_indexer.entrypoints.setup_lambda`);
- Cognito sign-in to Dashboards (`access.DashboardsSignIn`): a user pool without self
  sign-up, its hosted UI, an `admins` group, an identity pool; signed-in users get a read-only
  security role, the admin group an admin one (mapped by the setup), and an admin user is
  invited when the stack is given an e-mail;
- the domain's logs (search and index slow logs, application errors, the security plugin's
  audit log) in CloudWatch log groups with a retention;
- optionally the domain in a VPC (`access.DomainNetwork`): HTTPS only from the setup
  function's and the indexer's security groups, the setup function in the VPC too; by default
  the endpoint is public, behind fine-grained access control and Cognito;
- SSM parameters `/qos/<env>/search-indexer/<resource>` and outputs (the Dashboards URL).

The delivery stream is created after the setup, so the first daily index is made from the template
and Firehose's role is mapped before its first request.

The domain is an L1 `CfnDomain` with an explicit name: its access policy then names the domain's
own ARN directly. The L2 `Domain` applies an access policy through an extra Node.js custom
resource (and leaves the domain without one until it runs).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Unpack

from aws_cdk import CfnOutput, CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr
from constructs import Construct

from qos_search_indexer_infra.access import DashboardsSignIn, DomainNetwork, VpcPlacement
from qos_search_indexer_infra.service_code import (
    HANDLER,
    INDEX_PATTERN,
    INDEX_PREFIX,
    SAVED_OBJECTS_FILENAME,
    design_sha256,
)
from qos_shared_cdk import blocks, ssm
from qos_shared_cdk.blocks import FirehoseDeliveryRole, LambdaRole, Options, ServiceStack, check

SERVICE = ssm.SEARCH_INDEXER
POWERTOOLS_SERVICE_NAME = "qos-search-setup"
SETUP_RESOURCE_TYPE = "Custom::QosSearchSetup"
# The local node's version (ADR 0007): the index design is tested on it.
DEFAULT_ENGINE_VERSION = "OpenSearch_2.19"
TLS_POLICY = "Policy-Min-TLS-1-2-PFS-2023-10"
INDEX_ROTATION = "OneDay"  # Firehose appends -YYYY-MM-DD: qos-events-2026-11-28
# Firehose files the documents OpenSearch refused under FAILED_PREFIX (in a folder of its own)
# and its own failures to write there under ERROR_PREFIX.
FAILED_PREFIX = "failed/"
ERROR_PREFIX = "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
# What Firehose reads to learn the cluster's state before it writes (the AWS documentation's list).
FIREHOSE_READ_PATHS = (
    "_all/_settings",
    "_cluster/stats",
    f"{INDEX_PREFIX}*/_mapping",
    f"{INDEX_PREFIX}*/_mapping/*",
    "_nodes",
    "_nodes/stats",
    "_nodes/*/stats",
    "_stats",
    f"{INDEX_PREFIX}*/_stats",
    "",
)

# What Firehose needs to deliver into a domain in a VPC (the AWS documentation's list).
FIREHOSE_VPC_ACTIONS = (
    "ec2:DescribeVpcs",
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeNetworkInterfaces",
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
)

_DOMAIN_NAME = re.compile(r"^[a-z][a-z0-9-]{2,27}$")
_ENGINE_VERSION = re.compile(r"^OpenSearch_\d+\.\d+$")


@dataclass(frozen=True)
class Cluster:
    """The domain's data nodes: `instance_count` of `instance_type`, each with a gp3 volume of
    `volume_size_gib`, spread over `availability_zone_count` zones when there are two or more."""

    instance_type: str
    instance_count: int
    availability_zone_count: int
    volume_size_gib: int

    def __post_init__(self) -> None:
        check(self.instance_type.endswith(".search"), "instance_type must end with .search")
        check(self.instance_count >= 1, "instance_count must be at least 1")
        check(self.availability_zone_count in (2, 3), "availability_zone_count must be 2 or 3")
        check(
            self.instance_count == 1 or self.instance_count % self.availability_zone_count == 0,
            "instance_count must be a multiple of availability_zone_count",
        )
        check(10 <= self.volume_size_gib <= 16384, "volume_size_gib: 10-16384")

    @property
    def zone_aware(self) -> bool:
        return self.instance_count >= 2

    def config(self) -> opensearch.CfnDomain.ClusterConfigProperty:
        d = opensearch.CfnDomain
        return d.ClusterConfigProperty(
            instance_type=self.instance_type,
            instance_count=self.instance_count,
            dedicated_master_enabled=False,
            # Standby needs three zones and no T3; zone awareness is the small-domain choice.
            multi_az_with_standby_enabled=False,
            zone_awareness_enabled=self.zone_aware,
            zone_awareness_config=d.ZoneAwarenessConfigProperty(
                availability_zone_count=self.availability_zone_count
            )
            if self.zone_aware
            else None,
        )

    def ebs_options(self) -> opensearch.CfnDomain.EBSOptionsProperty:
        return opensearch.CfnDomain.EBSOptionsProperty(
            ebs_enabled=True, volume_type="gp3", volume_size=self.volume_size_gib
        )


class SearchIndexerStack(ServiceStack):
    """The OpenSearch domain, the Firehose delivery stream into it, and its setup."""

    service = SERVICE
    label = "search"
    summary = "OpenSearch Service, Firehose from the ingest stream"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        domain_name: str | None = None,
        lambda_asset_dir: Path,
        engine_version: str = DEFAULT_ENGINE_VERSION,
        instance_type: str = "t3.small.search",
        instance_count: int = 1,
        availability_zone_count: int | None = None,
        volume_size_gib: int = 10,
        shards: int = 1,
        replicas: int | None = None,
        delete_after_days: int = 30,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        domain_logs: bool = True,
        dashboards_admin_email: str | None = None,
        cognito_domain_prefix: str | None = None,
        vpc: VpcPlacement | None = None,
        buffer_size_mib: int = 5,
        buffer_interval_seconds: int = 60,
        retry_seconds: int = 300,
        expire_failed_days: int = 90,
        setup_run_id: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        **options: Unpack[Options],
    ) -> None:
        """
        Args:
            lambda_asset_dir: the setup function's bundle (`qos_search_indexer_infra.packaging`),
                with the saved objects NDJSON at its root.
            domain_name: default `qos-<env>-search` (3-28 characters).
            instance_type / instance_count / volume_size_gib: data nodes and their gp3 volume.
            availability_zone_count: zone awareness across 2 or 3 zones, used when
                instance_count >= 2 (which must then be a multiple of it); default 2 for an
                even count, else 3.
            shards / replicas: per daily index; replicas default to 0 on one node, else 1.
            delete_after_days: the ISM policy deletes a daily index this long after creation.
            removal_policy: the domain's (the failed-documents bucket is always kept).
            domain_logs: publish the domain's application, slow and audit logs to CloudWatch
                Logs (the setup turns the security plugin's audit logging on).
            dashboards_admin_email: invite this e-mail as a Dashboards admin (the user pool's
                admin group); none: no user is created (add people in the Cognito console).
            cognito_domain_prefix: the Cognito hosted UI's domain prefix (unique in the region);
                default `<domain name>-<account id>`.
            vpc: put the domain in a VPC (the setup function too); default a public endpoint.
            buffer_size_mib / buffer_interval_seconds: Firehose sends a bulk request per this
                many MiB or seconds (1-100, 0-900); retry_seconds: how long it retries one.
            expire_failed_days: lifetime of the backed-up failed documents.
            setup_run_id: any new value re-runs the setup on the next deploy.
        """
        domain_name = domain_name or default_domain_name(env_name)
        replicas = (0 if instance_count == 1 else 1) if replicas is None else replicas
        if availability_zone_count is None:
            availability_zone_count = 2 if instance_count % 2 == 0 else 3
        check(
            _DOMAIN_NAME.fullmatch(domain_name) is not None,
            f"domain name {domain_name!r}: 3-28 of a-z0-9-, starting with a letter "
            "(a long env_name needs an explicit domain_name)",
        )
        check(
            _ENGINE_VERSION.fullmatch(engine_version) is not None,
            f"engine_version {engine_version!r}: OpenSearch_X.Y",
        )
        cluster = Cluster(instance_type, instance_count, availability_zone_count, volume_size_gib)
        check(shards >= 1, "shards must be at least 1")
        check(
            0 <= replicas < instance_count,
            "replicas must be below instance_count (a replica never shares its primary's node)",
        )
        check(delete_after_days >= 1, "delete_after_days must be at least 1")
        check(1 <= buffer_size_mib <= 100, "buffer_size_mib: 1-100")
        buffering = blocks.Buffering(buffer_size_mib, buffer_interval_seconds)
        check(0 <= retry_seconds <= 7200, "retry_seconds: 0-7200")
        check(expire_failed_days >= 1, "expire_failed_days must be at least 1")
        saved_objects = _checked_lambda_asset(lambda_asset_dir)
        super().__init__(scope, construct_id, env_name, **options)
        self.domain_logs = domain_logs
        self.domain_name = domain_name
        self.domain_arn = self.format_arn(
            service="es", resource="domain", resource_name=domain_name
        )
        stream_arn = self.read(ssm.INGEST_STREAM_ARN)

        self.backup_bucket = self._backup_bucket(expire_failed_days)
        self.firehose_role = FirehoseDeliveryRole(
            self, "FirehoseRole", description=self.describe("Firehose delivery stream")
        )
        self.setup_role = LambdaRole(
            self,
            "SetupRole",
            description=self.describe("setup function; the domain's master user"),
        )
        self.sign_in = DashboardsSignIn(
            self,
            "DashboardsSignIn",
            domain_prefix=cognito_domain_prefix or f"{domain_name}-{self.account}",
            admin_email=dashboards_admin_email,
            describe=self.describe("Dashboards"),
        )
        self.network = (
            None
            if vpc is None
            else DomainNetwork(
                self,
                "Network",
                placement=vpc,
                subnet_count=cluster.availability_zone_count if cluster.zone_aware else 1,
            )
        )
        self.domain = self._domain(
            engine_version, cluster, removal_policy, domain_logs, log_retention
        )
        self.setup = self._setup(
            lambda_asset_dir,
            saved_objects,
            shards=shards,
            replicas=replicas,
            delete_after_days=delete_after_days,
            setup_run_id=setup_run_id,
            log_retention=log_retention,
        )
        self.delivery_stream = self._firehose(stream_arn, buffering, retry_seconds, log_retention)
        self._publish()

    # --- storage for what could not be indexed -----------------------------------------------

    def _backup_bucket(self, expire_failed_days: int) -> s3.Bucket:
        # Failed documents are the evidence of what the index misses: deleting the stack leaves
        # them (the bucket is kept; an emptied bucket can be deleted by hand).
        return blocks.private_bucket(
            self,
            "FailedDocumentsBucket",
            # The bucket holds nothing but failures: one rule covers both prefixes.
            [s3.LifecycleRule(id="ExpireFailures", expiration=Duration.days(expire_failed_days))],
        )

    # --- the domain ---------------------------------------------------------------------------

    def _domain(
        self,
        engine_version: str,
        cluster: Cluster,
        removal_policy: RemovalPolicy,
        domain_logs: bool,
        log_retention: logs.RetentionDays,
    ) -> opensearch.CfnDomain:
        d = opensearch.CfnDomain
        # Only the stack's roles, only HTTP verbs they use; fine-grained access control then
        # limits Firehose and the Cognito roles to their security roles, and the setup role is
        # the master user.
        access_policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="SetupFunction",
                    principals=[iam.ArnPrincipal(self.setup_role.role_arn)],
                    actions=["es:ESHttpGet", "es:ESHttpPost", "es:ESHttpPut"],
                    resources=[f"{self.domain_arn}/*"],
                ),
                iam.PolicyStatement(
                    sid="FirehoseDelivery",
                    principals=[iam.ArnPrincipal(self.firehose_role.role_arn)],
                    actions=["es:ESHttpGet", "es:ESHttpPost", "es:ESHttpPut"],
                    resources=[f"{self.domain_arn}/*"],
                ),
                # People signed in through Cognito: what they may then do is their security
                # role's (read-only, or the admin group's).
                iam.PolicyStatement(
                    sid="DashboardsUsers",
                    principals=[
                        iam.ArnPrincipal(self.sign_in.reader_role.role_arn),
                        iam.ArnPrincipal(self.sign_in.admin_role.role_arn),
                    ],
                    actions=[
                        "es:ESHttpGet",
                        "es:ESHttpHead",
                        "es:ESHttpPost",
                        "es:ESHttpPut",
                        "es:ESHttpDelete",
                    ],
                    resources=[f"{self.domain_arn}/*"],
                ),
            ]
        )
        log_publishing, logs_policy = (
            self._domain_logs(log_retention) if domain_logs else ({}, None)
        )
        domain = d(
            self,
            "Domain",
            domain_name=self.domain_name,
            engine_version=engine_version,
            cluster_config=cluster.config(),
            ebs_options=cluster.ebs_options(),
            encryption_at_rest_options=d.EncryptionAtRestOptionsProperty(enabled=True),
            node_to_node_encryption_options=d.NodeToNodeEncryptionOptionsProperty(enabled=True),
            domain_endpoint_options=d.DomainEndpointOptionsProperty(
                enforce_https=True, tls_security_policy=TLS_POLICY
            ),
            advanced_security_options=d.AdvancedSecurityOptionsInputProperty(
                enabled=True,
                internal_user_database_enabled=False,
                anonymous_auth_enabled=False,
                master_user_options=d.MasterUserOptionsProperty(
                    master_user_arn=self.setup_role.role_arn
                ),
            ),
            access_policies=access_policy,
            log_publishing_options=log_publishing or None,
            cognito_options=self.sign_in.options(),
            vpc_options=None if self.network is None else self.network.domain_options(),
        )
        domain.apply_removal_policy(removal_policy)
        for dependency in self.sign_in.before_domain():
            domain.node.add_dependency(dependency)
        self.sign_in.map_group_roles(domain, log_retention)
        if logs_policy is not None:
            # OpenSearch Service checks that it may write to the groups when it turns logs on.
            domain.node.add_dependency(logs_policy)
        return domain

    def _domain_logs(
        self, log_retention: logs.RetentionDays
    ) -> tuple[dict[str, opensearch.CfnDomain.LogPublishingOptionProperty], logs.CfnResourcePolicy]:
        kinds = {
            "ES_APPLICATION_LOGS": "DomainApplicationLogs",
            "SEARCH_SLOW_LOGS": "DomainSearchSlowLogs",
            "INDEX_SLOW_LOGS": "DomainIndexSlowLogs",
            # Needs fine-grained access control (on); the setup turns the plugin's auditing on.
            "AUDIT_LOGS": "DomainAuditLogs",
        }
        groups = {
            kind: blocks.log_group(self, construct_id, log_retention)
            for kind, construct_id in kinds.items()
        }
        # OpenSearch Service writes through a CloudWatch Logs resource policy (there is no role),
        # limited to these groups and to this domain.
        policy = logs.CfnResourcePolicy(
            self,
            "DomainLogsResourcePolicy",
            policy_name=f"{self.resource_name}-domain-logs",
            policy_document=Stack.of(self).to_json_string(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "es.amazonaws.com"},
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": [g.log_group_arn for g in groups.values()],
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": self.account},
                                "ArnLike": {"aws:SourceArn": self.domain_arn},
                            },
                        }
                    ],
                }
            ),
        )
        options = {
            kind: opensearch.CfnDomain.LogPublishingOptionProperty(
                cloud_watch_logs_log_group_arn=group.log_group_arn, enabled=True
            )
            for kind, group in groups.items()
        }
        return options, policy

    # --- the setup custom resource ------------------------------------------------------------

    def _setup(
        self,
        asset_dir: Path,
        saved_objects: Path,
        *,
        shards: int,
        replicas: int,
        delete_after_days: int,
        setup_run_id: str | None,
        log_retention: logs.RetentionDays,
    ) -> CustomResource:
        log_group = blocks.log_group(self, "SetupLogs", log_retention)
        # The role's one policy (CDK's default policy, which the function depends on): its own
        # log group, and the HTTP verbs the setup uses on the domain.
        log_group.grant_write(self.setup_role)
        self.setup_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="SetUpDomain",
                actions=["es:ESHttpGet", "es:ESHttpPost", "es:ESHttpPut"],
                resources=[f"{self.domain_arn}/*"],
            )
        )
        function = blocks.python_function(
            self,
            "SetupFunction",
            (HANDLER, asset_dir),
            self.setup_role,
            log_group,
            description=self.describe(
                does="Firehose and Dashboards role mappings, index template, ISM, saved objects"
            ),
            memory_size=256,
            # Room for the HTTP layer's retries while a fresh domain's security plugin starts.
            timeout=Duration.minutes(5),
            environment={"POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME},
        )
        if self.network is not None:
            self.network.place_function(function, self.setup_role, self.network.setup_group)
        provider = cr.Provider(
            self,
            "SetupProvider",
            on_event_handler=function,
            log_group=blocks.log_group(self, "SetupProviderLogs", log_retention),
        )
        properties: dict[str, Any] = {
            "DomainEndpoint": self.domain.attr_domain_endpoint,
            "FirehoseRoleArn": self.firehose_role.role_arn,
            "Shards": shards,
            "Replicas": replicas,
            "DeleteAfterDays": delete_after_days,
            "DashboardsReaderRoleArn": self.sign_in.reader_role.role_arn,
            "DashboardsAdminRoleArn": self.sign_in.admin_role.role_arn,
            "AuditLogs": self.domain_logs,
            # Digests of what the function applies: a changed template or dashboard re-runs it.
            "DesignSha256": design_sha256(
                shards=shards, replicas=replicas, delete_after_days=delete_after_days
            ),
            "SavedObjectsSha256": hashlib.sha256(saved_objects.read_bytes()).hexdigest(),
        }
        if setup_run_id:
            properties["RunId"] = setup_run_id
        resource = CustomResource(
            self,
            "Setup",
            service_token=provider.service_token,
            resource_type=SETUP_RESOURCE_TYPE,
            properties=properties,
        )
        self.setup_function = function
        return resource

    # --- Firehose -----------------------------------------------------------------------------

    def _firehose(
        self,
        stream_arn: str,
        buffering: blocks.Buffering,
        retry_seconds: int,
        log_retention: logs.RetentionDays,
    ) -> firehose.CfnDeliveryStream:
        # One stream for the deliveries to the domain, one for the backups to the bucket.
        logs_ = blocks.FirehoseLogs(
            self,
            log_retention,
            {"FirehoseDeliveryLogStream": "Delivery", "FirehoseBackupLogStream": "S3Backup"},
        )
        bucket = self.backup_bucket
        domain_access = [
            iam.PolicyStatement(
                sid="DescribeDomain",
                actions=["es:DescribeDomain", "es:DescribeDomains", "es:DescribeDomainConfig"],
                resources=[self.domain_arn, f"{self.domain_arn}/*"],
            ),
            iam.PolicyStatement(
                sid="WriteDocuments",
                actions=["es:ESHttpPost", "es:ESHttpPut"],
                resources=[self.domain_arn, f"{self.domain_arn}/*"],
            ),
            iam.PolicyStatement(
                sid="ReadClusterState",
                actions=["es:ESHttpGet"],
                resources=[f"{self.domain_arn}/{path}" for path in FIREHOSE_READ_PATHS],
            ),
        ]
        if self.network is not None:  # Firehose reaches a VPC domain through its own ENIs
            domain_access.append(
                iam.PolicyStatement(
                    sid="DeliverIntoVpc",
                    actions=list(FIREHOSE_VPC_ACTIONS),
                    resources=["*"],  # network interfaces are created before their ARN exists
                )
            )
        policy = blocks.firehose_policy(
            self,
            self.firehose_role,
            source_arn=stream_arn,
            destination=domain_access,
            bucket=bucket,
            bucket_writes=("WriteFailedDocuments", (FAILED_PREFIX, ERROR_PREFIX.split("!", 1)[0])),
            log_group=logs_.group,
        )

        f = firehose.CfnDeliveryStream
        role_arn = self.firehose_role.role_arn
        destination = f.AmazonopensearchserviceDestinationConfigurationProperty(
            domain_arn=self.domain.attr_arn,
            index_name=INDEX_PREFIX,
            index_rotation_period=INDEX_ROTATION,
            role_arn=role_arn,
            buffering_hints=buffering.opensearch_hints(),
            retry_options=f.AmazonopensearchserviceRetryOptionsProperty(
                duration_in_seconds=retry_seconds
            ),
            s3_backup_mode="FailedDocumentsOnly",
            s3_configuration=f.S3DestinationConfigurationProperty(
                bucket_arn=bucket.bucket_arn,
                role_arn=role_arn,
                prefix=FAILED_PREFIX,
                error_output_prefix=ERROR_PREFIX,
                compression_format="GZIP",
                buffering_hints=blocks.Buffering(size_mib=5, interval_seconds=300).hints(),
                cloud_watch_logging_options=logs_.options("S3Backup"),
            ),
            cloud_watch_logging_options=logs_.options("Delivery"),
            vpc_configuration=None
            if self.network is None
            else f.VpcConfigurationProperty(
                role_arn=role_arn,
                subnet_ids=self.network.lambda_subnet_ids,
                security_group_ids=[self.network.indexer_group.attr_group_id],
            ),
        )
        stream = blocks.kinesis_delivery_stream(
            self,
            stream_arn,
            self.firehose_role,
            policy,
            amazonopensearchservice_destination_configuration=destination,
        )
        # Its first document must find the template (or the day's index gets dynamic mappings)
        # and its role mapped.
        stream.node.add_dependency(self.setup)
        return stream

    # --- what others read ---------------------------------------------------------------------

    def _publish(self) -> None:
        endpoint = self.domain.attr_domain_endpoint
        dashboards_url = f"https://{endpoint}/_dashboards/"
        self.publish(
            {
                ssm.SEARCH_DOMAIN_ENDPOINT: ("DomainEndpointParameter", endpoint),
                ssm.SEARCH_DOMAIN_ARN: ("DomainArnParameter", self.domain.attr_arn),
                ssm.SEARCH_DASHBOARDS_URL: ("DashboardsUrlParameter", dashboards_url),
                ssm.SEARCH_INDEX_PATTERN: ("IndexPatternParameter", INDEX_PATTERN),
                ssm.SEARCH_DELIVERY_STREAM_NAME: (
                    "DeliveryStreamNameParameter",
                    self.delivery_stream.ref,
                ),
                ssm.SEARCH_FAILED_DOCUMENTS_BUCKET: (
                    "FailedDocumentsBucketParameter",
                    self.backup_bucket.bucket_name,
                ),
            },
        )
        CfnOutput(self, "DashboardsUrl", value=dashboards_url)
        CfnOutput(self, "DomainEndpoint", value=endpoint)
        CfnOutput(self, "DeliveryStreamName", value=self.delivery_stream.ref)
        CfnOutput(self, "SetupFunctionName", value=self.setup_function.function_name)


def _checked_lambda_asset(asset_dir: Path) -> Path:
    """The bundle's saved objects file; the bundle must also hold the handler."""
    asset_dir = asset_dir.resolve()
    handler_module = asset_dir / (HANDLER.rsplit(".", 1)[0].replace(".", "/") + ".py")
    if not handler_module.is_file():
        raise FileNotFoundError(
            f"{asset_dir} holds no setup function bundle; build it first with "
            "`python -m qos_search_indexer_infra.packaging --out <dir>`"
        )
    saved_objects = asset_dir / SAVED_OBJECTS_FILENAME
    if not saved_objects.is_file():
        raise FileNotFoundError(
            f"{asset_dir} has no {SAVED_OBJECTS_FILENAME}: the bundle must carry the Dashboards "
            "saved objects (the packaging copies them from services/search-indexer/dashboards/)"
        )
    return saved_objects


def default_domain_name(env_name: str) -> str:
    return f"qos-{env_name}-search"
