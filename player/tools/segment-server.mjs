#!/usr/bin/env node
// A scriptable HLS segment server (node's http, no framework): serves the test stream, the demo
// page, the SDK (player/src) and hls.js, and lets a test delay or fail chosen segments, pin a
// rendition and read a timestamped log of every request.
//
//   node tools/segment-server.mjs [--host 127.0.0.1] [--port 8790|0] [--port-fallback]
//                                 [--stream-dir DIR | --make-stream] [--ingest-url URL]
//
// Prints `listening on http://HOST:PORT` once it accepts connections. Routes:
//   GET  /                      -> redirect to /demo/
//   GET  /demo/...              the demo page (player/demo); /demo/config.json: its defaults
//   GET  /src/...               the SDK sources (player/src)
//   GET  /vendor/hls/...        hls.js (player/node_modules/hls.js/dist)
//   GET  /vendor/amazon-ivs-player.js   the IVS web player as one classic script (global IVSPlayer),
//        /vendor/amazon-ivs-player/assets/...  and its wasm worker (only when the package is installed)
//   GET  /stream/master.m3u8    VOD master playlist (filtered while a rendition is pinned)
//   GET  /stream/<r>/index.m3u8, /stream/<r>/seg_NNN.ts
//   GET  /live/master.m3u8, /live/<r>/index.m3u8   the same segments as a growing EVENT playlist
//   Control (JSON bodies; every answer is JSON):
//   POST /control/delay   {segment, rendition?="*", ms, times?=1}      delay a segment's response
//   POST /control/fail    {segment, rendition?="*", status?=404, times?=1}
//   POST /control/rules   {match: {kind?, rendition?, segment?}, delayMs?, status?, times?}
//   POST /control/pin     {rendition|null}   master playlists list only that rendition
//   POST /control/force   {rendition|null}   every segment request is answered from that rendition
//   POST /control/live    {}                 restart the live clock (the EVENT playlist's edge)
//   POST /control/reset   {}                 clear rules, pin, force and the request log
//   GET  /control/log?since=SEQ   requests: {seq, at, path, kind, rendition, segment, status,
//                                 delayMs, rule, doneAt, bytes}; `at`/`doneAt` are epoch ms
//   GET  /control/state, GET /control/stream (the stream's description)

import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { parseArgs } from './args.mjs';
import { bundleCommonJs } from './cjs-bundle.mjs';
import { abortStreamMaking, ensureStream, findFfmpeg } from './make-stream.mjs';

const PLAYER_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.ts': 'video/mp2t',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

const LIVE_WINDOW_START_SEGMENTS = 3; // how many segments the live playlist holds when it starts

/** The mutable state a test scripts: rules, pin/force, the live clock and the request log. */
export class StreamControl {
  constructor() {
    this.reset();
  }

  reset() {
    this.rules = [];
    this.pinned = null;
    this.forced = null;
    this.log = [];
    this.seq = 0;
    this.nextRuleId = 1;
    this.liveStartedAt = null;
  }

  addRule({ match = {}, delayMs = 0, status = null, times = 1 } = {}) {
    const rule = {
      id: this.nextRuleId++,
      match: {
        kind: match.kind ?? 'segment',
        rendition: match.rendition ?? '*',
        segment: match.segment ?? '*',
      },
      delayMs: Number(delayMs) || 0,
      status: status == null ? null : Number(status),
      times: times == null || times === 0 ? null : Number(times), // null: every time
      hits: 0,
    };
    if (rule.delayMs < 0 || rule.delayMs > 120_000) throw new RangeError('delayMs must be 0..120000');
    if (rule.status != null && !(rule.status >= 400 && rule.status <= 599)) {
      throw new RangeError('status must be a 4xx or 5xx code');
    }
    this.rules.push(rule);
    return rule;
  }

