/**
 * Adapter for a plain HTMLVideoElement: native HLS (Safari), hls.js, or any MSE player that renders
 * into a <video>. It listens to media events; hls.js specifics (level switches, its own errors)
 * reach the monitor through `monitor.setQuality` and `monitor.reportError`.
 *
 * Play intent: the element's `play` event is queued by `play()` and fires a task later (5–60 ms,
 * more under load), so the adapter also wraps the instance's `play()` to take the intent at the
 * call; `detach()` restores it. The `play` event stays the fallback for plays that do not go
 * through the wrapper (native controls, the autoplay attribute, a play() saved before attach),
 * and the only one with `instrumentPlayer: false`.
 */

/** @typedef {import('../types.js').MonitorSignals} MonitorSignals */
/** @typedef {import('../types.js').Adapter} Adapter */
/** @typedef {import('../types.js').Quality} Quality */
/** @typedef {import('../types.js').HlsLike} HlsLike */

const MEDIA_ERROR_NAMES = /** @type {Record<number, string>} */ ({
  1: 'MEDIA_ERR_ABORTED',
  2: 'MEDIA_ERR_NETWORK',
  3: 'MEDIA_ERR_DECODE',
  4: 'MEDIA_ERR_SRC_NOT_SUPPORTED',
});

/**
 * Whether `target` looks like a media element (duck-typed, so tests can pass an EventTarget fake).
 * @param {any} target
 * @returns {target is HTMLVideoElement}
 */
export function isVideoElement(target) {
  return (
    !!target &&
    typeof target.addEventListener === 'function' &&
    typeof target.removeEventListener === 'function' &&
    'currentTime' in target &&
    'paused' in target
  );
}

/**
 * A `blob:` URL is what MSE players (hls.js) put in `src`; it changes when they re-attach the
 * media (error recovery), so it says nothing about the content.
 * @param {string} src
 */
function isMediaSourceUrl(src) {
  return src.startsWith('blob:');
}

/**
 * @param {HTMLVideoElement} video
 * @param {MonitorSignals} signals
 * @param {{externalQuality: () => boolean, instrument: boolean, hls?: HlsLike | null}} hooks `hls`: the
 *   hls.js instance playing into the element, for live detection and latency (MSE gives the
 *   element a finite duration even for a live playlist).
 * @returns {Adapter}
 */
export function attachVideo(video, signals, hooks) {
  const hls = hooks.hls ?? null;
  let lastSrc = video.currentSrc || video.src || '';
  /** The session the last intent opened, and the source it was asked for. */
  /** @type {{session: string, src: string} | null} */
  let openedFor = null;
  /** The source of the last play intent since the last loadstart. */
  /** @type {string | null} */
  let intentSrc = null;

  /**
   * A play intent (the play() call, the play event or an autoplay load). Once the session is
   * open, a further intent of the same playback (the play event after the call) only resumes it.
   * @param {boolean} autoplay
   */
  function intent(autoplay) {
    const src = requestedSource(video);
    const before = signals.openSessionId();
    signals.intent({ autoplay });
    const after = signals.openSessionId();
    if (after && after !== before) openedFor = { session: after, src };
    intentSrc = src;
  }

  /** @type {Record<string, (event: Event) => void>} */
  const handlers = {
    loadstart() {
      const src = video.currentSrc || video.src || '';
      // One session per playback: a second loadstart (hls.js recovery, a re-attached MediaSource)
      // is not new content; a different real URL is, unless the open session was opened by an
      // intent for that URL (`video.src = next; video.play()` runs play() before this event).
      const open = signals.openSessionId();
      const forThisSource = !!open && openedFor?.session === open && openedFor.src === src;
      if (open && !forThisSource && lastSrc && src && src !== lastSrc && !isMediaSourceUrl(src)) {
        signals.newContent('source-changed');
        // A play() for the new URL came before this event and only resumed the old session: the
        // new one opens here (its startup misses the few ms since that call).
        if (intentSrc === src && !video.paused && !video.autoplay) intent(false);
      }
      if (src) lastSrc = src;
      intentSrc = null;
      if (video.autoplay) intent(true);
    },
    play() {
      intent(video.autoplay);
    },
    playing() {
      signals.firstFrameOrPlaying();
    },
    waiting() {
      signals.waiting();
    },
    pause() {
      // The element fires pause just before ended; the session ends on ended.
      if (!video.ended) signals.pause();
    },
    seeking() {
      signals.seeking();
    },
    seeked() {
      signals.seeked();
    },
    ended() {
      signals.ended();
    },
    error() {
      const error = video.error;
      const code = error?.code ?? 0;
      signals.error({
        code: code || 'unknown',
        type: MEDIA_ERROR_NAMES[code] ?? 'MediaError',
        message: error?.message || undefined,
        fatal: true,
      });
    },
    resize() {
      if (hooks.externalQuality()) return;
      const quality = heightQuality(video.videoHeight);
      if (quality) signals.quality(quality);
    },
  };
  for (const [type, handler] of Object.entries(handlers)) video.addEventListener(type, handler);
  const restorePlay = hooks.instrument
    ? wrapPlay(video, () => intent(video.autoplay), () => signals.blocked())
    : () => {};

  return {
    kind: 'video',
    syncInitialState() {
      // Attached to an element already under way: playing (no intent to measure from) or starting.
      if (video.paused || video.ended) return;
      if (video.readyState >= 3 && video.currentTime > 0) signals.joinPlaying();
      else signals.intent({ autoplay: video.autoplay });
    },
    probe: {
      position: () => finiteOrUndefined(video.currentTime),
      isLive: () => {
        const fromHls = hlsLive(hls);
        if (fromHls !== undefined) return fromHls;
        const duration = video.duration;
        if (duration === Infinity) return true;
        return Number.isFinite(duration) && duration > 0 ? false : undefined;
      },
      liveLatencyMs: () => {
        if (hls && hlsLive(hls)) {
          const latency = safely(() => hls.latency);
          if (typeof latency === 'number' && Number.isFinite(latency) && latency > 0) return latency * 1000;
        }
        // Distance behind the live edge of the seekable range: the estimate players such as hls.js
        // report as latency when the stream carries no program date time.
        const ranges = video.seekable;
        if (!ranges || !ranges.length) return undefined;
        const behind = ranges.end(ranges.length - 1) - video.currentTime;
        return Number.isFinite(behind) ? Math.max(0, behind * 1000) : undefined;
      },
      quality: () => heightQuality(video.videoHeight),
      droppedFrames: () => {
        if (typeof video.getVideoPlaybackQuality !== 'function') return undefined;
        return video.getVideoPlaybackQuality().droppedVideoFrames;
      },
      playerVersion: () => {
        if (hooks.hls) {
          const version = /** @type {any} */ (hooks.hls).constructor?.version;
          return typeof version === 'string' && version ? `hls.js ${version}` : 'hls.js';
        }
        // A URL the element plays itself is the browser's own player; a blob: URL is some MSE
        // player the SDK was not told about.
        const src = video.currentSrc || video.src || '';
        return src && !isMediaSourceUrl(src) ? 'native' : undefined;
      },
      bandwidthEstimateBps: () => {
        const estimate = hooks.hls?.bandwidthEstimate;
        return typeof estimate === 'number' && Number.isFinite(estimate) && estimate > 0 ? estimate : undefined;
      },
      source: () => video.currentSrc || video.src || undefined,
    },
    detach() {
      for (const [type, handler] of Object.entries(handlers)) video.removeEventListener(type, handler);
      restorePlay();
    },
  };
}

