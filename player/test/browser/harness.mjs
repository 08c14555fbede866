// The browser tests' harness: starts the local ingest (Python) and the segment server on free
// ports, launches the system Chromium through playwright-core (no browser download), and installs
// in each page an independent probe of the playhead, so the SDK's figures are checked against
// what the page really did rather than against the SDK's own clock.
//
// Environment:
//   QOS_PYTHON      python with qos_ingest and qos_shared installed
//                   (default: <repo>/.venv/bin/python, else /work/main/.venv/bin/python)
//   CHROMIUM_PATH   the Chromium binary (default /usr/lib/chromium/chromium, then /usr/bin/chromium)
//   QOS_STREAM_CACHE  where the generated test stream is cached (default player/node_modules/.cache)
//   QOS_BROWSER_DEBUG=1  relay the ingest's, the server's and the page's console output

import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';

import { ensureStream } from '../../tools/make-stream.mjs';
import { startSegmentServer } from '../../tools/segment-server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PLAYER_DIR = path.resolve(HERE, '..', '..');
const REPO_DIR = path.resolve(PLAYER_DIR, '..');
const DEBUG = process.env.QOS_BROWSER_DEBUG === '1';
const execFileAsync = promisify(execFile);

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
  // The probe samples on timers: keep them unthrottled.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

export function pythonExecutable() {
  if (process.env.QOS_PYTHON) return process.env.QOS_PYTHON;
  for (const candidate of [path.join(REPO_DIR, '.venv', 'bin', 'python'), '/work/main/.venv/bin/python']) {
    if (existsSync(candidate)) return candidate;
  }
  return 'python3';
}

export function chromiumExecutable() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((c) => c && existsSync(c));
  if (!found) {
    throw new Error('no Chromium found: apt-get install -y chromium, or set CHROMIUM_PATH');
  }
  return found;
}

