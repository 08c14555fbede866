// The SDK in a real browser: headless Chromium plays the ffmpeg-made HLS test stream with hls.js
// on the demo page, the segment server injects delays and failures, the local ingest validates
// and stores the events. Every figure the SDK reports is compared with what the page's own probe
// measured (harness.mjs: the playhead sampled every ~10 ms), not with the injected delay.
//
// Run: npm run test:browser (in player/). Needs ffmpeg, Chromium and the repo's Python venv; see
// README.md beside this file.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import http from 'node:http';

import { beaconLog, BEACON_LOG_KEY, pageEvents, probe, resetStack, startStack, waitFor, withPage } from './harness.mjs';

// The SDK is accurate to a few tens of ms against the page's own measurement (`measured:` lines).
const TOLERANCE_MS = 50;
// How far the frames' view of a stall may differ from the playhead's: the first frame after a
// stall reaches the screen one or more compositor frames after the element resumed.
const FRAME_LAG_MS = 150;
const SUMMARY_MS = 5000;
// Each test's own limit; a loaded 2-core machine starts Chromium and Python slowly.
const TEST_TIMEOUT_MS = 120_000;

/** @type {Awaited<ReturnType<typeof startStack>>} */
let stack;

before(async () => {
  stack = await startStack();
}, { timeout: 180_000 });

after(async () => {
  await stack?.close();
});

/** The page's SDK events of one type. */
const ofType = (events, type) => events.filter((e) => e.metric_type === type);

/** Wait until the page's probe satisfies `predicate`; resolves to the probe's report. */
function waitForProbe(page, predicate, what, timeoutMs = 60_000) {
  return waitFor(async () => {
    const report = await probe(page);
    return predicate(report) ? report : null;
  }, { what, timeoutMs, intervalMs: 100 });
}

/** Wait until ingest stored events of `sessionId` satisfying `predicate`; resolves to them. */
function waitForIngest(sessionId, predicate, what, timeoutMs = 30_000) {
  return waitFor(async () => {
    const records = await stack.ingest.events(sessionId);
    return predicate(records) ? records : null;
  }, { what, timeoutMs, intervalMs: 300 });
}

/** The page's events, once they include a PLAYBACK_SUMMARY. */
function eventsWithSummary(page) {
  return waitFor(async () => {
    const all = await pageEvents(page);
    return ofType(all, 'PLAYBACK_SUMMARY').length ? all : null;
  }, { what: 'a PLAYBACK_SUMMARY', timeoutMs: SUMMARY_MS * 4 });
}

function sessionOf(events) {
  const ids = [...new Set(events.map((e) => e.session_id))];
  assert.equal(ids.length, 1, `one session expected, got ${ids.join(', ')}`);
  return ids[0];
}

/**
 * The stall as the page saw it, from its two witnesses: frozen from the first sign (the playhead
 * stopped, or the frames did: on a loaded machine the renderer may stop presenting before the
 * element's clock stops) until the playhead moved again (the next frame follows it by a
 * compositor delay, which is no part of the stall).
 */
function pageStallMs(playhead, frames) {
  return playhead.end - Math.min(playhead.start, frames.start);
}

/** The frames' view of a playhead stall: the frame stall that overlaps it in time. */
function framesOf(playhead, frameStalls) {
  return frameStalls.find((f) => f.start < playhead.end && f.end > playhead.start);
}

