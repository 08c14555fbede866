"""The ingest domain function: validation per event, enrichment, event ids, limits."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
import pytest

from qos_ingest.domain import BodyTooLarge, IngestConfig, IngestRequest, ingest
from qos_ingest.domain.enrichment import Pseudonymiser
from qos_shared.envelope import BodyError, TooManyEvents
from qos_shared.events import PlaybackSummary, StoredEvent
from qos_shared.examples import ORIGINAL_SAMPLE_DATA
from qos_shared.limits import RequestLimits

from ..events import NOW_MS, ORIGINAL_SAMPLE_BODY, batch, summary

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def request(body: bytes, headers: dict[str, str] | None = None, **kw: Any) -> IngestRequest:
    return IngestRequest(body=body, headers=headers or {}, received_at_ms=NOW_MS, **kw)


def stored(data: bytes) -> dict[str, Any]:
    record: dict[str, Any] = orjson.loads(data)
    StoredEvent.from_record(record)  # every accepted record must read back under the contract
    return record


def test_original_sample_payload_is_accepted_and_stamped() -> None:
    result = ingest(request(ORIGINAL_SAMPLE_BODY), IngestConfig())
    assert result.source_format == "legacy" and result.rejected == []
    (accepted,) = result.accepted
    record = stored(accepted.data)
    assert record["received_at"] == NOW_MS
    assert record["event_time"] == NOW_MS and record["event_time_source"] == "server"
    assert record["live_latency_ms"] == 2000
    assert record["source_format"] == "legacy"
    assert accepted.partition_key == ORIGINAL_SAMPLE_DATA["session_id"]
    for key, value in ORIGINAL_SAMPLE_DATA.items():
        assert record[key] == value


def test_mixed_batch_keeps_the_good_and_names_the_bad() -> None:
    events = [
        summary(),
        summary(playing_time_ms=-5),
        summary(),
        {"metric_type": "NOT_A_TYPE", "session_id": "x"},
        summary(),
    ]
    result = ingest(request(batch(*events)), IngestConfig())
    assert [a.request_index for a in result.accepted] == [0, 2, 4]
    assert [r.index for r in result.rejected] == [1, 3]
    assert "playing_time_ms" in result.rejected[0].reason
    assert "NOT_A_TYPE" in result.rejected[1].reason
    assert {a.event_id for a in result.accepted} == {events[i]["event_id"] for i in (0, 2, 4)}


def test_future_client_clock_is_clamped_and_ancient_events_rejected() -> None:
    limits = RequestLimits()
    ahead = summary(event_time=NOW_MS + limits.max_future_skew_ms + 1)
    slightly_ahead = summary(event_time=NOW_MS + 1000)
    ancient = summary(event_time=NOW_MS - limits.max_event_age_ms - 1)
    result = ingest(request(batch(ahead, slightly_ahead, ancient)), IngestConfig(limits=limits))
    first, second = (stored(a.data) for a in result.accepted)
    assert (first["event_time"], first["event_time_source"]) == (NOW_MS, "clamped")
    assert (second["event_time"], second["event_time_source"]) == (NOW_MS + 1000, "client")
    assert [r.index for r in result.rejected] == [2]
    assert "7.0 days before the server clock" in result.rejected[0].reason


def test_derived_event_id_is_stable_for_the_same_content_and_differs_otherwise() -> None:
    base = summary(event_time=NOW_MS - 10)
    del base["event_id"]
    other = {**base, "playing_time_ms": base["playing_time_ms"] + 1}
    first = ingest(request(batch(base, other)), IngestConfig()).accepted
    again = ingest(request(batch(base)), IngestConfig()).accepted
    assert first[0].event_id == again[0].event_id
    assert first[0].event_id != first[1].event_id
    assert len(first[0].event_id) == 36


def test_identical_records_in_one_request_each_get_an_id_and_a_resend_keeps_them() -> None:
    """Two (three) identical old-player records in one envelope are two (three) records: each is
    acknowledged and each gets an id of its own; the same envelope re-sent gives the same ids
    (so the copies are dropped), and the first copy's id is the one it has alone."""
    envelope = {"Records": [{"Data": dict(ORIGINAL_SAMPLE_DATA)} for _ in range(3)]}
    body = orjson.dumps(envelope)
    first = ingest(request(body), IngestConfig())
    assert len(first.accepted) == 3 and not first.rejected
    ids = [a.event_id for a in first.accepted]
    assert len(set(ids)) == 3
    assert [a.event_id for a in ingest(request(body), IngestConfig()).accepted] == ids
    alone = orjson.dumps({"Records": [{"Data": dict(ORIGINAL_SAMPLE_DATA)}]})
    assert ingest(request(alone), IngestConfig()).accepted[0].event_id == ids[0]
    # A record without event_time takes the receive time: received later, it is a new record.
    later = IngestRequest(body=alone, headers={}, received_at_ms=NOW_MS + 60_000)
    assert ingest(later, IngestConfig()).accepted[0].event_id not in ids


