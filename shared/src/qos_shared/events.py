"""Event models: what a player sends (EVENTS.md §2) and what ingest adds to it (EVENTS.md §3).

The client models validate one event each; `ClientEvent` is their discriminated union on
`metric_type`. `Enrichment` holds the server-side fields. A stored record (in the local event log,
on Kinesis, in Firehose) is the flat union of both; `StoredEvent` parses one back.

Besides the players' events, ingest stores Amazon IVS's stream events (EventBridge, ADR 18):
`StreamState` and `StreamHealth` (`STREAM_METRIC_TYPES`), made by ingest from an EventBridge
event and never accepted from a client.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    model_validator,
)

from qos_shared.catalogue import METRIC_TYPES as METRIC_TYPES
from qos_shared.catalogue import STREAM_METRIC_TYPES as STREAM_METRIC_TYPES
from qos_shared.limits import (
    MAX_CHANNEL_CHARS,
    MAX_DURATION_MS,
    MAX_HOST_CHARS,
    MAX_ID_CHARS,
    MAX_STARTUP_MS,
    MAX_STRING_CHARS,
    MAX_URL_CHARS,
    MAX_VERSION_CHARS,
)

SCHEMA_VERSION = "1"

ClientPlatform = Literal["web", "ios", "android", "other"]
_PLATFORMS = frozenset(("web", "ios", "android", "other"))


def _normalise_platform(value: str) -> str:
    """Accept any casing; an unknown platform name counts as `other` instead of losing the event."""
    lowered = value.strip().lower()
    return lowered if lowered in _PLATFORMS else "other"


# The exact names validate in pydantic-core; only other spellings pay for the Python fallback.
PlatformField = Annotated[
    ClientPlatform | Annotated[str, AfterValidator(_normalise_platform)],
    Field(union_mode="left_to_right"),
    WithJsonSchema({"type": "string", "enum": sorted(_PLATFORMS)}),
]


def _truncate(limit: int) -> BeforeValidator:
    def cut(value: Any) -> Any:
        return value[:limit] if isinstance(value, str) else value

    return BeforeValidator(cut)


def _code_as_string(value: Any) -> Any:
    """Players report error codes as numbers (IVS) or strings (hls.js); store them as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


