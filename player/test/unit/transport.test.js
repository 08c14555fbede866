/** Delivery rules: batching, retries with backoff, 4xx and 207 handling, the bounded queue, beacons. */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { createTransport } from '../../src/transport.js';
import { attachedVideo, EPOCH, fakeBeacon, FakeClock, fakeFetch, fakeIo, FakeVideo, mapStorage, playingVideo, reply, settle, setup, startVideo } from './helpers.js';

const ENDPOINT = 'https://ingest.example/v1/events';

function transportWith({ script = [], random = () => 0.5, beaconAccept, wallSkewMs = 0, storage = null, ...overrides } = {}) {
  const clock = new FakeClock();
  const net = fakeFetch(script);
  const beacon = fakeBeacon(beaconAccept);
  const io = fakeIo(clock, net, beacon);
  const env = {
    ...io,
    wallNow: () => io.wallNow() + wallSkewMs,
    document: null,
    window: null,
    randomUUID: () => 'x',
    random,
    storage,
  };
  const transport = createTransport({
    endpoint: ENDPOINT,
    env,
    legacy: false,
    contentType: 'text/plain;charset=UTF-8',
    batchSize: 3,
    batchIntervalMs: 5_000,
    maxQueueSize: 10,
    maxRetries: 3,
    retryBaseMs: 1_000,
    retryMaxMs: 8_000,
    useBeacon: true,
    beaconMaxBytes: 64 * 1024,
    storage,
    ...overrides,
  });
  return { transport, clock, net, beacon };
}

/** A transport made with `options` that has been given a full batch (e1, e2, e3) and sent it. */
async function oneBatchSent(options) {
  const sent = transportWith(options);
  for (let i = 1; i <= 3; i += 1) sent.transport.enqueue(ev(i));
  await settle();
  return sent;
}

const ev = (n, extra = {}) => ({ metric_type: 'STOP', event_id: `e${n}`, n, ...extra });
const sentIds = (net) => net.requests.flatMap((r) => r.body.events.map((e) => e.event_id));

describe('batching', () => {
  test('a full batch goes at once; a partial one after batchIntervalMs', async () => {
    const { transport, clock, net } = transportWith();
    transport.enqueue(ev(1));
    transport.enqueue(ev(2));
    await settle();
    assert.equal(net.requests.length, 0);
    transport.enqueue(ev(3));
    await settle();
    assert.equal(net.requests.length, 1);
    assert.deepEqual(sentIds(net), ['e1', 'e2', 'e3']);
    transport.enqueue(ev(4));
    await clock.advanceAsync(4_999);
    assert.equal(net.requests.length, 1);
    await clock.advanceAsync(1);
    assert.equal(net.requests.length, 2);
    assert.deepEqual(net.requests[1].body, { events: [ev(4)], sent_at: EPOCH + clock.t });
    assert.equal(transport.stats().sent, 4);
  });

  test('requests are POSTs of {"events": [...]} as text/plain, without credentials', async () => {
    const { transport, net } = await oneBatchSent();
    const [{ url, init }] = net.requests;
    assert.equal(url, ENDPOINT);
    assert.equal(init.method, 'POST');
    assert.equal(init.headers['Content-Type'], 'text/plain;charset=UTF-8');
    assert.equal(init.credentials, 'omit');
    assert.equal(init.keepalive, false);
  });

  test('flush() sends what waits now and resolves when it is delivered', async () => {
    const { transport, net } = transportWith({ batchSize: 2 });
    for (let i = 1; i <= 5; i += 1) transport.enqueue(ev(i));
    await transport.flush();
    assert.deepEqual(sentIds(net), ['e1', 'e2', 'e3', 'e4', 'e5']);
    assert.equal(transport.stats().queued, 0);
  });
});