  /** The first live rule matching the request, counted as used. */
  take(request) {
    for (const rule of this.rules) {
      if (rule.times != null && rule.hits >= rule.times) continue;
      const { kind, rendition, segment } = rule.match;
      if (kind !== '*' && kind !== request.kind) continue;
      if (rendition !== '*' && rendition !== request.rendition) continue;
      if (segment !== '*' && Number(segment) !== request.segment) continue;
      rule.hits += 1;
      return rule;
    }
    return null;
  }

  record(entry) {
    const row = { seq: ++this.seq, at: Date.now(), ...entry };
    this.log.push(row);
    if (this.log.length > 20_000) this.log.splice(0, this.log.length - 10_000);
    return row;
  }

  state() {
    return { pinned: this.pinned, forced: this.forced, rules: this.rules, requests: this.seq };
  }
}

/** Start the server; resolves to `{ url, server, control, stream, close() }`. */
export async function startSegmentServer(options = {}) {
  const host = options.host ?? '127.0.0.1';
  const control = new StreamControl();
  const context = {
    control,
    stream: null,
    streamDir: options.streamDir ? path.resolve(options.streamDir) : null,
    ingestUrl: options.ingestUrl ?? null,
    channel: options.channel ?? 'local-test-stream',
    playerDir: options.playerDir ?? PLAYER_DIR,
    log: options.log ?? (() => {}),
  };
  if (context.streamDir) context.stream = loadStream(context.streamDir);

  const server = http.createServer((req, res) => {
    handle(context, req, res).catch((error) => {
      context.log(`error on ${req.url}: ${error.stack || error}`);
      if (!res.headersSent) sendJson(res, 500, { error: String(error.message || error) });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  const port = await listen(server, host, options.port ?? 0, options.portFallback ?? false);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const result = {
    url,
    server,
    control,
    get stream() {
      return context.stream;
    },
    /** Serve a stream made later (e.g. by ensureStream in the background). */
    setStream(dir) {
      context.streamDir = path.resolve(dir);
      context.stream = loadStream(context.streamDir);
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
    },
  };
  return result;
}

function listen(server, host, port, fallback) {
  return new Promise((resolve, reject) => {
    const onError = (error) => {
      if (fallback && error.code === 'EADDRINUSE' && port !== 0) {
        server.listen(0, host);
        return;
      }
      reject(error);
    };
    server.once('error', onError);
    server.once('listening', () => {
      server.off('error', onError);
      resolve(server.address().port);
    });
    server.listen(port, host);
  });
}

function loadStream(dir) {
  const descriptionPath = path.join(dir, 'stream.json');
  if (!existsSync(descriptionPath)) throw new Error(`${dir} holds no stream.json (run tools/make-stream.mjs)`);
  return { ...JSON.parse(readFileSync(descriptionPath, 'utf8')), dir };
}

async function handle(context, req, res) {
  const url = new URL(req.url, 'http://localhost');
  const pathname = decodeURIComponent(url.pathname);
  res.setHeader('Cache-Control', 'no-store');
  if (pathname.startsWith('/control/')) return handleControl(context, req, res, url);
  if (req.method === 'OPTIONS') {
    res.writeHead(204, corsHeaders());
    return res.end();
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'GET only' });
  if (pathname === '/' || pathname === '/demo') {
    res.writeHead(302, { Location: `/demo/${url.search}` });
    return res.end();
  }
  if (pathname === '/demo/config.json') return sendJson(res, 200, demoConfig(context));
  if (pathname === '/healthz') return sendJson(res, 200, { status: 'ok', stream: Boolean(context.stream) });
  if (pathname === '/vendor/amazon-ivs-player.js') return sendIvsBundle(context, res);
  const mounts = [
    ['/demo/', path.join(context.playerDir, 'demo')],
    ['/src/', path.join(context.playerDir, 'src')],
    ['/vendor/hls/', path.join(context.playerDir, 'node_modules', 'hls.js', 'dist')],
    ['/vendor/amazon-ivs-player/', path.join(context.playerDir, 'node_modules', 'amazon-ivs-player', 'dist')],
  ];
  for (const [prefix, root] of mounts) {
    if (pathname.startsWith(prefix)) {
      const rest = pathname.slice(prefix.length) || 'index.html';
      return sendFile(req, res, safeJoin(root, rest));
    }
  }
  if (pathname.startsWith('/stream/') || pathname.startsWith('/live/')) return handleStream(context, req, res, pathname);
  return sendJson(res, 404, { error: `no route ${req.method} ${pathname}` });
}

function sendIvsBundle(context, res) {
  if (context.ivsBundle == null) {
    try {
      context.ivsBundle = bundleCommonJs('amazon-ivs-player', { baseDir: context.playerDir, globalName: 'IVSPlayer' });
    } catch (error) {
      return sendJson(res, 404, { error: `amazon-ivs-player is not installed (${error.message})` });
    }
  }
  return sendText(res, 200, context.ivsBundle, CONTENT_TYPES['.js']);
}

function demoConfig(context) {
  return {
    endpoint: context.ingestUrl ? `${context.ingestUrl.replace(/\/$/, '')}/v1/events` : null,
    src: context.stream ? '/stream/master.m3u8' : null,
    liveSrc: context.stream ? '/live/master.m3u8' : null,
    channel: context.channel,
  };
}

async function handleStream(context, req, res, pathname) {
  const live = pathname.startsWith('/live/');
  const rest = pathname.slice(live ? '/live/'.length : '/stream/'.length);
  const request = classify(rest);
  const { control } = context;
  const entry = control.record({ path: pathname, ...request, status: null, delayMs: 0, rule: null });
  if (!context.stream) {
    entry.status = 503;
    entry.doneAt = Date.now();
    return sendJson(res, 503, { error: 'no test stream yet (ffmpeg missing, or still being made)' });
  }
  const rule = control.take(request);
  if (rule) {
    entry.rule = rule.id;
    entry.delayMs = rule.delayMs;
    if (rule.delayMs > 0) {
      const aborted = await sleepUnlessClosed(req, res, rule.delayMs);
      if (aborted) {
        entry.status = 'aborted';
        entry.doneAt = Date.now();
        return undefined;
      }
    }
    if (rule.status != null) {
      entry.status = rule.status;
      entry.doneAt = Date.now();
      return sendJson(res, rule.status, { error: `injected ${rule.status} by rule ${rule.id}` });
    }
  }
  const finish = (status, bytes) => {
    entry.status = status;
    entry.bytes = bytes;
    entry.doneAt = Date.now();
  };
  const dir = context.stream.dir;
  if (request.kind === 'master') {
    const body = masterPlaylist(context.stream, control.pinned);
    finish(200, Buffer.byteLength(body));
    return sendText(res, 200, body, CONTENT_TYPES['.m3u8']);
  }
  if (request.kind === 'playlist' && live) {
    const body = livePlaylist(context.stream, request.rendition, control);
    if (body == null) {
      finish(404, 0);
      return sendJson(res, 404, { error: `no rendition ${request.rendition}` });
    }
    finish(200, Buffer.byteLength(body));
    return sendText(res, 200, body, CONTENT_TYPES['.m3u8']);
  }
  let file = rest;
  if (request.kind === 'segment' && control.forced && request.rendition !== control.forced) {
    file = `${control.forced}/${path.basename(rest)}`;
    entry.servedFrom = control.forced;
  }
  const status = await sendFile(req, res, safeJoin(dir, file));
  finish(status, status === 200 ? res.getHeader('Content-Length') : 0);
  return undefined;
}

/** `master.m3u8` -> master; `<r>/index.m3u8` -> playlist; `<r>/seg_NNN.ts` -> segment. */
function classify(rest) {
  if (rest === 'master.m3u8') return { kind: 'master', rendition: null, segment: null };
  const m = rest.match(/^([^/]+)\/(?:(index\.m3u8)|seg_(\d+)\.ts)$/);
  if (!m) return { kind: 'other', rendition: null, segment: null };
  if (m[2]) return { kind: 'playlist', rendition: m[1], segment: null };
  return { kind: 'segment', rendition: m[1], segment: Number(m[3]) };
}

function masterPlaylist(stream, pinned) {
  const text = readFileSync(path.join(stream.dir, stream.master), 'utf8');
  if (!pinned) return text;
  // Keep the header and the one variant whose URI is the pinned rendition's playlist.
  const lines = text.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i += 1) {
    if (lines[i].startsWith('#EXT-X-STREAM-INF')) {
      if (lines[i + 1] === `${pinned}/index.m3u8`) out.push(lines[i], lines[i + 1]);
      i += 1;
    } else if (lines[i].trim() !== '') {
      out.push(lines[i]);
    }
  }
  return `${out.join('\n')}\n`;
}

/** A growing EVENT playlist over the VOD segments: the edge advances in real time. */
function livePlaylist(stream, renditionName, control) {
  const rendition = stream.renditions.find((r) => r.name === renditionName);
  if (!rendition) return null;
  if (control.liveStartedAt == null) control.liveStartedAt = Date.now();
  const segmentMs = stream.params.segmentS * 1000;
  const elapsed = Date.now() - control.liveStartedAt;
  const available = Math.min(
    rendition.segments.length,
    LIVE_WINDOW_START_SEGMENTS + Math.floor(elapsed / segmentMs),
  );
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:6',
    `#EXT-X-TARGETDURATION:${Math.ceil(Math.max(...rendition.segmentDurations))}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:EVENT',
    '#EXT-X-INDEPENDENT-SEGMENTS',
  ];
  for (let i = 0; i < available; i += 1) {
    lines.push(`#EXTINF:${rendition.segmentDurations[i].toFixed(6)},`, rendition.segments[i]);
  }
  if (available === rendition.segments.length) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

async function handleControl(context, req, res, url) {
  const { control } = context;
  const route = `${req.method} ${url.pathname}`;
  if (req.method === 'OPTIONS') {
    res.writeHead(204, corsHeaders());
    return res.end();
  }
  let body = {};
  if (req.method === 'POST') {
    const raw = await readBody(req);
    try {
      body = raw.length ? JSON.parse(raw) : {};
    } catch {
      return sendJson(res, 400, { error: 'the body is not JSON' });
    }
  }
  try {
    switch (route) {
      case 'GET /control/state':
        return sendJson(res, 200, control.state());
      case 'GET /control/stream':
        return sendJson(res, context.stream ? 200 : 404, context.stream ?? { error: 'no stream' });
      case 'GET /control/log': {
        const since = Number(url.searchParams.get('since') || 0);
        return sendJson(res, 200, { requests: control.log.filter((r) => r.seq > since), now: Date.now() });
      }
      case 'POST /control/reset':
        control.reset();
        return sendJson(res, 200, { ok: true });
      case 'POST /control/delay':
        return sendJson(res, 200, control.addRule({
          match: { kind: 'segment', rendition: body.rendition, segment: body.segment },
          delayMs: body.ms ?? body.delayMs,
          times: body.times ?? 1,
        }));
      case 'POST /control/fail':
        return sendJson(res, 200, control.addRule({
          match: { kind: body.kind ?? 'segment', rendition: body.rendition, segment: body.segment },
          status: body.status ?? 404,
          times: body.times ?? 1,
        }));
      case 'POST /control/rules':
        return sendJson(res, 200, control.addRule(body));
      case 'POST /control/pin':
        control.pinned = checkRendition(context, body.rendition);
        return sendJson(res, 200, control.state());
      case 'POST /control/force':
        control.forced = checkRendition(context, body.rendition);
        return sendJson(res, 200, control.state());
      case 'POST /control/live':
        control.liveStartedAt = null;
        return sendJson(res, 200, { ok: true });
      default:
        return sendJson(res, 404, { error: `no route ${route}` });
    }
  } catch (error) {
    return sendJson(res, 400, { error: error.message });
  }
}

function checkRendition(context, name) {
  if (name == null) return null;
  const names = context.stream?.renditions.map((r) => r.name) ?? [];
  if (!names.includes(name)) throw new RangeError(`no rendition ${name}; have ${names.join(', ') || 'none'}`);
  return name;
}

function corsHeaders() {
  return {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
    'Access-Control-Allow-Headers': 'Content-Type',
  };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > 64 * 1024) {
        reject(new Error('control body too large'));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Wait `ms`; resolves true when the client went away meanwhile. */
function sleepUnlessClosed(req, res, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(false);
    }, ms);
    const onClose = () => {
      clearTimeout(timer);
      resolve(true);
    };
    res.once('close', onClose);
  });
}

