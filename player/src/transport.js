/**
 * Delivery: a bounded in-memory queue, batching by size and time, retries with exponential backoff
 * and jitter, and a last flush by `navigator.sendBeacon` (or `fetch` keepalive) when the page goes.
 *
 * Rules:
 * - one request in flight at a time, so events arrive in order;
 * - network errors, 5xx, 408 and 429 are retried (Retry-After honoured) up to `maxRetries` times
 *   per event; other 4xx are final (the body is bad and would fail again);
 * - a 207 reply lists `rejected` indexes (bad events: never re-sent) and `failed` indexes (the
 *   sink failed: re-sent with the same event_id, which downstream deduplicates);
 * - the queue holds at most `maxQueueSize` events: on overflow the oldest is dropped and counted;
 * - every v1 body is rendered as it goes (fetch, keepalive fetch, sendBeacon; a retry too) with
 *   `sent_at`, the client clock then, which ingest compares with its own to correct a wrong clock;
 * - at page exit the browser grants one keepalive budget (64 KiB in Chromium, shared by every
 *   beacon and keepalive fetch in flight): one body within it goes, the priority events (the final
 *   summary and STOP) first; what does not fit, or what a refused beacon carried, is kept in the
 *   outbox (localStorage) and sent when the page is shown again or on the next page load. Only
 *   what the browser took is counted as `beaconed`.
 */

import { BEACON_MAX_BYTES, MAX_BODY_BYTES, MAX_EVENTS_PER_REQUEST, packBodies, renderBody } from './envelope.js';

/** @typedef {import('./types.js').ResolvedEnvironment} ResolvedEnvironment */
/** @typedef {import('./types.js').ResponseLike} ResponseLike */

/**
 * @typedef {object} TransportOptions
 * @property {string} endpoint
 * @property {ResolvedEnvironment} env
 * @property {boolean} legacy Send the original sample's Records envelope.
 * @property {string} contentType
 * @property {number} batchSize Send as soon as this many events wait.
 * @property {number} batchIntervalMs Send at most this long after the first waiting event.
 * @property {number} maxQueueSize
 * @property {number} maxRetries
 * @property {number} retryBaseMs
 * @property {number} retryMaxMs
 * @property {boolean} useBeacon
 * @property {number} beaconMaxBytes
 * @property {import('./types.js').StorageLike | null} [storage] Where the outbox is kept
 *   (localStorage); null: what does not fit the exit budget stays in memory only.
 */

/**
 * @typedef {object} DeliveryStats
 * @property {number} queued Waiting in the queue.
 * @property {number} inFlight In the request now on the wire.
 * @property {number} sent Accepted by ingest (2xx).
 * @property {number} beaconed Taken by sendBeacon (it returned true) or by a keepalive fetch at page
 *   exit; a refused beacon counts nothing.
 * @property {number} stored Written to the outbox (localStorage) for the next page load.
 * @property {number} restored Read back from the outbox (left by an earlier page, or by this one
 *   while hidden) and queued again.
 * @property {number} dropped Dropped from the full queue (oldest first).
 * @property {number} rejected Refused by ingest as invalid (4xx, or `rejected` in a 207).
 * @property {number} failed Given up after `maxRetries` retries.
 * @property {number} retries Requests re-sent after a retryable failure.
 * @property {number} requests Requests made (fetch and beacon).
 */

/**
 * @typedef {object} Entry
 * @property {object} data What goes on the wire (the event, or its legacy Data).
 * @property {number} attempts Failed attempts so far.
 * @property {boolean} [priority] Goes first at page exit (the final summary and STOP).
 */

/** At a hidden-page flush, keep this much of the keepalive budget for the exit's own events. */
export const EXIT_RESERVE_BYTES = 8 * 1024;
/** The outbox's localStorage key prefix; the endpoint follows. */
export const OUTBOX_KEY_PREFIX = 'qos_outbox:';

/** @param {number} status */
function isRetryable(status) {
  return status >= 500 || status === 408 || status === 429;
}

