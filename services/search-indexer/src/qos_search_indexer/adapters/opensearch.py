"""OpenSearch through opensearch-py: the client, `_bulk` requests and their answers, index setup.

The bulk body is written here byte by byte (an action line with the record's `event_id` as the
document id, then the prepared source), and the answer read item by item into what the indexer
does next: indexed, sent again (429, 5xx), or parked with OpenSearch's reason (any other status).
"""

from __future__ import annotations

import logging
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as TransportConnectionError
from opensearchpy.exceptions import TransportError

from qos_search_indexer.domain.deadletter import rejection_reason
from qos_search_indexer.domain.documents import BulkOutcome, Doc, bulk_body, rejected_letter

logger = logging.getLogger(__name__)


def client_for(
    url: str,
    *,
    auth: tuple[str, str] | None = None,
    timeout: float = 60.0,
    pool_maxsize: int = 1,
) -> OpenSearch:
    """A client that leaves retrying to its caller (the indexer retries batches itself), keeping
    up to `pool_maxsize` connections open: as many as requests it sends at once (urllib3 keeps
    one by default, and warns "Connection pool is full" for each connection it then drops)."""
    return OpenSearch(
        hosts=[url],
        http_auth=auth,
        timeout=timeout,
        max_retries=0,
        retry_on_timeout=False,
        http_compress=False,
        pool_maxsize=pool_maxsize,
    )


def signed_client_for(url: str, *, region: str, timeout: float = 30.0) -> OpenSearch:
    """A client of an OpenSearch Service domain whose requests are SigV4-signed for `es` with
    the process's AWS credentials (the Lambda's role), retrying left to its caller.

    opensearch-py's own signer (`AWSV4SignerAuth`, botocore credentials that refresh themselves)
    over its default urllib3 transport: the setup function's `signed_http` is a single-request
    urllib seam, not a client `_bulk` and its answer can go through.
    """
    # boto3 comes with the `aws` extra (the Lambda bundle), not with the local install.
    import boto3
    from opensearchpy import AWSV4SignerAuth

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials to sign OpenSearch requests with")
    return OpenSearch(
        hosts=[url],
        http_auth=AWSV4SignerAuth(credentials, region, "es"),
        use_ssl=url.startswith("https://"),
        verify_certs=True,
        timeout=timeout,
        max_retries=0,
        retry_on_timeout=False,
        http_compress=False,
    )


class OpenSearchCluster:
    """The indexer's `service.Cluster` on an opensearch-py client."""

    def __init__(self, client: OpenSearch) -> None:
        self.client = client

    def put_pipeline(self, name: str, body: dict[str, Any]) -> None:
        self.client.ingest.put_pipeline(id=name, body=body)

    def put_index_template(self, name: str, body: dict[str, Any]) -> None:
        self.client.indices.put_index_template(name=name, body=body)

    def send_bulk(self, docs: list[Doc], *, refresh: bool) -> BulkOutcome | None:
        """One `_bulk` request of the documents; None when it failed as a whole and may succeed
        if sent again (unreachable, timeout, 429, 5xx)."""
        try:
            response: dict[str, Any] = self.client.bulk(
                body=bulk_body(docs),
                refresh="true" if refresh else "false",
                filter_path="errors,items.*.status,items.*.error",
                # The indexer sets viewer_location itself (`domain.documents`); skipping the
                # index's default pipeline, which does the same for Firehose's documents, roughly
                # halves the node's work per document (an ingest pipeline re-parses every source).
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
            return BulkOutcome(parked=[rejected_letter(d, status, reason) for d in docs])
        items = response.get("items", [])
        if len(items) != len(docs):
            logger.warning(
                "bulk answered %d items for %d documents; will retry", len(items), len(docs)
            )
            return None
        outcome = BulkOutcome()
        for doc, item in zip(docs, items, strict=True):
            result = next(iter(item.values()))
            status = int(result.get("status", 0))
            if 200 <= status < 300:
                outcome.indexed += 1
            elif status == 429 or status >= 500:
                outcome.retry.append(doc)
            else:
                reason = rejection_reason(result.get("error"))
                outcome.parked.append(rejected_letter(doc, status, reason))
        return outcome


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
