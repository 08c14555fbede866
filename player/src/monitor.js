/**
 * `createQosMonitor`: one object with explicit state that turns a player's signals into the QoS
 * events of the contract (EVENTS.md §2) and hands them to the transport.
 */

import { attachIvs, isIvsPlayer } from './adapters/ivs.js';
import { attachVideo, isVideoElement } from './adapters/video.js';
import { toLegacyData } from './envelope.js';
import { resolveEnvironment } from './environment.js';
import { PlaybackSession } from './session.js';
import { createTransport } from './transport.js';
import { SCHEMA_VERSION, SDK_VERSION } from './version.js';

/** @typedef {import('./types.js').Environment} Environment */
/** @typedef {import('./types.js').QosEvent} QosEvent */
/** @typedef {import('./types.js').MetricType} MetricType */
/** @typedef {import('./types.js').Quality} Quality */
/** @typedef {import('./types.js').PlayerErrorInfo} PlayerErrorInfo */
/** @typedef {import('./types.js').Adapter} Adapter */
/** @typedef {import('./types.js').Phase} Phase */
/** @typedef {import('./types.js').IvsPlayerLike} IvsPlayerLike */
/** @typedef {import('./session.js').Counters} Counters */
/** @typedef {import('./transport.js').DeliveryStats} DeliveryStats */

/**
 * @typedef {object} QosMonitorOptions
 * @property {string | null} endpoint Ingest URL (`…/v1/events`, or `…/streams` with
 *   `legacyEnvelope`); null sends nothing (events still reach `onEvent`).
 * @property {string | (() => string)} [channel] `channel_watched`; a function is read at each
 *   session start. Default: the IVS channel id of the playback URL, else the URL without query.
 * @property {'web' | 'ios' | 'android' | 'other'} [platform] `client_platform`, default 'web'.
 * @property {boolean} [isLive] Force `is_live`; default: detected from the duration.
 * @property {string} [userId] Default: a random id kept in localStorage (`qos_user_id`).
 * @property {string} [playerVersion] Default: the IVS player's `getVersion()`, `hls.js <version>`
 *   with `attach(video, {hls})`, `native` for a `<video>` playing a URL itself.
 * @property {boolean} [pageUrlQuery] Keep the page URL's query string in `page_url`, default false
 *   (queries carry tokens and personal data); the fragment is never sent.
 * @property {number} [summaryIntervalMs] PLAYBACK_SUMMARY period, default 60000.
 * @property {boolean} [legacyEnvelope] Send the original sample's Records envelope to a /streams endpoint.
 * @property {string} [contentType] Default 'text/plain;charset=UTF-8' (no CORS preflight);
 *   'application/json' with `legacyEnvelope` (what the original API Gateway maps).
 * @property {(event: QosEvent) => void} [onEvent] Called with every event as it is emitted.
 * @property {number} [batchSize] Send once this many events wait, default 20 (max 500).
 * @property {number} [batchIntervalMs] Or send this long after the first waiting one, default 5000.
 * @property {number} [maxQueueSize] Default 1000; on overflow the oldest event is dropped.
 * @property {number} [maxRetries] Per event, default 5.
 * @property {number} [retryBaseMs] First backoff, default 1000 (doubling, with jitter).
 * @property {number} [retryMaxMs] Backoff cap, default 30000.
 * @property {boolean} [useBeacon] Use sendBeacon at page exit, default true.
 * @property {number} [beaconMaxBytes] Split exit bodies at this size, default 65536.
 * @property {boolean} [instrumentPlayer] Wrap the IVS player's load/play/seekTo and the media
 *   element's play(), to see play intent as it is asked for; default true.
 * @property {boolean} [trackPageLifecycle] Listen to pagehide/visibilitychange, default true.
 * @property {Environment} [env] Clock, timers, fetch, sendBeacon, document, window, randomUUID…
 */

