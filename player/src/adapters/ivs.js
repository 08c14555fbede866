/**
 * Adapter for the Amazon IVS web player (`IVSPlayer.create()`), by its PlayerState and
 * PlayerEventType events and its getters. It never imports the player package: the page passes its
 * player, and the event names are the strings in ../ivs-constants.js.
 *
 * Play intent: the IVS player has no event for it (READY comes after the manifest loaded, which is
 * the measurement mistake of METRICS.md §4), so by default the adapter wraps the instance's
 * `load`, `play` and `seekTo` methods to see the intent and seeks as they are asked for; `detach()`
 * restores them. With `instrumentPlayer: false` it falls back to READY (autoplay) or BUFFERING as
 * the intent, which underestimates startup.
 */

import { IVS_PLAYER_EVENT, IVS_PLAYER_STATE } from '../ivs-constants.js';

/** @typedef {import('../types.js').MonitorSignals} MonitorSignals */
/** @typedef {import('../types.js').Adapter} Adapter */
/** @typedef {import('../types.js').IvsPlayerLike} IvsPlayerLike */
/** @typedef {import('../types.js').IvsQuality} IvsQuality */

/** Durations the IVS player reports for streams of unknown length (its docs: Infinity or 1 << 30). */
const UNBOUNDED_DURATION = 2 ** 30;
/** An element seek shorter than this is the player skipping a gap, not the viewer seeking. */
const MIN_VIEWER_SEEK_S = 1;
/** A seek has settled once the playhead played this far past its target. */
const SETTLED_AFTER_S = 0.25;

/**
 * @param {any} target
 * @returns {target is IvsPlayerLike}
 */
export function isIvsPlayer(target) {
  return (
    !!target &&
    typeof target.addEventListener === 'function' &&
    typeof target.getQuality === 'function' &&
    typeof target.getLiveLatency === 'function' &&
    typeof target.getState === 'function'
  );
}

/**
 * Call a getter of the player; a deleted or half-initialised player may throw.
 * @template T
 * @param {() => T} read
 * @returns {T | undefined}
 */
