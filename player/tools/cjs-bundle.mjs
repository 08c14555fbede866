// A minimal CommonJS bundler, just enough to serve the `amazon-ivs-player` npm package to a browser
// without a build step or a CDN: the package's dist/index.js is CommonJS that `require`s a dozen
// modules (babel helpers, lodash, bowser, node's `events` and `util`). Each file reachable from the
// entry is wrapped in a function; node's own resolver finds the files; node built-ins get the small
// browser shims below. The result is one classic script that sets `globalThis[globalName]`.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// `events`: the IVS player only uses EventEmitter's on / removeListener / emit / listeners.
const EVENTS_SHIM = `
function EventEmitter() { this._events = Object.create(null); }
EventEmitter.prototype.on = EventEmitter.prototype.addListener = function (name, fn) {
  (this._events[name] = this._events[name] || []).push(fn); return this; };
EventEmitter.prototype.once = function (name, fn) {
  var self = this; function once() { self.removeListener(name, once); fn.apply(this, arguments); }
  once.listener = fn; return this.on(name, once); };
EventEmitter.prototype.off = EventEmitter.prototype.removeListener = function (name, fn) {
  var list = this._events[name]; if (!list) return this;
  this._events[name] = list.filter(function (l) { return l !== fn && l.listener !== fn; }); return this; };
EventEmitter.prototype.removeAllListeners = function (name) {
  if (name === undefined) this._events = Object.create(null); else delete this._events[name]; return this; };
EventEmitter.prototype.emit = function (name) {
  var list = (this._events[name] || []).slice(); var args = Array.prototype.slice.call(arguments, 1);
  for (var i = 0; i < list.length; i++) list[i].apply(this, args); return list.length > 0; };
EventEmitter.prototype.listeners = function (name) { return (this._events[name] || []).slice(); };
EventEmitter.prototype.listenerCount = function (name) { return (this._events[name] || []).length; };
EventEmitter.prototype.setMaxListeners = function () { return this; };
EventEmitter.EventEmitter = EventEmitter;
module.exports = EventEmitter;
`;

const BUILTIN_SHIMS = { events: EVENTS_SHIM, util: 'module.exports = {};' };

const REQUIRE_CALL = /\brequire\(\s*(["'])([^"']+)\1\s*\)/g;

/** Bundle `entry` (a package specifier resolved from `baseDir`) into one browser script. */
export function bundleCommonJs(entry, { baseDir, globalName }) {
  const modules = new Map(); // id -> { code, deps: {specifier: id} }
  const ids = new Map(); // absolute file or shim name -> id
  const idOf = (key) => {
    if (!ids.has(key)) ids.set(key, ids.size);
    return ids.get(key);
  };
  const visit = (key, code, fromDir) => {
    const id = idOf(key);
    if (modules.has(id)) return id;
    const deps = {};
    modules.set(id, { code, deps });
    for (const match of code.matchAll(REQUIRE_CALL)) {
      const specifier = match[2];
      if (specifier in deps) continue;
      if (Object.hasOwn(BUILTIN_SHIMS, specifier)) {
        deps[specifier] = visit(`shim:${specifier}`, BUILTIN_SHIMS[specifier], null);
        continue;
      }
      let file;
      try {
        file = createRequire(path.join(fromDir ?? baseDir, 'index.js')).resolve(specifier);
      } catch {
        continue; // a require inside a guarded branch (e.g. lodash probing node's util)
      }
      if (!path.isAbsolute(file)) continue; // another node built-in: left unresolved
      deps[specifier] = visit(file, readFileSync(file, 'utf8'), path.dirname(file));
    }
    return id;
  };
  const entryFile = createRequire(path.join(baseDir, 'index.js')).resolve(entry);
  const entryId = visit(entryFile, readFileSync(entryFile, 'utf8'), path.dirname(entryFile));
  const parts = [...modules.entries()].map(
    ([id, { code, deps }]) =>
      `${id}: [function (module, exports, require) {\n${code}\n}, ${JSON.stringify(deps)}]`,
  );
  return `(function () {
var defs = {\n${parts.join(',\n')}\n};
var cache = {};
var process = globalThis.process || { env: { NODE_ENV: 'production' } };
function load(id) {
  if (cache[id]) return cache[id].exports;
  var module = cache[id] = { exports: {} };
  var def = defs[id];
  def[0].call(module.exports, module, module.exports, function (name) {
    if (!(name in def[1])) throw new Error('cjs-bundle: cannot require ' + name);
    return load(def[1][name]);
  });
  return module.exports;
}
globalThis[${JSON.stringify(globalName)}] = load(${entryId});
})();
`;
}
