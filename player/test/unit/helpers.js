/**
 * Fakes for the unit tests: a controllable clock with timers, an EventTarget-based video element,
 * an IVS-like player, scripted fetch and sendBeacon, and page event targets. Not a test file.
 */

import assert from 'node:assert/strict';

import { createQosMonitor } from '../../src/index.js';

export const EPOCH = Date.UTC(2025, 0, 15, 12, 0, 0);

/** Let pending promise callbacks (fetch replies, awaits) run. */
export async function settle() {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock {
  constructor(start = 1000) {
    this.t = start;
    this.seq = 0;
    /** @type {Map<number, {at: number, fn: () => void, seq: number}>} */
    this.timers = new Map();
    this.now = () => this.t;
    this.wallNow = () => EPOCH + this.t;
    this.setTimeout = (fn, ms) => {
      const id = ++this.seq;
      this.timers.set(id, { at: this.t + Math.max(0, ms), fn, seq: id });
      return id;
    };
    this.clearTimeout = (id) => {
      this.timers.delete(id);
    };
  }

  /** The delays of pending timers, from now. */
  pending() {
    return [...this.timers.values()].map((t) => t.at - this.t).sort((a, b) => a - b);
  }

  /** Move time forward, running due timers in order (synchronously). */
  advance(ms) {
    const end = this.t + ms;
    while (this.#runNext(end));
    this.t = end;
  }

  /** Like advance, letting promises settle after each timer (for the transport's async sends). */
  async advanceAsync(ms) {
    const end = this.t + ms;
    await settle();
    while (this.#runNext(end)) await settle();
    this.t = end;
    await settle();
  }

  /** Runs the first timer due by `end` (earliest, then first set), the clock at its time; false if none. */
  #runNext(end) {
    const next = [...this.timers.entries()]
      .filter(([, t]) => t.at <= end)
      .sort((a, b) => a[1].at - b[1].at || a[1].seq - b[1].seq)[0];
    if (!next) return false;
    this.timers.delete(next[0]);
    this.t = Math.max(this.t, next[1].at);
    next[1].fn();
    return true;
  }
}

/** A response as fetch resolves it. */
export function reply(status, body = {}, headers = {}) {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    status,
    headers: { get: (name) => lower[name.toLowerCase()] ?? null },
    text: async () => JSON.stringify(body),
  };
}

/**
 * fetch that records requests and answers from a script: each entry a response, an Error (a
 * network failure) or a function of the request. With the script empty it answers 200.
 */
export function fakeFetch(script = []) {
  const requests = [];
  const fetch = async (url, init) => {
    const request = { url, init, body: JSON.parse(init.body) };
    requests.push(request);
    const next = script.length ? script.shift() : reply(200, { accepted: 1, rejected: [], failed: [] });
    const answer = typeof next === 'function' ? next(request) : next;
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { fetch, requests, script };
}

export function fakeBeacon(accept = () => true) {
  const calls = [];
  const sendBeacon = (url, data) => {
    calls.push({ url, data, type: typeof data });
    return accept(url, data, calls.length);
  };
  return { sendBeacon, calls };
}

export class FakeDocument extends EventTarget {
  constructor() {
    super();
    this.visibilityState = 'visible';
  }

  hide() {
    this.visibilityState = 'hidden';
    this.dispatchEvent(new Event('visibilitychange'));
  }

  show() {
    this.visibilityState = 'visible';
    this.dispatchEvent(new Event('visibilitychange'));
  }
}

export class FakeWindow extends EventTarget {
  pagehide(persisted = false) {
    const event = new Event('pagehide');
    Object.defineProperty(event, 'persisted', { value: persisted });
    this.dispatchEvent(event);
  }
}

/** An HTMLVideoElement stand-in: the properties the adapter reads, events fired by the test. */
export class FakeVideo extends EventTarget {
  constructor(props = {}) {
    super();
    this.paused = true;
    this.ended = false;
    this.autoplay = false;
    this.currentTime = 0;
    this.duration = NaN;
    this.readyState = 0;
    this.videoHeight = 0;
    this.src = '';
    this.currentSrc = '';
    this.error = null;
    this.droppedVideoFrames = 0;
    this.seekableEnd = null;
    Object.assign(this, props);
  }

  get seekable() {
    const end = this.seekableEnd;
    return end === null ? { length: 0, end: () => 0 } : { length: 1, end: () => end };
  }

  getVideoPlaybackQuality() {
    return { droppedVideoFrames: this.droppedVideoFrames, totalVideoFrames: 0 };
  }

  fire(type) {
    this.dispatchEvent(new Event(type));
  }

  /**
   * Like HTMLMediaElement.play(): a paused element unpauses and queues its `play` event, which
   * the test fires later (`fire('play')`), as the browser does a task later. `refusePlay` models the
   * autoplay policy: nothing changes. Records the calls.
   */
  play() {
    this.playCalls = (this.playCalls ?? 0) + 1;
    if (this.refusePlay) return Promise.reject(new DOMException('play() failed because the user did not interact', 'NotAllowedError'));
    this.paused = false;
    return Promise.resolve();
  }

  /** Shorthands for what a real element does on user actions. */
  userPlay() {
    this.paused = false;
    this.fire('play');
  }

  userPause() {
    this.paused = true;
    this.fire('pause');
  }

  setSource(url) {
    this.src = url;
    this.currentSrc = url;
    this.fire('loadstart');
  }
}

/** The SDK's time and network from the fakes: the clock's now and timers, fetch, sendBeacon. */
export function fakeIo(clock, net, beacon) {
  const { now, wallNow, setTimeout, clearTimeout } = clock;
  return { now, wallNow, setTimeout, clearTimeout, fetch: net.fetch, sendBeacon: beacon.sendBeacon };
}

/** An Amazon IVS player stand-in with the getters the adapter reads; the test fires its events. */
export class FakeIvsPlayer {
  constructor(props = {}) {
    this.listeners = new Map();
    this.calls = [];
    // An idle, paused live player until the test says otherwise (`props` overrides any of it).
    const defaults = { state: 'Idle', autoplay: false, paused: true, position: 0, duration: Infinity };
    const live = { liveLatency: 2.5, bufferDuration: 1.5, sessionId: 'ivs-session-1', version: '1.56.1' };
    const quality = { name: '720p60', bitrate: 3_000_000, height: 720, width: 1280, codecs: 'avc1' };
    Object.assign(this, defaults, live, { quality, video: null }, props);
  }

  addEventListener(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
  }

  removeEventListener(name, fn) {
    this.listeners.get(name)?.delete(fn);
  }

  listenerCount() {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  emit(name, payload) {
    if (['Idle', 'Ready', 'Buffering', 'Playing', 'Ended'].includes(name)) this.state = name;
    for (const fn of [...(this.listeners.get(name) ?? [])]) fn(payload);
  }

  setAutoplay(value) {
    this.autoplay = value;
  }
  load(path) {
    this.calls.push(['load', path]);
  }
  play() {
    this.calls.push(['play']);
    this.paused = false;
  }
  pause() {
    this.calls.push(['pause']);
    this.paused = true;
  }
  seekTo(time) {
    this.calls.push(['seekTo', time]);
  }
  /** Like the real player's delete(): it releases everything and emits nothing. */
  delete() {
    this.calls.push(['delete']);
    this.deleted = true;
  }
}

// The getters the adapter reads, each returning the field the test sets: method -> field. Defined
// like class methods (on the prototype, not enumerable).
const IVS_GETTERS = {
  getQuality: 'quality',
  getLiveLatency: 'liveLatency',
  getSessionId: 'sessionId',
  getPosition: 'position',
  getBufferDuration: 'bufferDuration',
  getVersion: 'version',
  getState: 'state',
  getDuration: 'duration',
  isPaused: 'paused',
  isAutoplay: 'autoplay',
  getHTMLVideoElement: 'video',
};
for (const [method, field] of Object.entries(IVS_GETTERS)) {
  Object.defineProperty(FakeIvsPlayer.prototype, method, {
    value() {
      return this[field];
    },
    writable: true,
    configurable: true,
  });
}

/** A localStorage stand-in over a Map; `quota` (characters of all values) makes setItem throw. */
export function mapStorage(map = new Map(), { quota = Infinity } = {}) {
  return {
    map,
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => {
      const used = [...map.entries()].reduce((n, [key, value]) => n + (key === k ? 0 : value.length), 0);
      if (used + String(v).length > quota) throw new Error('QuotaExceededError');
      map.set(k, String(v));
    },
    removeItem: (k) => {
      map.delete(k);
    },
  };
}

/**
 * A monitor wired to fakes. Returns the monitor, the events it emitted, and every fake.
 * @param {object} [options] createQosMonitor options (env is merged)
 */
export function setup(options = {}) {
  const clock = new FakeClock();
  const net = fakeFetch(options.script ?? []);
  const beacon = fakeBeacon(options.beaconAccept);
  const document = new FakeDocument();
  const window = new FakeWindow();
  let uuid = 0;
  const randomUUID = () => `00000000-0000-4000-8000-${String(++uuid).padStart(12, '0')}`;
  // `storage`: a Map to share between monitors (a page and the next one of the same origin).
  const storage = options.storage ?? new Map();
  const events = [];
  const { script: _script, beaconAccept: _accept, env: extraEnv, storage: _storage, ...rest } = options;
  const monitor = createQosMonitor({
    endpoint: 'https://ingest.example/v1/events',
    channel: 'demo-channel',
    onEvent: (event) => events.push(event),
    ...rest,
    env: {
      ...fakeIo(clock, net, beacon),
      document,
      window,
      randomUUID,
      random: () => 0.5,
      storage: mapStorage(storage),
      ...extraEnv,
    },
  });
  const types = () => events.map((e) => e.metric_type);
  const last = (type) => events.filter((e) => e.metric_type === type).at(-1);
  const all = (type) => events.filter((e) => e.metric_type === type);
  return { monitor, events, types, last, all, clock, net, beacon, document, window, storage };
}

/**
 * A monitor made by `setup(options)` attached to a new FakeVideo made with `options.video`.
 * @param {object} [options] setup's options, and `video`: FakeVideo's
 */
export function attachedVideo({ video: videoOptions, ...options } = {}) {
  const ctx = setup(options);
  const video = new FakeVideo(videoOptions);
  ctx.monitor.attach(video);
  return { ctx, video };
}

/** The same, the video already playing (`startVideo`). */
export function playingVideo(options = {}) {
  const { ctx, video } = attachedVideo(options);
  startVideo(ctx, video);
  return { ctx, video };
}

/** The monitor's running counters named in `expected` have those values: one check each. */
export function assertCounters(ctx, expected) {
  const { counters } = ctx.monitor.state;
  for (const [name, value] of Object.entries(expected)) assert.equal(counters[name], value, name);
}

/** A video that starts playing: play intent at t0, first frame `startupMs` later. */
export function startVideo(ctx, video, { startupMs = 800, src = 'https://cdn.example/live/stream.m3u8' } = {}) {
  video.src = src;
  video.currentSrc = src;
  video.fire('loadstart');
  video.userPlay();
  video.fire('waiting');
  ctx.clock.advance(startupMs);
  video.readyState = 4;
  video.videoHeight = 720;
  video.fire('playing');
}
