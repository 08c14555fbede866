"""JSON Schema of the event contract, generated from the models for the player SDK and the docs.

`qos-schema` (or `python -m qos_shared.schema`) writes `shared/schemas/events.schema.json`;
`qos-schema --check` fails when the committed file is not what the models generate.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from qos_shared.events import ClientEvent, Enrichment, EpochMs, StreamHealth, StreamState
from qos_shared.limits import RequestLimits

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "schemas" / "events.schema.json"


class EventBatch(BaseModel):
    """The project's request body: `POST /v1/events`."""

    model_config = ConfigDict(title="EventBatch")
    events: list[ClientEvent] = Field(min_length=1, max_length=RequestLimits().max_events)
    sent_at: EpochMs | None = Field(
        default=None,
        description="The client's clock when this request was sent (epoch milliseconds; a retry"
        " sends its own). Ingest shifts the request's event times by how far it is from the"
        " server's receive time.",
    )


class LegacyRecord(BaseModel):
    model_config = ConfigDict(title="LegacyRecord")
    Data: ClientEvent


class LegacyEnvelope(BaseModel):
    """The original sample's body: `POST /streams`."""

    model_config = ConfigDict(title="LegacyEnvelope")
    Records: list[LegacyRecord] = Field(min_length=1, max_length=RequestLimits().max_events)


def build_schema() -> dict[str, Any]:
    _, definitions = models_json_schema(
        [
            (EventBatch, "validation"),
            (LegacyEnvelope, "validation"),
            (Enrichment, "serialization"),
            (StreamState, "serialization"),
            (StreamHealth, "serialization"),
        ],
        title="QoS player events",
        description=(
            "What a player sends to ingest (EventBatch or the legacy Records envelope) and what "
            "ingest adds (Enrichment); the Amazon IVS stream records ingest stores from "
            "EventBridge (StreamState, StreamHealth, with the Enrichment's received_at, "
            "event_time_source, source_format and extra_fields), which no client may send. "
            "Generated from qos_shared.events; do not edit by hand."
        ),
    )
    definitions["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    definitions["oneOf"] = [
        {"$ref": "#/$defs/EventBatch"},
        {"$ref": "#/$defs/LegacyEnvelope"},
    ]
    return definitions


def render() -> bytes:
    return orjson.dumps(build_schema(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qos-schema", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args(argv)
    expected = render()
    if args.check:
        current = args.output.read_bytes() if args.output.exists() else b""
        if current != expected:
            print(f"{args.output} is out of date; run `nox -s schema`", file=sys.stderr)
            return 1
        print(f"{args.output} is current")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(expected)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
