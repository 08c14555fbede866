"""The AWS twin of the realtime path: AWS's APIs from moto's server, the rest real.

What runs, and what stands in for what on AWS:

- Kinesis (the events and rows streams) and CloudWatch: moto in server mode, real HTTP on
  127.0.0.1.
- API Gateway (REST, proxy integration) in front of the ingest Lambda: `ApiGateway`, an HTTP
  server that turns each request into the proxy event API Gateway sends and hands it to the
  real ingest handler.
- Managed Service for Apache Flink: the application zip's own `main.py` with its jar, on
  PyFlink's local mini-cluster: the real Kinesis source and sink, pointed at moto through the
  job's connector pass-through properties.
- The rows stream's event source mapping: `EventSourceMapping`, which polls the rows stream and
  invokes the real publisher handler with Kinesis Lambda events, retrying from the first failed
  record as Lambda does with a partial batch response.

What the twin adds only because moto is not AWS (never in product code):

- the AWS SDK in the job's JVM sends JSON, not CBOR (`CBOR_ENABLED=false`, the
  SDK setting `aws.cborEnabled` as an environment variable): moto's Kinesis
  answers JSON only;
- the sink speaks HTTP/1.1 (`sink.http-client.protocol.version`): moto's server has no HTTP/2;
- the streams' ARNs carry moto's account (123456789012).

The publisher's PutMetricData requests are also recorded (a botocore event hook in this process)
because moto's CloudWatch computes no percentile: the percentiles are checked from the
`Values`/`Counts` that were published, the sums and counts from moto's answers.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from qos_shared.testing.aws import api_gateway_proxy_event

REGION = "us-east-1"
SERIAL_MOTO = Path(__file__).with_name("serial_moto.py")
ACCOUNT = "123456789012"  # moto's
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "twin", "AWS_SECRET_ACCESS_KEY": "twin"}

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    check: Callable[[], bool],
    timeout_s: float,
    what: str | Callable[[], str],
    every_s: float = 0.5,
) -> None:
    """Until `check()`; a timeout names `what` (or what `what()` says then)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {said}")
        time.sleep(every_s)


# -- moto --------------------------------------------------------------------------------------


class MotoServer:
    """moto's server on a free loopback port, in its own process group, one request at a time
    (see `serial_moto`: moto's Kinesis loses records to concurrent writers)."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._log = log.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, moto's module
            [sys.executable, str(SERIAL_MOTO), "127.0.0.1", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._listening, 60, "moto's server")

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"moto's server exited with {self.process.returncode}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def stop(self) -> None:
        stop_group(self.process)
        self._log.close()


def stop_group(process: subprocess.Popen[Any], timeout_s: float = 20) -> None:
    """TERM the process group, KILL it if it lingers."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout_s)
        except ProcessLookupError:
            pass
    # A child of the group (the job's JVM) may outlive its parent.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def create_stream(kinesis: Any, name: str, shards: int) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
    arn: str = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    return arn


def read_stream(kinesis: Any, name: str) -> list[dict[str, Any]]:
    """Every record of every shard, from the start."""
    records: list[dict[str, Any]] = []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            reply = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            records += reply["Records"]
            if not reply["Records"]:
                break
            iterator = reply.get("NextShardIterator")
    return records


# -- Lambda ------------------------------------------------------------------------------------


@dataclass
class LambdaContext:
    """The context object Lambda passes a handler (the attributes Powertools reads)."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


class ApiGateway:
    """API Gateway's REST proxy integration in front of one Lambda handler, on a loopback port.

    One invocation at a time, as one Lambda execution environment runs them. `edge_headers` are
    what CloudFront in front of it adds to every request (the origin secret header)."""

    def __init__(
        self, handler: Handler, function_name: str, edge_headers: Mapping[str, str] | None = None
    ) -> None:
        self.handler = handler
        self.function_name = function_name
        self.edge_headers = dict(edge_headers or {})
        self.invocations = 0
        self._lock = threading.Lock()
        gateway = self

        class Request(http.server.BaseHTTPRequestHandler):
            def _proxy(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                reply = gateway.invoke(self.command, self.path, dict(self.headers.items()), body)
                payload = reply.get("body") or ""
                data = (
                    base64.b64decode(payload) if reply.get("isBase64Encoded") else payload.encode()
                )
                self.send_response(int(reply["statusCode"]))
                for name, value in (reply.get("headers") or {}).items():
                    self.send_header(name, str(value))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_OPTIONS = _proxy  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Request)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def invoke(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        event = api_gateway_proxy_event(
            method,
            path,
            {**headers, **self.edge_headers},
            body or None,
            source_ip="127.0.0.1",
            request_id=str(uuid.uuid4()),
        )
        with self._lock:
            self.invocations += 1
            return self.handler(event, LambdaContext(self.function_name))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def kinesis_lambda_event(records: list[dict[str, Any]], stream_arn: str) -> dict[str, Any]:
    """The event a Kinesis event source mapping invokes a function with."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode(),
                    "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{r['ShardId']}:{r['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/twin",
                "awsRegion": REGION,
                "eventSourceARN": stream_arn,
            }
            for r in records
        ]
    }


