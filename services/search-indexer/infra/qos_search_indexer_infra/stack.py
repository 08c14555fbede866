"""The search service's CloudFormation stack: ingest and views streams -> indexer Lambda ->
OpenSearch Service.

- an OpenSearch Service domain (`qos-<env>-search`): encrypted at rest and node to node, HTTPS
  only (TLS 1.2 minimum), fine-grained access control whose master user is the setup function's
  IAM role (no internal users, no passwords), and an access policy that names the two roles that
  may call it (the setup function and the indexer function), never `*`;
- the indexer function (`qos_search_indexer.entrypoints.indexer_lambda`) on an event source
  mapping of the ingest stream (its ARN from SSM, `/qos/<env>/ingest/stream-arn`, resolved at
  deploy time): the local indexer's documents under `_id` = `event_id` in daily indices
  `qos-events-YYYY.MM.DD`, so a re-delivered batch adds nothing; the same function on a second
  event source mapping, of the realtime stack's views stream (`/qos/<env>/realtime/
  views-stream-arn`), with the same failure handling: one record per closed view, in daily
  indices `qos-views-YYYY.MM.DD` under the view's `event_id` (the function routes a record by its
  `metric_type`; the views' dead letters go under their own prefix); records that can never be
  indexed are dead letters in an S3 bucket (SSE-S3, public access blocked, TLS only, expiring),
  batches that exhaust their retries are named in an SQS queue; alarms on that queue, the
  function's errors and its iterator age;
- the setup custom resource (a Python Lambda behind the CDK `Provider`): the writer security
  role and its mapping to the indexer's role, the Dashboards roles and their mappings (all on
  `qos-events-*` and `qos-views-*`), the ingest pipeline and the events' and views' index
  templates, the ISM retention policy (both kinds of index) and the Dashboards saved
  objects, applied with SigV4-signed requests on every deploy whose inputs changed
  (`qos_search_indexer.entrypoints.setup_lambda`);
- Cognito sign-in to Dashboards (`access.DashboardsSignIn`): a user pool without self
  sign-up, its hosted UI, an `admins` group, an identity pool; signed-in users get a read-only
  security role, the admin group an admin one (mapped by the setup), and an admin user is
  invited when the stack is given an e-mail;
- the domain's logs (search and index slow logs, application errors, the security plugin's
  audit log) in CloudWatch log groups with a retention;
- optionally the domain in a VPC (`access.DomainNetwork`): HTTPS only from the setup
  function's and the indexer function's security groups, both functions in the VPC too; by
  default the endpoint is public, behind fine-grained access control and Cognito;
- SSM parameters `/qos/<env>/search-indexer/<resource>` and outputs (the Dashboards URL).

The event source mappings are created after the setup, so the first daily index is made from
its template and the indexer's role is mapped before its first request.

Why one function on two streams rather than a function per stream: the code is the same (what
a record becomes is decided by the record), and one function has one IAM role, so the domain's
access policy and the writer role's mapping name one principal; each mapping still has its own
batches, retries, bisection and iterator age, and a failure of one stream's batch never holds
the other's back.

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
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr
from constructs import Construct

from qos_search_indexer_infra.access import DashboardsSignIn, DomainNetwork, VpcPlacement
from qos_search_indexer_infra.service_code import (
    HANDLER,
    INDEX_PATTERN,
    INDEXER_HANDLER,
    SAVED_OBJECTS_FILENAME,
    design_sha256,
)
from qos_shared_cdk import blocks, checkov, ssm
from qos_shared_cdk.blocks import LambdaRole, Options, ServiceStack, check

SERVICE = ssm.SEARCH_INDEXER
POWERTOOLS_SERVICE_NAME = "qos-search-setup"
INDEXER_SERVICE_NAME = "qos-search-indexer"
SETUP_RESOURCE_TYPE = "Custom::QosSearchSetup"
# The local node's version (ADR 0007): the index design is tested on it.
DEFAULT_ENGINE_VERSION = "OpenSearch_2.19"
TLS_POLICY = "Policy-Min-TLS-1-2-PFS-2023-10"
# The indexer parks records that can never be indexed under this prefix of the failed-documents
# bucket, one object per record (`adapters.deadletter_store.S3DeadLetterStore`).
DEAD_LETTER_PREFIX = "dead-letters/"
# Under the events' prefix (one grant covers both), apart from their keys: a key is a sequence
# number, and two streams' sequence numbers are not one key space.
VIEWS_DEAD_LETTER_PREFIX = f"{DEAD_LETTER_PREFIX}views/"
# The iterator age (how far behind the stream the indexer is) that raises the alarm.
ITERATOR_AGE_ALARM = Duration.minutes(15)

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


@dataclass(frozen=True)
class IndexerSource:
    """How the indexer function reads the ingest stream (its event source mapping): up to
    `batch_size` records or `batching_window_s` seconds a batch, `parallelization_factor`
    concurrent batches per shard, a failed batch retried `retry_attempts` times (bisected) or
    until its records are `max_record_age_hours` old, then named in the on-failure queue; the
    function has `memory_mib` and `reserved_concurrency` (None: nothing reserved)."""

    batch_size: int = 1000
    batching_window_s: int = 5
    parallelization_factor: int = 1
    retry_attempts: int = 1000
    max_record_age_hours: int = 6
    memory_mib: int = 512
    reserved_concurrency: int | None = None

    def __post_init__(self) -> None:
        check(1 <= self.batch_size <= 10_000, "indexer batch_size: 1-10000")
        check(0 <= self.batching_window_s <= 300, "indexer batching_window_s: 0-300")
        check(1 <= self.parallelization_factor <= 10, "indexer parallelization_factor: 1-10")
        check(0 <= self.retry_attempts <= 10_000, "indexer retry_attempts: 0-10000")
        # Kept below the ingest stream's 24 h retention: a batch named in the on-failure queue
        # must still be in the stream to be read again.
        check(1 <= self.max_record_age_hours <= 12, "indexer max_record_age_hours: 1-12")
        check(256 <= self.memory_mib <= 10_240, "indexer memory_mib: 256-10240")
        check(
            self.reserved_concurrency is None or self.reserved_concurrency > 0,
            "indexer reserved_concurrency must be positive (or None for no reservation)",
        )


class SearchIndexerStack(ServiceStack):
    """The OpenSearch domain, the indexer function feeding it from the ingest stream, its setup."""

    service = SERVICE
    label = "search"
    summary = "OpenSearch Service, indexed from the ingest stream by a Lambda"

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
        indexer: IndexerSource | None = None,
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
            vpc: put the domain in a VPC (the setup and indexer functions too); default a
                public endpoint.
            indexer: the indexer function's event source mapping and memory (`IndexerSource`).
            expire_failed_days: lifetime of the dead letters in the failed-documents bucket.
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
        indexer = indexer or IndexerSource()
        check(expire_failed_days >= 1, "expire_failed_days must be at least 1")
        saved_objects = _checked_lambda_asset(lambda_asset_dir)
        super().__init__(scope, construct_id, env_name, **options)
        self.domain_logs = domain_logs
        self.domain_name = domain_name
        self.domain_arn = self.format_arn(
            service="es", resource="domain", resource_name=domain_name
        )
        stream_arn = self.read(ssm.INGEST_STREAM_ARN)
        views_stream_arn = self.read(ssm.REALTIME_VIEWS_STREAM_ARN)

        self.backup_bucket = self._backup_bucket(expire_failed_days)
        # The indexer's role before the domain, whose access policy names it; the function after.
        self.indexer_logs = blocks.log_group(self, "IndexerLogs", log_retention)
        self.indexer_role = LambdaRole(
            self,
            "IndexerRole",
            description=self.describe("indexer function"),
            log_group=self.indexer_logs,
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
        self.indexer = self._indexer(lambda_asset_dir, stream_arn, views_stream_arn, indexer)
        self._publish()

    # --- storage for what could not be indexed -----------------------------------------------

    def _backup_bucket(self, expire_failed_days: int) -> s3.Bucket:
        # Dead letters are the evidence of what the index misses: deleting the stack leaves
        # them (the bucket is kept; an emptied bucket can be deleted by hand).
        bucket = blocks.private_bucket(
            self,
            "FailedDocumentsBucket",
            # The bucket holds nothing but dead letters: one rule covers it.
            [s3.LifecycleRule(id="ExpireFailures", expiration=Duration.days(expire_failed_days))],
        )
        checkov.skip(
            bucket,
            (
                "CKV_AWS_18",
                "server access logs would need a log bucket of their own; CloudTrail data events "
                "are the account's choice for object-level audit",
            ),
            (
                "CKV_AWS_21",
                "dead letters are written once under unique keys and expire; nothing overwrites "
                "them, so versions would keep nothing more",
            ),
        )
        return bucket

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
        # limits the indexer and the Cognito roles to their security roles, and the setup role
        # is the master user.
        access_policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="SetupFunction",
                    principals=[iam.ArnPrincipal(self.setup_role.role_arn)],
                    actions=["es:ESHttpGet", "es:ESHttpPost", "es:ESHttpPut"],
                    resources=[f"{self.domain_arn}/*"],
                ),
                iam.PolicyStatement(
                    sid="Indexer",
                    principals=[iam.ArnPrincipal(self.indexer_role.role_arn)],
                    actions=["es:ESHttpPost", "es:ESHttpPut"],
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
                does="indexer and Dashboards role mappings, index template, ISM, saved objects"
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
        for deploy_time in (function, provider.node.find_child("framework-onEvent")):
            checkov.skip(deploy_time, *checkov.DEPLOY_TIME)
        properties: dict[str, Any] = {
            "DomainEndpoint": self.domain.attr_domain_endpoint,
            # The role that writes documents, mapped to the writer security role.
            "IndexerRoleArn": self.indexer_role.role_arn,
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

    # --- the indexer function ---------------------------------------------------------------

    def _indexer(
        self, asset_dir: Path, stream_arn: str, views_stream_arn: str, source: IndexerSource
    ) -> lambda_.Function:
        role = self.indexer_role
        for statement in (
            blocks.read_stream(stream_arn),
            blocks.read_stream(views_stream_arn, sid="ReadViewsStream"),
            iam.PolicyStatement(
                sid="WriteDocuments",
                actions=["es:ESHttpPost", "es:ESHttpPut"],
                resources=[f"{self.domain_arn}/*"],
            ),
            blocks.write_objects("WriteDeadLetters", self.backup_bucket, [DEAD_LETTER_PREFIX]),
        ):
            role.add_to_principal_policy(statement)
        function = blocks.python_function(
            self,
            "Indexer",
            (INDEXER_HANDLER, asset_dir),
            role,
            self.indexer_logs,
            description=self.describe(
                does="ingest and views streams -> OpenSearch, _id = event_id"
            ),
            memory_size=source.memory_mib,
            reserved_concurrency=source.reserved_concurrency,
            # A batch's _bulk and its in-invocation retries take seconds; room for a slow node.
            timeout=Duration.minutes(2),
            environment={
                "QOS_SEARCH_URL": f"https://{self.domain.attr_domain_endpoint}",
                "QOS_SEARCH_DEAD_LETTER_BUCKET": self.backup_bucket.bucket_name,
                "QOS_SEARCH_DEAD_LETTER_PREFIX": DEAD_LETTER_PREFIX,
                "QOS_SEARCH_VIEWS_STREAM_ARN": views_stream_arn,
                "QOS_SEARCH_VIEWS_DEAD_LETTER_PREFIX": VIEWS_DEAD_LETTER_PREFIX,
                "POWERTOOLS_SERVICE_NAME": INDEXER_SERVICE_NAME,
            },
        )
        if self.network is not None:  # the domain only admits HTTPS from its clients' groups
            self.network.place_function(function, role, self.network.indexer_group)
        # Only the ARNs of failed batches land here (shard, sequence numbers): the records are
        # read again from the stream, whose retention outlasts the maximum record age.
        self.indexer_failures = blocks.failure_queue(self, "IndexerFailures")
        checkov.skip(function, *checkov.KINESIS_CONSUMER)
        self.indexer_mapping = self._mapping("IndexerEventSource", function, stream_arn, source)
        self.views_mapping = self._mapping(
            "IndexerViewsEventSource", function, views_stream_arn, source
        )
        self._indexer_alarms(function)
        return function

    def _mapping(
        self,
        construct_id: str,
        function: lambda_.Function,
        stream_arn: str,
        source: IndexerSource,
    ) -> lambda_.EventSourceMapping:
        """An event source mapping of the indexer on a stream, with the failure handling every
        stream gets: bisection, partial batch responses, the on-failure queue."""
        mapping = lambda_.EventSourceMapping(
            self,
            construct_id,
            target=function,
            event_source_arn=stream_arn,
            # Everything the stream still holds on first creation (or re-creation): a record
            # indexed twice is overwritten under its event_id, a record skipped is lost.
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=source.batch_size,
            max_batching_window=Duration.seconds(source.batching_window_s),
            parallelization_factor=source.parallelization_factor,
            bisect_batch_on_error=True,
            report_batch_item_failures=True,
            retry_attempts=source.retry_attempts,
            max_record_age=Duration.hours(source.max_record_age_hours),
            on_failure=sources.SqsDlq(self.indexer_failures),
        )
        # Lambda checks the role's access to the stream when it creates the mapping; the first
        # document must find the template (else the day's index gets dynamic mappings) and the
        # role mapped.
        mapping.node.add_dependency(self.indexer_role)
        mapping.node.add_dependency(self.setup)
        return mapping

    def _indexer_alarms(self, function: lambda_.Function) -> None:
        """No actions: the stack has no topic of its own; a subscriber adds one."""
        five_minutes = Duration.minutes(5)
        alarms: dict[str, tuple[cw.IMetric, float, str]] = {
            "IndexerFailedBatchesAlarm": (
                self.indexer_failures.metric_approximate_number_of_messages_visible(
                    period=five_minutes, statistic="Maximum"
                ),
                0,
                "batches exhausted their retries: replay them from the stream",
            ),
            "IndexerErrorsAlarm": (
                function.metric_errors(period=five_minutes, statistic="Sum"),
                0,
                "the indexer function failed invocations",
            ),
            "IndexerIteratorAgeAlarm": (
                function.metric("IteratorAge", period=five_minutes, statistic="Maximum"),
                ITERATOR_AGE_ALARM.to_milliseconds(),
                f"the indexer is over {ITERATOR_AGE_ALARM.to_minutes()} minutes behind the stream",
            ),
        }
        for construct_id, (metric, threshold, does) in alarms.items():
            cw.Alarm(
                self,
                construct_id,
                alarm_description=self.describe(does=does),
                metric=metric,
                threshold=threshold,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )

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
                ssm.SEARCH_INDEXER_FUNCTION_NAME: (
                    "IndexerFunctionNameParameter",
                    self.indexer.function_name,
                ),
                ssm.SEARCH_FAILED_DOCUMENTS_BUCKET: (
                    "FailedDocumentsBucketParameter",
                    self.backup_bucket.bucket_name,
                ),
            },
        )
        CfnOutput(self, "DashboardsUrl", value=dashboards_url)
        CfnOutput(self, "DomainEndpoint", value=endpoint)
        CfnOutput(self, "IndexerFunctionName", value=self.indexer.function_name)
        CfnOutput(self, "SetupFunctionName", value=self.setup_function.function_name)


def _checked_lambda_asset(asset_dir: Path) -> Path:
    """The bundle's saved objects file; the bundle must also hold both handlers."""
    asset_dir = asset_dir.resolve()
    for handler in (HANDLER, INDEXER_HANDLER):
        handler_module = asset_dir / (handler.rsplit(".", 1)[0].replace(".", "/") + ".py")
        if not handler_module.is_file():
            raise FileNotFoundError(
                f"{asset_dir} holds no search functions' bundle ({handler_module.name} is "
                "missing); build it first with `python -m qos_search_indexer_infra.packaging "
                "--out <dir>`"
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