/** @param {string} contentType */
function isBeaconSafe(contentType) {
  // sendBeacon with a string body sends text/plain: a CORS-safelisted type, so no preflight.
  return /^text\/plain\b/i.test(contentType);
}

/** @param {TransportOptions} options */
export function createTransport(options) {
  const { endpoint, env, legacy, contentType } = options;
  const maxEvents = Math.min(options.batchSize, MAX_EVENTS_PER_REQUEST);
  /** @type {Entry[]} */
  let queue = [];
  /** @type {Entry[]} */
  let inFlight = [];
  /** @type {Promise<void> | null} */
  let current = null;
  /** @type {unknown} */
  let batchTimer = null;
  /** @type {unknown} */
  let retryTimer = null;
  let consecutiveFailures = 0;
  const stats = { sent: 0, beaconed: 0, stored: 0, restored: 0, dropped: 0, rejected: 0, failed: 0, retries: 0, requests: 0 };
  const storage = options.storage ?? null;
  const outboxKey = `${OUTBOX_KEY_PREFIX}${legacy ? 'legacy:' : ''}${endpoint}`;

  /** @param {Entry[]} entries */
  function putBack(entries) {
    const kept = [];
    for (const entry of entries) {
      entry.attempts += 1;
      if (entry.attempts > options.maxRetries) stats.failed += 1;
      else kept.push(entry);
    }
    queue = kept.concat(queue);
    trim();
    return kept.length;
  }

  function trim() {
    const excess = queue.length - options.maxQueueSize;
    if (excess > 0) {
      queue.splice(0, excess);
      stats.dropped += excess;
    }
  }

  function clearBatchTimer() {
    if (batchTimer !== null) env.clearTimeout(batchTimer);
    batchTimer = null;
  }

  /** After a retryable failure: wait base × 2^(n-1), capped, with half of it random (jitter). */
  function backoffDelay(retryAfterSec = 0) {
    const cap = Math.min(options.retryMaxMs, options.retryBaseMs * 2 ** Math.max(0, consecutiveFailures - 1));
    const delay = cap / 2 + (env.random() * cap) / 2;
    return Math.max(delay, retryAfterSec * 1000);
  }

  /** @param {number} delay */
  function scheduleRetry(delay) {
    clearBatchTimer();
    if (retryTimer !== null) env.clearTimeout(retryTimer);
    retryTimer = env.setTimeout(() => {
      retryTimer = null;
      stats.retries += 1;
      pump();
    }, delay);
  }

  function scheduleBatch() {
    if (batchTimer !== null || retryTimer !== null || current || !queue.length) return;
    batchTimer = env.setTimeout(() => {
      batchTimer = null;
      pump();
    }, options.batchIntervalMs);
  }

  /** Send the next batch if none is in flight and no retry is pending. */
  function pump() {
    if (current || retryTimer !== null || !queue.length || !env.fetch) return current ?? Promise.resolve();
    clearBatchTimer();
    const [first] = packBodies(queue, { legacy, maxBytes: MAX_BODY_BYTES, maxEvents, render: (e) => e.data });
    inFlight = first.items;
    queue = queue.slice(first.items.length);
    const request = send(first.wire, first.items).finally(() => {
      inFlight = [];
      current = null;
      if (retryTimer !== null) return;
      if (queue.length >= options.batchSize) pump();
      else scheduleBatch();
    });
    current = request;
    return request;
  }

  /**
   * The body of these wire items, stamped with the client clock now (v1).
   * @param {object[]} wire
   */
  function bodyNow(wire) {
    return renderBody(wire, legacy, legacy ? undefined : Math.round(env.wallNow()));
  }

  /**
   * @param {object[]} wire
   * @param {Entry[]} entries
   * @param {boolean} [keepalive]
   * @returns {Promise<void>}
   */
  async function send(wire, entries, keepalive = false) {
    const fetch = env.fetch;
    if (!fetch) return;
    stats.requests += 1;
    /** @type {ResponseLike} */
    let response;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        body: bodyNow(wire),
        headers: { 'Content-Type': contentType },
        keepalive,
        credentials: 'omit',
      });
    } catch {
      if (keepalive) keepaliveLost(entries);
      else retryLater(entries, 0);
      return;
    }
    const status = response.status;
    if (keepalive && (isRetryable(status) || status === 207)) {
      // The page is still here to read the reply: what did not land waits in the outbox.
      keepaliveLost(entries);
      return;
    }
    if (status === 207) {
      await partial(response, entries);
    } else if (status >= 200 && status < 300) {
      // A keepalive request at page exit was already counted as beaconed.
      if (!keepalive) stats.sent += entries.length;
      consecutiveFailures = 0;
    } else if (isRetryable(status)) {
      retryLater(entries, retryAfterSeconds(response));
    } else {
      if (keepalive) stats.beaconed -= entries.length;
      stats.rejected += entries.length;
      consecutiveFailures = 0;
    }
  }

  /**
   * A keepalive request at exit that did not land (refused by the browser's budget, a network
   * failure, a retryable reply): no longer counted as beaconed; kept in the outbox.
   * @param {Entry[]} entries
   */
  function keepaliveLost(entries) {
    stats.beaconed -= entries.length;
    store(entries);
  }

  /**
   * Keep entries in the outbox for a later page (or this one, shown again), after what is there;
   * at most `maxQueueSize` events, the oldest dropped. Without storage they go back to the queue.
   * @param {Entry[]} entries
   */
  function store(entries) {
    if (!entries.length) return;
    if (!storage) {
      // Nowhere to keep them: they stay queued, sent as usual if the page lives on.
      queue = queue.concat(entries);
      trim();
      scheduleBatch();
      return;
    }
    const kept = readOutbox(false).concat(entries.map((e) => e.data));
    const excess = Math.max(0, kept.length - options.maxQueueSize);
    try {
      storage.setItem(outboxKey, JSON.stringify(kept.slice(excess)));
      stats.stored += entries.length;
      stats.dropped += excess;
    } catch {
      // Storage full or blocked: the events are lost with the page.
      stats.dropped += entries.length;
    }
  }

  /**
   * The outbox's events (oldest first); `take` also empties it.
   * @param {boolean} take
   * @returns {object[]}
   */
  function readOutbox(take) {
    if (!storage) return [];
    try {
      const raw = storage.getItem(outboxKey);
      if (take && raw !== null) storage.removeItem?.(outboxKey);
      const parsed = raw ? JSON.parse(raw) : [];
      return Array.isArray(parsed) ? parsed.filter((d) => d && typeof d === 'object') : [];
    } catch {
      return []; // blocked storage or a corrupt value: nothing to restore
    }
  }

  /** Queue what the outbox holds, ahead of newer events, and send it. */
  function restore() {
    const data = readOutbox(true);
    if (!data.length) return;
    stats.restored += data.length;
    queue = data.map((d) => ({ data: d, attempts: 0 })).concat(queue);
    trim();
    if (retryTimer === null) void pump();
  }

  /**
   * @param {Entry[]} entries
   * @param {number} retryAfterSec
   */
  function retryLater(entries, retryAfterSec) {
    consecutiveFailures += 1;
    if (putBack(entries) > 0 || queue.length) scheduleRetry(backoffDelay(retryAfterSec));
  }

  /**
   * @param {ResponseLike} response
   * @param {Entry[]} entries
   */
  async function partial(response, entries) {
    /** @type {{rejected?: {index: number}[], failed?: {index: number}[]}} */
    let reply = {};
    try {
      reply = JSON.parse(response.text ? await response.text() : '{}') ?? {};
    } catch {
      reply = {};
    }
    const rejected = new Set((reply.rejected ?? []).map((r) => r.index));
    const again = [];
    let refused = 0;
    for (const [index, entry] of entries.entries()) {
      if (rejected.has(index)) refused += 1;
      else if ((reply.failed ?? []).some((f) => f.index === index)) again.push(entry);
    }
    stats.rejected += refused;
    stats.sent += entries.length - refused - again.length;
    if (again.length) retryLater(again, 0);
    else consecutiveFailures = 0;
  }

  /** @param {ResponseLike} response */
  function retryAfterSeconds(response) {
    const value = response.headers?.get?.('Retry-After');
    const seconds = value ? Number(value) : 0;
    return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, options.retryMaxMs / 1000) : 0;
  }

  return {
    /**
     * @param {object} data
     * @param {{priority?: boolean}} [how] `priority`: first to go at page exit.
     */
    enqueue(data, { priority = false } = {}) {
      queue.push(priority ? { data, attempts: 0, priority } : { data, attempts: 0 });
      trim();
      if (queue.length >= options.batchSize && retryTimer === null) pump();
      else scheduleBatch();
    },

    /**
     * Send everything queued now, ignoring the batch timer and any pending backoff. Resolves when the
     * queue is empty or a send failed (what failed stays queued and is retried as usual).
     * @returns {Promise<void>}
     */
    async flush() {
      if (retryTimer !== null) {
        env.clearTimeout(retryTimer);
        retryTimer = null;
      }
      while (queue.length || current) {
        if (current) {
          await current;
          continue;
        }
        if (!env.fetch) return;
        await pump();
        if (retryTimer !== null) return;
      }
    },

    /**
     * The page is hidden or going away: hand the browser, in one request that outlives the page
     * (sendBeacon, else fetch keepalive), what fits the keepalive budget, the priority events first;
     * keep the rest in the outbox. A beacon the browser refuses puts its events in the outbox too.
     * @param {{includeInFlight?: boolean, exit?: boolean}} [how] `includeInFlight`: also re-send
     *   the batch now on the wire (page exit: the browser cancels ordinary requests; event ids make
     *   a copy harmless, except in legacy mode, which has none and so never re-sends). `exit`:
     *   the page is going (pagehide), so the whole budget may be used; otherwise (hidden) a
     *   reserve is kept for the exit's own events.
     */
    flushOnExit({ includeInFlight = false, exit = includeInFlight } = {}) {
      clearBatchTimer();
      if (retryTimer !== null) {
        env.clearTimeout(retryTimer);
        retryTimer = null;
      }
      const waiting = includeInFlight && !legacy ? inFlight.concat(queue) : queue;
      queue = [];
      if (!waiting.length) return;
      const budget = Math.min(options.beaconMaxBytes, BEACON_MAX_BYTES) - (exit ? 0 : EXIT_RESERVE_BYTES);
      const limits = { legacy, maxBytes: Math.max(1024, budget), maxEvents: MAX_EVENTS_PER_REQUEST, render: (/** @type {Entry} */ e) => e.data };
      let bodies = packBodies(waiting, limits);
      if (bodies.length > 1) {
        // Not all of it fits: the priority events (final summary, STOP) take the one request.
        bodies = packBodies(waiting.filter((e) => e.priority).concat(waiting.filter((e) => !e.priority)), limits);
      }
      const [first, ...others] = bodies;
      const rest = others.flatMap((body) => body.items);
      const beacon = options.useBeacon && isBeaconSafe(contentType) ? env.sendBeacon : null;
      if (beacon) {
        let accepted = false;
        try {
          accepted = beacon(endpoint, bodyNow(first.wire));
        } catch {
          accepted = false;
        }
        if (accepted) {
          stats.requests += 1;
          stats.beaconed += first.items.length;
        } else {
          rest.unshift(...first.items); // refused (over the budget): nothing left
        }
      } else if (env.fetch) {
        stats.beaconed += first.items.length;
        void send(first.wire, first.items, true);
      } else {
        rest.unshift(...first.items);
      }
      store(rest);
    },

    /** Queue (and send) what the outbox holds: at start, and when the page is shown again. */
    restore,

    /** @returns {DeliveryStats} */
    stats() {
      return { queued: queue.length, inFlight: inFlight.length, ...stats };
    },

    /** The outbox key (per endpoint and envelope), for tests and debugging. */
    outboxKey,

    /** Stop timers; queued events stay and `flush()` can still send them. */
    close() {
      clearBatchTimer();
      if (retryTimer !== null) env.clearTimeout(retryTimer);
      retryTimer = null;
    },
  };
}
