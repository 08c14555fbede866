/**
 * Wire formats: the project's batch body (`POST /v1/events`: `{"events": [...], "sent_at": ms}`)
 * and the original sample's `Records` envelope (`POST /streams`), plus packing events into bodies
 * that respect size limits.
 */

/** @typedef {import('./types.js').QosEvent} QosEvent */

/** Ingest's default request limits (shared/src/qos_shared/limits.py: RequestLimits). */
export const MAX_EVENTS_PER_REQUEST = 500;
export const MAX_BODY_BYTES = 1024 * 1024;
/** Browsers cap the bodies of all in-flight keepalive requests (sendBeacon included) at 64 KiB. */
export const BEACON_MAX_BYTES = 64 * 1024;

/**
 * The original web player's fields per metric type, in its order. Only these four types existed.
 * @type {Readonly<Record<string, readonly string[]>>}
 */
const LEGACY_FIELDS = Object.freeze({
  PLAY: ['start_playback_position_sec', 'startup_latency_ms'],
  STOP: ['end_playback_position_sec'],
  PLAYBACK_SUMMARY: [
    'error_count',
    'playing_time_ms',
    'buffering_time_ms',
    'buffering_count',
    'rendition_name',
    'rendition_height',
  ],
  QUALITY_CHANGED: [
    'from_rendition_name',
    'to_rendition_name',
    'from_bitrate',
    'to_bitrate',
    'step_direction',
  ],
});
const LEGACY_COMMON = ['metric_type', 'user_id', 'session_id', 'client_platform', 'is_live', 'channel_watched'];

/**
 * The event as the original sample's web player would have sent it, or null for the event types it
 * never had (ATTEMPT, ERROR). Its quirks are reproduced on purpose, since an existing backend may
 * depend on them: no `event_time` or `event_id` (the server stamps them), positions rounded to whole
 * seconds, and on-demand summaries carry `live_latency_sec: -1` instead of `live_latency_ms`.
 * @param {QosEvent} event
 * @returns {Record<string, unknown> | null}
 */
export function toLegacyData(event) {
  const fields = LEGACY_FIELDS[event.metric_type];
  if (!fields) return null;
  /** @type {Record<string, unknown>} */
  const data = {};
  for (const key of [...LEGACY_COMMON, ...fields]) {
    const value = event[key];
    if (value === undefined || value === null) continue;
    data[key] =
      key === 'start_playback_position_sec' || key === 'end_playback_position_sec'
        ? Math.round(/** @type {number} */ (value))
        : value;
  }
  if (event.metric_type === 'PLAYBACK_SUMMARY') {
    if (event.is_live && typeof event.live_latency_ms === 'number') {
      data.live_latency_ms = event.live_latency_ms;
    } else if (!event.is_live) {
      data.live_latency_sec = -1;
    }
  }
  return data;
}

/**
 * The largest `sent_at` a body is sized for: epoch milliseconds keep 13 digits until the year 2286.
 * Packing reserves its bytes, so a body stamped at send time still fits the limit it was cut for.
 */
const SENT_AT_SIZING = 9_999_999_999_999;

/**
 * One request body of events. A v1 body carries `sent_at`, the client clock (epoch ms) when it is
 * sent, so that ingest can correct the event times of a clock that is off; the legacy envelope
 * never had one.
 * @param {readonly object[]} items Events (v1) or legacy Data objects.
 * @param {boolean} legacy
 * @param {number} [sentAt] The client clock now (v1 only).
 * @returns {string}
 */
export function renderBody(items, legacy, sentAt) {
  if (legacy) return JSON.stringify({ Records: items.map((data) => ({ Data: data })) });
  return JSON.stringify(sentAt === undefined ? { events: items } : { events: items, sent_at: sentAt });
}

const encoder = new TextEncoder();

/** @param {string} text */
export function byteLength(text) {
  return encoder.encode(text).length;
}

/**
 * Pack items, in order, into as few bodies as fit both limits: each a group of items and what goes
 * on the wire for them (`wire`, rendered by `renderBody` when it is sent, with `sent_at` then). An
 * item too large for `maxBytes` on its own still gets a body of its own (events are bounded by the
 * contract, so this is theoretical).
 * @template T
 * @param {readonly T[]} items
 * @param {{legacy: boolean, maxBytes: number, maxEvents: number, render?: (item: T) => object}} limits
 * @returns {{items: T[], wire: object[]}[]}
 */
export function packBodies(items, { legacy, maxBytes, maxEvents, render }) {
  const toWire = render ?? ((item) => /** @type {object} */ (item));
  // The envelope's own bytes ({"events":[],"sent_at":…} or {"Records":[]}), then each item plus
  // its comma.
  const overhead = byteLength(renderBody([], legacy, legacy ? undefined : SENT_AT_SIZING));
  /** @type {{items: T[], wire: object[]}[]} */
  const bodies = [];
  /** @type {T[]} */
  let current = [];
  /** @type {object[]} */
  let wire = [];
  let size = overhead;
  const close = () => {
    if (current.length) bodies.push({ items: current, wire });
    current = [];
    wire = [];
    size = overhead;
  };
  for (const item of items) {
    const data = toWire(item);
    const itemBytes = byteLength(JSON.stringify(legacy ? { Data: data } : data));
    if (current.length && (size + 1 + itemBytes > maxBytes || current.length >= maxEvents)) close();
    size += (current.length ? 1 : 0) + itemBytes;
    current.push(item);
    wire.push(data);
  }
  close();
  return bodies;
}
