"""The platform CDK app (infra/aws/app.py): run as the CDK CLI runs it, with every stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="needs the ingest service's `infra` extra")

from qos_ingest_infra import HANDLER, INGEST_ROOT, REPO_ROOT, build_lambda_asset
from qos_shared_cdk.testing.template import feature_flags


@pytest.fixture(scope="module")
def lambda_asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lambda_asset(tmp_path_factory.mktemp("asset") / "lambda", progress=None)


@pytest.fixture(scope="module")
def search_asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The setup function's real bundle, around the committed saved objects (or, while the
    dashboards generator has not written them yet, a one-object stand-in)."""
    from qos_search_indexer_infra import DEFAULT_SAVED_OBJECTS
    from qos_search_indexer_infra import build_lambda_asset as build_search_asset

    folder = tmp_path_factory.mktemp("search")
    saved_objects = DEFAULT_SAVED_OBJECTS
    if not saved_objects.is_file():
        saved_objects = folder / "stand-in.ndjson"
        saved_objects.write_text(
            '{"type":"index-pattern","id":"qos-events","attributes":{"title":"qos-events-*"}}\n'
        )
    return build_search_asset(folder / "lambda", saved_objects=saved_objects, progress=None)


@pytest.fixture(scope="module")
def flink_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real application zip, around a stand-in for the connector jar: the Kinesis connector
    for Flink 2.x is not served by this machine's Maven mirror, and the stack only needs a zip."""
    from qos_realtime.api import FLINK_JAR_NAME, write_flink_zip

    folder = tmp_path_factory.mktemp("flink")
    jar = folder / FLINK_JAR_NAME
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    write_flink_zip(folder / "app.zip", jar)
    return folder / "app.zip"


def test_both_cdk_json_files_run_the_apps_with_the_same_feature_flags() -> None:
    ingest = json.loads((INGEST_ROOT / "cdk.json").read_text(encoding="utf-8"))
    platform = json.loads((REPO_ROOT / "infra" / "cdk.json").read_text(encoding="utf-8"))
    assert ingest["app"] == "python -m qos_ingest_infra.app"
    assert platform["app"] == "python aws/app.py"
    assert (REPO_ROOT / "infra" / "aws" / "app.py").is_file()
    flags = feature_flags(INGEST_ROOT / "cdk.json")
    assert flags
    assert flags == feature_flags(REPO_ROOT / "infra" / "cdk.json")


def test_platform_app_synthesizes_every_stack(
    lambda_asset: Path, flink_zip: Path, search_asset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cdk.out"
    site = tmp_path / "site"  # a stand-in demo page: the real one needs hls.js from npm
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>demo</title>", encoding="utf-8")
    context = json.loads((REPO_ROOT / "infra" / "cdk.json").read_text(encoding="utf-8"))
    # What the CDK CLI does: run cdk.json's app with its context and an output dir in the env.
    env = {
        **os.environ,
        "CDK_OUTDIR": str(out),
        "CDK_CONTEXT_JSON": json.dumps(
            {
                **context["context"],
                "qos:env": "ci",
                "qos:ingest:lambdaAssetDir": str(lambda_asset),
                "qos:ingest:demoSiteDir": str(site),
                "qos:realtime:flinkApplicationZip": str(flink_zip),
                "qos:search-indexer:lambdaAssetDir": str(search_asset),
            }
        ),
    }
    result = subprocess.run(
        [sys.executable, "aws/app.py"],
        cwd=REPO_ROOT / "infra",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-5000:]

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["artifacts"]["qos-ci-ingest"]["type"] == "aws:cloudformation:stack"
    template = json.loads((out / "qos-ci-ingest.template.json").read_text(encoding="utf-8"))
    resources = template["Resources"].values()
    handlers = {
        r["Properties"].get("Handler")
        for r in resources
        if r["Type"] == "AWS::Lambda::Function" and "Handler" in r["Properties"]
    }
    # The API's function and the IVS stream events' (EventBridge rule) function, among the
    # CDK's own (the demo page upload's, the WAF ARN reader's).
    assert {HANDLER, "qos_ingest.entrypoints.eventbridge_handler.handler"} <= handlers
    # The bundle was staged for real: the directory CDK will zip holds the runtime code.
    staged = [p for p in out.glob("asset.*") if (p / "qos_ingest").is_dir()]
    assert len(staged) == 1
    assert not (staged[0] / "qos_ingest_infra").exists()
    # CloudFront's web ACL: a stack of its own in us-east-1, deployed before the ingest stack.
    waf = manifest["artifacts"]["qos-ci-ingest-waf"]
    assert waf["environment"].endswith("/us-east-1")
    assert "qos-ci-ingest-waf" in manifest["artifacts"]["qos-ci-ingest"]["dependencies"]
    assert manifest["artifacts"]["qos-ci-realtime"]["type"] == "aws:cloudformation:stack"
    realtime = json.loads((out / "qos-ci-realtime.template.json").read_text(encoding="utf-8"))
    types = {r["Type"] for r in realtime["Resources"].values()}
    assert {"AWS::KinesisAnalyticsV2::Application", "AWS::CloudWatch::Dashboard"} <= types
    assert manifest["artifacts"]["qos-ci-lake"]["type"] == "aws:cloudformation:stack"
    lake = json.loads((out / "qos-ci-lake.template.json").read_text(encoding="utf-8"))
    lake_types = {r["Type"] for r in lake["Resources"].values()}
    assert {"AWS::Glue::Table", "AWS::KinesisFirehose::DeliveryStream"} <= lake_types
    assert manifest["artifacts"]["qos-ci-search-indexer"]["type"] == "aws:cloudformation:stack"
    search = json.loads((out / "qos-ci-search-indexer.template.json").read_text(encoding="utf-8"))
    search_types = {r["Type"] for r in search["Resources"].values()}
    assert {
        "AWS::OpenSearchService::Domain",
        "AWS::Lambda::EventSourceMapping",
        "Custom::QosSearchSetup",
    } <= search_types
    # The indexer function, not Firehose, writes to the domain (documents under event_id).
    assert "AWS::KinesisFirehose::DeliveryStream" not in search_types
    (domain,) = [
        r for r in search["Resources"].values() if r["Type"] == "AWS::OpenSearchService::Domain"
    ]
    # Not prod: the domain goes with the stack.
    assert domain["DeletionPolicy"] == "Delete"
    _assert_deploy_order(manifest["artifacts"])


def _assert_deploy_order(artifacts: dict[str, Any]) -> None:
    """Ingest first: realtime, lake and search-indexer read its stream ARN from SSM, so each
    depends on it; the lake and search-indexer also read realtime's views stream ARN, so they
    depend on realtime too; the CLI deploys in this order."""
    stacks = {"qos-ci-ingest", "qos-ci-realtime", "qos-ci-lake", "qos-ci-search-indexer"}

    def stack_dependencies(name: str) -> set[str]:
        return set(artifacts[name].get("dependencies", [])) & stacks

    assert stack_dependencies("qos-ci-ingest") == set()
    assert stack_dependencies("qos-ci-realtime") == {"qos-ci-ingest"}
    for reader in ("qos-ci-lake", "qos-ci-search-indexer"):
        assert stack_dependencies(reader) == {"qos-ci-ingest", "qos-ci-realtime"}, reader