class EventSourceMapping(threading.Thread):
    """Polls every shard of a stream and invokes `handler` with batches of its records; on a
    partial batch response it invokes again from the first failed record (Lambda's
    ReportBatchItemFailures with bisect off), at most `max_retries` times per batch."""

    def __init__(
        self,
        kinesis: Any,
        stream: str,
        stream_arn: str,
        handler: Handler,
        *,
        function_name: str,
        batch_size: int = 100,
        max_retries: int = 5,
        on_batch: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        super().__init__(daemon=True, name=f"esm-{stream}")
        self.kinesis, self.stream, self.stream_arn = kinesis, stream, stream_arn
        self.handler, self.function_name = handler, function_name
        self.batch_size, self.max_retries = batch_size, max_retries
        self.on_batch = on_batch
        self.stopping = threading.Event()
        self.delivered = 0
        self.failures: list[str] = []
        self.idle_since: float | None = None  # monotonic time of the first empty pass in a row

    def run(self) -> None:
        try:
            iterators = {
                s["ShardId"]: self.kinesis.get_shard_iterator(
                    StreamName=self.stream, ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
                for s in self.kinesis.list_shards(StreamName=self.stream)["Shards"]
            }
            while not self.stopping.is_set():
                idle = True
                for shard, iterator in list(iterators.items()):
                    reply = self.kinesis.get_records(ShardIterator=iterator, Limit=self.batch_size)
                    iterators[shard] = reply["NextShardIterator"]
                    batch = [{**r, "ShardId": shard} for r in reply["Records"]]
                    if batch:
                        idle = False
                        self._deliver(batch)
                if idle:
                    if self.idle_since is None:
                        self.idle_since = time.monotonic()
                    self.stopping.wait(0.2)
                else:
                    self.idle_since = None
        except Exception as error:
            self.failures.append(f"{type(error).__name__}: {error}")

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        for _ in range(self.max_retries + 1):
            reply = self.handler(
                kinesis_lambda_event(batch, self.stream_arn), LambdaContext(self.function_name)
            )
            failed = [f["itemIdentifier"] for f in reply.get("batchItemFailures", [])]
            if not failed:
                self.delivered += len(batch)
                if self.on_batch is not None:
                    self.on_batch(batch)
                return
            first = min(i for i, r in enumerate(batch) if r["SequenceNumber"] in failed)
            self.delivered += first
            batch = batch[first:]
        self.failures.append(f"{len(batch)} records still failed after {self.max_retries} retries")

    def quiet_for(self, seconds: float) -> bool:
        """Every shard read to its end, and nothing new for `seconds`."""
        return self.idle_since is not None and time.monotonic() - self.idle_since >= seconds

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)


# -- Managed Service for Apache Flink ----------------------------------------------------------


class FlinkApplication:
    """The application zip run as MSF runs it, on PyFlink's local mini-cluster: its `main.py`
    with the runtime properties MSF would write, and its jar."""

    def __init__(
        self,
        zip_path: Path,
        workdir: Path,
        property_groups: list[dict[str, Any]],
        *,
        env: Mapping[str, str],
        python: str = sys.executable,
    ) -> None:
        self.root = workdir / "application"
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(self.root)
        options = next(
            g["PropertyMap"]
            for g in property_groups
            if g["PropertyGroupId"] == "kinesis.analytics.flink.run.options"
        )
        self.properties = workdir / "application_properties.json"
        self.properties.write_text(json.dumps(property_groups, indent=2))
        self.log_path = workdir / "flink-job.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - the zip's own main.py
            [
                python,
                str(self.root / options["python"]),
                "--properties",
                str(self.properties),
                "--jar",
                str(self.root / options["jarfile"]),
                "--wait",
            ],
            cwd=self.root,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        stop_group(self.process)
        self._log.close()


# -- CloudWatch --------------------------------------------------------------------------------


@dataclass
class PutMetricDataRecorder:
    """Every datum of every PutMetricData call made through boto3's default session."""

    datums: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        namespace = params["Namespace"]
        self.datums += [{**d, "Namespace": namespace} for d in params.get("MetricData", [])]

    def install(self) -> None:
        boto3.setup_default_session(region_name=REGION)
        session = boto3.DEFAULT_SESSION
        assert session is not None
        session.events.register("provide-client-params.cloudwatch.PutMetricData", self)


def chunked(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