function safeJoin(root, rest) {
  const file = path.resolve(root, `.${path.posix.normalize(`/${rest}`)}`);
  return file === root || file.startsWith(root + path.sep) ? file : null;
}

function sendFile(req, res, file) {
  return new Promise((resolve) => {
    let stat = null;
    try {
      stat = file ? statSync(file) : null;
      if (stat?.isDirectory()) {
        file = path.join(file, 'index.html');
        stat = statSync(file);
      }
    } catch {
      stat = null;
    }
    if (!stat?.isFile()) {
      sendJson(res, 404, { error: 'not found' });
      resolve(404);
      return;
    }
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Length': stat.size,
      'Access-Control-Allow-Origin': '*',
    });
    if (req.method === 'HEAD') {
      res.end();
      resolve(200);
      return;
    }
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    res.on('close', () => resolve(200));
    stream.pipe(res);
  });
}

function sendText(res, status, text, type) {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text), 'Access-Control-Allow-Origin': '*' });
  res.end(text);
}

function sendJson(res, status, body) {
  sendText(res, status, JSON.stringify(body), 'application/json');
}

function parseServerArgs(argv) {
  return parseArgs(argv, {
    prog: 'segment-server.mjs',
    usage: '[--host H] [--port P] [--port-fallback] [--stream-dir DIR | --make-stream] [--ingest-url URL] [--channel NAME]',
    table: {
      '--host': ['host'],
      '--port': ['port', Number],
      '--port-fallback': ['portFallback', () => true, false],
      '--stream-dir': ['streamDir'],
      '--make-stream': ['makeStream', () => true, false],
      '--ingest-url': ['ingestUrl'],
      '--channel': ['channel'],
    },
    options: { port: 8790 },
  });
}