/**
 * @typedef {object} AttachOptions
 * @property {import('./types.js').HlsLike} [hls] The hls.js instance playing into the element:
 *   `player_version` (`hls.js <version>`), `bandwidth_estimate_bps`, and for a live playlist
 *   `is_live` and `live_latency_ms` come from it (MSE gives the element a finite duration even
 *   for a live playlist).
 */

/**
 * @typedef {object} MonitorState
 * @property {boolean} attached
 * @property {'ivs' | 'video' | null} adapter
 * @property {string | null} sessionId The current (or last) session.
 * @property {Phase} phase
 * @property {number} sessionCount Sessions opened since the monitor was created.
 * @property {number | null} startupTimeMs Of the current session, once its first frame rendered.
 * @property {Counters} counters The current session's totals so far.
 * @property {number} eventsEmitted
 * @property {DeliveryStats} delivery
 */

/**
 * @typedef {object} QosMonitor
 * @property {(player: HTMLVideoElement | IvsPlayerLike, with_?: AttachOptions) => void} attach
 * @property {() => void} detach Ends the open session (final summary and STOP) and stops listening.
 * @property {() => Promise<void>} flush Send what is queued now.
 * @property {(error: PlayerErrorInfo) => void} reportError An error the adapter cannot see
 *   (hls.js `Hls.Events.ERROR`).
 * @property {(quality: Quality) => void} setQuality The rendition now playing (hls.js
 *   `LEVEL_SWITCHED`); replaces the video adapter's videoHeight guess.
 * @property {(reason?: string) => void} endSession New content on the same element (hls.js
 *   `loadSource`): ends the open session; the next play intent opens a new one.
 * @property {Readonly<MonitorState>} state
 */

const MAX_STRING = 256;
const MAX_CHANNEL = 128;
const MAX_ID = 128;
const MAX_VERSION = 64;
const MAX_URL = 1024;
const MAX_HOST = 253;
const MAX_DURATION_MS = 24 * 60 * 60 * 1000;
const MAX_STARTUP_MS = 10 * 60 * 1000;
const USER_ID_KEY = 'qos_user_id';
const PLATFORMS = new Set(['web', 'ios', 'android', 'other']);

/**
 * @param {QosMonitorOptions} options
 * @returns {QosMonitor}
 */