describe('retries', () => {
  test('5xx is retried with exponential backoff and jitter, in order, until accepted', async () => {
    const { transport, clock, net } = await oneBatchSent({
      script: [reply(500), reply(503), reply(502), reply(200)],
      random: () => 1, // the top of the jitter range: the full delay
    });
    assert.equal(net.requests.length, 1);
    assert.deepEqual(clock.pending(), [1_000]);
    await clock.advanceAsync(1_000);
    assert.equal(net.requests.length, 2);
    assert.deepEqual(clock.pending(), [2_000]);
    await clock.advanceAsync(2_000);
    assert.deepEqual(clock.pending(), [4_000]);
    await clock.advanceAsync(4_000);
    assert.equal(net.requests.length, 4);
    assert.deepEqual(net.requests.map((r) => r.body.events.map((e) => e.n)), Array(4).fill([1, 2, 3]));
    assert.deepEqual(
      { sent: transport.stats().sent, retries: transport.stats().retries, failed: transport.stats().failed },
      { sent: 3, retries: 3, failed: 0 },
    );
  });

  test('jitter: the delay lies between half and all of the exponential step', async () => {
    const low = transportWith({ script: [reply(500)], random: () => 0 });
    for (let i = 1; i <= 3; i += 1) low.transport.enqueue(ev(i));
    await settle();
    assert.deepEqual(low.clock.pending(), [500]);
    const mid = transportWith({ script: [reply(500)], random: () => 0.5 });
    for (let i = 1; i <= 3; i += 1) mid.transport.enqueue(ev(i));
    await settle();
    assert.deepEqual(mid.clock.pending(), [750]);
  });

  test('a network error is retried; Retry-After is honoured', async () => {
    const { transport, clock, net } = await oneBatchSent({
      script: [new TypeError('Failed to fetch'), reply(503, {}, { 'Retry-After': '5' })],
    });
    await clock.advanceAsync(clock.pending()[0]);
    assert.equal(net.requests.length, 2);
    assert.deepEqual(clock.pending(), [5_000]);
    await clock.advanceAsync(5_000);
    assert.equal(transport.stats().sent, 3);
  });

  test('a 4xx is not retried: the events are counted as rejected and dropped', async () => {
    const { transport, clock, net } = await oneBatchSent({ script: [reply(400, { error: 'bad' })] });
    await clock.advanceAsync(120_000);
    assert.equal(net.requests.length, 1);
    assert.equal(transport.stats().rejected, 3);
    assert.equal(transport.stats().queued, 0);
  });

  test('429 is retried like a 5xx', async () => {
    const { transport, clock, net } = await oneBatchSent({ script: [reply(429)] });
    await clock.advanceAsync(10_000);
    assert.equal(net.requests.length, 2);
    assert.equal(transport.stats().sent, 3);
  });

  test('after maxRetries an event is given up and counted as failed', async () => {
    const { transport, clock, net } = await oneBatchSent({ script: Array(10).fill(reply(500)), maxRetries: 2 });
    await clock.advanceAsync(600_000);
    assert.equal(net.requests.length, 3);
    assert.equal(transport.stats().failed, 3);
    assert.equal(transport.stats().queued, 0);
  });

  test('207: rejected events are not re-sent; failed ones are, with the same event_id', async () => {
    const { transport, clock, net } = await oneBatchSent({
      script: [
        reply(207, {
          accepted: 1,
          rejected: [{ index: 1, reason: 'playing_time_ms: too large' }],
          failed: [{ index: 2, reason: 'sink throttled' }],
        }),
      ],
    });
    await clock.advanceAsync(clock.pending()[0]);
    assert.equal(net.requests.length, 2);
    assert.deepEqual(net.requests[1].body.events.map((e) => e.event_id), ['e3']);
    assert.deepEqual(
      { sent: transport.stats().sent, rejected: transport.stats().rejected },
      { sent: 2, rejected: 1 },
    );
  });
});

