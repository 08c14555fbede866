/**
 * Shared JSDoc types of the SDK (no runtime code). `tsc --noEmit` checks every module against them.
 * @module
 */

/**
 * The environment the SDK runs in. Every member is optional: `resolveEnvironment` fills the gaps
 * from the browser's globals. Tests pass fakes, so time, network and page events are deterministic.
 * @typedef {object} Environment
 * @property {() => number} [now] Monotonic milliseconds (performance.now) for durations.
 * @property {() => number} [wallNow] Epoch milliseconds (Date.now) for `event_time`.
 * @property {(fn: () => void, ms: number) => unknown} [setTimeout]
 * @property {(handle: unknown) => void} [clearTimeout]
 * @property {FetchLike | null} [fetch]
 * @property {((url: string, data: string) => boolean) | null} [sendBeacon]
 * @property {DocumentLike | null} [document] For `visibilityState` and `visibilitychange`.
 * @property {EventTargetLike | null} [window] For `pagehide`.
 * @property {() => string} [randomUUID]
 * @property {() => number} [random] In [0, 1), for retry jitter.
 * @property {StorageLike | null} [storage] Where the persistent user id is kept (localStorage).
 */

/**
 * @typedef {object} ResolvedEnvironment
 * @property {() => number} now
 * @property {() => number} wallNow
 * @property {(fn: () => void, ms: number) => unknown} setTimeout
 * @property {(handle: unknown) => void} clearTimeout
 * @property {FetchLike | null} fetch
 * @property {((url: string, data: string) => boolean) | null} sendBeacon
 * @property {DocumentLike | null} document
 * @property {EventTargetLike | null} window
 * @property {() => string} randomUUID
 * @property {() => number} random
 * @property {StorageLike | null} storage
 */

/**
 * @typedef {(url: string, init: {method: string, body: string, headers: Record<string, string>,
 *   keepalive?: boolean, credentials?: 'omit' | 'same-origin' | 'include'}) => Promise<ResponseLike>} FetchLike
 */

/**
 * @typedef {object} ResponseLike
 * @property {number} status
 * @property {{get(name: string): string | null}} [headers]
 * @property {() => Promise<string>} [text]
 */

/**
 * @typedef {object} EventTargetLike
 * @property {(type: string, listener: (event: any) => void) => void} addEventListener
 * @property {(type: string, listener: (event: any) => void) => void} removeEventListener
 */

/**
 * `URL` and `referrer` give `page_url` and `referrer_host`.
 * @typedef {EventTargetLike & {visibilityState?: string, URL?: string, referrer?: string}} DocumentLike
 */

/**
 * @typedef {object} StorageLike
 * @property {(key: string) => string | null} getItem
 * @property {(key: string, value: string) => void} setItem
 * @property {(key: string) => void} [removeItem]
 */

/**
 * What the SDK uses of an Amazon IVS web player (`IVSPlayer.create()`); checked against the
 * package's own `Player` type by `test/unit/ivs-player-type.check.js` under `npm run typecheck`.
 * @typedef {object} IvsPlayerLike
 * @property {(name: any, fn: (payload: any) => void) => void} addEventListener
 * @property {(name: any, fn: (payload: any) => void) => void} removeEventListener
 * @property {() => IvsQuality} getQuality
 * @property {() => number} getLiveLatency
 * @property {() => string | undefined} getSessionId
 * @property {() => number} getPosition
 * @property {() => number} getBufferDuration
 * @property {() => string} getVersion
 * @property {() => string} getState
 * @property {() => number} getDuration
 * @property {() => boolean} isPaused
 * @property {() => boolean} isAutoplay
 * @property {() => HTMLVideoElement} [getHTMLVideoElement]
 * @property {() => number} [getBandwidthEstimate] Bits per second (at run time since 1.x; not in
 *   the package's `.d.ts`).
 * @property {(...args: any[]) => void} load
 * @property {() => void} play
 * @property {(time: number) => void} seekTo
 * @property {() => void} [delete]
 */