export function createQosMonitor(options) {
  if (!options || (options.endpoint !== null && typeof options.endpoint !== 'string')) {
    throw new TypeError('createQosMonitor: `endpoint` must be a URL string (or null to send nothing)');
  }
  const env = resolveEnvironment(options.env);
  const legacy = !!options.legacyEnvelope;
  const summaryIntervalMs = positive(options.summaryIntervalMs, 60_000);
  const platform = PLATFORMS.has(String(options.platform ?? 'web').toLowerCase())
    ? String(options.platform ?? 'web').toLowerCase()
    : 'other';
  const instrument = options.instrumentPlayer !== false;
  const trackPage = options.trackPageLifecycle !== false;
  const userId = clip(options.userId ?? persistentUserId(env), MAX_ID);
  const keepQuery = options.pageUrlQuery === true;

  const transport = options.endpoint
    ? createTransport({
        endpoint: options.endpoint,
        env,
        legacy,
        contentType: options.contentType ?? (legacy ? 'application/json' : 'text/plain;charset=UTF-8'),
        batchSize: Math.min(positive(options.batchSize, 20), 500),
        batchIntervalMs: positive(options.batchIntervalMs, 5000),
        maxQueueSize: positive(options.maxQueueSize, 1000),
        maxRetries: nonNegative(options.maxRetries, 5),
        retryBaseMs: positive(options.retryBaseMs, 1000),
        retryMaxMs: positive(options.retryMaxMs, 30_000),
        useBeacon: options.useBeacon !== false,
        beaconMaxBytes: positive(options.beaconMaxBytes, 64 * 1024),
        storage: env.storage,
      })
    : null;
  // What an earlier page (or this one, before it went) could not send at exit.
  transport?.restore();

  /** @type {Adapter | null} */
  let adapter = null;
  /** @type {object | null} */
  let attachedTo = null;
  /** @type {PlaybackSession | null} */
  let session = null;
  let sessionCount = 0;
  let eventsEmitted = 0;
  /** Session-scoped facts fixed when the session opens. */
  let channel = 'unknown';
  /** The playback (one load of a source): its id outlives a session ended by `ended`. */
  /** @type {string | null} */
  let playbackId = null;
  /** @type {string | undefined} */
  let pageUrl;
  /** @type {string | undefined} */
  let referrerHost;
  let liveGuess = false;
  /** @type {Quality | undefined} */
  let lastQuality;
  let externalQuality = false;
  /** @type {number | undefined} */
  let droppedBase;
  /** @type {unknown} */
  let summaryTimer = null;
  /** @type {(() => void)[]} */
  let pageCleanup = [];
  /** The open session's start was refused by the autoplay policy: the next intent restarts startup. */
  let awaitingViewer = false;

  const open = () => (session && session.open ? session : null);

  // ---- event building -------------------------------------------------------------------

  /** @returns {boolean} */
  function isLive() {
    if (typeof options.isLive === 'boolean') return options.isLive;
    const detected = adapter?.probe.isLive?.();
    if (typeof detected === 'boolean') liveGuess = detected;
    return liveGuess;
  }

  /**
   * @param {MetricType} type
   * @param {Record<string, unknown>} fields
   * @param {{priority?: boolean}} [how] `priority`: first to leave at page exit (final summary, STOP).
   */
  function emit(type, fields, how = {}) {
    if (!session) return;
    const version = options.playerVersion ?? adapter?.probe.playerVersion?.();
    /** @type {QosEvent} */
    const event = {
      metric_type: type,
      session_id: session.id,
      user_id: userId,
      client_platform: platform,
      is_live: isLive(),
      channel_watched: channel,
      event_time: Math.round(env.wallNow()),
      event_id: env.randomUUID(),
      schema_version: SCHEMA_VERSION,
      sdk_version: SDK_VERSION,
    };
    if (version) event.player_version = clip(version, MAX_VERSION);
    if (playbackId) event.playback_id = playbackId;
    if (pageUrl) event.page_url = pageUrl;
    if (referrerHost) event.referrer_host = referrerHost;
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined && value !== null) event[key] = value;
    }
    eventsEmitted += 1;
    if (options.onEvent) {
      try {
        options.onEvent(event);
      } catch {
        // The page's callback must not break measurement.
      }
    }
    if (transport) {
      const wire = legacy ? toLegacyData(event) : event;
      if (wire) transport.enqueue(wire, how);
    }
  }

  /** @param {{autoplay?: boolean, joined?: boolean}} how */
  function openSession({ autoplay, joined = false }) {
    stopSummaryTimer();
    awaitingViewer = false;
    const hidden = env.document?.visibilityState === 'hidden';
    session = new PlaybackSession({ id: env.randomUUID(), now: env.now(), joined, hiddenAtIntent: hidden });
    sessionCount += 1;
    channel = resolveChannel();
    playbackId = playbackId ?? env.randomUUID();
    pageUrl = pageUrlOf(env.document?.URL, keepQuery);
    referrerHost = hostOf(env.document?.referrer);
    liveGuess = false;
    droppedBase = adapter?.probe.droppedFrames?.();
    if (joined) {
      // Attached mid-playback: startup is unknown, so neither ATTEMPT nor PLAY; summaries flow.
      lastQuality = lastQuality ?? adapter?.probe.quality?.();
      startSummaryTimer();
      return;
    }
    emit('ATTEMPT', {
      visibility_state: env.document ? (hidden ? 'hidden' : 'visible') : undefined,
      autoplay: typeof autoplay === 'boolean' ? autoplay : undefined,
    });
  }

  function resolveChannel() {
    const configured = typeof options.channel === 'function' ? safeCall(options.channel) : options.channel;
    const name = configured || channelFromUrl(adapter?.probe.source?.()) || 'unknown';
    return clip(String(name), MAX_CHANNEL);
  }

  /** @param {boolean} final */
  function emitSummary(final) {
    const s = session;
    if (!s) return;
    const counters = s.takeInterval(env.now());
    const quality = lastQuality ?? adapter?.probe.quality?.();
    const live = isLive();
    const latency = live ? adapter?.probe.liveLatencyMs?.() : undefined;
    const dropped = adapter?.probe.droppedFrames?.();
    let droppedFrames;
    if (typeof dropped === 'number' && Number.isFinite(dropped)) {
      // The element's counter is cumulative and restarts with a new source.
      droppedFrames = droppedBase !== undefined && dropped >= droppedBase ? dropped - droppedBase : dropped;
      droppedBase = dropped;
    }
    const buffer = adapter?.probe.bufferDurationMs?.();
    emit('PLAYBACK_SUMMARY', {
      playing_time_ms: duration(counters.playingTimeMs),
      buffering_time_ms: duration(counters.bufferingTimeMs),
      buffering_count: counters.bufferingCount,
      error_count: counters.errorCount,
      rendition_name: quality?.name ? clip(quality.name, MAX_STRING) : undefined,
      rendition_height: wholeOrUndefined(quality?.height),
      bitrate_bps: wholeOrUndefined(quality?.bitrate),
      live_latency_ms: latency !== undefined ? duration(latency) : undefined,
      dropped_frames: droppedFrames,
      buffer_duration_ms: buffer !== undefined ? duration(buffer) : undefined,
      bandwidth_estimate_bps: bandwidth(),
      is_final: final,
    }, { priority: final });
  }

  function startSummaryTimer() {
    stopSummaryTimer();
    summaryTimer = env.setTimeout(() => {
      summaryTimer = null;
      const s = open();
      if (!s) return;
      const i = s.interval;
      // An interval spent paused says nothing (and must not count the viewer as concurrent).
      const running = s.phase === 'playing' || s.phase === 'stalled';
      if (running || i.playingTimeMs > 0 || i.bufferingTimeMs > 0 || i.errorCount > 0) emitSummary(false);
      startSummaryTimer();
    }, summaryIntervalMs);
  }

  function stopSummaryTimer() {
    if (summaryTimer !== null) env.clearTimeout(summaryTimer);
    summaryTimer = null;
  }

  /** @param {string} reason */
  function endSession(reason) {
    const s = open();
    if (!s) return;
    const fatal = reason === 'error';
    stopSummaryTimer();
    if (s.started) emitSummary(true);
    s.close(env.now(), { fatal });
    emit('STOP', {
      end_playback_position_sec: position(),
      exit_before_start: !s.started && !s.fatalError,
    }, { priority: true });
  }

  function bandwidth() {
    return wholeOrUndefined(safeCall(() => adapter?.probe.bandwidthEstimateBps?.()));
  }

  function position() {
    const p = adapter?.probe.position?.();
    return typeof p === 'number' && Number.isFinite(p) && p >= 0 ? Math.min(p, 1e9) : undefined;
  }

  // ---- signals from adapters ------------------------------------------------------------

  /** @type {import('./types.js').MonitorSignals} */
  const signals = {
    intent({ autoplay } = {}) {
      const s = open();
      if (s && awaitingViewer && !s.started) {
        // The play the viewer asked for after the autoplay policy refused one: startup runs from
        // here (docs/metrics.md), the wait for the click is not part of it.
        awaitingViewer = false;
        s.intentAt = env.now();
        s.phaseSince = s.intentAt;
        s.hiddenDuringStartup = env.document?.visibilityState === 'hidden';
      }
      if (s) s.resume();
      else openSession({ autoplay });
    },
    blocked() {
      const s = open();
      if (s && !s.started) awaitingViewer = true;
    },
    playerGone(reason) {
      detach(reason);
    },
    firstFrameOrPlaying() {
      const s = open();
      if (!s) return;
      const { firstFrame } = s.playing(env.now());
      if (!firstFrame) return;
      const startup = Math.round(s.startupMs ?? 0);
      lastQuality = lastQuality ?? adapter?.probe.quality?.();
      emit('PLAY', {
        startup_latency_ms: Math.min(startup, MAX_STARTUP_MS),
        start_playback_position_sec: position(),
        visibility_state: env.document ? (s.hiddenDuringStartup ? 'hidden' : 'visible') : undefined,
        player_session_id: adapter?.probe.playerSessionId?.(),
      });
      startSummaryTimer();
    },
    waiting() {
      open()?.waiting(env.now());
    },
    pause() {
      open()?.pause(env.now());
    },
    seeking() {
      open()?.seeking(env.now());
    },
    seeked() {
      open()?.seeked(env.now());
    },
    ended() {
      endSession('ended');
    },
    error(info) {
      const s = open();
      if (!s) return; // not attributable to a play attempt
      s.countError();
      emit('ERROR', {
        error_code: clip(String(info.code ?? 'unknown'), MAX_VERSION),
        error_type: info.type ? clip(String(info.type), MAX_STRING) : undefined,
        fatal: !!info.fatal,
        phase: s.started ? 'playback' : 'startup',
        error_message: info.message ? clip(String(info.message), MAX_STRING) : undefined,
      });
      if (info.fatal) endSession('error');
    },
    quality(quality) {
      const before = lastQuality;
      const same = before !== undefined && sameRendition(before, quality);
      // The same rendition described better (hls.js's level after the element's videoHeight
      // guess): keep what is now known, silently.
      lastQuality = same && before ? mergeQuality(before, quality) : quality;
      if (!before || same || !open() || !quality.name) return;
      const direction = stepDirection(before, quality);
      if (direction === 'SAME') return; // like-for-like ranks are equal: not a switch
      emit('QUALITY_CHANGED', {
        from_rendition_name: before.name ? clip(before.name, MAX_STRING) : undefined,
        to_rendition_name: clip(quality.name, MAX_STRING),
        from_bitrate: wholeOrUndefined(before.bitrate),
        to_bitrate: wholeOrUndefined(quality.bitrate),
        step_direction: direction,
        bandwidth_estimate_bps: bandwidth(),
      });
    },
    newContent(reason) {
      endSession(reason);
      lastQuality = undefined;
      droppedBase = undefined;
      playbackId = null;
    },
    joinPlaying() {
      if (!open()) openSession({ joined: true });
    },
    hasOpenSession: () => open() !== null,
    openSessionId: () => open()?.id ?? null,
  };

  // ---- page lifecycle -------------------------------------------------------------------

  function listenToPage() {
    const { document, window } = env;
    if (document) {
      const onVisibility = () => {
        if (document.visibilityState !== 'hidden') {
          // Shown again: what waited in the outbox while hidden goes by fetch.
          transport?.restore();
          return;
        }
        open()?.markHidden(env.now());
        // Mobile browsers may kill a hidden page without pagehide: hand the queue over now,
        // keeping part of the keepalive budget for the exit's own events.
        transport?.flushOnExit({ exit: false });
      };
      document.addEventListener('visibilitychange', onVisibility);
      pageCleanup.push(() => document.removeEventListener('visibilitychange', onVisibility));
    }
    if (window) {
      const onPageHide = () => {
        endSession('pagehide');
        transport?.flushOnExit({ includeInFlight: true, exit: true });
      };
      // Back from the back/forward cache: the outbox may hold what the exit could not send.
      const onPageShow = (/** @type {{persisted?: boolean}} */ event) => {
        if (event?.persisted) transport?.restore();
      };
      window.addEventListener('pagehide', onPageHide);
      window.addEventListener('pageshow', onPageShow);
      pageCleanup.push(() => window.removeEventListener('pagehide', onPageHide));
      pageCleanup.push(() => window.removeEventListener('pageshow', onPageShow));
    }
  }

  // ---- the public object ----------------------------------------------------------------

  /**
   * End the open session (final summary and STOP), stop listening to the player and the page,
   * and send what is queued.
   * @param {string} reason
   */
  function detach(reason) {
    if (!attachedTo) return;
    endSession(reason);
    const made = adapter;
    adapter = null;
    attachedTo = null;
    made?.detach();
    for (const cleanup of pageCleanup.splice(0)) cleanup();
    stopSummaryTimer();
    externalQuality = false;
    lastQuality = undefined;
    awaitingViewer = false;
    transport?.close();
    void transport?.flush();
  }

  /** @type {QosMonitor} */
  const monitor = {
    attach(player, with_ = {}) {
      if (player === attachedTo) return;
      if (attachedTo) monitor.detach();
      playbackId = null;
      let made;
      if (isIvsPlayer(player)) made = attachIvs(player, signals, { instrument });
      else if (isVideoElement(player)) made = attachVideo(player, signals, { externalQuality: () => externalQuality, instrument, hls: with_.hls });
      else throw new TypeError('attach: expected an Amazon IVS player or an HTMLVideoElement');
      adapter = made;
      attachedTo = player;
      if (trackPage && !pageCleanup.length) listenToPage();
      made.syncInitialState();
    },
    detach() {
      detach('detach');
    },
    flush() {
      return transport ? transport.flush() : Promise.resolve();
    },
    reportError(info) {
      signals.error(info);
    },
    setQuality(quality) {
      externalQuality = true;
      if (quality && quality.name) signals.quality(quality);
    },
    endSession(reason = 'new-content') {
      signals.newContent(reason);
    },
    get state() {
      const now = env.now();
      const s = session;
      /** @type {MonitorState} */
      const snapshot = {
        attached: attachedTo !== null,
        adapter: adapter?.kind ?? null,
        sessionId: s?.id ?? null,
        phase: s?.phase ?? 'idle',
        sessionCount,
        startupTimeMs: s?.startupMs ?? null,
        counters: s ? s.totalsAt(now) : { playingTimeMs: 0, bufferingTimeMs: 0, bufferingCount: 0, errorCount: 0 },
        eventsEmitted,
        delivery: transport
          ? transport.stats()
          : { queued: 0, inFlight: 0, sent: 0, beaconed: 0, stored: 0, restored: 0, dropped: 0, rejected: 0, failed: 0, retries: 0, requests: 0 },
      };
      return Object.freeze(snapshot);
    },
  };
  return monitor;
}