/**
 * Replace the instance's `play()` by one that calls the original and then `onPlay()` when the call
 * started a playback: the element was paused and no longer is, which is exactly when it queues
 * its `play` event (a play() refused by the autoplay policy, or on a playing element, does not).
 * When the returned promise rejects with NotAllowedError (the autoplay policy), `onBlocked()`:
 * the session an autoplay attribute (or a browser that unpauses first) opened waits for the
 * viewer. The page's own handling of the promise is untouched. Returns the function that puts
 * the original back.
 * @param {HTMLVideoElement} video
 * @param {() => void} onPlay
 * @param {() => void} onBlocked
 * @returns {() => void}
 */
function wrapPlay(video, onPlay, onBlocked) {
  const target = /** @type {any} */ (video);
  const original = target.play;
  if (typeof original !== 'function') return () => {};
  const hadOwn = Object.prototype.hasOwnProperty.call(target, 'play');
  /** @this {unknown} @param {...unknown} args */
  const wrapper = function (...args) {
    const wasPaused = video.paused;
    const result = original.apply(this, args);
    try {
      if (wasPaused && !video.paused) onPlay();
      if (result && typeof result.then === 'function') {
        result.then(undefined, (/** @type {unknown} */ error) => {
          if (error && /** @type {{name?: string}} */ (error).name === 'NotAllowedError') onBlocked();
        });
      }
    } catch {
      // Measuring must never break the page's player.
    }
    return result;
  };
  target.play = wrapper;
  return () => {
    if (target.play !== wrapper) return; // someone wrapped it after us: leave theirs alone
    if (hadOwn) target.play = original;
    else delete target.play;
  };
}

/**
 * The source a play intent is for: the `src` attribute as just set (currentSrc changes only when
 * the element starts loading it), else the current one.
 * @param {HTMLVideoElement} video
 */
function requestedSource(video) {
  return video.src || video.currentSrc || '';
}

/**
 * Whether hls.js's current playlist is live (no ENDLIST); undefined before one loaded.
 * @param {HlsLike | null} hls
 * @returns {boolean | undefined}
 */
function hlsLive(hls) {
  if (!hls) return undefined;
  const details = safely(() => hls.latestLevelDetails ?? hls.levels?.[hls.currentLevel ?? -1]?.details);
  return details && typeof details.live === 'boolean' ? details.live : undefined;
}

/**
 * A getter of the player library that may throw (destroyed instance).
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
 * @param {number} height
 * @returns {Quality | undefined}
 */
function heightQuality(height) {
  return height > 0 ? { name: `${height}p`, height } : undefined;
}

/** @param {number} value */
function finiteOrUndefined(value) {
  return Number.isFinite(value) ? value : undefined;
}