describe('the client clock at send time (sent_at)', () => {
  const wallAt = (clock) => EPOCH + clock.t;

  test('a batch carries the wall clock of the moment it is sent, not of its events', async () => {
    const { transport, clock, net } = transportWith();
    transport.enqueue(ev(1));
    await clock.advanceAsync(5_000); // the batch timer sends it
    assert.equal(net.requests.length, 1);
    const [{ body }] = net.requests;
    assert.deepEqual(Object.keys(body).sort(), ['events', 'sent_at']);
    assert.equal(body.sent_at, wallAt(clock));
    assert.ok(Number.isInteger(body.sent_at));
  });

  test('a clock that is off is sent as it reads (rounded to the ms): ingest corrects it', async () => {
    const { clock, net } = await oneBatchSent({ wallSkewMs: -600_000.4 });
    assert.equal(net.requests[0].body.sent_at, wallAt(clock) - 600_000);
  });

  test('every retry is stamped anew: a 5xx, a network error, the failed items of a 207', async () => {
    const { clock, net } = await oneBatchSent({
      script: [
        reply(503),
        new TypeError('Failed to fetch'),
        reply(207, { accepted: 2, rejected: [], failed: [{ index: 0, reason: 'throttled' }] }),
        reply(200),
      ],
      random: () => 1,
    });
    const stamps = [wallAt(clock)];
    for (const delay of [1_000, 2_000, 4_000]) {
      await clock.advanceAsync(delay);
      stamps.push(wallAt(clock));
    }
    assert.equal(net.requests.length, 4);
    assert.deepEqual(net.requests.map((r) => r.body.sent_at), stamps);
    assert.equal(new Set(stamps).size, 4);
    assert.deepEqual(net.requests.map((r) => r.body.events.map((e) => e.event_id)), [
      ['e1', 'e2', 'e3'],
      ['e1', 'e2', 'e3'],
      ['e1', 'e2', 'e3'],
      ['e1'],
    ]);
  });

  test('sendBeacon and keepalive fetch at page exit carry the clock of that moment', async () => {
    const beaconed = transportWith();
    beaconed.transport.enqueue(ev(1));
    beaconed.clock.advance(1_234);
    beaconed.transport.flushOnExit();
    assert.equal(JSON.parse(beaconed.beacon.calls[0].data).sent_at, wallAt(beaconed.clock));

    const refused = transportWith({ useBeacon: false });
    refused.transport.enqueue(ev(1));
    refused.clock.advance(4_321);
    refused.transport.flushOnExit();
    await settle();
    const [request] = refused.net.requests;
    assert.equal(request.init.keepalive, true);
    assert.equal(request.body.sent_at, wallAt(refused.clock));
  });

  test('the legacy envelope has no sent_at', async () => {
    const { transport, net, beacon } = transportWith({ legacy: true });
    for (let i = 1; i <= 3; i += 1) transport.enqueue(ev(i));
    await settle();
    transport.enqueue(ev(4));
    transport.flushOnExit();
    assert.deepEqual(Object.keys(net.requests[0].body), ['Records']);
    assert.deepEqual(Object.keys(JSON.parse(beacon.calls[0].data)), ['Records']);
  });
});

describe('bounded queue', () => {
  test('over maxQueueSize the oldest events are dropped and counted', async () => {
    const { transport, net } = transportWith({ script: [new TypeError('offline')], maxQueueSize: 5, batchSize: 3 });
    for (let i = 1; i <= 3; i += 1) transport.enqueue(ev(i)); // in flight, then back in the queue
    await settle();
    for (let i = 4; i <= 9; i += 1) transport.enqueue(ev(i));
    const stats = transport.stats();
    assert.equal(stats.queued, 5);
    assert.equal(stats.dropped, 4);
    await transport.flush();
    assert.deepEqual(net.requests.slice(1).flatMap((r) => r.body.events.map((e) => e.n)), [5, 6, 7, 8, 9]);
  });
});