/**
 * `channel_watched` from a playback URL: the IVS channel id of `…/channel.<id>.m3u8` (what the
 * original sample reported), else the URL without its query; nothing for blob:/data: URLs.
 * @param {string | undefined} url
 * @returns {string | undefined}
 */
export function channelFromUrl(url) {
  if (!url || /^(blob|data|mediasource):/i.test(url)) return undefined;
  const ivs = /channel\.([A-Za-z0-9]+)\.m3u8/.exec(url);
  if (ivs) return ivs[1];
  return url.split(/[?#]/)[0] || undefined;
}

/**
 * `page_url`: the page's URL without credentials or fragment, and without its query string unless
 * `keepQuery`; cut to the contract's 1024 characters. Nothing when the page has no URL.
 * @param {string | undefined} href
 * @param {boolean} keepQuery
 * @returns {string | undefined}
 */
export function pageUrlOf(href, keepQuery) {
  if (!href) return undefined;
  let text;
  try {
    const url = new URL(href);
    url.username = '';
    url.password = '';
    url.hash = '';
    if (!keepQuery) url.search = '';
    text = url.href;
  } catch {
    const cut = href.split('#')[0];
    text = keepQuery ? cut : cut.split('?')[0];
  }
  return text ? clip(text, MAX_URL) : undefined;
}

/**
 * `referrer_host`: the host name of `document.referrer` (empty when there is none, or when the
 * referrer policy withholds it). Nothing for a referrer that is not a URL with a host.
 * @param {string | undefined} referrer
 * @returns {string | undefined}
 */
export function hostOf(referrer) {
  if (!referrer) return undefined;
  try {
    const host = new URL(referrer).hostname;
    return host ? clip(host, MAX_HOST) : undefined;
  } catch {
    return undefined;
  }
}

/** @param {ResolvedEnv} env */
function persistentUserId(env) {
  try {
    const stored = env.storage?.getItem(USER_ID_KEY);
    if (stored) return stored;
    const id = env.randomUUID();
    env.storage?.setItem(USER_ID_KEY, id);
    return id;
  } catch {
    return env.randomUUID(); // storage blocked or full: an id for this page only
  }
}
/** @typedef {import('./types.js').ResolvedEnvironment} ResolvedEnv */

/**
 * @template T
 * @param {() => T} fn
 */
function safeCall(fn) {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/**
 * A bitrate or height the rendition really has (players report 0 or NaN when unknown).
 * @param {number | undefined} value
 * @returns {value is number}
 */
function known(value) {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/**
 * Whether two reports describe the same rendition. With both bitrates known they must match (two
 * levels may share a name or a height); without one, the heights decide (a videoHeight guess has
 * no bitrate and names itself after the height), else the names.
 * @param {Quality} a
 * @param {Quality} b
 */
function sameRendition(a, b) {
  if (known(a.bitrate) && known(b.bitrate)) return a.bitrate === b.bitrate && a.name === b.name;
  if (known(a.height) && known(b.height)) return a.height === b.height;
  return a.name === b.name;
}

/**
 * The rendition as now reported, completed with what the earlier report of it knew.
 * @param {Quality} before
 * @param {Quality} now
 * @returns {Quality}
 */
function mergeQuality(before, now) {
  return {
    name: now.name || before.name,
    bitrate: known(now.bitrate) ? now.bitrate : before.bitrate,
    height: known(now.height) ? now.height : before.height,
  };
}

/**
 * The switch's direction, like for like: bitrates when both are known, else heights. 'SAME' when
 * those are equal; undefined when nothing comparable is known.
 * @param {Quality} from
 * @param {Quality} to
 * @returns {'UP' | 'DOWN' | 'SAME' | undefined}
 */
function stepDirection(from, to) {
  /** @type {[number, number] | undefined} */
  let ranks;
  if (known(from.bitrate) && known(to.bitrate)) ranks = [from.bitrate, to.bitrate];
  else if (known(from.height) && known(to.height)) ranks = [from.height, to.height];
  if (!ranks) return undefined;
  if (ranks[0] === ranks[1]) return 'SAME';
  return ranks[1] > ranks[0] ? 'UP' : 'DOWN';
}

/**
 * @param {string} value
 * @param {number} max
 */
function clip(value, max) {
  return value.length > max ? value.slice(0, max) : value;
}

/** Milliseconds as the contract's duration: a whole number in 0..24 h. @param {number} ms */
function duration(ms) {
  return Math.min(MAX_DURATION_MS, Math.max(0, Math.round(ms)));
}

/** @param {number | undefined} value */
function wholeOrUndefined(value) {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
}

/**
 * @param {number | undefined} value
 * @param {number} fallback
 */
function positive(value, fallback) {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

/**
 * @param {number | undefined} value
 * @param {number} fallback
 */
function nonNegative(value, fallback) {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback;
}