Text = Annotated[str, StringConstraints(max_length=MAX_STRING_CHARS)]
NonEmptyText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_STRING_CHARS)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS)]
Channel = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CHANNEL_CHARS)]
Version = Annotated[str, StringConstraints(max_length=MAX_VERSION_CHARS)]
DurationMs = Annotated[int, Field(ge=0, le=MAX_DURATION_MS)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
EpochMs = Annotated[int, Field(ge=0, le=32_503_680_000_000)]  # before year 3000
PositionSec = Annotated[float, Field(ge=0, le=1e9)]
Bitrate = Annotated[int, Field(ge=0, le=1_000_000_000)]
VisibilityState = Literal["visible", "hidden"]
# Cut rather than refused: an overlong page URL or host must not cost the event.
PageUrl = Annotated[str, _truncate(MAX_URL_CHARS), StringConstraints(max_length=MAX_URL_CHARS)]
HostName = Annotated[str, _truncate(MAX_HOST_CHARS), StringConstraints(max_length=MAX_HOST_CHARS)]


class EventBase(BaseModel):
    """Fields common to every event type."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=False)

    session_id: Identifier = Field(description="One playback session: play intent to STOP.")
    user_id: Identifier | None = Field(
        default=None, description="Viewer id; may be pseudonymised by ingest (keyed hash)."
    )
    client_platform: PlatformField = Field(
        description="web, ios, android or other (other casings are accepted; unknown names count as"
        " other)."
    )
    is_live: bool = Field(description="Live stream (true) or on-demand (false).")
    channel_watched: Channel = Field(description="Channel or content id being watched.")
    event_time: EpochMs | None = Field(
        default=None, description="Client clock, epoch milliseconds; server time when absent."
    )
    event_id: Identifier | None = Field(
        default=None, description="Client-generated UUID; derived by the server when absent."
    )
    schema_version: Version = SCHEMA_VERSION
    sdk_version: Version | None = Field(
        default=None,
        description="The player SDK's version (its package version); none from old players.",
    )
    player_version: Version | None = Field(
        default=None,
        description="The video player: the Amazon IVS web player's version, `hls.js <version>`,"
        " or `native` for the browser's own HLS.",
    )
    playback_id: Identifier | None = Field(
        default=None,
        description="Client-generated id of one playback: new each time a source is loaded into"
        " the player; the sessions of that source (a replay after its end) share it. Not the"
        " server's view_id (ADR 20).",
    )
    page_url: PageUrl | None = Field(
        default=None,
        description="The page playing the video: scheme, host and path (no query string unless"
        " the page opts in, never a fragment); cut to 1024 characters.",
    )
    referrer_host: HostName | None = Field(
        default=None, description="The host name of the page's referrer (document.referrer)."
    )


class Attempt(EventBase):
    """Play intent (load, click, autoplay), before any frame."""

    metric_type: Literal["ATTEMPT"]
    visibility_state: VisibilityState | None = Field(
        default=None, description="Page visibility at play intent; hidden tabs skew startup time."
    )
    autoplay: bool | None = None


class Play(EventBase):
    """First frame of a playback session."""

    metric_type: Literal["PLAY"]
    startup_latency_ms: Annotated[int, Field(ge=0, le=MAX_STARTUP_MS)] = Field(
        description="Play intent to first frame, milliseconds."
    )
    start_playback_position_sec: PositionSec | None = None
    visibility_state: VisibilityState | None = None


class PlaybackSummary(EventBase):
    """Every 60 s while a session lives, and once at its end."""

    metric_type: Literal["PLAYBACK_SUMMARY"]
    playing_time_ms: DurationMs
    buffering_time_ms: DurationMs
    buffering_count: Count
    error_count: Count = 0
    rendition_name: Text | None = None
    rendition_height: Annotated[int, Field(ge=0, le=100_000)] | None = None
    live_latency_ms: DurationMs | None = Field(
        default=None, description="Live only (the old player's live_latency_sec is converted)."
    )
    bitrate_bps: Bitrate | None = None
    dropped_frames: Count | None = None
    bandwidth_estimate_bps: Bitrate | None = Field(
        default=None,
        description="The player's bandwidth estimate at the summary, bits per second (hls.js"
        " bandwidthEstimate, IVS getBandwidthEstimate()); none where the player has none.",
    )
    is_final: bool | None = Field(default=None, description="The summary sent at session end.")


class QualityChanged(EventBase):
    """Rendition switch."""

    metric_type: Literal["QUALITY_CHANGED"]
    from_rendition_name: Text | None = None
    to_rendition_name: NonEmptyText
    from_bitrate: Bitrate | None = None
    to_bitrate: Bitrate | None = None
    step_direction: Literal["UP", "DOWN"] | None = None
    bandwidth_estimate_bps: Bitrate | None = Field(
        default=None, description="The player's bandwidth estimate at the switch, bits per second."
    )

    @model_validator(mode="after")
    def _derive_direction(self) -> QualityChanged:
        if self.step_direction is None:
            before, after = self.from_bitrate, self.to_bitrate
            if before is not None and after is not None and after != before:
                self.step_direction = "UP" if after > before else "DOWN"
        return self


class Stop(EventBase):
    """Session end: unload, new content, or ended."""

    metric_type: Literal["STOP"]
    end_playback_position_sec: PositionSec | None = None
    exit_before_start: bool | None = Field(
        default=None,
        description="The session ended with no first frame and no fatal error (EBVS).",
    )


class Error(EventBase):
    """A fatal or recoverable player error."""

    metric_type: Literal["ERROR"]
    error_code: Annotated[
        str, BeforeValidator(_code_as_string), StringConstraints(max_length=MAX_VERSION_CHARS)
    ]
    error_type: Text | None = None
    fatal: bool
    phase: Literal["startup", "playback"] | None = Field(
        default=None,
        description="startup: before the first frame (a fatal one is a video start failure); "
        "playback: after it (a fatal one is a playback failure).",
    )
    error_message: Annotated[str, _truncate(MAX_STRING_CHARS)] | None = Field(
        default=None, description="Truncated to 256 characters."
    )


ClientEvent = Annotated[
    Attempt | Play | PlaybackSummary | QualityChanged | Stop | Error,
    Field(discriminator="metric_type"),
]
CLIENT_EVENT_ADAPTER: TypeAdapter[ClientEvent] = TypeAdapter(ClientEvent)


DeviceClass = Literal["desktop", "mobile", "smarttv", "tablet"]
EventTimeSource = Literal["client", "server", "corrected", "clamped"]
SourceFormat = Literal["v1", "legacy", "eventbridge"]


class Enrichment(BaseModel):
    """Fields ingest adds on the server (EVENTS.md §3); a client cannot set them."""

    model_config = ConfigDict(extra="forbid")

    received_at: EpochMs = Field(description="Server receive time, epoch milliseconds.")
    event_time_source: EventTimeSource = Field(
        description="client: as sent; server: stamped when absent; corrected: shifted by the"
        " client clock's offset (clock_offset_ms); clamped: ahead of the server clock, set to"
        " received_at."
    )
    clock_offset_ms: int | None = Field(
        default=None,
        description="corrected only: the shift added to the client's event_time, milliseconds"
        " (received_at minus the request's sent_at).",
    )
    source_format: SourceFormat = Field(
        description="legacy: the original sample's Records envelope; v1: the project's batch body;"
        " eventbridge: an Amazon IVS stream event (StreamState, StreamHealth)."
    )
    user_id_pseudonymised: bool = False
    viewer_country: Text | None = None
    viewer_country_name: Text | None = None
    viewer_region: Text | None = None
    viewer_city: Text | None = None
    viewer_latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    viewer_longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    device_class: DeviceClass | None = None
    browser_family: Text | None = None
    browser_version: Text | None = None
    os_family: Text | None = None
    os_version: Text | None = None
    device_family: Text | None = None
    extra_fields: dict[str, str | int | float | bool | None] | None = Field(
        default=None, description="Unknown client fields, kept out of the typed columns."
    )


ENRICHMENT_FIELDS: frozenset[str] = frozenset(Enrichment.model_fields)


# ---------------------------------------------------------------------------------------------
# Amazon IVS stream events (EventBridge), as ingest stores them

#: The `detail.event_name` values of "IVS Stream State Change" events.
STREAM_STATE_EVENTS: tuple[str, ...] = (
    "Session Created",
    "Session Ended",
    "Stream Start",
    "Stream End",
    "Stream Failure",
)
#: The `detail.event_name` values of "IVS Stream Health Change" events.
STREAM_HEALTH_EVENTS: tuple[str, ...] = ("Stream Starvation Start", "Stream Starvation End")


class StreamEventBase(BaseModel):
    """The event part of a stored IVS stream record (a channel's stream, not a viewer).

    `channel_watched` is the channel's id, the last part of its ARN: the id in the channel's
    playback URL (`…/channel.<id>.m3u8`), which is what the player SDK reports as
    `channel_watched`, so stream and viewer records of a channel share it.
    """

    model_config = ConfigDict(extra="forbid")

    event_id: Identifier = Field(
        description="Derived from the EventBridge event's id: a redelivered event is one record."
    )
    session_id: Identifier = Field(
        description="The stream's id (a stream record's partition key; no viewer session)."
    )
    channel_watched: Channel = Field(description="The IVS channel id (the ARN's last part).")
    channel_arn: Text = Field(description="The IVS channel's ARN (the event's resource).")
    channel_name: Text | None = Field(default=None, description="detail.channel_name.")
    stream_id: Identifier = Field(description="detail.stream_id.")
    event_name: NonEmptyText = Field(description="detail.event_name.")
    event_time: EpochMs = Field(description="The EventBridge event's time, epoch milliseconds.")
    is_live: Literal[True] = True
    schema_version: Version = SCHEMA_VERSION


class StreamState(StreamEventBase):
    """An "IVS Stream State Change": a stream session created or ended, a stream started, ended or
    failed (`STREAM_STATE_EVENTS`)."""

    metric_type: Literal["STREAM_STATE"]


class StreamHealth(StreamEventBase):
    """An "IVS Stream Health Change": a stream's starvation started or ended
    (`STREAM_HEALTH_EVENTS`); other detail fields are kept in `extra_fields`."""

    metric_type: Literal["STREAM_HEALTH"]


StreamEvent = Annotated[StreamState | StreamHealth, Field(discriminator="metric_type")]
STREAM_EVENT_ADAPTER: TypeAdapter[StreamEvent] = TypeAdapter(StreamEvent)
#: Any stored record's event part: a client's event or an IVS stream event.
RecordEvent = Annotated[
    Attempt | Play | PlaybackSummary | QualityChanged | Stop | Error | StreamState | StreamHealth,
    Field(discriminator="metric_type"),
]


class StoredEvent(BaseModel):
    """One record as every consumer reads it: the client event and ingest's enrichment."""

    event: RecordEvent
    enrichment: Enrichment

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> StoredEvent:
        """Split a flat stored record back into its two parts."""
        event = {k: v for k, v in record.items() if k not in ENRICHMENT_FIELDS}
        enrichment = {k: v for k, v in record.items() if k in ENRICHMENT_FIELDS}
        return cls(event=event, enrichment=enrichment)  # type: ignore[arg-type]

    @property
    def event_id(self) -> str:
        assert self.event.event_id is not None, "stored events always carry an event_id"
        return self.event.event_id

    @property
    def event_time(self) -> int:
        assert self.event.event_time is not None, "stored events always carry an event_time"
        return self.event.event_time
