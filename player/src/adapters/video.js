/**
 * Adapter for a plain HTMLVideoElement: native HLS (Safari), hls.js, or any MSE player that renders
 * into a <video>. It listens to media events only; hls.js specifics (level switches, its own errors)
 * reach the monitor through `monitor.setQuality` and `monitor.reportError`.
 */

/** @typedef {import('../types.js').MonitorSignals} MonitorSignals */
/** @typedef {import('../types.js').Adapter} Adapter */
/** @typedef {import('../types.js').Quality} Quality */

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
 * @param {{externalQuality: () => boolean}} hooks
 * @returns {Adapter}
 */
export function attachVideo(video, signals, hooks) {
  let lastSrc = video.currentSrc || video.src || '';

  /** @type {Record<string, (event: Event) => void>} */
  const handlers = {
    loadstart() {
      const src = video.currentSrc || video.src || '';
      // One session per playback: a second loadstart (hls.js recovery, a re-attached MediaSource)
      // is not new content; a different real URL is.
      if (signals.hasOpenSession() && lastSrc && src && src !== lastSrc && !isMediaSourceUrl(src)) {
        signals.newContent('source-changed');
      }
      if (src) lastSrc = src;
      if (video.autoplay) signals.intent({ autoplay: true });
    },
    play() {
      signals.intent({ autoplay: video.autoplay });
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
        const duration = video.duration;
        if (duration === Infinity) return true;
        return Number.isFinite(duration) && duration > 0 ? false : undefined;
      },
      liveLatencyMs: () => {
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
      playerVersion: () => undefined,
      source: () => video.currentSrc || video.src || undefined,
    },
    detach() {
      for (const [type, handler] of Object.entries(handlers)) video.removeEventListener(type, handler);
    },
  };
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