function assertNear(actual, expected, tolerance, label) {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${label}: SDK ${actual} ms vs page ${expected.toFixed(1)} ms (difference ${(actual - expected).toFixed(1)} ms, ` +
      `tolerance ±${tolerance} ms)`,
  );
}

/** One line per measurement, so several runs can be compared (grep `measured:`). */
function logMeasurement(label, sdkMs, pageMs) {
  console.log(`measured: ${label} sdk=${sdkMs} page=${pageMs.toFixed(1)} diff=${(sdkMs - pageMs).toFixed(1)} ms`);
}

describe('the QoS SDK in headless Chromium', { timeout: 600_000 }, () => {
  test('the demo plays the test stream; startup matches the page; ingest accepts every event', { timeout: TEST_TIMEOUT_MS }, async () => {
    await resetStack(stack);
    // A slower first segment makes startup long enough that the comparison means something.
    await stack.control('delay', { segment: 0, ms: 600 });
    await withPage(stack, async ({ page, ingestAnswers, pageErrors }) => {
      await page.goto(stack.demoUrl({ summaryMs: String(SUMMARY_MS) }));
      // Play intent -> first frame, measured by the probe; then the first periodic summary.
      const report = await waitForProbe(
        page,
        (r) => r.firstMove && r.playCalls.length && r.mediaEvents.some((e) => e.type === 'playing'),
        'the playhead to move',
      );
      const events = await eventsWithSummary(page);
      const sessionId = sessionOf(events);

      const [attempt] = ofType(events, 'ATTEMPT');
      const [play] = ofType(events, 'PLAY');
      assert.ok(attempt, 'ATTEMPT sent');
      assert.ok(play, 'PLAY sent');
      assert.ok(events.indexOf(attempt) < events.indexOf(play), 'ATTEMPT before PLAY');
      const pageStartup = report.firstMove.at - report.playCalls[0].at;
      logMeasurement('startup', play.startup_latency_ms, pageStartup);
      // Where a difference comes from: the SDK starts at the play() call (wrapped) and stops at
      // `playing`; the probe starts at the play() call and stops when the playhead moves.
      const playEvent = report.mediaEvents.find((e) => e.type === 'play');
      const playingEvent = report.mediaEvents.find((e) => e.type === 'playing');
      console.log(
        `measured: startup detail: play event ${(playEvent.at - report.playCalls[0].at).toFixed(1)} ms after play(); ` +
          `playing event ${(playingEvent.at - report.firstMove.at).toFixed(1)} ms after the playhead moved`,
      );
      assert.ok(pageStartup >= 600, `startup includes the 600 ms segment delay (page: ${pageStartup} ms)`);
      assertNear(play.startup_latency_ms, pageStartup, TOLERANCE_MS, 'startup');
      assert.equal(play.client_platform, 'web');
      assert.equal(play.channel_watched, 'local-test-stream');
      assert.equal(play.is_live, false);

      // The summary names the rendition playing (from hls.js's LEVEL_SWITCHED via setQuality).
      const [summary] = ofType(events, 'PLAYBACK_SUMMARY');
      const renditions = stack.stream.renditions.map((r) => r.name);
      assert.ok(renditions.includes(summary.rendition_name), `rendition_name ${summary.rendition_name}`);
      assert.equal(summary.buffering_count, 0);
      assert.equal(summary.is_final, false);

      // Delivered: ingest answered 200 with nothing rejected, and stored each event as sent.
      await page.evaluate(() => window.qosDemo.monitor.flush());
      const stored = await waitForIngest(sessionId, (records) => records.length >= events.length, 'the events at ingest');
      assert.ok(ingestAnswers.length > 0, 'the page posted to ingest');
      for (const answer of ingestAnswers) {
        assert.equal(answer.status, 200, `ingest answered ${answer.status}: ${JSON.stringify(answer.body)}`);
        assert.deepEqual(answer.body.rejected, []);
      }
      const byId = new Map(stored.map((r) => [r.event_id, r]));
      for (const event of events) {
        const record = byId.get(event.event_id);
        assert.ok(record, `${event.metric_type} ${event.event_id} stored`);
        assert.equal(record.metric_type, event.metric_type);
        assert.equal(record.session_id, sessionId);
        assert.equal(record.source_format, 'v1');
        assert.equal(record.event_time_source, 'client');
      }
      assert.equal(byId.get(play.event_id).startup_latency_ms, play.startup_latency_ms);
      assert.deepEqual(pageErrors, []);
    });
  });

  test('a delayed segment is one stall, as long as the stall the page had', { timeout: TEST_TIMEOUT_MS }, async () => {
    // One rendition (no ABR switch can add a second stall), the delay applied once.
    await resetStack(stack, { pin: '240p' });
    const delayed = 8;
    const rule = await stack.control('delay', { segment: delayed, ms: 3000 });
    await withPage(stack, async ({ page, pageErrors }) => {
      // A 2 s forward buffer, so the delayed segment really starves playback.
      await page.goto(stack.demoUrl({ summaryMs: String(SUMMARY_MS), maxBuffer: '2' }));
      await waitForProbe(page, (r) => r.stalls.length >= 1 && r.stalls.some((p) => framesOf(p, r.frameStalls)) && !r.openFreeze, 'a stall to end', 90_000);
      // Read the SDK's running totals right away, then wait for the next summary after the stall.
      const state = await page.evaluate(() => window.qosDemo.monitor.state);
      const seen = await page.evaluate(() => window.qosDemo.events.length);
      const events = await waitFor(async () => {
        const all = await pageEvents(page);
        // A summary emitted after the probe saw the stall end.
        return ofType(all.slice(seen), 'PLAYBACK_SUMMARY').length ? all : null;
      }, { what: 'the summary after the stall', timeoutMs: SUMMARY_MS * 4 });
      const finalReport = await probe(page);

      // The page's playhead dates the stall; the frames it presented (requestVideoFrameCallback)
      // confirm it, a compositor frame or more late.
      assert.equal(finalReport.stalls.length, 1, `the page had one stall: ${JSON.stringify(finalReport.stalls)}`);
      const [playhead] = finalReport.stalls;
      // (On a loaded machine the renderer may also skip frames elsewhere: only this stall's count.)
      const frames = framesOf(playhead, finalReport.frameStalls);
      assert.ok(frames, `the frames froze too: ${JSON.stringify(finalReport.frameStalls)}`);
      const pageStall = pageStallMs(playhead, frames);
      assert.ok(pageStall > 300, `the delay stalled playback (${pageStall} ms)`);
      console.log(`measured: stall (witnesses) playhead=${JSON.stringify(playhead)} frames=${JSON.stringify(frames)} page=${pageStall.toFixed(1)} ms`);
      assertNear(frames.durationMs, playhead.durationMs, FRAME_LAG_MS, 'the frames agree with the playhead');

      assert.equal(state.counters.bufferingCount, 1, 'the SDK counted one stall');
      logMeasurement('stall (state)', Math.round(state.counters.bufferingTimeMs), pageStall);
      assertNear(state.counters.bufferingTimeMs, pageStall, TOLERANCE_MS, 'stall in monitor.state');

      // The summaries up to the first one after the stall hold exactly that stall.
      const summaries = ofType(events, 'PLAYBACK_SUMMARY');
      const buffering = summaries.reduce((sum, s) => sum + s.buffering_time_ms, 0);
      const count = summaries.reduce((sum, s) => sum + s.buffering_count, 0);
      logMeasurement('stall (summaries)', buffering, pageStall);
      assert.equal(count, 1, 'the summaries count one stall');
      assertNear(buffering, pageStall, TOLERANCE_MS, 'buffering_time_ms of the summaries');

      // The server delayed exactly the segment we asked for, once.
      const { requests } = await stack.control('log');
      const hit = requests.filter((r) => r.rule === rule.id);
      assert.equal(hit.length, 1);
      assert.equal(hit[0].segment, delayed);
      assert.equal(hit[0].rendition, '240p');
      assert.ok(hit[0].doneAt - hit[0].at >= 3000);
      assert.deepEqual(pageErrors, []);
    });
  });

  test('a seek is not a stall', { timeout: TEST_TIMEOUT_MS }, async () => {
    await resetStack(stack, { pin: '240p' });
    // The segment at the seek target arrives late, so the seek waits visibly for data.
    const target = 20;
    await stack.control('delay', { segment: target, ms: 800 });
    await withPage(stack, async ({ page }) => {
      await page.goto(stack.demoUrl({ summaryMs: String(SUMMARY_MS), maxBuffer: '2' }));
      await waitForProbe(page, (r) => r.firstMove && r.mediaEvents.some((e) => e.type === 'playing'), 'playback');
      await page.waitForTimeout(2000);
      await page.evaluate((to) => {
        window.qosDemo.video.currentTime = to;
      }, target + 0.2);
      const report = await waitForProbe(
        page,
        (r) => {
          const seeked = r.mediaEvents.findLast((e) => e.type === 'seeked');
          return seeked && r.samples && r.firstMove && r.mediaEvents.findLast((e) => e.type === 'playing')?.at > seeked.at - 1000;
        },
        'playback after the seek',
      );
      await page.waitForTimeout(1500);
      const state = await page.evaluate(() => window.qosDemo.monitor.state);
      const finalReport = await probe(page);
      const types = report.mediaEvents.map((e) => e.type);
      const seekAt = types.indexOf('seeking');
      assert.ok(seekAt >= 0, 'the page seeked');
      assert.ok(types.slice(seekAt).includes('waiting'), `the seek made the element wait: ${types.join(',')}`);
      assert.deepEqual(finalReport.stalls, [], 'the page had no stall');
      assert.equal(state.counters.bufferingCount, 0, 'the SDK counted no stall');
      assert.equal(state.counters.bufferingTimeMs, 0);
      assert.equal(state.phase, 'playing');
    });
  });

  test('closing the tab delivers the final summary and STOP, by the beacon', { timeout: TEST_TIMEOUT_MS }, async () => {
    await resetStack(stack);
    await withPage(stack, async ({ context, page }) => {
      // A long summary interval and batch: only the exit path can deliver the last events.
      await page.goto(stack.demoUrl({ summaryMs: '600000' }));
      await waitForProbe(page, (r) => r.firstMove, 'playback');
      await page.waitForTimeout(3000);
      const events = await pageEvents(page);
      const sessionId = sessionOf(events);
      const position = await page.evaluate(() => window.qosDemo.video.currentTime);
      await page.close({ runBeforeUnload: true });
      const stored = await waitForIngest(
        sessionId,
        (records) => records.some((r) => r.metric_type === 'STOP'),
        'STOP at ingest',
      );
      const finals = stored.filter((r) => r.metric_type === 'PLAYBACK_SUMMARY' && r.is_final);
      assert.equal(finals.length, 1, 'one final summary');
      const [stop] = stored.filter((r) => r.metric_type === 'STOP');
      assert.ok(finals[0].playing_time_ms >= 2500, `playing_time_ms ${finals[0].playing_time_ms}`);
      assert.ok(stop.end_playback_position_sec >= position, 'STOP carries the end position');
      assert.equal(stop.exit_before_start, false);
      for (const type of ['ATTEMPT', 'PLAY']) {
        assert.equal(stored.filter((r) => r.metric_type === type).length, 1, `one ${type}`);
      }
      // The path: one beacon, taken by the browser, within its 64 KiB budget, that carried them.
      const beacons = (await beaconLog(stack, context)).filter((b) => b.events.some((e) => e.session_id === sessionId));
      assert.equal(beacons.length, 1, `one exit beacon: ${JSON.stringify(beacons)}`);
      assert.equal(beacons[0].accepted, true);
      assert.ok(beacons[0].bytes <= 64 * 1024);
      const carried = new Set(beacons[0].events.map((e) => e.event_id));
      assert.ok(carried.has(stop.event_id), 'the beacon carried STOP');
      assert.ok(carried.has(finals[0].event_id), 'the beacon carried the final summary');
    });
  });

  test('an exit beacon over the keepalive budget is refused; its events go with the next page load', { timeout: TEST_TIMEOUT_MS }, async () => {
    await resetStack(stack);
    // A server that never answers: a keepalive request to it holds its bytes of the budget.
    const hang = http.createServer(() => {});
    await new Promise((resolve) => hang.listen(0, '127.0.0.1', resolve));
    try {
      await withPage(stack, async ({ context, page }) => {
        await page.goto(stack.demoUrl({ summaryMs: '600000' }));
        await waitForProbe(page, (r) => r.firstMove, 'playback');
        await page.waitForTimeout(1500);
        await page.evaluate(() => window.qosDemo.monitor.flush());
        const sessionId = sessionOf(await pageEvents(page));
        await waitForIngest(sessionId, (records) => records.some((r) => r.metric_type === 'PLAY'), 'PLAY at ingest');
        // Another request of the page holds all but 300 bytes of Chromium's 64 KiB keepalive budget.
        await page.evaluate((url) => {
          void fetch(url, { method: 'POST', body: 'x'.repeat(64 * 1024 - 300), keepalive: true, mode: 'no-cors' }).catch(() => {});
        }, `http://127.0.0.1:${hang.address().port}/`);
        await page.close({ runBeforeUnload: true });

        const beacons = (await beaconLog(stack, context)).filter((b) => b.events.some((e) => e.session_id === sessionId));
        assert.equal(beacons.length, 1, JSON.stringify(beacons));
        assert.equal(beacons[0].accepted, false, 'the browser refused the beacon (budget)');
        assert.ok(beacons[0].events.some((e) => e.metric_type === 'STOP'));
        await new Promise((resolve) => setTimeout(resolve, 1500));
        assert.equal((await stack.ingest.events(sessionId)).filter((r) => r.metric_type === 'STOP').length, 0, 'nothing else carried STOP');

        // The next page of the site sends what the refused beacon carried.
        const next = await context.newPage();
        await next.goto(stack.demoUrl({ summaryMs: '600000' }));
        const stored = await waitForIngest(sessionId, (records) => records.some((r) => r.metric_type === 'STOP'), 'STOP from the next page');
        assert.equal(stored.filter((r) => r.metric_type === 'PLAYBACK_SUMMARY' && r.is_final).length, 1);
        const delivery = await waitFor(async () => {
          const state = await next.evaluate(() => window.qosDemo.monitor?.state.delivery);
          return state && state.restored > 0 ? state : null;
        }, { what: 'the restored events' });
        assert.equal(delivery.restored, beacons[0].events.length);
        const outbox = await next.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('qos_outbox:')).map((k) => localStorage.getItem(k)));
        assert.deepEqual(outbox, [], 'the outbox is empty again');
        await next.evaluate((key) => localStorage.removeItem(key), BEACON_LOG_KEY);
      });
    } finally {
      hang.closeAllConnections();
      await new Promise((resolve) => hang.close(resolve));
    }
  });

  test('a segment that fails once is a non-fatal ERROR, and playback goes on', { timeout: TEST_TIMEOUT_MS }, async () => {
    await resetStack(stack, { pin: '360p' });
    await stack.control('fail', { segment: 4, status: 500 });
    await withPage(stack, async ({ page }) => {
      await page.goto(stack.demoUrl({ summaryMs: String(SUMMARY_MS), maxBuffer: '4' }));
      await waitForProbe(page, (r) => r.firstMove, 'playback');
      const events = await waitFor(async () => {
        const all = await pageEvents(page);
        return ofType(all, 'ERROR').length ? all : null;
      }, { what: 'an ERROR event', timeoutMs: 30_000 });
      const [error] = ofType(events, 'ERROR');
      assert.equal(error.fatal, false);
      assert.equal(error.error_code, 'fragLoadError');
      // hls.js retried and playback passed the failed segment.
      await waitFor(() => page.evaluate(() => window.qosDemo.video.currentTime > 6), { what: 'playback past segment 4', timeoutMs: 30_000 });
      await page.evaluate(() => window.qosDemo.monitor.flush());
      const stored = await waitForIngest(error.session_id, (r) => r.some((e) => e.metric_type === 'ERROR'), 'ERROR at ingest');
      assert.equal(stored.find((e) => e.metric_type === 'ERROR').error_code, 'fragLoadError');
      const { requests } = await stack.control('log');
      assert.ok(requests.some((r) => r.segment === 4 && r.status === 500));
      assert.ok(requests.some((r) => r.segment === 4 && r.status === 200), 'the retry succeeded');
    });
  });

  test('the Amazon IVS web player path: the demo plays the stream with ?ivs= and ingest accepts the events', { timeout: TEST_TIMEOUT_MS }, async () => {
    await resetStack(stack);
    await withPage(stack, async ({ page, ingestAnswers, pageErrors }) => {
      // The IVS player (npm package, served locally) plays any HLS URL; it also tries to reach
      // its own telemetry host, which fails harmlessly without network.
      const started = Date.now();
      await page.goto(stack.demoUrl({ summaryMs: String(SUMMARY_MS), ivs: `${stack.server.url}/stream/master.m3u8` }));
      const report = await waitForProbe(page, (r) => r.firstMove, 'the IVS player to play');
      const events = await eventsWithSummary(page);
      const sessionId = sessionOf(events);
      const [play] = ofType(events, 'PLAY');
      assert.ok(play, 'PLAY sent');
      assert.match(play.player_version, /^1\.\d+/);
      // The SDK's intent is the IVS player's load()/play(), before the element's play(): at most
      // the time from navigation to the first movement of the playhead.
      assert.ok(play.startup_latency_ms > 0 && play.startup_latency_ms <= report.firstMove.at, `startup ${play.startup_latency_ms}`);
      const [summary] = ofType(events, 'PLAYBACK_SUMMARY');
      assert.ok(stack.stream.renditions.some((r) => r.name === summary.rendition_name), `rendition ${summary.rendition_name}`);
      await page.evaluate(() => window.qosDemo.monitor.flush());
      const stored = await waitForIngest(sessionId, (records) => records.length >= events.length, 'the events at ingest');
      assert.deepEqual(new Set(stored.map((r) => r.event_id)), new Set(events.map((e) => e.event_id)));
      for (const answer of ingestAnswers) assert.equal(answer.status, 200);
      assert.deepEqual(pageErrors, []);
      assert.ok(Date.now() - started < TEST_TIMEOUT_MS);
    });
  });

  // With hls.js wired as the README says (setQuality on LEVEL_SWITCHED), the element's `resize`
  // fires first, so the video adapter's height guess {name: '240p', height: 240} is the known
  // rendition when setQuality({name: '240p', bitrate: 510400, height: 240}) arrives: that only
  // completes the same rendition and must not be sent as a switch (a bug this test found once).
  test('QUALITY_CHANGED is sent only for a real switch, with a consistent direction', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    await resetStack(stack);
    await withPage(stack, async ({ page }) => {
      await page.goto(stack.demoUrl({ summaryMs: String(SUMMARY_MS) }));
      await waitForProbe(page, (r) => r.firstMove, 'playback');
      await page.waitForTimeout(2000);
      // Make a switch happen: hls.js is asked for the rendition furthest from the one playing.
      const target = await page.evaluate(() => {
        const { hls } = window.qosDemo;
        const next = hls.currentLevel === hls.levels.length - 1 ? 0 : hls.levels.length - 1;
        hls.nextLevel = next;
        return /([^/]+)\/[^/]*\.m3u8/.exec(hls.levels[next].url[0])[1];
      });
      const changes = await waitFor(async () => {
        const all = ofType(await pageEvents(page), 'QUALITY_CHANGED');
        return all.some((c) => c.to_rendition_name === target) ? all : null;
      }, { what: `a switch to ${target}`, timeoutMs: 30_000 });
      await page.waitForTimeout(1000);
      assert.ok(changes.length >= 1, 'a switch happened');
      const bitrates = Object.fromEntries(stack.stream.renditions.map((r) => [r.name, r.bandwidth]));
      for (const change of changes) {
        assert.notEqual(change.from_rendition_name, change.to_rendition_name, JSON.stringify(change));
        const up = bitrates[change.to_rendition_name] > bitrates[change.from_rendition_name];
        assert.equal(change.step_direction, up ? 'UP' : 'DOWN', JSON.stringify(change));
      }
      // Each change follows from the one before: no spurious switch from the height guess.
      for (let i = 1; i < changes.length; i += 1) {
        assert.equal(changes[i].from_rendition_name, changes[i - 1].to_rendition_name);
      }
    });
  });

  test('IVS: a seek through the video element is not a stall', { timeout: TEST_TIMEOUT_MS }, async () => {
    await resetStack(stack, { pin: '240p' });
    await withPage(stack, async ({ page, pageErrors }) => {
      await page.goto(stack.demoUrl({ summaryMs: String(SUMMARY_MS), ivs: `${stack.server.url}/stream/master.m3u8` }));
      await waitForProbe(page, (r) => r.firstFrame && r.mediaEvents.some((e) => e.type === 'playing'), 'the IVS player to play');
      await page.waitForTimeout(2000);
      const seekAt = await page.evaluate(() => {
        window.qosDemo.video.currentTime = 30.2; // what native controls do
        return performance.now();
      });
      // The player buffers at the target, pauses the element, then plays again.
      const report = await waitForProbe(
        page,
        (r) => r.mediaEvents.some((e) => e.type === 'playing' && e.at > seekAt) && r.frames > 0,
        'playback after the seek',
      );
      await page.waitForTimeout(1500);
      const state = await page.evaluate(() => window.qosDemo.monitor.state);
      const finalReport = await probe(page);
      assert.ok(report.mediaEvents.some((e) => e.type === 'seeking' && e.at >= seekAt), 'the element seeked');
      assert.deepEqual(finalReport.stalls.filter((f) => f.end > seekAt), [], 'the page had no stall after the seek');
      assert.equal(state.counters.bufferingCount, 0, 'the SDK counted no stall');
      assert.equal(state.counters.bufferingTimeMs, 0);
      assert.equal(state.phase, 'playing');
      assert.deepEqual(pageErrors, []);
    });
  });

  test('IVS: a rebuffer (the player pauses the element) is one stall, as long as the frames say', { timeout: TEST_TIMEOUT_MS }, async () => {
    // A live playlist keeps the player near its edge, so a late segment starves it.
    await resetStack(stack, { pin: '240p' });
    await stack.control('live', {});
    const delayed = 7;
    await stack.control('delay', { segment: delayed, ms: 4000 });
    await withPage(stack, async ({ page }) => {
      await page.goto(stack.demoUrl({ summaryMs: String(SUMMARY_MS), ivs: `${stack.server.url}/live/master.m3u8` }));
      const report = await waitForProbe(
        page,
        (r) => r.stalls.some((p) => p.durationMs > 500 && framesOf(p, r.frameStalls)) && !r.openFreeze,
        'a stall to end',
        60_000,
      );
      const state = await page.evaluate(() => window.qosDemo.monitor.state);
      // The player pauses the element while it rebuffers: a probe that ignored paused time (as
      // this one once did) saw no stall at all.
      const stalls = report.stalls.filter((f) => f.durationMs > 300);
      console.log(`measured: IVS stall playhead=${JSON.stringify(report.stalls)} frames=${JSON.stringify(report.frameStalls)}`);
      assert.equal(stalls.length, 1, 'the page had one stall');
      const [stall] = stalls;
      const frames = framesOf(stall, report.frameStalls);
      assert.ok(frames, 'the frames froze too');
      assert.ok(stall.position >= delayed - 1 && stall.position <= delayed + 0.5, `the stall is at the late segment (${stall.position} s)`);
      assertNear(frames.durationMs, stall.durationMs, FRAME_LAG_MS, 'the frames agree with the playhead');
      assert.equal(state.counters.bufferingCount, 1, 'the SDK counted the stall');
      const pageStall = pageStallMs(stall, frames);
      logMeasurement('IVS stall (state)', Math.round(state.counters.bufferingTimeMs), pageStall);
      assertNear(state.counters.bufferingTimeMs, pageStall, TOLERANCE_MS, 'IVS stall in monitor.state');
    });
  });

  test('IVS: delete() ends the session; a deleted player sends nothing more', { timeout: TEST_TIMEOUT_MS }, async () => {
    await resetStack(stack);
    await withPage(stack, async ({ page, pageErrors }) => {
      await page.goto(stack.demoUrl({ summaryMs: '2000', ivs: `${stack.server.url}/stream/master.m3u8` }));
      await waitForProbe(page, (r) => r.firstFrame, 'the IVS player to play');
      await page.waitForTimeout(1500);
      await page.evaluate(() => window.qosDemo.ivsPlayer.delete());
      const atDelete = await pageEvents(page);
      const sessionId = sessionOf(atDelete);
      assert.deepEqual(atDelete.slice(-2).map((e) => e.metric_type), ['PLAYBACK_SUMMARY', 'STOP']);
      assert.equal(atDelete.at(-2).is_final, true);
      await page.waitForTimeout(5000); // more than two summary intervals
      assert.equal((await pageEvents(page)).length, atDelete.length, 'no summary after delete()');
      assert.equal(await page.evaluate(() => window.qosDemo.monitor.state.attached), false);
      await page.evaluate(() => window.qosDemo.monitor.flush());
      const stored = await waitForIngest(sessionId, (records) => records.some((r) => r.metric_type === 'STOP'), 'STOP at ingest');
      assert.equal(stored.filter((r) => r.metric_type === 'STOP').length, 1);
      assert.deepEqual(pageErrors, []);
    });
  });

  test('hls.js live: is_live and live_latency_ms are what hls.js knows', { timeout: TEST_TIMEOUT_MS }, async () => {
    await resetStack(stack);
    await stack.control('live', {});
    await withPage(stack, async ({ page }) => {
      await page.goto(stack.demoUrl({ summaryMs: '3000', src: '/live/master.m3u8' }));
      await waitFor(() => page.evaluate(() => !!window.qosDemo?.hls), { what: 'hls.js' });
      // The page's own reading of hls.js at the moment each event is emitted.
      await page.evaluate(() => {
        const demo = window.qosDemo;
        demo.latencyAt = {};
        const push = demo.events.push.bind(demo.events);
        demo.events.push = (...events) => {
          for (const e of events) demo.latencyAt[e.event_id] = { latency: demo.hls.latency, live: demo.hls.latestLevelDetails?.live };
          return push(...events);
        };
      });
      const events = await eventsWithSummary(page);
      const [summary] = ofType(events, 'PLAYBACK_SUMMARY');
      const seen = await page.evaluate((id) => window.qosDemo.latencyAt[id], summary.event_id);
      const duration = await page.evaluate(() => window.qosDemo.video.duration);
      assert.ok(Number.isFinite(duration), `MSE gives the element a finite duration (${duration})`);
      assert.equal(seen.live, true, 'hls.js knows the playlist is live');
      assert.equal(summary.is_live, true);
      assert.equal(ofType(events, 'PLAY')[0].is_live, true);
      assert.ok(summary.live_latency_ms > 0, `live_latency_ms ${summary.live_latency_ms}`);
      logMeasurement('live latency', summary.live_latency_ms, seen.latency * 1000);
      assertNear(summary.live_latency_ms, seen.latency * 1000, 1, 'live_latency_ms');
    });
  });
});
