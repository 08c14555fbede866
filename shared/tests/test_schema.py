"""The exported JSON Schema: current with the models, and usable by a JSON Schema validator."""

from __future__ import annotations

from typing import Any

import jsonschema
import orjson
import pytest

from qos_shared.schema import DEFAULT_PATH, main, render

from .conftest import common


def test_committed_schema_is_what_the_models_generate() -> None:
    assert DEFAULT_PATH.read_bytes() == render(), "run `nox -s schema` and commit the result"


def test_check_mode_reports_a_stale_file(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "events.schema.json"
    stale.write_text("{}")
    assert main(["--output", str(stale), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["--output", str(stale)]) == 0
    assert main(["--output", str(stale), "--check"]) == 0


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = orjson.loads(DEFAULT_PATH.read_bytes())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_accepts_both_bodies(
    validator: jsonschema.Draft202012Validator, sample_data: dict[str, Any]
) -> None:
    validator.validate({"Records": [{"Data": sample_data}]})
    validator.validate(
        {"events": [common(metric_type="PLAY", startup_latency_ms=800), common(metric_type="STOP")]}
    )


@pytest.mark.parametrize(
    "event",
    [
        common(metric_type="NOPE"),
        common(metric_type="PLAY"),  # startup_latency_ms missing
        common(metric_type="PLAY", startup_latency_ms=-1),
        common(metric_type="STOP", channel_watched=""),
    ],
)
def test_schema_rejects_what_the_models_reject(
    validator: jsonschema.Draft202012Validator, event: dict[str, Any]
) -> None:
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"events": [event]})


def test_committed_metrics_page_is_what_the_catalogue_generates() -> None:
    from qos_shared import catalogue_doc

    assert catalogue_doc.DEFAULT_PATH.read_text() == catalogue_doc.render(), "run `nox -s schema`"
