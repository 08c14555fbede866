"""The search indexer's use cases: index what the log holds since the checkpoint; set up indices.

**Indexing** (`SearchIndexer`): a consumer of the event log that keeps OpenSearch's daily indices
current.

Each batch after the `search-indexer` checkpoint goes out as `_bulk` requests (two at once by
default), with the record's `event_id` as document id: sending a record twice (a retry, a replay
after a crash) overwrites the same document, so every event is indexed exactly once however often
it is delivered. While a full batch is with OpenSearch, the next one is read and turned into
documents on a worker thread; it is used only if the current batch settles (else read again).

The checkpoint moves only when every record of the batch is settled, either indexed or parked in
the dead-letter store with OpenSearch's reason. Until then:

- the whole request failing (the node down, a timeout, 429 or 5xx) is retried with capped,
  jittered exponential backoff for as long as it takes, so a backlog builds up in the log and
  drains when OpenSearch is back;
- items rejected with 429 or 5xx (a full write queue, a shard not yet ready) are re-sent alone;
- items rejected with any other status (a mapping conflict, a malformed document) are permanent
  failures: parked, logged, never silently dropped.

What a record becomes is the domain's (`domain.documents`); how a `_bulk` request goes out and
what its answer means is the OpenSearch adapter's (`adapters.opensearch.OpenSearchBulk`).

**Setting up** (idempotent: a PUT replaces, an import overwrites): `set_up_indices` puts the
ingest pipeline and index template on a cluster (every start of the local indexer);
`apply_domain_setup` makes an OpenSearch Service domain ready for the indexer and Dashboards
(the stack's setup function), in this order:

1. the security role `qos_indexer_writer` (what the indexer may do, on `qos-events-*` and
   `qos-views-*` only);
2. its role mapping to the indexer function's IAM role ARN (a backend role, under fine-grained
   access control);
3. the Dashboards roles `qos_dashboards_reader` (read-only) and `qos_dashboards_admin`, each
   mapped to its Cognito identity pool role when the stack passes one;
4. the audit log configuration, when the domain publishes audit logs;
5. the ingest pipeline, then 6. the index templates of events and of views (the same objects
   `set_up_indices` puts on the local node; the pipeline first, since the events' template
   names it);
7. the ISM retention policy (read first: ISM replaces a policy only given its sequence number);
8. the Dashboards saved objects (the committed NDJSON), into the global tenant.

Steps 1 to 4 are the security plugin's, 7 the ISM plugin's, 8 Dashboards': OpenSearch Service
has them, the local node does not (tests/integration/test_setup_on_node.py runs 5, 6 and what
follows from them on the node).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from qos_search_indexer.domain.deadletter import DeadLetter
from qos_search_indexer.domain.design import (
    AUDIT_CONFIG_PATH,
    DASHBOARDS_ADMIN_ROLE,
    DASHBOARDS_READER_ROLE,
    INDEXER_SECURITY_ROLE,
    ISM_POLICY_ID,
    SAVED_OBJECTS_FILENAME,
    SAVED_OBJECTS_IMPORT_PATH,
    SAVED_OBJECTS_TENANT,
    HttpResponse,
    SetupError,
    SetupReport,
    SetupSettings,
    dashboards_role_mapping,
    design,
    indexer_role_mapping,
    multipart_file,
)
from qos_search_indexer.domain.documents import BulkOutcome, Doc, documents
from qos_search_indexer.domain.index import (
    PIPELINE_NAME,
    TEMPLATE_NAME,
    VIEWS_TEMPLATE_NAME,
    index_template,
    ingest_pipeline,
    views_index_template,
)
from qos_shared.eventlog import EventLog, LogEntry

CONSUMER = "search-indexer"
logger = logging.getLogger(__name__)
_jitter = random.random  # backoff jitter, not cryptography

_BODY_IN_ERRORS = 1000  # characters of a response body quoted in an error


# -- ports ------------------------------------------------------------------------------------


class Cluster(Protocol):
    """An OpenSearch cluster as the indexer uses it (`adapters.opensearch.OpenSearchCluster`)."""

    def send_bulk(self, docs: list[Doc], *, refresh: bool) -> BulkOutcome | None:
        """Index the documents in one `_bulk` request; None when the request failed as a whole
        and may succeed if sent again (unreachable, timeout, 429, 5xx)."""
        ...

    def put_pipeline(self, name: str, body: dict[str, Any]) -> None: ...

    def put_index_template(self, name: str, body: dict[str, Any]) -> None: ...


class DeadLetterSink(Protocol):
    """Where refused records are parked (`adapters.deadletter_store.DeadLetterStore`)."""

    def park(self, letters: Iterable[DeadLetter]) -> int: ...


class Http(Protocol):
    """Sends one request to the domain (path relative to its endpoint) and returns the answer.

    Returns every HTTP status, error or not; raises only when there is no answer at all.
    """

    def __call__(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse: ...


# -- indexing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndexerConfig:
    batch_size: int = 5_000
    # A batch goes out as this many concurrent _bulk requests: the node indexes each on its own
    # write thread, so on a multi-core node two requests keep two cores busy.
    concurrent_requests: int = 2
    # A request holds at most this many documents (a batch goes out as more requests, still
    # `concurrent_requests` at a time): a request of a few thousand documents on a busy laptop
    # node took over 10 s; one of 1,000 takes about a second, and a retry resends less.
    request_docs: int = 1_000
    poll_interval_s: float = 0.5
    backoff_initial_s: float = 0.25
    backoff_max_s: float = 15.0
    refresh: bool = False  # make each batch searchable before the checkpoint moves (tests)


@dataclass(slots=True)
class BatchResult:
    """What one poll did: records read, indexed and dead-lettered, retries, the log positions
    (first, last) it covered, and how long it took."""

    read: int
    indexed: int = 0
    dead_lettered: int = 0
    retries: int = 0
    first: int = 0
    last: int = 0
    seconds: float = 0.0


_Prepared = tuple[list[LogEntry], list[Doc], list[DeadLetter]]


class Stopped(Exception):
    """The indexer was asked to stop while a batch was still unsettled (it is read again later)."""


class SearchIndexer:
    def __init__(
        self,
        log: EventLog,
        cluster: Cluster,
        dead_letters: DeadLetterSink,
        config: IndexerConfig = IndexerConfig(),
        *,
        stop: threading.Event | None = None,
    ) -> None:
        self.log = log
        self.cluster = cluster
        self.dead_letters = dead_letters
        self.config = config
        self.stop = stop or threading.Event()
        # The next batch, read and turned into documents on a worker thread while the current
        # one is with OpenSearch (the preparation is Python work, the indexing the node's).
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="prepare")
        self._next: tuple[int, Future[_Prepared]] | None = None  # (read after, the batch)

    # -- one batch ---------------------------------------------------------------------------

    def poll(self) -> BatchResult:
        """Index the next batch after the checkpoint; returns what happened (read 0: caught up).

        Raises `Stopped` if asked to stop before the batch is settled; the checkpoint then stays.
        """
        entries, docs, unreadable = self._batch_after(self.log.checkpoint(CONSUMER))
        result = BatchResult(read=len(entries))
        if not entries:
            return result
        started = time.monotonic()
        result.first, result.last = entries[0].position, entries[-1].position
        if len(entries) == self.config.batch_size:  # more is likely waiting: prepare it now
            after = entries[-1].position
            self._next = (after, self._reader.submit(self._prepare, after))
        parked = list(unreadable)
        delay = self.config.backoff_initial_s
        while docs:
            outcome = self._send_all(docs)
            if outcome is None:  # every request as a whole failed
                result.retries += 1
                delay = self._wait(delay)
                continue
            result.indexed += outcome.indexed
            parked += outcome.parked
            if outcome.retry:
                result.retries += 1
                delay = self._wait(delay)
            else:
                delay = self.config.backoff_initial_s
            docs = outcome.retry
        if parked:
            self.dead_letters.park(parked)
            for letter in parked:
                logger.warning(
                    "dead-lettered event %s (log position %d): %s",
                    letter.event_id,
                    letter.position,
                    letter.reason,
                )
        result.dead_lettered = len(parked)
        self.log.commit(CONSUMER, entries[-1].position)
        result.seconds = time.monotonic() - started
        return result

    def _prepare(self, after: int) -> _Prepared:
        entries = self.log.read(after=after, limit=self.config.batch_size)
        return (entries, *documents(entries))

    def _batch_after(self, after: int) -> _Prepared:
        """The batch after a position: the one prepared ahead if it starts there and holds
        records (a batch prepared ahead of a batch that was not settled is dropped; an empty one
        is read again, records may have arrived since), else read now."""
        ahead, self._next = self._next, None
        if ahead is not None and ahead[0] == after:
            try:
                prepared = ahead[1].result()
            except Exception:  # read again below, where the error is raised
                logger.debug("batch prepared ahead failed; reading it again", exc_info=True)
            else:
                if prepared[0]:
                    return prepared
        return self._prepare(after)

    def close(self) -> None:
        """Stop the worker that prepares batches ahead (the indexer is not used afterwards)."""
        self._next = None
        self._reader.shutdown(wait=True, cancel_futures=True)

    def _send_all(self, docs: list[Doc]) -> BulkOutcome | None:
        """Send the documents as `concurrent_requests` requests at once; a request that failed
        as a whole puts its documents back to retry (None when every request failed)."""
        at_once = max(1, self.config.concurrent_requests)
        n = max(min(at_once, len(docs)), -(-len(docs) // max(1, self.config.request_docs)))
        if n == 1:
            return self._send(docs)
        size = -(-len(docs) // n)
        parts = [docs[i : i + size] for i in range(0, len(docs), size)]
        with ThreadPoolExecutor(min(at_once, len(parts)), thread_name_prefix="bulk") as pool:
            outcomes = list(pool.map(self._send, parts))
        if all(outcome is None for outcome in outcomes):
            return None
        merged = BulkOutcome()
        for part, outcome in zip(parts, outcomes, strict=True):
            if outcome is None:
                merged.retry += part
                continue
            merged.indexed += outcome.indexed
            merged.retry += outcome.retry
            merged.parked += outcome.parked
        return merged

    def _send(self, docs: list[Doc]) -> BulkOutcome | None:
        """One `_bulk` request (None when it failed as a whole and may succeed if sent again)."""
        return self.cluster.send_bulk(docs, refresh=self.config.refresh)

    def _wait(self, delay: float) -> float:
        """Sleep a jittered `delay` (or raise `Stopped`); returns the next, doubled delay."""
        if self.stop.wait(delay * (0.5 + _jitter() / 2)):
            raise Stopped
        return min(delay * 2, self.config.backoff_max_s)

    # -- the process loop --------------------------------------------------------------------

    def run(
        self,
        on_batch: Callable[[BatchResult], None] | None = None,
        on_poll: Callable[[BatchResult], None] | None = None,
    ) -> None:
        """Index until `stop` is set; a batch cut short by the stop is indexed at the next start.
        `on_batch` after each poll that read records, `on_poll` after every poll."""
        while not self.stop.is_set():
            try:
                result = self.poll()
            except Stopped:
                return
            if result.read and on_batch is not None:
                on_batch(result)
            if on_poll is not None:
                on_poll(result)
            if result.read < self.config.batch_size:
                self.stop.wait(self.config.poll_interval_s)

    def backlog(self) -> int:
        """Records in the log after the checkpoint (what a down OpenSearch has piled up)."""
        return max(0, self.log.last_position() - self.log.checkpoint(CONSUMER))


# -- indexing a stream's batch (the Lambda) ---------------------------------------------------

# Statuses of a whole request or an item that a later attempt can change: throttling, the
# cluster's errors, and authorization (a role mapping not yet applied is the deployment's state,
# not the record's: parking every record of the stream for it would empty the index).
_RETRY_LATER = frozenset({401, 403})


@dataclass(frozen=True, slots=True)
class StreamConfig:
    # Attempts of the items OpenSearch answers 429/5xx within one invocation, before they are
    # handed back to the stream (which then re-delivers from the first of them onwards).
    attempts: int = 3
    backoff_initial_s: float = 0.2
    refresh: bool = False  # make the batch searchable before returning (tests)


@dataclass(slots=True)
class StreamResult:
    """What became of one batch of stream records, by their position (sequence number): indexed,
    parked (dead letters), or failed for now with the reason (to be delivered again)."""

    records: int
    indexed: int = 0
    parked: list[DeadLetter] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    attempts: int = 0


class StreamIndexer:
    """Indexes one batch of stream records (the ingest stream's Kinesis records) as the Lambda
    receives them, with the local indexer's documents, ids and dead-letter rules.

    Each record becomes a document under its `event_id` (the JSON's own, `ids_from_records`) in
    the daily index of its event time, sent in one `_bulk` of index operations: a batch delivered
    again overwrites the same documents and adds none. A record that can never be indexed (not a
    JSON object, no usable `event_id` or `event_time`, an item refused with a 4xx) is parked in
    the dead-letter sink and counts as settled, so the records after it move on. Items answered
    429/5xx, or every document of a request that failed as a whole, are sent again up to
    `attempts` times, then reported as failed: the caller hands them back to the stream. A
    record whose dead letter could not be stored is failed too: never dropped unrecorded.
    """

    def __init__(
        self,
        cluster: Cluster,
        dead_letters: DeadLetterSink,
        config: StreamConfig = StreamConfig(),
        *,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        self.cluster = cluster
        self.dead_letters = dead_letters
        self.config = config
        self._sleep = sleep

    def index(self, entries: list[LogEntry]) -> StreamResult:
        result = StreamResult(records=len(entries))
        docs, parked = documents(entries, ids_from_records=True)
        delay = self.config.backoff_initial_s
        reason = ""
        while docs and result.attempts < max(1, self.config.attempts):
            if result.attempts:
                self._sleep(delay * (0.5 + _jitter() / 2))
                delay *= 2
            result.attempts += 1
            outcome = self.cluster.send_bulk(docs, refresh=self.config.refresh)
            if outcome is None:
                reason = "the bulk request failed as a whole (unreachable, timeout, 429 or 5xx)"
                continue
            result.indexed += outcome.indexed
            later = [letter for letter in outcome.parked if letter.status in _RETRY_LATER]
            parked += [letter for letter in outcome.parked if letter.status not in _RETRY_LATER]
            retry_positions = {letter.position for letter in later}
            docs = outcome.retry + [d for d in docs if d.entry.position in retry_positions]
            reason = "OpenSearch answered 429, 5xx, 401 or 403 for the document"
        for doc in docs:
            result.failed[doc.entry.position] = reason
        if parked:
            try:
                self.dead_letters.park(parked)
            except Exception as exc:  # the letters are not stored: the records must come back
                logger.exception("dead letters not stored; their records will be retried")
                for letter in parked:
                    result.failed[letter.position] = f"dead letter not stored: {exc}"
            else:
                result.parked = parked
        return result


# -- setting up -------------------------------------------------------------------------------


def set_up_indices(cluster: Cluster, *, shards: int = 1, replicas: int = 0) -> None:
    """Put the ingest pipeline, then the index templates (events, views), on a cluster (a PUT
    replaces)."""
    # The pipeline first: the template names it as every new index's default pipeline.
    cluster.put_pipeline(PIPELINE_NAME, ingest_pipeline())
    cluster.put_index_template(TEMPLATE_NAME, index_template(shards=shards, replicas=replicas))
    cluster.put_index_template(
        VIEWS_TEMPLATE_NAME, views_index_template(shards=shards, replicas=replicas)
    )


def apply_domain_setup(http: Http, settings: SetupSettings, saved_objects: bytes) -> SetupReport:
    """Apply the role, its mapping, pipeline, template, ISM policy and saved objects, in order."""
    if not saved_objects.strip():
        raise SetupError("the saved objects NDJSON is empty: nothing to import into Dashboards")
    report = SetupReport()
    objects = design(
        shards=settings.shards,
        replicas=settings.replicas,
        delete_after_days=settings.delete_after_days,
    )

    role_path = f"/_plugins/_security/api/roles/{INDEXER_SECURITY_ROLE}"
    _put_json(http, role_path, objects[f"role/{INDEXER_SECURITY_ROLE}"])
    report.steps.append(f"security role {INDEXER_SECURITY_ROLE}")

    mapping_path = f"/_plugins/_security/api/rolesmapping/{INDEXER_SECURITY_ROLE}"
    _put_json(http, mapping_path, indexer_role_mapping(settings.indexer_role_arn))
    report.steps.append(f"role mapping {INDEXER_SECURITY_ROLE} -> {settings.indexer_role_arn}")

    for role, arn, who in (
        (DASHBOARDS_READER_ROLE, settings.dashboards_reader_role_arn, "every signed-in user"),
        (DASHBOARDS_ADMIN_ROLE, settings.dashboards_admin_role_arn, "the admin group"),
    ):
        _put_json(http, f"/_plugins/_security/api/roles/{role}", objects[f"role/{role}"])
        report.steps.append(f"security role {role}")
        if arn:
            mapping = dashboards_role_mapping(arn, who)
            _put_json(http, f"/_plugins/_security/api/rolesmapping/{role}", mapping)
            report.steps.append(f"role mapping {role} -> {arn}")

    if settings.audit_logs:
        _put_json(http, AUDIT_CONFIG_PATH, objects["audit/config"])
        report.steps.append("audit logging on")

    _put_json(http, f"/_ingest/pipeline/{PIPELINE_NAME}", objects[f"pipeline/{PIPELINE_NAME}"])
    report.steps.append(f"ingest pipeline {PIPELINE_NAME}")

    for template in (TEMPLATE_NAME, VIEWS_TEMPLATE_NAME):
        _put_json(http, f"/_index_template/{template}", objects[f"template/{template}"])
        report.steps.append(f"index template {template}")

    _put_ism_policy(http, objects[f"ism/{ISM_POLICY_ID}"])
    report.steps.append(f"ISM policy {ISM_POLICY_ID}")

    report.saved_objects = _import_saved_objects(http, saved_objects)
    report.steps.append(f"{report.saved_objects} saved objects")
    return report


def _put_json(http: Http, path: str, document: Mapping[str, Any]) -> HttpResponse:
    return _checked(
        "PUT",
        path,
        http(
            "PUT",
            path,
            body=json.dumps(document).encode(),
            headers={"Content-Type": "application/json"},
        ),
        ok=(200, 201),
    )


def _put_ism_policy(http: Http, policy: Mapping[str, Any]) -> None:
    path = f"/_plugins/_ism/policies/{ISM_POLICY_ID}"
    current = _checked("GET", path, http("GET", path), ok=(200, 404))
    if current.status == 200:
        found = current.json()
        # ISM refuses to replace a policy without the version it replaces.
        path += f"?if_seq_no={int(found['_seq_no'])}&if_primary_term={int(found['_primary_term'])}"
    _put_json(http, path, policy)


def _import_saved_objects(http: Http, ndjson: bytes) -> int:
    body, content_type = multipart_file(ndjson, SAVED_OBJECTS_FILENAME)
    headers = {
        "Content-Type": content_type,
        "osd-xsrf": "true",
        "securitytenant": SAVED_OBJECTS_TENANT,
    }
    path = SAVED_OBJECTS_IMPORT_PATH
    response = _checked("POST", path, http("POST", path, body=body, headers=headers), ok=(200,))
    result = response.json()
    if not isinstance(result, dict) or not result.get("success"):
        errors = result.get("errors") if isinstance(result, dict) else result
        raise SetupError(
            f"POST {path}: Dashboards refused saved objects: {_quote(json.dumps(errors).encode())}"
        )
    return int(result.get("successCount", 0))


def _checked(
    method: str, path: str, response: HttpResponse, *, ok: tuple[int, ...]
) -> HttpResponse:
    if response.status not in ok:
        raise SetupError(f"{method} {path} -> HTTP {response.status}: {_quote(response.body)}")
    return response


def _quote(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip() or "(empty body)"
    return text if len(text) <= _BODY_IN_ERRORS else text[:_BODY_IN_ERRORS] + "..."
