"""The lake service's CloudFormation stack: ingest stream -> Firehose -> Parquet on S3 -> Athena.

- an S3 bucket (SSE-S3, public access blocked, TLS only) holding the lake under `events/`,
  Firehose's failures under `errors/` and Athena's results under `athena-results/`;
- the Glue database and table `events` (`catalog`: the lake schema's columns, `dt`/`hour`
  partitions found by partition projection, so nothing ever registers a partition);
- a Firehose delivery stream reading the ingest stream (its ARN from SSM,
  `/qos/<env>/ingest/stream-arn`, resolved at deploy time) and writing Parquet with the Glue
  table's schema under `events/dt=YYYY-MM-DD/hour=HH/`;
- an Athena workgroup (enforced settings, encrypted results, a bytes-scanned cutoff) and one
  named query per `qos_lake.api.QUERIES`, with the very text the local engine runs;
- the Glue table `views` (a record per view, `qos_shared.views.VIEW_FIELDS`, the same
  partitioning and projection) and a second Firehose delivery stream from the realtime stack's
  views stream (its ARN from SSM, `/qos/<env>/realtime/views-stream-arn`) into `views/`, with its
  failures under `errors/views/`;
- SSM parameters `/qos/<env>/lake/<resource>` for other stacks and people.

Firehose files a record under the hour of its `event_time` (dynamic partitioning, the jq query
`catalog.PARTITION_KEY_QUERY`), as the local writer does: `dt`/`hour` mean the same on AWS and
locally, and a late event lands in its own hour's partition; a view, under the hour it closed.
"""

from __future__ import annotations

import re
from typing import Unpack

from aws_cdk import Duration
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from qos_lake.api import QUERIES
from qos_lake_infra import catalog
from qos_shared_cdk import blocks, checkov, ssm
from qos_shared_cdk.blocks import FirehoseDeliveryRole, Options, ServiceStack, check

SERVICE = ssm.LAKE
GIB = 1024**3


NONCURRENT_DAYS = 30  # how long an overwritten or deleted lake object can be restored