/** Start a process and wait for a stdout line matching `ready`; resolves to {child, match}. */
function startProcess(name, argv, { env, ready, timeoutMs = 60_000 }) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    // A test process that dies (a crash, a closed pipe) must not leave its servers behind.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    let output = '';
    let done = false;
    const timer = setTimeout(() => finish(new Error(`${name} not ready after ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const finish = (error, match) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error) {
        child.kill('SIGKILL');
        reject(error);
      } else resolve({ child, match });
    };
    const onData = (chunk) => {
      const text = chunk.toString();
      output += text;
      if (DEBUG) process.stderr.write(text.replace(/^/gm, `[${name}] `));
      const match = output.match(ready);
      if (match) finish(null, match);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error) => finish(error));
    child.on('exit', (code) => finish(new Error(`${name} exited with ${code} while starting:\n${output}`)));
  });
}

function stopProcess(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** The local ingest over a fresh event log in a temporary directory. */
export async function startIngest({ python = pythonExecutable() } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qos-browser-ingest-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  const logPath = path.join(dir, 'events.sqlite');
  const { child, match } = await startProcess(
    'ingest',
    [python, '-m', 'qos_ingest.entrypoints.local_server', '--host', '127.0.0.1', '--port', '0', '--log-path', logPath],
    { env: { QOS_INGEST_SINK: 'local', QOS_INGEST_CORS_ALLOW_ORIGINS: '*', PYTHONUNBUFFERED: '1' }, ready: /listening on (http:\/\/\S+)/ },
  );
  return {
    url: match[1],
    logPath,
    /** Records in the event log (optionally of one session), as ingest stored them. */
    async events(sessionId) {
      const args = [path.join(HERE, 'read_events.py'), logPath];
      if (sessionId) args.push(sessionId);
      const { stdout } = await execFileAsync(python, args, { maxBuffer: 64 * 1024 * 1024 });
      return JSON.parse(stdout);
    },
    async close() {
      await stopProcess(child);
      removeDir();
      process.off('exit', removeDir);
    },
  };
}

/** Everything a browser test needs: stream, ingest, segment server and a Chromium. */
export async function startStack() {
  const stream = await ensureStream();
  const ingest = await startIngest();
  const server = await startSegmentServer({ streamDir: stream.dir, ingestUrl: ingest.url });
  let browser;
  try {
    browser = await chromium.launch({ executablePath: chromiumExecutable(), args: CHROMIUM_FLAGS, headless: true });
  } catch (error) {
    await server.close();
    await ingest.close();
    throw error;
  }
  const control = async (route, body) => {
    const response = await fetch(`${server.url}/control/${route}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(`control ${route}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  };
  return {
    stream,
    ingest,
    server,
    browser,
    control,
    demoUrl(query = {}) {
      const params = new URLSearchParams({ endpoint: `${ingest.url}/v1/events`, ...query });
      return `${server.url}/demo/?${params}`;
    },
    async close() {
      await browser?.close().catch(() => {});
      await server.close();
      await ingest.close();
    },
  };
}

/**
 * A fresh context and page with the playhead probe installed, the ingest's answers recorded and
 * (with QOS_BROWSER_DEBUG=1) the page's console relayed.
 */
export async function openPage(stack) {
  const context = await stack.browser.newContext({ viewport: { width: 1000, height: 700 } });
  await context.addInitScript(installPlayheadProbe);
  await context.addInitScript(installBeaconProbe);
  const page = await context.newPage();
  const ingestAnswers = [];
  page.on('response', async (response) => {
    if (!response.url().startsWith(stack.ingest.url)) return;
    const request = response.request();
    if (request.method() !== 'POST') return;
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    ingestAnswers.push({ url: response.url(), status: response.status(), body, request: request.postData() });
  });
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  if (DEBUG) page.on('console', (message) => process.stderr.write(`[page] ${message.text()}\n`));
  return { context, page, ingestAnswers, pageErrors };
}

/** Where the beacon probe keeps its log (the page's localStorage: it outlives a closed tab). */
export const BEACON_LOG_KEY = '__qosProbeBeacons';

/**
 * Runs in the page before any of its scripts: wraps `navigator.sendBeacon` to log, in
 * localStorage, each call's URL, size, whether the browser took it, and the events it carried,
 * so that a test can read after the tab closed what the exit path really handed over.
 */
export function installBeaconProbe() {
  const original = Navigator.prototype.sendBeacon;
  if (typeof original !== 'function') return;
  Navigator.prototype.sendBeacon = function sendBeacon(url, data) {
    const accepted = original.call(this, url, data);
    try {
      let events = [];
      try {
        events = JSON.parse(String(data)).events.map((e) => ({ metric_type: e.metric_type, event_id: e.event_id, session_id: e.session_id }));
      } catch {
        events = [];
      }
      const log = JSON.parse(localStorage.getItem('__qosProbeBeacons') || '[]');
      log.push({ at: Date.now(), url: String(url), bytes: new Blob([data]).size, accepted, events });
      localStorage.setItem('__qosProbeBeacons', JSON.stringify(log));
    } catch {
      // the probe must not change what the page does
    }
    return accepted;
  };
}

/** The beacon probe's log for the stack's origin, read from a fresh page of the same context. */
export async function beaconLog(stack, context) {
  const reader = await context.newPage();
  try {
    await reader.goto(`${stack.server.url}/control/state`);
    return await reader.evaluate((key) => JSON.parse(localStorage.getItem(key) || '[]'), BEACON_LOG_KEY);
  } finally {
    await reader.close();
  }
}

/** Runs `use` with a new page (what `openPage` returns), closing its browser context afterwards. */
export async function withPage(stack, use) {
  const opened = await openPage(stack);
  try {
    return await use(opened);
  } finally {
    await opened.context.close();
  }
}

/** The segment server as new (no rule, pin or forced rendition, an empty log); then `pin` pinned if given. */
export async function resetStack(stack, { pin } = {}) {
  await stack.control('reset', {});
  if (pin) await stack.control('pin', { rendition: pin });
}

/** Poll `fn` until it returns a truthy value; resolves to that value. */
export async function waitFor(fn, { timeoutMs = 30_000, intervalMs = 200, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The SDK events the demo page saw through onEvent. */
export function pageEvents(page) {
  return page.evaluate(() => window.qosDemo?.events.map((e) => ({ ...e })) ?? []);
}

/** The probe's findings: play() calls, first movement of the playhead, stalls (by playhead and by frames presented), seeks. */
export function probe(page) {
  return page.evaluate(() => window.__qosProbe.report());
}

/**
 * Runs in the page before any of its scripts (context.addInitScript). It knows nothing of the
 * SDK: it records when `HTMLMediaElement.prototype.play` is called and samples `currentTime` of
 * the page's <video> every ~10 ms on its own timer. Because the playhead moves at playbackRate,
 * the moment it started or stopped moving is back-computed from the position change between
 * samples, so a late timer tick does not shift the figures, and clamped to the interval between
 * the two samples (Chromium resumes after a stall by jumping the ~50 ms gap at a segment
 * boundary: an unclamped back-computation would date the resume 50 ms early):
 *   - start: first sample that moved, at time t with position p, after (t0, p0):
 *            started at max(t0, t - (p - p0) / rate);
 *   - a freeze: the playhead stopped at position p after the last moving sample (t1, p1), first
 *            seen frozen at tf: stopped at min(tf, t1 + (p - p1) / rate); resumed at
 *            max(t2prev, t2 - (p2 - p) / rate);
 * A freeze counts as a stall only while the element is not seeking or ended and the viewer did not
 * pause (`__qosProbe.viewerPause(true)` from the test: the element's paused state is no guide, as
 * the Amazon IVS player pauses the element while it rebuffers), only when the playhead has moved
 * since playback started or since the last seek (the wait right after a seek is part of the
 * seek), and only when it lasted at least 250 ms (on a loaded machine, shorter freezes happen that
 * no player reports: the renderer was starved, not the buffer).
 *
 * The same stalls by frames presented (`frameStalls`), a second witness that needs no playhead:
 * `requestVideoFrameCallback` gives each frame's
 * presentation time; a gap between two frames longer than the usual frame interval (the median of
 * the recent ones) by at least 250 ms is a stall from when the next frame was due to when it came,
 * unless a seek happened in it (`seeking` on the element) or the test said the viewer paused
 * (`__qosProbe.viewerPause(true)`). A frame reaches the screen a compositor frame or more after
 * the element resumed (tens of ms on a loaded machine), so the frames confirm a stall and its
 * count, and the playhead dates it.
 */
export function installPlayheadProbe() {
  const MIN_STALL_MS = 250;
  const state = {
    playCalls: [],
    firstMove: null, // {at, sampleAt, position}
    stalls: [], // {start, end, durationMs, position}
    seeks: [], // {at, from, to}
    freezes: 0,
    samples: 0,
    maxGapMs: 0,
  };
  state.frames = 0;
  state.frameStalls = []; // {start, end, durationMs, mediaTime}
  state.firstFrame = null; // {at, mediaTime}
  let lastFrame = null; // {at, mediaTime}
  let frameIntervals = [];
  let seekSinceFrame = false;
  let viewerPaused = false;
  let pausedSinceFrame = false;
  let framesHooked = null;
  const median = (values) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length ? sorted[Math.floor(sorted.length / 2)] : 1000 / 30;
  };
  const onFrame = (now, meta) => {
    const at = meta.presentationTime || now;
    state.frames += 1;
    framesHooked.requestVideoFrameCallback(onFrame);
    // A frame shown while the element is paused (a seek's, a player's nudge) is no playback.
    if (framesHooked.paused) return;
    if (!state.firstFrame) state.firstFrame = { at, mediaTime: meta.mediaTime };
    if (lastFrame && !seekSinceFrame && !pausedSinceFrame) {
      const gap = at - lastFrame.at;
      const moved = ((meta.mediaTime - lastFrame.mediaTime) * 1000) / (framesHooked.playbackRate || 1);
      const usual = median(frameIntervals);
      if (gap - usual < MIN_STALL_MS) {
        frameIntervals.push(gap);
        if (frameIntervals.length > 30) frameIntervals = frameIntervals.slice(-30);
      } else if (moved < gap / 2) {
        // The media time stood still: a stall. (When it moved with the clock, frames were only
        // not rendered: a busy machine, not a stall.)
        state.frameStalls.push({ start: lastFrame.at + usual, end: at, durationMs: gap - usual, mediaTime: lastFrame.mediaTime });
      }
    }
    seekSinceFrame = false;
    pausedSinceFrame = viewerPaused;
    lastFrame = { at, mediaTime: meta.mediaTime };
  };
  document.addEventListener('seeking', (event) => {
    if (event.target instanceof HTMLMediaElement) seekSinceFrame = true;
  }, true);
  const originalPlay = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function play(...args) {
    state.playCalls.push({ at: performance.now(), wall: Date.now(), caller: String(new Error().stack).split('\n').slice(2, 4).join(' / ') });
    return originalPlay.apply(this, args);
  };
  let video = null;
  let prev = null; // {t, p}
  let lastMove = null; // {t, p}: the last sample where the playhead had moved
  let freeze = null; // {start, position}
  let seeking = false;
  const sample = () => {
    video = video || document.querySelector('video');
    if (!video) return;
    if (framesHooked !== video && typeof video.requestVideoFrameCallback === 'function') {
      framesHooked = video;
      video.requestVideoFrameCallback(onFrame);
    }
    const t = performance.now();
    const p = video.currentTime;
    const rate = video.playbackRate || 1;
    state.samples += 1;
    if (prev) state.maxGapMs = Math.max(state.maxGapMs, t - prev.t);
    if (video.seeking) {
      if (!seeking) state.seeks.push({ at: t, from: prev ? prev.p : null, to: p });
      seeking = true;
      freeze = null;
      lastMove = null;
      prev = { t, p };
      return;
    }
    if (seeking) {
      // The seek ended: the next movement is measured from here, not from before the seek.
      seeking = false;
      prev = { t, p };
      return;
    }
    if (prev) {
      const dt = t - prev.t;
      const dp = (p - prev.p) * 1000;
      const jumped = dp < -1 || dp > dt * rate + 500; // a seek that the sampler did not see
      if (jumped) {
        freeze = null;
        lastMove = null;
      } else if (dp > 0) {
        // It moved at some moment between the two samples: back-computed from the distance,
        // but never before the previous sample (the playhead may also have jumped a gap).
        const movedAt = Math.max(prev.t, t - dp / rate);
        if (!state.firstMove && state.playCalls.length) {
          state.firstMove = { at: movedAt, sampleAt: t, position: p, from: prev.p };
        }
        if (freeze) {
          const end = movedAt;
          const durationMs = end - freeze.start;
          if (durationMs >= MIN_STALL_MS) {
            state.stalls.push({ start: freeze.start, end, durationMs, position: freeze.position });
          }
          freeze = null;
        }
        lastMove = { t, p };
      } else if (!viewerPaused && !video.ended && lastMove && !freeze) {
        state.freezes += 1;
        // It stopped between the last moving sample and this one, where it reached p.
        freeze = { start: Math.min(t, lastMove.t + ((p - lastMove.p) * 1000) / rate), position: p };
      }
      if (freeze && (viewerPaused || video.ended)) freeze = null; // the viewer's pause is not a stall
    }
    prev = { t, p };
  };
  setInterval(sample, 10);
  // The element's own events, timestamped, to show what a test provoked (e.g. a seek's waiting).
  const mediaEvents = [];
  state.mediaEvents = mediaEvents;
  for (const type of ['play', 'playing', 'waiting', 'pause', 'seeking', 'seeked', 'ended', 'error']) {
    document.addEventListener(type, (event) => {
      if (event.target instanceof HTMLMediaElement) mediaEvents.push({ type, at: performance.now(), position: event.target.currentTime });
    }, true);
  }
  window.__qosProbe = {
    state,
    /** The test pauses (or resumes) as a viewer would: that gap in frames is no stall. */
    viewerPause(paused) {
      viewerPaused = paused;
      if (paused) pausedSinceFrame = true;
    },
    report: () => JSON.parse(JSON.stringify({ ...state, openFreeze: freeze, now: performance.now() })),
  };
}