/**
 * What the SDK reads of an hls.js instance (`new Hls()`), when the page passes it to
 * `monitor.attach(video, {hls})`: whether the playlist is live, hls.js's latency and bandwidth
 * estimates, and its class's static `version` (through `constructor`).
 * @typedef {object} HlsLike
 * @property {number} [bandwidthEstimate] Bits per second.
 * @property {number} [latency] Seconds behind the live edge (hls.js `hls.latency`).
 * @property {{live?: boolean} | null} [latestLevelDetails] hls.js ≥ 1.6.
 * @property {{details?: {live?: boolean}}[]} [levels]
 * @property {number} [currentLevel]
 */

/**
 * @typedef {object} IvsQuality
 * @property {string} name
 * @property {number} bitrate
 * @property {number} height
 * @property {number} [width]
 * @property {string} [codecs]
 */

/**
 * A rendition as the monitor tracks it (from IVS `getQuality()`, hls.js levels, or videoHeight).
 * @typedef {object} Quality
 * @property {string} [name]
 * @property {number} [bitrate] Bits per second.
 * @property {number} [height]
 */

/**
 * A player error as adapters (or the app, through `monitor.reportError`) report it.
 * @typedef {object} PlayerErrorInfo
 * @property {string | number} [code]
 * @property {string} [type]
 * @property {string} [message]
 * @property {boolean} fatal
 */

/**
 * What the monitor asks of the attached player while a session lives (all optional).
 * @typedef {object} PlayerProbe
 * @property {() => number | undefined} [position] Seconds.
 * @property {() => boolean | undefined} [isLive]
 * @property {() => number | undefined} [liveLatencyMs]
 * @property {() => Quality | undefined} [quality]
 * @property {() => number | undefined} [droppedFrames] Cumulative count since the source loaded.
 * @property {() => string | undefined} [playerVersion]
 * @property {() => number | undefined} [bandwidthEstimateBps] The player's ABR estimate.
 * @property {() => string | undefined} [playerSessionId]
 * @property {() => number | undefined} [bufferDurationMs]
 * @property {() => string | undefined} [source] The URL being played, for the default channel.
 */

/**
 * The normalised signals an adapter feeds the monitor.
 * @typedef {object} MonitorSignals
 * @property {(info?: {autoplay?: boolean}) => void} intent Play intent (click, play(), autoplay load).
 * @property {() => void} firstFrameOrPlaying Playback is rendering (first frame or resumed).
 * @property {() => void} waiting Playback stopped for lack of data.
 * @property {() => void} pause
 * @property {() => void} seeking
 * @property {() => void} seeked
 * @property {() => void} ended
 * @property {(error: PlayerErrorInfo) => void} error
 * @property {(quality: Quality) => void} quality
 * @property {(reason: string) => void} newContent The source changed: the open session ends.
 * @property {() => void} joinPlaying Attached to a player that is already playing.
 * @property {() => void} blocked The browser refused to start playback (autoplay policy): the
 *   wait for the viewer's click is not startup.
 * @property {(reason: string) => void} playerGone The player was destroyed (IVS `delete()`):
 *   the session ends and the monitor detaches.
 * @property {() => boolean} hasOpenSession
 * @property {() => string | null} openSessionId
 */

/**
 * @typedef {object} Adapter
 * @property {'ivs' | 'video'} kind
 * @property {PlayerProbe} probe
 * @property {() => void} syncInitialState Report a playback already under way at attach time.
 * @property {() => void} detach Removes listeners and restores anything the adapter wrapped.
 */

/**
 * One event as the SDK emits it (the v1 contract; see shared/schemas/events.schema.json).
 * @typedef {{metric_type: MetricType, session_id: string, event_id: string, event_time: number,
 *   [field: string]: unknown}} QosEvent
 */

/** @typedef {'ATTEMPT' | 'PLAY' | 'PLAYBACK_SUMMARY' | 'QUALITY_CHANGED' | 'STOP' | 'ERROR'} MetricType */

/** @typedef {'idle' | 'starting' | 'playing' | 'paused' | 'stalled' | 'seeking' | 'ended' | 'failed'} Phase */

export {};
