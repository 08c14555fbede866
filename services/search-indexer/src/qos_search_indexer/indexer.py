"""The local indexer: a consumer of the event log that keeps OpenSearch's daily indices current.

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
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as TransportConnectionError
from opensearchpy.exceptions import TransportError

from qos_search_indexer.deadletter import DeadLetter, DeadLetterStore
from qos_search_indexer.index import LOCATION_FIELD, TIME_FIELD, geo_point, index_for
from qos_shared.eventlog import EventLog, LogEntry

CONSUMER = "search-indexer"
logger = logging.getLogger(__name__)
_jitter = random.random  # backoff jitter, not cryptography


@dataclass(frozen=True, slots=True)
class IndexerConfig:
    batch_size: int = 5_000
    # A batch goes out as this many concurrent _bulk requests: the node indexes each on its own
    # write thread, so on a multi-core node two requests keep two cores busy.
    concurrent_requests: int = 2
    poll_interval_s: float = 0.5
    backoff_initial_s: float = 0.25
    backoff_max_s: float = 15.0
    refresh: bool = False  # make each batch searchable before the checkpoint moves (tests)


@dataclass(slots=True)
class BatchResult:
    read: int
    indexed: int = 0
    dead_lettered: int = 0
    retries: int = 0
    first: int = 0
    last: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class _Doc:
    entry: LogEntry
    index: str
    source: bytes


@dataclass(slots=True)
class _Outcome:
    retry: list[_Doc] = field(default_factory=list)
    parked: list[DeadLetter] = field(default_factory=list)
    indexed: int = 0


_Prepared = tuple[list[LogEntry], list[_Doc], list[DeadLetter]]


class Stopped(Exception):
    """The indexer was asked to stop while a batch was still unsettled (it is read again later)."""


class SearchIndexer:
    def __init__(
        self,
        log: EventLog,
        client: OpenSearch,
        dead_letters: DeadLetterStore,
        config: IndexerConfig = IndexerConfig(),
        *,
        stop: threading.Event | None = None,
    ) -> None:
        self.log = log
        self.client = client
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
        return (entries, *_documents(entries))

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

    def _send_all(self, docs: list[_Doc]) -> _Outcome | None:
        """Send the documents as `concurrent_requests` requests at once; a request that failed
        as a whole puts its documents back to retry (None when every request failed)."""
        n = max(1, min(self.config.concurrent_requests, len(docs)))
        if n == 1:
            return self._send(docs)
        size = -(-len(docs) // n)
        parts = [docs[i : i + size] for i in range(0, len(docs), size)]
        with ThreadPoolExecutor(len(parts), thread_name_prefix="bulk") as pool:
            outcomes = list(pool.map(self._send, parts))
        if all(outcome is None for outcome in outcomes):
            return None
        merged = _Outcome()
        for part, outcome in zip(parts, outcomes, strict=True):
            if outcome is None:
                merged.retry += part
                continue
            merged.indexed += outcome.indexed
            merged.retry += outcome.retry
            merged.parked += outcome.parked
        return merged

    def _send(self, docs: list[_Doc]) -> _Outcome | None:
        body = bytearray()
        for doc in docs:
            body += b'{"index":{"_index":"%s","_id":%s}}\n' % (
                doc.index.encode(),
                orjson.dumps(doc.entry.event_id),
            )
            body += doc.source
            body += b"\n"
        try:
            response: dict[str, Any] = self.client.bulk(
                body=bytes(body),
                refresh="true" if self.config.refresh else "false",
                filter_path="errors,items.*.status,items.*.error",
                # The indexer sets viewer_location itself (below); skipping the index's default
                # pipeline, which does the same for Firehose's documents, roughly halves the
                # node's work per document (an ingest pipeline re-parses every source).
                pipeline="_none",
            )
        except TransportConnectionError as exc:
            logger.warning("OpenSearch unreachable (%s); will retry", _short(exc))
            return None
        except TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 0
            if status == 429 or status >= 500 or status == 0:
                logger.warning("bulk request failed with %s; will retry", status or _short(exc))
                return None
            # The request itself was refused (400 on the whole body, 401/403): no item was
            # indexed, and sending it again will not change that. Park every record with why.
            reason = f"bulk request refused: {status} {_short(exc)}"
            return _Outcome(parked=[_letter(d, status, reason) for d in docs])
        items = response.get("items", [])
        if len(items) != len(docs):
            logger.warning(
                "bulk answered %d items for %d documents; will retry", len(items), len(docs)
            )
            return None
        outcome = _Outcome()
        for doc, item in zip(docs, items, strict=True):
            result = next(iter(item.values()))
            status = int(result.get("status", 0))
            if 200 <= status < 300:
                outcome.indexed += 1
            elif status == 429 or status >= 500:
                outcome.retry.append(doc)
            else:
                outcome.parked.append(_letter(doc, status, _reason(result.get("error"))))
        return outcome

    def _wait(self, delay: float) -> float:
        """Sleep a jittered `delay` (or raise `Stopped`); returns the next, doubled delay."""
        if self.stop.wait(delay * (0.5 + _jitter() / 2)):
            raise Stopped
        return min(delay * 2, self.config.backoff_max_s)

    # -- the process loop --------------------------------------------------------------------

    def run(self, on_batch: Callable[[BatchResult], None] | None = None) -> None:
        """Index until `stop` is set; a batch cut short by the stop is indexed at the next start."""
        while not self.stop.is_set():
            try:
                result = self.poll()
            except Stopped:
                return
            if result.read and on_batch is not None:
                on_batch(result)
            if result.read < self.config.batch_size:
                self.stop.wait(self.config.poll_interval_s)

    def backlog(self) -> int:
        """Records in the log after the checkpoint (what a down OpenSearch has piled up)."""
        return max(0, self.log.last_position() - self.log.checkpoint(CONSUMER))


def _documents(entries: list[LogEntry]) -> tuple[list[_Doc], list[DeadLetter]]:
    docs: list[_Doc] = []
    unreadable: list[DeadLetter] = []
    for entry in entries:
        try:
            record = orjson.loads(entry.data)
        except orjson.JSONDecodeError as exc:
            unreadable.append(_unreadable(entry, f"not JSON: {exc}"))
            continue
        if not isinstance(record, dict):
            unreadable.append(_unreadable(entry, "not a JSON object"))
            continue
        event_time = record.get(TIME_FIELD)
        if not isinstance(event_time, int) or isinstance(event_time, bool):
            unreadable.append(_unreadable(entry, f"{TIME_FIELD} missing or not an integer"))
            continue
        try:
            index = _daily_index(event_time // _DAY_MS)
        except (OverflowError, OSError, ValueError):
            unreadable.append(_unreadable(entry, f"{TIME_FIELD} out of range: {event_time}"))
            continue
        docs.append(_Doc(entry, index, _source(entry.data, record)))
    return docs, unreadable


@functools.lru_cache(maxsize=64)
def _daily_index(day: int) -> str:
    """`index_for` of a UTC day (days since the epoch): computed once per day, not per record."""
    return index_for(day * _DAY_MS)


_DAY_MS = 86_400_000


def _source(data: bytes, record: dict[str, Any]) -> bytes:
    """The document: the stored JSON as is (one line: the bulk format is line-delimited), plus
    `viewer_location` when the record has a latitude and longitude, as the index's ingest
    pipeline would add it (`index.ingest_pipeline`, which this indexer bypasses)."""
    location = geo_point(record)
    if b"\n" in data or LOCATION_FIELD in record:
        if location is not None:
            record = {**record, LOCATION_FIELD: location}
        return orjson.dumps(record)
    if location is None:
        return data
    # The record is a non-empty JSON object (it has an event_time): add the field before its
    # closing brace rather than serialising the whole record again.
    return b'%s,"%s":%s}' % (data.rstrip()[:-1], LOCATION_FIELD.encode(), orjson.dumps(location))


def _letter(doc: _Doc, status: int, reason: str) -> DeadLetter:
    entry = doc.entry
    return DeadLetter(entry.position, entry.event_id, doc.index, status, reason, entry.data)


def _unreadable(entry: LogEntry, reason: str) -> DeadLetter:
    return DeadLetter(entry.position, entry.event_id, None, None, reason, entry.data)


def _reason(error: Any) -> str:
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            text += f" (caused by {cause.get('type', '')}: {cause.get('reason', '')})"
        return text
    return str(error)


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