class LakeStack(ServiceStack):
    """The lake bucket, Glue tables, Firehose delivery streams, Athena workgroup and queries."""

    service = SERVICE
    label = "lake"
    summary = "Firehose to Parquet on S3, Glue, Athena"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        buffer_size_mib: int = 128,
        buffer_interval_seconds: int = 300,
        transition_to_ia_days: int | None = 30,
        expire_data_days: int | None = None,
        expire_errors_days: int = 90,
        expire_results_days: int = 30,
        projection_start: str = catalog.DEFAULT_PROJECTION_START,
        bytes_scanned_cutoff_gib: float = 10.0,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        **options: Unpack[Options],
    ) -> None:
        """
        Args:
            buffer_size_mib / buffer_interval_seconds: Firehose writes a file per this many MiB
                or seconds, whichever comes first (64-128 MiB with Parquet conversion, 0-900 s).
            transition_to_ia_days: lake data moves to S3 Standard-IA after this many days (None:
                never; at least 30).
            expire_data_days: lake data is deleted after this many days (None: kept).
            expire_errors_days / expire_results_days: lifetime of `errors/`, `athena-results/`.
            projection_start: oldest day Athena sees (`NOW-3YEARS`, or a date `2025-01-01`).
            bytes_scanned_cutoff_gib: Athena cancels a query of the workgroup past this much.
        """
        check(64 <= buffer_size_mib <= 128, "buffer_size_mib must be between 64 and 128")
        buffering = blocks.Buffering(buffer_size_mib, buffer_interval_seconds)
        check(
            transition_to_ia_days is None or transition_to_ia_days >= 30,
            "transition_to_ia_days must be at least 30",
        )
        check(
            expire_data_days is None
            or (expire_data_days > (transition_to_ia_days or 0) and expire_data_days >= 1),
            "expire_data_days must be at least 1 and after transition_to_ia_days",
        )
        check(min(expire_errors_days, expire_results_days) >= 1, "expiry days must be >= 1")
        # Athena's minimum cutoff is 10 MB.
        check(bytes_scanned_cutoff_gib * GIB >= 10_000_000, "bytes_scanned_cutoff_gib too small")
        super().__init__(scope, construct_id, env_name, **options)

        self.bucket = self._bucket(
            transition_to_ia_days, expire_data_days, expire_errors_days, expire_results_days
        )
        self.database, self.table = self._catalog(env_name, projection_start)
        self.views_table = self._table(
            "ViewsTable",
            catalog.VIEWS_TABLE_NAME,
            "Every view (one viewer's playback, at its close), Parquet, partitioned by dt/hour "
            "(UTC) of its close time",
            projection_start,
        )
        self.views_table.node.add_dependency(self.database)
        self.firehose_logs = blocks.FirehoseLogs(
            self,
            log_retention,
            {"FirehoseLogStream": "S3Delivery", "ViewsFirehoseLogStream": "ViewsS3Delivery"},
        )
        stream_arn = self.read(ssm.INGEST_STREAM_ARN)
        self.delivery_stream = self._firehose(stream_arn, buffering)
        views_arn = self.read(ssm.REALTIME_VIEWS_STREAM_ARN)
        self.views_delivery_stream = self._views_firehose(views_arn, buffering)
        self.workgroup = self._athena(env_name, bytes_scanned_cutoff_gib)
        self._publish(env_name)

    def _bucket(
        self,
        transition_to_ia_days: int | None,
        expire_data_days: int | None,
        expire_errors_days: int,
        expire_results_days: int,
    ) -> s3.Bucket:
        transitions = (
            []
            if transition_to_ia_days is None
            else [
                s3.Transition(
                    storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                    transition_after=Duration.days(transition_to_ia_days),
                )
            ]
        )
        expiration = None if expire_data_days is None else Duration.days(expire_data_days)
        data_rules = [
            s3.LifecycleRule(
                id=rule_id, prefix=prefix, transitions=transitions, expiration=expiration
            )
            for rule_id, prefix in (
                ("LakeData", catalog.DATA_PREFIX),
                ("LakeViews", catalog.VIEWS_PREFIX),
            )
        ]
        rules = [
            s3.LifecycleRule(
                id="Errors",
                prefix=catalog.ERROR_PREFIX,
                expiration=Duration.days(expire_errors_days),
            ),
            s3.LifecycleRule(
                id="AthenaResults",
                prefix=catalog.ATHENA_RESULTS_PREFIX,
                expiration=Duration.days(expire_results_days),
            ),
        ]
        if transitions or expiration:
            rules[:0] = data_rules
        # Versioned: an overwrite or a deletion (a compaction, a mistaken script) is undone from
        # the previous version for `NONCURRENT_DAYS`, then the old version goes.
        rules.append(
            s3.LifecycleRule(
                id="NoncurrentVersions",
                noncurrent_version_expiration=Duration.days(NONCURRENT_DAYS),
                expired_object_delete_marker=True,
            )
        )
        # The lake is the long-term record: deleting the stack leaves it (the bucket is kept).
        bucket = blocks.private_bucket(self, "LakeBucket", rules, versioned=True)
        checkov.skip(
            bucket,
            (
                "CKV_AWS_18",
                "server access logs would need a log bucket of their own; CloudTrail data events "
                "are the account's choice for object-level audit",
            ),
        )
        return bucket

    def _catalog(
        self, env_name: str, projection_start: str
    ) -> tuple[glue.CfnDatabase, glue.CfnTable]:
        database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=self.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=database_name(env_name),
                description=self.describe(),
            ),
        )
        table = self._table(
            "EventsTable",
            catalog.TABLE_NAME,
            "Every QoS event, Parquet, partitioned by dt/hour (UTC)",
            projection_start,
        )
        table.node.add_dependency(database)
        return database, table

    def _table(
        self, construct_id: str, name: str, description: str, projection_start: str
    ) -> glue.CfnTable:
        """A Glue table of the lake (`catalog`: its columns, partition keys and projection)."""
        bucket_name = self.bucket.bucket_name
        return glue.CfnTable(
            self,
            construct_id,
            catalog_id=self.account,
            database_name=database_name(self.env_name),
            table_input=glue.CfnTable.TableInputProperty(
                name=name,
                description=description,
                table_type="EXTERNAL_TABLE",
                parameters=catalog.table_parameters(
                    bucket_name, projection_start=projection_start, table=name
                ),
                partition_keys=[_column(c) for c in catalog.partition_keys()],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[_column(c) for c in catalog.glue_columns(name)],
                    location=catalog.table_location(bucket_name, name),
                    input_format=catalog.PARQUET_INPUT_FORMAT,
                    output_format=catalog.PARQUET_OUTPUT_FORMAT,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=catalog.PARQUET_SERDE
                    ),
                ),
            ),
        )

    def _table_arns(self, table: str = catalog.TABLE_NAME) -> list[str]:
        db = database_name(self.env_name)
        return [
            self.format_arn(service="glue", resource="catalog"),
            self.format_arn(service="glue", resource="database", resource_name=db),
            self.format_arn(service="glue", resource="table", resource_name=f"{db}/{table}"),
        ]

    def _read_schema(self, table: str) -> iam.PolicyStatement:
        """Firehose reads the table's schema to write Parquet."""
        return iam.PolicyStatement(
            sid="ReadTableSchema",
            actions=["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
            resources=self._table_arns(table),
        )

    def _firehose(self, stream_arn: str, buffering: blocks.Buffering) -> firehose.CfnDeliveryStream:
        role = FirehoseDeliveryRole(
            self, "FirehoseRole", description=self.describe("Firehose delivery stream")
        )
        policy = blocks.firehose_policy(
            self,
            role,
            source_arn=stream_arn,
            destination=[self._read_schema(catalog.TABLE_NAME)],
            bucket=self.bucket,
            bucket_writes=("WriteLakeObjects", (catalog.DATA_PREFIX, catalog.ERROR_PREFIX)),
            log_group=self.firehose_logs.group,
        )
        destination = self._destination(
            role,
            buffering,
            catalog.TABLE_NAME,
            (catalog.FIREHOSE_PREFIX, catalog.FIREHOSE_ERROR_PREFIX),
            "S3Delivery",
        )
        stream = blocks.kinesis_delivery_stream(
            self, stream_arn, role, policy, extended_s3_destination_configuration=destination
        )
        # Firehose reads the table when it creates the stream.
        stream.node.add_dependency(self.table)
        return stream

    def _views_firehose(
        self, stream_arn: str, buffering: blocks.Buffering
    ) -> firehose.CfnDeliveryStream:
        """The realtime stack's views stream into `views/`: a role and a policy of its own
        (read that stream and the `views` table, write under `views/` and `errors/views/`)."""
        scope = Construct(self, "Views")
        role = FirehoseDeliveryRole(
            scope, "FirehoseRole", description=self.describe("views Firehose delivery stream")
        )
        views_errors = catalog.FIREHOSE_VIEWS_ERROR_PREFIX.split("!", 1)[0]
        policy = blocks.firehose_policy(
            scope,
            role,
            source_arn=stream_arn,
            destination=[self._read_schema(catalog.VIEWS_TABLE_NAME)],
            bucket=self.bucket,
            bucket_writes=("WriteLakeViews", (catalog.VIEWS_PREFIX, views_errors)),
            log_group=self.firehose_logs.group,
        )
        destination = self._destination(
            role,
            buffering,
            catalog.VIEWS_TABLE_NAME,
            (catalog.FIREHOSE_VIEWS_PREFIX, catalog.FIREHOSE_VIEWS_ERROR_PREFIX),
            "ViewsS3Delivery",
        )
        stream = firehose.CfnDeliveryStream(
            scope,
            "DeliveryStream",
            delivery_stream_name=f"{self.resource_name}-views",
            delivery_stream_type="KinesisStreamAsSource",
            kinesis_stream_source_configuration=(
                firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                    kinesis_stream_arn=stream_arn, role_arn=role.role_arn
                )
            ),
            extended_s3_destination_configuration=destination,
        )
        # Firehose checks the role's access and reads the table when it creates the stream.
        stream.node.add_dependency(policy)
        stream.node.add_dependency(self.views_table)
        return stream

    def _destination(
        self,
        role: iam.IRole,
        buffering: blocks.Buffering,
        table: str,
        prefixes: tuple[str, str],
        log_stream: str,
    ) -> firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty:
        """Parquet of `table`'s schema under the prefix (data, errors), by event_time's hour."""
        prefix, error_prefix = prefixes
        f = firehose.CfnDeliveryStream
        return f.ExtendedS3DestinationConfigurationProperty(
            bucket_arn=self.bucket.bucket_arn,
            role_arn=role.role_arn,
            prefix=prefix,
            error_output_prefix=error_prefix,
            buffering_hints=buffering.hints(),
            # dt/hour from the record's event_time (64 MiB is dynamic partitioning's least buffer).
            dynamic_partitioning_configuration=f.DynamicPartitioningConfigurationProperty(
                enabled=True, retry_options=f.RetryOptionsProperty(duration_in_seconds=300)
            ),
            processing_configuration=f.ProcessingConfigurationProperty(
                enabled=True,
                processors=[
                    f.ProcessorProperty(
                        type="MetadataExtraction",
                        parameters=[
                            f.ProcessorParameterProperty(
                                parameter_name="MetadataExtractionQuery",
                                parameter_value=catalog.PARTITION_KEY_QUERY,
                            ),
                            f.ProcessorParameterProperty(
                                parameter_name="JsonParsingEngine",
                                parameter_value=catalog.JQ_ENGINE,
                            ),
                        ],
                    )
                ],
            ),
            # Parquet compresses its pages itself; the file must not be compressed again.
            compression_format="UNCOMPRESSED",
            data_format_conversion_configuration=f.DataFormatConversionConfigurationProperty(
                enabled=True,
                input_format_configuration=f.InputFormatConfigurationProperty(
                    deserializer=f.DeserializerProperty(
                        # A JSON object (`extra_fields`) in a string column is kept as its
                        # JSON text, as the local writer stores it.
                        open_x_json_ser_de=f.OpenXJsonSerDeProperty()
                    )
                ),
                output_format_configuration=f.OutputFormatConfigurationProperty(
                    serializer=f.SerializerProperty(
                        parquet_ser_de=f.ParquetSerDeProperty(compression="SNAPPY")
                    )
                ),
                schema_configuration=f.SchemaConfigurationProperty(
                    catalog_id=self.account,
                    database_name=database_name(self.env_name),
                    table_name=table,
                    region=self.region,
                    role_arn=role.role_arn,
                    version_id="LATEST",
                ),
            ),
            cloud_watch_logging_options=self.firehose_logs.options(log_stream),
        )

    def _athena(self, env_name: str, bytes_scanned_cutoff_gib: float) -> athena.CfnWorkGroup:
        workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=self.resource_name,
            description=self.describe("queries"),
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=int(bytes_scanned_cutoff_gib * GIB),
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=self.bucket.s3_url_for_object(catalog.ATHENA_RESULTS_PREFIX),
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
        for query in QUERIES.values():
            # Logical ID from the name: adding or removing a query leaves the others alone.
            logical = "".join(part.capitalize() for part in re.split(r"[^a-zA-Z0-9]+", query.name))
            named = athena.CfnNamedQuery(
                self,
                f"NamedQuery{logical}",
                name=query.name,
                description=query.description[:1024],
                database=database_name(env_name),
                query_string=query.sql,
                work_group=workgroup.ref,
            )
            named.node.add_dependency(self.table)
            named.node.add_dependency(self.views_table)
        return workgroup

    def _publish(self, env_name: str) -> None:
        self.publish(
            {
                ssm.LAKE_BUCKET_NAME: ("BucketNameParameter", self.bucket.bucket_name),
                ssm.LAKE_DATABASE: ("DatabaseParameter", database_name(env_name)),
                ssm.LAKE_TABLE: ("TableParameter", catalog.TABLE_NAME),
                ssm.LAKE_WORKGROUP: ("WorkGroupParameter", self.workgroup.ref),
                ssm.LAKE_DELIVERY_STREAM_NAME: (
                    "DeliveryStreamNameParameter",
                    self.delivery_stream.ref,
                ),
                ssm.LAKE_VIEWS_TABLE: ("ViewsTableParameter", catalog.VIEWS_TABLE_NAME),
                ssm.LAKE_VIEWS_DELIVERY_STREAM_NAME: (
                    "ViewsDeliveryStreamNameParameter",
                    self.views_delivery_stream.ref,
                ),
            },
        )


def database_name(env_name: str) -> str:
    """Glue/Athena names take no hyphens: `qos_<env>_lake`."""
    return f"qos_{env_name.replace('-', '_')}_lake"


def _column(column: dict[str, str]) -> glue.CfnTable.ColumnProperty:
    return glue.CfnTable.ColumnProperty(name=column["Name"], type=column["Type"])
