/**
 * The SDK and the ingest contract cannot drift: every body the SDK sends, in both wire formats, is
 * validated against shared/schemas/events.schema.json (generated from qos_shared.events).
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import Ajv2020 from 'ajv/dist/2020.js';

import { everyEventType } from './scenarios.js';

const schema = JSON.parse(readFileSync(new URL('../../../shared/schemas/events.schema.json', import.meta.url), 'utf8'));
// strict: false because pydantic writes OpenAPI's `discriminator.mapping`, which Ajv does not
// implement; the oneOf branches are told apart by their `metric_type` const all the same.
const ajv = new Ajv2020({ strict: false, allErrors: true });
const validateBody = ajv.compile(schema);
const validateEvent = ajv.compile({ ...schema, oneOf: undefined, $ref: '#/$defs/EventBatch/properties/events/items' });

/** @param {import('ajv').ValidateFunction} validate */
function explain(validate) {
  return JSON.stringify(validate.errors?.slice(0, 5), null, 1);
}

const METRIC_TYPES = ['ATTEMPT', 'PLAY', 'PLAYBACK_SUMMARY', 'QUALITY_CHANGED', 'STOP', 'ERROR'];

test('every event emitted validates against the contract', async () => {
  const { live, vod } = await everyEventType();
  const events = [...live.events, ...vod.events];
  assert.deepEqual(new Set(events.map((e) => e.metric_type)), new Set(METRIC_TYPES));
  for (const event of events) {
    assert.ok(validateEvent(event), `${event.metric_type}: ${explain(validateEvent)}`);
  }
  // Every optional field the contract defines is exercised somewhere.
  const seen = new Set(events.flatMap((e) => Object.keys(e)));
  for (const field of ['visibility_state', 'autoplay', 'startup_latency_ms', 'start_playback_position_sec',
    'bitrate_bps', 'dropped_frames', 'live_latency_ms', 'is_final', 'exit_before_start', 'phase',
    'error_message', 'step_direction', 'player_version', 'end_playback_position_sec']) {
    assert.ok(seen.has(field), field);
  }
});

test('every v1 request body validates as an EventBatch', async () => {
  const { live, vod } = await everyEventType();
  const bodies = [...live.net.requests, ...vod.net.requests, ...live.beacon.calls, ...vod.beacon.calls].map((r) =>
    'data' in r ? JSON.parse(r.data) : r.body,
  );
  assert.ok(bodies.length >= 2);
  for (const body of bodies) {
    assert.ok(Array.isArray(body.events));
    assert.ok(Number.isInteger(body.sent_at), 'every v1 body carries the client clock (sent_at)');
    assert.ok(validateBody(body), explain(validateBody));
  }
});

test('every legacy request body validates as a LegacyEnvelope', async () => {
  const { live, vod } = await everyEventType({ legacyEnvelope: true, endpoint: 'https://ingest.example/streams' });
  const bodies = [...live.net.requests, ...vod.net.requests].map((r) => r.body);
  assert.ok(bodies.length >= 2);
  for (const body of bodies) {
    assert.ok(Array.isArray(body.Records));
    assert.ok(validateBody(body), explain(validateBody));
  }
});

test('the validator is not vacuous: contract violations are caught', async () => {
  const { live } = await everyEventType();
  const summary = live.events.find((e) => e.metric_type === 'PLAYBACK_SUMMARY');
  const play = live.events.find((e) => e.metric_type === 'PLAY');
  const broken = [
    { ...summary, playing_time_ms: -1 },
    { ...summary, playing_time_ms: 1.5 },
    { ...play, startup_latency_ms: 10 * 60 * 1000 + 1 },
    { ...summary, session_id: undefined },
    { ...summary, metric_type: 'PLAYBACK_SUMMARIES' },
    { ...summary, channel_watched: 'c'.repeat(129) },
  ].map((e) => JSON.parse(JSON.stringify(e)));
  for (const event of broken) assert.equal(validateEvent(event), false, JSON.stringify(event).slice(0, 120));
});