function safely(read) {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/**
 * @param {IvsPlayerLike} player
 * @param {MonitorSignals} signals
 * @param {{instrument: boolean}} options
 * @returns {Adapter}
 */
export function attachIvs(player, signals, { instrument }) {
  /** @type {string | undefined} */
  let source;
  /** The open session that a load() already fed: a further load() in it is new content. */
  /** @type {string | null} */
  let loadedSession = null;
  /** The IVS session id seen when frames started: another one on READY means new content. */
  /** @type {string | undefined} */
  let playingPlayerSession;
  /** The element the player renders into, once known, and the playhead before a seek. */
  /** @type {HTMLVideoElement | null} */
  let video = null;
  let lastTime = 0;
  /** A seek through the element is under way (ended by SEEK_COMPLETED or PLAYING). */
  let elementSeek = false;
  /**
   * After a seek, until the playhead has played on from its target: the player may report
   * buffering after it said the seek completed, and that wait is still the seek's (null: none).
   * @type {number | null}
   */
  let settlingFrom = null;

  /** @param {number | undefined} target */
  function startSettling(target) {
    if (video && typeof target === 'number' && Number.isFinite(target)) settlingFrom = target;
  }

  /** @type {Record<string, () => void>} */
  const videoHandlers = {
    timeupdate() {
      if (!video || video.seeking) return;
      lastTime = video.currentTime;
      if (settlingFrom !== null && !video.paused && video.currentTime >= settlingFrom + SETTLED_AFTER_S) settlingFrom = null;
    },
    seeking() {
      const to = video?.currentTime ?? 0;
      if (Math.abs(to - lastTime) < MIN_VIEWER_SEEK_S) return;
      elementSeek = true;
      startSettling(to);
      signals.seeking();
    },
    seeked() {
      if (!video) return;
      lastTime = video.currentTime;
      // The player pauses the element until it has data; it then sends SEEK_COMPLETED.
      if (elementSeek && !video.paused) endElementSeek();
    },
  };

  function endElementSeek() {
    if (!elementSeek) return;
    elementSeek = false;
    signals.seeked();
  }

  /** The player waits for data: a stall, unless a seek has not settled yet (then it is the seek's). */
  function bufferingNow() {
    if (settlingFrom !== null) signals.seeking();
    else signals.waiting();
  }

  /**
   * Listen to the element the player renders into: looked up again at each state change, since
   * the page may attach its own (attachHTMLVideoElement) after the monitor.
   */
  function hookVideo() {
    const element = safely(() => player.getHTMLVideoElement?.());
    if (!element || element === video || typeof element.addEventListener !== 'function') return;
    unhookVideo();
    video = element;
    lastTime = Number.isFinite(element.currentTime) ? element.currentTime : 0;
    for (const [type, handler] of Object.entries(videoHandlers)) element.addEventListener(type, handler);
  }

  function unhookVideo() {
    if (!video) return;
    for (const [type, handler] of Object.entries(videoHandlers)) video.removeEventListener(type, handler);
    video = null;
    settlingFrom = null;
  }

  /** @type {[string, (payload: any) => void][]} */
  const listeners = [
    [
      IVS_PLAYER_STATE.READY,
      () => {
        hookVideo();
        const current = safely(() => player.getSessionId());
        if (signals.hasOpenSession() && playingPlayerSession && current && current !== playingPlayerSession) {
          signals.newContent('player-session-changed');
          playingPlayerSession = undefined;
        }
        if (!signals.hasOpenSession() && !instrument && safely(() => player.isAutoplay())) {
          signals.intent({ autoplay: true });
        }
      },
    ],
    [
      IVS_PLAYER_STATE.BUFFERING,
      () => {
        hookVideo();
        if (signals.hasOpenSession()) bufferingNow();
        else if (!instrument) signals.intent({ autoplay: !!safely(() => player.isAutoplay()) });
      },
    ],
    [
      IVS_PLAYER_STATE.PLAYING,
      () => {
        hookVideo();
        endElementSeek();
        if (!signals.hasOpenSession()) signals.joinPlaying();
        else signals.firstFrameOrPlaying();
        playingPlayerSession = playingPlayerSession ?? safely(() => player.getSessionId());
      },
    ],
    [
      IVS_PLAYER_STATE.IDLE,
      () => {
        // IDLE means idle or paused; after a fatal error the session has already ended.
        if (signals.hasOpenSession()) signals.pause();
      },
    ],
    [
      IVS_PLAYER_STATE.ENDED,
      () => {
        signals.ended();
        playingPlayerSession = undefined;
      },
    ],
    [IVS_PLAYER_EVENT.REBUFFERING, () => bufferingNow()],
    [
      IVS_PLAYER_EVENT.SEEK_COMPLETED,
      () => {
        elementSeek = false;
        // Still buffering at the target: the seek ends when PLAYING comes.
        if (safely(() => player.getState()) !== IVS_PLAYER_STATE.BUFFERING) signals.seeked();
      },
    ],
    [IVS_PLAYER_EVENT.PLAYBACK_BLOCKED, () => signals.blocked()],
    [
      IVS_PLAYER_EVENT.QUALITY_CHANGED,
      (/** @type {IvsQuality | undefined} */ quality) => {
        const q = quality ?? safely(() => player.getQuality());
        if (q && q.name) signals.quality({ name: q.name, bitrate: q.bitrate, height: q.height });
      },
    ],
    [IVS_PLAYER_EVENT.ERROR, (payload) => signals.error(ivsError(payload, true))],
    [IVS_PLAYER_EVENT.RECOVERABLE_ERROR, (payload) => signals.error(ivsError(payload, false))],
  ];
  for (const [name, fn] of listeners) player.addEventListener(name, fn);

  /** @type {(() => void)[]} */
  const restores = [];
  if (instrument) {
    restores.push(
      wrap(player, 'load', (path) => {
        const open = signals.openSessionId();
        if (open && loadedSession === open) {
          signals.newContent('load');
          playingPlayerSession = undefined;
        }
        if (typeof path === 'string') source = path;
        if (safely(() => player.isAutoplay())) signals.intent({ autoplay: true });
        loadedSession = signals.openSessionId();
      }),
      wrap(player, 'play', () => {
        signals.intent({ autoplay: false });
        // Content loaded before this intent belongs to the session it opens (or resumes).
        if (source !== undefined) loadedSession = signals.openSessionId();
      }),
      wrap(player, 'seekTo', (time) => {
        startSettling(time);
        signals.seeking();
      }),
    );
  }
  // Not an instrumentation choice: without it a deleted player's session never ends.
  restores.push(wrap(player, 'delete', () => signals.playerGone('deleted')));
  hookVideo();

  return {
    kind: 'ivs',
    syncInitialState() {
      // Attached to a player already under way: playing (no intent to measure from) or starting.
      const state = safely(() => player.getState());
      if (state === IVS_PLAYER_STATE.PLAYING) {
        signals.joinPlaying();
        playingPlayerSession = safely(() => player.getSessionId());
      } else if (state === IVS_PLAYER_STATE.BUFFERING && !safely(() => player.isPaused())) {
        signals.intent({ autoplay: !!safely(() => player.isAutoplay()) });
      }
    },
    probe: {
      position: () => finite(safely(() => player.getPosition())),
      isLive: () => {
        const duration = safely(() => player.getDuration());
        if (duration === Infinity || (typeof duration === 'number' && duration >= UNBOUNDED_DURATION)) return true;
        if (typeof duration === 'number' && Number.isFinite(duration) && duration > 0) return false;
        // Before the duration is known: IVS live playback URLs are served from live-video.net.
        return source && /\.live-video\.net\//.test(source) ? true : undefined;
      },
      liveLatencyMs: () => {
        const seconds = finite(safely(() => player.getLiveLatency()));
        return seconds !== undefined && seconds >= 0 ? seconds * 1000 : undefined;
      },
      quality: () => {
        const q = safely(() => player.getQuality());
        return q && q.name ? { name: q.name, bitrate: q.bitrate, height: q.height } : undefined;
      },
      droppedFrames: () => {
        const video = safely(() => player.getHTMLVideoElement?.());
        if (!video || typeof video.getVideoPlaybackQuality !== 'function') return undefined;
        return safely(() => video.getVideoPlaybackQuality().droppedVideoFrames);
      },
      playerVersion: () => safely(() => player.getVersion()),
      bandwidthEstimateBps: () => {
        const bps = finite(safely(() => player.getBandwidthEstimate?.()));
        return bps !== undefined && bps > 0 ? bps : undefined;
      },
      playerSessionId: () => safely(() => player.getSessionId()) || undefined,
      bufferDurationMs: () => {
        const seconds = finite(safely(() => player.getBufferDuration()));
        return seconds !== undefined && seconds >= 0 ? seconds * 1000 : undefined;
      },
      source: () => source,
    },
    detach() {
      for (const [name, fn] of listeners) safely(() => player.removeEventListener(name, fn));
      for (const restore of restores.splice(0)) restore();
      unhookVideo();
    },
  };
}

/**
 * Replace `target[method]` on the instance by a wrapper that calls `before(...args)` then the
 * original; returns the function that puts the original back.
 * @param {any} target
 * @param {string} method
 * @param {(...args: any[]) => void} before
 */
function wrap(target, method, before) {
  const original = target[method];
  if (typeof original !== 'function') return () => {};
  const hadOwn = Object.prototype.hasOwnProperty.call(target, method);
  /** @this {unknown} @param {...unknown} args */
  const wrapper = function (...args) {
    try {
      before(...args);
    } catch {
      // Measuring must never break the page's player.
    }
    return original.apply(this, args);
  };
  target[method] = wrapper;
  return () => {
    if (target[method] !== wrapper) return; // someone wrapped it after us: leave theirs alone
    if (hadOwn) target[method] = original;
    else delete target[method];
  };
}

/**
 * @param {{code?: number, type?: string, message?: string, source?: string} | undefined} payload
 * @param {boolean} fatal
 */
function ivsError(payload, fatal) {
  const message = [payload?.source, payload?.message].filter(Boolean).join(': ');
  return {
    code: payload?.code ?? 'unknown',
    type: payload?.type,
    message: message || undefined,
    fatal,
  };
}

/** @param {number | undefined} value */
function finite(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