async function main() {
  const options = parseServerArgs(process.argv.slice(2));
  const served = await startSegmentServer({ ...options, log: (line) => console.error(line) });
  const demo = `${served.url}/demo/`;
  console.log(`segment-server listening on ${served.url} (demo ${demo})`);
  if (!existsSync(path.join(PLAYER_DIR, 'node_modules', 'hls.js'))) {
    console.log('segment-server: hls.js is not installed; run `npm install` in player/ for the demo');
  }
  if (options.makeStream && !served.stream) {
    // Made in the background: the server is ready at once and serves the stream when it exists.
    if (!findFfmpeg()) {
      console.log('segment-server: no ffmpeg, so no test stream (the demo still plays ?src=URL or ?ivs=URL)');
    } else {
      const started = Date.now();
      ensureStream({ nice: 10 }).then(
        (stream) => {
          served.setStream(stream.dir);
          const how = stream.cached ? 'cached' : `made in ${((Date.now() - started) / 1000).toFixed(1)} s`;
          console.log(`segment-server: test stream ready at ${served.url}/stream/master.m3u8 (${how})`);
        },
        (error) => console.log(`segment-server: could not make the test stream: ${error.message}`),
      );
    }
  }
  const stop = () => {
    setTimeout(() => process.exit(0), 3_000).unref();
    // An unfinished stream is dropped (its temporary directory removed), not left half-made.
    Promise.all([abortStreamMaking(), served.close()])
      .then(() => new Promise((resolve) => setTimeout(resolve, 50)))
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`segment-server: cannot start: ${error.message}`);
    process.exit(2);
  });
}
