/** Resolve the injected environment: what the caller passed, else the browser's own globals. */

/** @typedef {import('./types.js').Environment} Environment */
/** @typedef {import('./types.js').ResolvedEnvironment} ResolvedEnvironment */

/**
 * @param {Environment} [env]
 * @returns {ResolvedEnvironment}
 */
export function resolveEnvironment(env = {}) {
  const g = /** @type {any} */ (globalThis);
  const perf = g.performance;
  const nav = g.navigator;
  const crypto = g.crypto;
  return {
    now: env.now ?? (perf && typeof perf.now === 'function' ? () => perf.now() : () => Date.now()),
    wallNow: env.wallNow ?? (() => Date.now()),
    setTimeout: env.setTimeout ?? ((fn, ms) => g.setTimeout(fn, ms)),
    clearTimeout: env.clearTimeout ?? ((handle) => g.clearTimeout(handle)),
    fetch: env.fetch !== undefined ? env.fetch : typeof g.fetch === 'function' ? g.fetch.bind(g) : null,
    sendBeacon:
      env.sendBeacon !== undefined
        ? env.sendBeacon
        : nav && typeof nav.sendBeacon === 'function'
          ? (url, data) => nav.sendBeacon(url, data)
          : null,
    document: env.document !== undefined ? env.document : (g.document ?? null),
    window: env.window !== undefined ? env.window : typeof g.addEventListener === 'function' ? g : null,
    randomUUID:
      env.randomUUID ??
      (crypto && typeof crypto.randomUUID === 'function' ? () => crypto.randomUUID() : fallbackUUID),
    random: env.random ?? Math.random,
    storage: env.storage !== undefined ? env.storage : safeLocalStorage(g),
  };
}

/** @param {any} g */
function safeLocalStorage(g) {
  try {
    // Reading the property throws in sandboxed iframes and with storage blocked.
    return g.localStorage ?? null;
  } catch {
    return null;
  }
}

/** An RFC 4122 version 4 layout from Math.random, for insecure contexts without crypto.randomUUID. */
function fallbackUUID() {
  return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
    const r = Math.floor(Math.random() * 16);
    return (c === 'x' ? r : (r & 0x3) | 0x8).toString(16);
  });
}