def test_user_agent_and_cloudfront_headers_enrich_every_event() -> None:
    headers = {
        "user-agent": CHROME_WINDOWS,
        "cloudfront-viewer-country": "IE",
        "cloudfront-viewer-country-name": "Ireland",
        "cloudfront-viewer-city": "Dublin",
        "cloudfront-viewer-latitude": "53.3498",
        "cloudfront-viewer-longitude": "-6.2603",
        "cloudfront-is-desktop-viewer": "true",
        "cloudfront-is-mobile-viewer": "false",
    }
    result = ingest(request(batch(summary(), summary()), headers), IngestConfig())
    for accepted in result.accepted:
        record = stored(accepted.data)
        assert record["browser_family"] == "Chrome" and record["browser_version"] == "131.0"
        assert record["os_family"] == "Windows"
        assert record["viewer_country"] == "IE" and record["viewer_city"] == "Dublin"
        assert record["viewer_latitude"] == pytest.approx(53.3498)
        assert record["viewer_longitude"] == pytest.approx(-6.2603)
        assert record["device_class"] == "desktop"


def test_legacy_flattened_viewer_fields_fill_in_when_no_header_did() -> None:
    data = {
        **ORIGINAL_SAMPLE_DATA,
        "CloudFront-Viewer-Country-Name": "Spain",
        "CloudFront-Viewer-City": "Madrid",
        "CloudFront-Is-Mobile-Viewer": "true",
    }
    body = orjson.dumps({"Records": [{"Data": data}]})
    headers = {"cloudfront-viewer-city": "Sevilla"}
    record = stored(ingest(request(body, headers), IngestConfig()).accepted[0].data)
    assert record["viewer_country_name"] == "Spain"
    assert record["viewer_city"] == "Sevilla"  # the header wins over the client's field
    assert record["device_class"] == "mobile"
    assert "CloudFront-Viewer-City" not in record and "extra_fields" not in record


def test_client_ip_is_never_stored() -> None:
    ip = "203.0.113.77"
    headers = {"x-forwarded-for": ip, "user-agent": CHROME_WINDOWS}
    result = ingest(request(batch(summary()), headers, source_ip=ip), IngestConfig())
    assert ip.encode() not in result.accepted[0].data


def test_user_id_pseudonymisation_with_a_keyed_hash() -> None:
    key = b"0123456789abcdef-secret"
    config = IngestConfig(pseudonymise=Pseudonymiser(key))
    events = [summary(user_id="viewer-42"), summary(user_id="viewer-42"), summary(user_id="v-7")]
    records = [stored(a.data) for a in ingest(request(batch(*events)), config).accepted]
    expected = hmac.new(key, b"viewer-42", hashlib.sha256).hexdigest()[:32]
    assert [r["user_id"] for r in records[:2]] == [expected, expected]
    assert records[2]["user_id"] != expected and "viewer" not in records[2]["user_id"]
    assert all(r["user_id_pseudonymised"] is True for r in records)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Pseudonymiser(b"short")


def test_clients_cannot_set_server_fields_and_unknown_fields_are_bounded() -> None:
    event = summary(received_at=1, event_time_source="client", browser_family="Evil")
    event.update({f"custom_{i}": i for i in range(40)})
    event["nested"] = {"a": [1, 2]}
    event["long"] = "x" * 1000
    record = stored(ingest(request(batch(event)), IngestConfig()).accepted[0].data)
    assert record["received_at"] == NOW_MS
    assert "browser_family" not in record
    extras = record["extra_fields"]
    assert len(extras) == 32
    assert extras["custom_0"] == 0
    assert not any(k.startswith("custom_") for k in record)


def test_unknown_fields_within_the_cap_are_kept_as_text_when_not_scalar() -> None:
    event = summary(nested={"a": [1, 2]}, long="x" * 1000)
    record = stored(ingest(request(batch(event)), IngestConfig()).accepted[0].data)
    assert record["extra_fields"] == {"nested": '{"a":[1,2]}', "long": "x" * 256}


def test_body_and_count_limits() -> None:
    limits = RequestLimits(max_body_bytes=2000, max_events=3)
    config = IngestConfig(limits=limits)
    with pytest.raises(BodyTooLarge, match="the limit is 2000"):
        ingest(request(b" " * 2001), config)
    with pytest.raises(TooManyEvents):
        ingest(request(batch(summary(), summary(), summary(), summary())), config)
    with pytest.raises(BodyError, match="not valid JSON"):
        ingest(request(b"{"), config)


def test_accepted_record_matches_the_model_dump_of_the_event() -> None:
    """The spliced JSON equals an independent merge of the model dump and the enrichment."""
    event = summary()
    record = stored(ingest(request(batch(event)), IngestConfig()).accepted[0].data)
    expected = PlaybackSummary.model_validate(event).model_dump(mode="json", exclude_none=True)
    expected |= {"received_at": NOW_MS, "source_format": "v1", "event_time_source": "client"}
    assert record == expected
