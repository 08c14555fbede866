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
 *   `sent_at`, the client clock then, which ingest compares with its own to correct a wrong clock.
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
 */

/**
 * @typedef {object} DeliveryStats
 * @property {number} queued Waiting in the queue.
 * @property {number} inFlight In the request now on the wire.
 * @property {number} sent Accepted by ingest (2xx).
 * @property {number} beaconed Handed to sendBeacon / keepalive fetch at page exit (no reply read).
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
 */

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
  const stats = { sent: 0, beaconed: 0, dropped: 0, rejected: 0, failed: 0, retries: 0, requests: 0 };

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
      retryLater(entries, 0);
      return;
    }
    const status = response.status;
    if (status === 207) {
      await partial(response, entries);
    } else if (status >= 200 && status < 300) {
      // A keepalive request at page exit was already counted as beaconed.
      if (!keepalive) stats.sent += entries.length;
      consecutiveFailures = 0;
    } else if (isRetryable(status)) {
      retryLater(entries, retryAfterSeconds(response));
    } else {
      stats.rejected += entries.length;
      consecutiveFailures = 0;
    }
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
    /** @param {object} data */
    enqueue(data) {
      queue.push({ data, attempts: 0 });
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
     * The page is hidden or going away: hand everything queued to the browser in requests that
     * outlive the page (sendBeacon, else fetch keepalive), each body under the beacon size limit.
     * @param {{includeInFlight?: boolean}} [how] Also re-send the batch now on the wire (page exit:
     *   the browser cancels ordinary requests; event ids make a copy harmless, except in legacy
     *   mode, which has none and so never re-sends).
     */
    flushOnExit({ includeInFlight = false } = {}) {
      clearBatchTimer();
      if (retryTimer !== null) {
        env.clearTimeout(retryTimer);
        retryTimer = null;
      }
      const entries = includeInFlight && !legacy ? inFlight.concat(queue) : queue;
      queue = [];
      if (!entries.length) return;
      const bodies = packBodies(entries, {
        legacy,
        maxBytes: Math.min(options.beaconMaxBytes, BEACON_MAX_BYTES),
        maxEvents: MAX_EVENTS_PER_REQUEST, // at exit, as few requests as the size limit allows
        render: (e) => e.data,
      });
      const beacon = options.useBeacon && isBeaconSafe(contentType) ? env.sendBeacon : null;
      for (const { wire, items } of bodies) {
        let accepted = false;
        if (beacon) {
          try {
            accepted = beacon(endpoint, bodyNow(wire));
          } catch {
            accepted = false;
          }
        }
        if (accepted) {
          stats.requests += 1;
          stats.beaconed += items.length;
          continue;
        }
        if (env.fetch) {
          // The keepalive request outlives the page; if the page stays (hidden, not unloaded), a
          // retryable failure puts the events back in the queue like any other.
          stats.beaconed += items.length;
          void send(wire, items, true);
          continue;
        }
        queue = queue.concat(items);
      }
    },

    /** @returns {DeliveryStats} */
    stats() {
      return { queued: queue.length, inFlight: inFlight.length, ...stats };
    },

    /** Stop timers; queued events stay and `flush()` can still send them. */
    close() {
      clearBatchTimer();
      if (retryTimer !== null) env.clearTimeout(retryTimer);
      retryTimer = null;
    },
  };
}
