/** The `legacyEnvelope` option: the original sample's `{"Records":[{"Data":…}]}` wire format. */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { packBodies, renderBody, toLegacyData } from '../../src/envelope.js';
import { FakeIvsPlayer, FakeVideo, playingVideo, setup, startVideo } from './helpers.js';
import { everyEventType } from './scenarios.js';

const STREAMS = 'https://ingest.example/streams';

test('a live summary has exactly the original sample payload shape (EVENTS.md §1), key order included', async () => {
  const ctx = setup({ legacyEnvelope: true, endpoint: STREAMS, channel: 'xhP3ExfcX8ON', userId: '26d648a4bc334862a6d0bd001f231d0e' });
  const player = new FakeIvsPlayer({ liveLatency: 2, quality: { name: '720p', bitrate: 2_500_000, height: 720 } });
  ctx.monitor.attach(player);
  player.setAutoplay(true);
  player.load('https://x.live-video.net/channel.xhP3ExfcX8ON.m3u8');
  ctx.clock.advance(500);
  player.emit('Playing');
  ctx.clock.advance(60_015);
  await ctx.monitor.flush();
  const data = ctx.net.requests.flatMap((r) => r.body.Records.map((rec) => rec.Data));
  const summary = data.find((d) => d.metric_type === 'PLAYBACK_SUMMARY');
  const expected = {
    metric_type: 'PLAYBACK_SUMMARY',
    user_id: '26d648a4bc334862a6d0bd001f231d0e',
    session_id: summary.session_id,
    client_platform: 'web',
    is_live: true,
    channel_watched: 'xhP3ExfcX8ON',
    error_count: 0,
    playing_time_ms: 60_000,
    buffering_time_ms: 0,
    buffering_count: 0,
    rendition_name: '720p',
    rendition_height: 720,
    live_latency_ms: 2000,
  };
  assert.equal(JSON.stringify(summary), JSON.stringify(expected));
});

test('legacy bodies: Records of Data, original types and fields only, application/json to /streams', async () => {
  const { live, vod } = await everyEventType({ legacyEnvelope: true, endpoint: STREAMS });
  const requests = [...live.net.requests, ...vod.net.requests];
  assert.ok(requests.length >= 2);
  for (const request of requests) {
    assert.equal(request.url, STREAMS);
    assert.equal(request.init.headers['Content-Type'], 'application/json');
    assert.deepEqual(Object.keys(request.body), ['Records']);
    for (const record of request.body.Records) assert.deepEqual(Object.keys(record), ['Data']);
  }
  const data = requests.flatMap((r) => r.body.Records.map((rec) => rec.Data));
  assert.deepEqual(new Set(data.map((d) => d.metric_type)), new Set(['PLAY', 'PLAYBACK_SUMMARY', 'QUALITY_CHANGED', 'STOP']));
  const common = ['metric_type', 'user_id', 'session_id', 'client_platform', 'is_live', 'channel_watched'];
  const fields = {
    PLAY: ['start_playback_position_sec', 'startup_latency_ms'],
    STOP: ['end_playback_position_sec'],
    QUALITY_CHANGED: ['from_rendition_name', 'to_rendition_name', 'from_bitrate', 'to_bitrate', 'step_direction'],
  };
  for (const d of data) {
    assert.equal('event_time' in d, false, 'the original player sent no event_time');
    assert.equal('event_id' in d, false);
    if (fields[d.metric_type]) {
      assert.deepEqual(Object.keys(d), [...common, ...fields[d.metric_type]].filter((k) => k in d));
    }
    for (const key of ['start_playback_position_sec', 'end_playback_position_sec']) {
      if (key in d) assert.ok(Number.isInteger(d[key]), `${key} rounded like the original`);
    }
  }
  // The events still reach onEvent in the project's own shape.
  assert.ok(live.events.some((e) => e.metric_type === 'ATTEMPT' && e.event_id));
});

test('an on-demand summary carries the original live_latency_sec: -1 quirk', () => {
  const data = toLegacyData({
    metric_type: 'PLAYBACK_SUMMARY',
    session_id: 's',
    event_id: 'e',
    event_time: 1,
    user_id: 'u',
    client_platform: 'web',
    is_live: false,
    channel_watched: 'https://cdn.example/vod.m3u8',
    playing_time_ms: 1000,
    buffering_time_ms: 0,
    buffering_count: 0,
    error_count: 0,
    rendition_name: '720p',
    rendition_height: 720,
    bitrate_bps: 100,
    is_final: true,
  });
  assert.deepEqual(Object.keys(data).slice(-2), ['rendition_height', 'live_latency_sec']);
  assert.equal(data.live_latency_sec, -1);
  assert.equal('bitrate_bps' in data, false);
  assert.equal('is_final' in data, false);
});

test('ATTEMPT and ERROR, which the original never had, are not sent in legacy mode', () => {
  const base = { session_id: 's', event_id: 'e', event_time: 1 };
  assert.equal(toLegacyData({ ...base, metric_type: 'ATTEMPT' }), null);
  assert.equal(toLegacyData({ ...base, metric_type: 'ERROR' }), null);
});

test('legacy mode at page exit uses fetch keepalive with application/json (the beacon would send text/plain)', async () => {
  const { ctx, video } = playingVideo({ legacyEnvelope: true, endpoint: STREAMS });
  ctx.window.pagehide();
  assert.equal(ctx.beacon.calls.length, 0);
  assert.equal(ctx.net.requests.length, 1);
  assert.equal(ctx.net.requests[0].init.keepalive, true);
  assert.equal(ctx.net.requests[0].init.headers['Content-Type'], 'application/json');
  assert.deepEqual(ctx.net.requests[0].body.Records.map((r) => r.Data.metric_type), ['PLAY', 'PLAYBACK_SUMMARY', 'STOP']);
});

test('legacy mode with contentType text/plain (our own /streams) may use the beacon', () => {
  const ctx = setup({ legacyEnvelope: true, endpoint: STREAMS, contentType: 'text/plain;charset=UTF-8' });
  const video = new FakeVideo();
  ctx.monitor.attach(video);
  startVideo(ctx, video);
  ctx.window.pagehide();
  assert.equal(ctx.beacon.calls.length, 1);
  assert.ok(JSON.parse(ctx.beacon.calls[0].data).Records.length === 3);
});

test('packBodies keeps order and respects both the byte and the count limit', () => {
  const items = Array.from({ length: 25 }, (_, i) => ({ i, pad: 'x'.repeat(40) }));
  for (const legacy of [false, true]) {
    const bodies = packBodies(items, { legacy, maxBytes: 400, maxEvents: 4 });
    for (const { wire, items: packed } of bodies) {
      // v1 bodies are stamped with sent_at when sent: packing left room for it.
      const body = renderBody(wire, legacy, legacy ? undefined : Date.UTC(2286, 0, 1) - 1);
      assert.ok(Buffer.byteLength(body) <= 400, `${Buffer.byteLength(body)}`);
      assert.ok(packed.length <= 4);
      const parsed = JSON.parse(body);
      assert.deepEqual(legacy ? parsed.Records.map((r) => r.Data) : parsed.events, packed);
    }
    assert.deepEqual(bodies.flatMap((b) => b.items), items);
  }
});