describe('page exit', () => {
  test('pagehide: final summary and STOP go by sendBeacon as a text/plain string body', async () => {
    const { ctx, video } = playingVideo();
    ctx.clock.advance(4_000);
    ctx.window.pagehide();
    await settle();
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY', 'PLAYBACK_SUMMARY', 'STOP']);
    assert.equal(ctx.net.requests.length, 0);
    assert.equal(ctx.beacon.calls.length, 1);
    const [call] = ctx.beacon.calls;
    assert.equal(call.url, 'https://ingest.example/v1/events');
    assert.equal(call.type, 'string', 'a string body is sent as text/plain;charset=UTF-8: no preflight');
    assert.deepEqual(JSON.parse(call.data).events.map((e) => e.metric_type), ctx.types());
    assert.equal(ctx.monitor.state.delivery.beaconed, 4);
  });

  test('visibilitychange to hidden flushes by beacon but keeps the session open', async () => {
    const { ctx, video } = playingVideo();
    ctx.document.hide();
    assert.equal(ctx.beacon.calls.length, 1);
    assert.equal(ctx.monitor.state.phase, 'playing');
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY']);
  });

  test('a beacon the browser refuses counts nothing; its events wait in the outbox for the next page', async () => {
    const storage = new Map();
    const { ctx } = playingVideo({ beaconAccept: () => false, storage });
    ctx.window.pagehide();
    await settle();
    assert.equal(ctx.beacon.calls.length, 1);
    assert.equal(ctx.net.requests.length, 0, 'no keepalive fetch: it shares the budget that refused the beacon');
    const { delivery } = ctx.monitor.state;
    assert.equal(delivery.beaconed, 0, 'a refused beacon is not counted as sent');
    assert.equal(delivery.stored, 4);
    const [key] = [...storage.keys()].filter((k) => k.startsWith('qos_outbox:'));
    assert.deepEqual(JSON.parse(storage.get(key)).map((e) => e.metric_type), ['ATTEMPT', 'PLAY', 'PLAYBACK_SUMMARY', 'STOP']);

    // The next page of the same origin sends them by fetch as soon as its monitor exists.
    const next = setup({ storage });
    await settle();
    assert.equal(next.net.requests.length, 1);
    assert.deepEqual(next.net.requests[0].body.events.map((e) => e.event_id), ctx.events.map((e) => e.event_id));
    assert.equal(next.net.requests[0].init.keepalive, false);
    assert.equal(storage.has(key), false, 'the outbox is emptied');
    assert.equal(next.monitor.state.delivery.restored, 4);
    assert.equal(next.monitor.state.delivery.sent, 4);
  });

  test('without sendBeacon at all, fetch keepalive is used', async () => {
    const { ctx, video } = attachedVideo({ env: { sendBeacon: null } });
    video.userPlay();
    ctx.window.pagehide();
    await settle();
    assert.equal(ctx.net.requests.length, 1);
    assert.equal(ctx.net.requests[0].init.keepalive, true);
  });

  test('at exit one body within the 64 KiB keepalive budget goes, priority events first; the rest waits in the outbox', async () => {
    const storage = mapStorage();
    const { transport, beacon, net } = transportWith({ batchSize: 1000, maxQueueSize: 1000, storage });
    const pad = 'p'.repeat(200);
    for (let i = 0; i < 600; i += 1) transport.enqueue(ev(i, { pad }));
    transport.enqueue(ev('summary'), { priority: true });
    transport.enqueue(ev('stop'), { priority: true });
    assert.equal(net.requests.length, 0);
    transport.flushOnExit({ exit: true });
    assert.equal(beacon.calls.length, 1, 'one request: Chromium shares one budget across all of them');
    const bytes = Buffer.byteLength(beacon.calls[0].data);
    assert.ok(bytes <= 64 * 1024 && bytes > 60 * 1024, `${bytes} bytes`);
    const carried = JSON.parse(beacon.calls[0].data).events.map((e) => e.n);
    assert.deepEqual(carried.slice(0, 2), ['summary', 'stop']);
    const kept = JSON.parse(storage.getItem(transport.outboxKey)).map((e) => e.n);
    assert.deepEqual([...carried.slice(2), ...kept], [...Array(600).keys()], 'every event once, in order');
    const stats = transport.stats();
    assert.equal(stats.beaconed, carried.length);
    assert.equal(stats.stored, kept.length);
    assert.equal(stats.queued, 0);
    await settle();
    assert.equal(net.requests.length, 0);
  });

  test('a hidden page keeps 8 KiB of the budget for the exit; shown again, the outbox goes by fetch', async () => {
    const storage = mapStorage();
    const { transport, beacon, net } = transportWith({ batchSize: 1000, maxQueueSize: 1000, storage });
    for (let i = 0; i < 600; i += 1) transport.enqueue(ev(i, { pad: 'p'.repeat(200) }));
    transport.flushOnExit({ exit: false });
    const bytes = Buffer.byteLength(beacon.calls[0].data);
    assert.ok(bytes <= 56 * 1024 && bytes > 50 * 1024, `${bytes} bytes`);
    const beaconed = transport.stats().beaconed;
    assert.equal(transport.stats().stored, 600 - beaconed);
    transport.restore();
    await settle();
    assert.equal(storage.getItem(transport.outboxKey), null);
    assert.deepEqual(sentIds(net), [...Array(600).keys()].slice(beaconed).map((n) => `e${n}`));
    assert.equal(transport.stats().sent, 600 - beaconed);
    assert.equal(transport.stats().restored, 600 - beaconed);
  });

  test('a keepalive fetch that does not land is no longer counted as beaconed and waits in the outbox', async () => {
    const storage = mapStorage();
    const { transport, net } = transportWith({ useBeacon: false, storage, script: [new TypeError('keepalive budget')] });
    transport.enqueue(ev(1));
    transport.enqueue(ev(2), { priority: true });
    transport.flushOnExit({ exit: true });
    assert.equal(transport.stats().beaconed, 2);
    await settle();
    assert.equal(net.requests[0].init.keepalive, true);
    assert.equal(transport.stats().beaconed, 0);
    assert.deepEqual(JSON.parse(storage.getItem(transport.outboxKey)).map((e) => e.n), [1, 2]);
  });

  test('the outbox is bounded by maxQueueSize (oldest dropped) and a full storage loses only what it could not hold', () => {
    const storage = mapStorage(new Map(), { quota: 3_000 });
    const { transport } = transportWith({ beaconAccept: () => false, storage, maxQueueSize: 5, batchSize: 100 });
    for (let i = 0; i < 5; i += 1) transport.enqueue(ev(i));
    transport.flushOnExit({ exit: true });
    for (let i = 5; i < 8; i += 1) transport.enqueue(ev(i));
    transport.flushOnExit({ exit: true });
    assert.deepEqual(JSON.parse(storage.getItem(transport.outboxKey)).map((e) => e.n), [3, 4, 5, 6, 7]);
    assert.equal(transport.stats().dropped, 3);
    transport.enqueue(ev(8, { pad: 'p'.repeat(4_000) }));
    transport.flushOnExit({ exit: true });
    assert.equal(transport.stats().dropped, 4, 'over the quota: that event is lost, and counted');
    assert.equal(JSON.parse(storage.getItem(transport.outboxKey)).length, 5);
  });

  test('a batch on the wire at pagehide is re-sent by beacon (same event ids, deduplicated downstream)', async () => {
    const { transport, beacon, net } = transportWith({ script: [() => new Promise(() => {})] });
    for (let i = 1; i <= 3; i += 1) transport.enqueue(ev(i));
    transport.enqueue(ev(4));
    assert.equal(net.requests.length, 1);
    transport.flushOnExit({ includeInFlight: true });
    assert.deepEqual(JSON.parse(beacon.calls[0].data).events.map((e) => e.n), [1, 2, 3, 4]);
  });
});
