"""The local OpenSearch node helper against a real node: modules wired, data kept, clear errors."""

from __future__ import annotations

import shutil
import socket
import stat
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

import qos_search_node as node


@pytest.fixture(scope="module")
def client(opensearch_url: str) -> OpenSearch:
    return OpenSearch(hosts=[opensearch_url], timeout=30)


def test_health_is_yellow_or_green(opensearch_node: node.RunningNode, client: OpenSearch) -> None:
    assert opensearch_node.alive
    assert opensearch_node.url == f"http://127.0.0.1:{opensearch_node.port}"
    assert opensearch_node.log_path.is_file()
    assert opensearch_node.health()["status"] in ("yellow", "green")
    info = client.info()
    assert info["version"]["number"].startswith("2.19.")


def test_all_modules_loaded(client: OpenSearch) -> None:
    plugins = {row["component"].rsplit(".", 1)[-1] for row in client.cat.plugins(format="json")}
    assert {
        "Netty4Plugin",
        "PainlessPlugin",
        "CommonAnalysisPlugin",
        "MapperExtrasPlugin",
        "MatrixAggregationPlugin",
        "GeoModulePlugin",
        "IngestCommonPlugin",
        "ReindexPlugin",
    } <= plugins


EVENTS: list[dict[str, Any]] = [
    {
        "ts": "2024-05-01T10:05:00Z",
        "session_id": "s1",
        "cdn": "akamai",
        "startup_ms": 800.0,
        "location": {"lat": 52.37, "lon": 4.89},
    },
    {
        "ts": "2024-05-01T10:35:00Z",
        "session_id": "s1",
        "cdn": "akamai",
        "startup_ms": 1200.0,
        "location": {"lat": 52.37, "lon": 4.90},
    },
    {
        "ts": "2024-05-01T11:10:00Z",
        "session_id": "s2",
        "cdn": "fastly",
        "startup_ms": 2500.0,
        "location": {"lat": 40.71, "lon": -74.0},
    },
    {
        "ts": "2024-05-01T11:50:00Z",
        "session_id": "s3",
        "cdn": "akamai",
        "startup_ms": 600.0,
        "location": "48.85,2.35",
    },
]


def test_template_bulk_and_aggregations(client: OpenSearch) -> None:
    client.indices.put_index_template(
        name="qos-test-events",
        body={
            "index_patterns": ["qos-test-events-*"],
            "priority": 100,
            "template": {
                "settings": {"number_of_shards": 1, "number_of_replicas": 0},
                "mappings": {
                    "dynamic": "strict",
                    "properties": {
                        "ts": {"type": "date"},
                        "session_id": {"type": "keyword"},
                        "cdn": {"type": "keyword"},
                        "startup_ms": {"type": "float"},
                        "location": {"type": "geo_point"},
                    },
                },
            },
        },
    )
    index = "qos-test-events-2024.05.01"
    actions: list[dict[str, Any]] = []
    for i, event in enumerate(EVENTS):
        actions += [{"index": {"_index": index, "_id": f"e{i}"}}, event]
    result = client.bulk(body=actions, refresh=True)
    assert not result["errors"], result

    mapping = client.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["properties"]["location"]["type"] == "geo_point"  # from the template

    response = client.search(
        index="qos-test-events-*",
        body={
            "size": 0,
            "aggs": {
                "by_cdn": {"terms": {"field": "cdn"}},
                "startup": {"percentiles": {"field": "startup_ms", "percents": [50, 95]}},
                "sessions": {"cardinality": {"field": "session_id"}},
                "per_hour": {"date_histogram": {"field": "ts", "fixed_interval": "1h"}},
                "grid": {"geohash_grid": {"field": "location", "precision": 3}},
                # painless: a script aggregation
                "startup_s": {"sum": {"script": {"source": "doc['startup_ms'].value / 1000.0"}}},
            },
        },
    )
    assert response["hits"]["total"]["value"] == 4
    aggs = response["aggregations"]
    assert {b["key"]: b["doc_count"] for b in aggs["by_cdn"]["buckets"]} == {
        "akamai": 3,
        "fastly": 1,
    }
    assert 600.0 <= aggs["startup"]["values"]["50.0"] <= 2500.0
    assert aggs["sessions"]["value"] == 3
    assert [b["doc_count"] for b in aggs["per_hour"]["buckets"]] == [2, 2]
    assert {b["key"]: b["doc_count"] for b in aggs["grid"]["buckets"]} == {
        "u17": 2,
        "dr5": 1,
        "u09": 1,
    }
    assert aggs["startup_s"]["value"] == pytest.approx(5.1)


def test_restart_on_same_data_dir_keeps_documents(tmp_path: Path) -> None:
    data = tmp_path / "node"
    with node.start(data, heap="512m") as first:
        port = first.port
        client = OpenSearch(hosts=[first.url], timeout=30)
        client.index(
            index="kept",
            id="1",
            body={"msg": "survives a restart"},
            params={"refresh": "true"},
        )
    assert not first.alive
    assert not Path(f"/proc/{first.pid}").exists()
    assert first.process.returncode in (0, 143)  # clean close through the shutdown hook

    with node.start(data, port=port, heap="512m") as second:
        assert second.port == port
        assert second.log_path == first.log_path
        client = OpenSearch(hosts=[second.url], timeout=30)
        assert client.get(index="kept", id="1")["_source"] == {"msg": "survives a restart"}
    assert not second.alive
    assert second.log_path.read_text().count("=== qos_search_node: starting") == 2


def _path_with(tmp_path: Path, tools: dict[str, str | None]) -> str:
    """A PATH of one folder holding the given tools: a symlink to the real one, or a script."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, script in tools.items():
        target = folder / name
        if script is None:
            real = shutil.which(name)
            assert real is not None
            target.symlink_to(real)
        else:
            target.write_text(script)
            target.chmod(target.stat().st_mode | stat.S_IXUSR)
    return str(folder)


def test_missing_mvn_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", _path_with(tmp_path, {"java": None}))
    reason = node.available()
    assert reason is not None
    assert "mvn" in reason
    with pytest.raises(node.NodeUnavailable, match="mvn"):
        node.prepare(cache_dir=tmp_path / "empty-cache")
    with pytest.raises(node.NodeUnavailable, match="mvn"):
        node.start(tmp_path / "data")


def test_missing_java_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", _path_with(tmp_path, {"mvn": None}))
    reason = node.available()
    assert reason is not None
    assert "java" in reason


def test_maven_failure_shows_its_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_mvn = "#!/bin/sh\necho '[ERROR] Could not resolve org.opensearch:opensearch'\nexit 1\n"
    monkeypatch.setenv("PATH", _path_with(tmp_path, {"java": None, "mvn": fake_mvn}))
    assert node.available() is None
    with pytest.raises(node.NodeUnavailable, match=r"(?s)Maven failed.*Could not resolve"):
        node.prepare(cache_dir=tmp_path / "cache")


def test_prepare_is_cached(tmp_path: Path) -> None:
    first = node.prepare()
    assert first.is_complete()
    assert node.prepare() == first


def test_jvm_dying_at_startup_raises_with_the_log_tail(tmp_path: Path) -> None:
    # -Xmx1m: the JVM refuses to start ("Too small maximum heap"), as any early death would.
    with pytest.raises(node.NodeUnavailable, match=r"(?s)exited with code.*heap"):
        node.start(tmp_path / "data", heap="1m")


def test_port_in_use_is_refused(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(node.NodeUnavailable, match="already in use"):
            node.start(tmp_path / "data", port=busy.getsockname()[1])
