/**
 * What `npm pack` makes is what a site installs: the tarball, unpacked into a temporary folder and
 * served by a plain HTTP server, loads in headless Chromium both ways the README shows (ESM
 * through the package's `exports`, and the `<script>` bundle's `QosPlayer` global), and the SDK
 * posts a valid event to the server's `/v1/events`. The declarations in the tarball compile a
 * TypeScript consumer.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import Ajv2020 from 'ajv/dist/2020.js';
import { chromium } from 'playwright-core';

import { CHROMIUM_FLAGS, chromiumExecutable } from '../browser/harness.mjs';

const PLAYER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE_PACKAGE = JSON.parse(readFileSync(path.join(PLAYER, 'package.json'), 'utf8'));
const schema = JSON.parse(readFileSync(path.join(PLAYER, '..', 'shared', 'schemas', 'events.schema.json'), 'utf8'));
const validateBody = new Ajv2020({ strict: false, allErrors: true }).compile(schema);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json', '.json': 'application/json' };

/** @type {string} */ let work;
/** @type {string} */ let pkgDir;
/** @type {any} */ let pkg;
/** @type {string[]} */ let tarballFiles;
/** @type {http.Server} */ let server;
/** @type {string} */ let origin;
/** @type {import('playwright-core').Browser} */ let browser;
/** @type {{path: string, body: any}[]} */ const posts = [];

/** A page of the site: the SDK from the unpacked package, a monitor on a <video>, one play(). */
function page(title, loader, api) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>${loader}</head>
<body><video id="v" muted playsinline></video>
<script type="module">
  const { createQosMonitor, SDK_VERSION } = ${api};
  const video = document.getElementById('v');
  const monitor = createQosMonitor({ endpoint: location.origin + '/v1/events', channel: '${title}' });
  monitor.attach(video);
  video.play().catch(() => {}); // no source: the play intent is enough for an ATTEMPT
  await monitor.flush();
  window.qosResult = { version: SDK_VERSION, delivery: monitor.state.delivery };
</script></body></html>`;
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'qos-pack-'));
  // prepack builds dist/ first: the tarball is what `npm publish` would upload.
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work, '--loglevel=error'], { cwd: PLAYER, encoding: 'utf8' });
  const [packed] = JSON.parse(out.slice(out.indexOf('[')));
  tarballFiles = packed.files.map((/** @type {{path: string}} */ f) => f.path);
  const site = path.join(work, 'site');
  pkgDir = path.join(site, 'node_modules', '@qos', 'player-sdk');
  mkdirSync(pkgDir, { recursive: true });
  execFileSync('tar', ['-xzf', path.join(work, packed.filename), '-C', pkgDir, '--strip-components=1']);
  pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const esm = pkg.exports['.'].import;
  const bundle = pkg.exports['./bundle'];
  const base = '/node_modules/@qos/player-sdk/';
  const importMap = JSON.stringify({ imports: { '@qos/player-sdk': base + esm.replace(/^\.\//, '') } });
  writeFileSync(path.join(site, 'esm.html'), page('esm', `<script type="importmap">${importMap}</script>`, "await import('@qos/player-sdk')"));
  writeFileSync(path.join(site, 'script.html'), page('script', `<script src="${base}${bundle.replace(/^\.\//, '')}"></script>`, 'window.QosPlayer'));

  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/v1/events') {
      let text = '';
      req.on('data', (chunk) => (text += chunk));
      req.on('end', () => {
        const body = JSON.parse(text);
        posts.push({ path: url.pathname, body });
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ accepted: body.events.length, rejected: [], failed: [] }));
      });
      return;
    }
    const file = path.join(site, path.normalize(decodeURIComponent(url.pathname)));
    if (!file.startsWith(site)) return void res.writeHead(403).end();
    try {
      const data = readFileSync(file);
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
      res.end(data);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  origin = `http://127.0.0.1:${address.port}`;
  browser = await chromium.launch({ executablePath: chromiumExecutable(), args: CHROMIUM_FLAGS, headless: true });
});

after(async () => {
  await browser?.close().catch(() => {});
  await new Promise((resolve) => (server ? server.close(() => resolve(undefined)) : resolve(undefined)));
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  test('the tarball holds the built package, its types and its README, and no sources or tests', () => {
    for (const file of ['package.json', 'README.md', 'dist/index.js', 'dist/qos-player.min.js', 'dist/types/index.d.ts']) {
      assert.ok(tarballFiles.includes(file), `${file} is missing from the tarball`);
    }
    assert.deepEqual(tarballFiles.filter((f) => /^(src|test|tools|demo|node_modules)\//.test(f)), []);
    assert.equal(pkg.private, undefined, 'a private package cannot be published');
    assert.equal(pkg.version, SOURCE_PACKAGE.version);
    assert.equal(pkg.types, pkg.exports['.'].types);
    // Every path the manifest names is in the tarball.
    const named = [pkg.main, pkg.types, pkg.unpkg, pkg.exports['.'].import, pkg.exports['.'].types, pkg.exports['./bundle']];
    for (const file of named) assert.ok(tarballFiles.includes(file.replace(/^\.\//, '')), `${file} is named but not packed`);
  });

  for (const kind of ['esm', 'script']) {
    test(`a fresh page loads the ${kind === 'esm' ? 'ESM entry through exports' : '<script> bundle'} and posts an event`, async () => {
      const context = await browser.newContext();
      const tab = await context.newPage();
      const errors = [];
      tab.on('pageerror', (error) => errors.push(String(error)));
      const before = posts.length;
      try {
        // A query string and a fragment on the page: the SDK must leave both out of page_url.
        await tab.goto(`${origin}/${kind}.html?token=secret#frag`);
        await tab.waitForFunction(() => /** @type {any} */ (window).qosResult, null, { timeout: 15_000 });
        const result = await tab.evaluate(() => /** @type {any} */ (window).qosResult);
        assert.deepEqual(errors, []);
        assert.equal(result.version, SOURCE_PACKAGE.version);
        assert.ok(result.delivery.sent >= 1, JSON.stringify(result.delivery));
      } finally {
        await context.close();
      }
      const mine = posts.slice(before).flatMap((p) => p.body.events).filter((e) => e.channel_watched === kind);
      const attempt = mine.find((e) => e.metric_type === 'ATTEMPT');
      assert.ok(attempt, `no ATTEMPT from the ${kind} page: ${JSON.stringify(mine)}`);
      for (const post of posts.slice(before)) assert.ok(validateBody(post.body), JSON.stringify(validateBody.errors));
      assert.equal(attempt.sdk_version, SOURCE_PACKAGE.version);
      assert.equal(attempt.page_url, `${origin}/${kind}.html`);
      assert.match(attempt.playback_id, UUID);
      assert.equal(attempt.player_version, undefined, 'no source, no player to name');
    });
  }

  test('the packed declarations type a TypeScript consumer (and catch a wrong option)', () => {
    const site = path.dirname(path.dirname(path.dirname(pkgDir)));
    const tsc = path.join(PLAYER, 'node_modules', 'typescript', 'bin', 'tsc');
    const options = ['--noEmit', '--strict', '--target', 'ES2022', '--module', 'ES2022', '--moduleResolution', 'bundler', '--lib', 'ES2022,DOM'];
    writeFileSync(
      path.join(site, 'good.ts'),
      `import { createQosMonitor, SDK_VERSION, type QosEvent } from '@qos/player-sdk';
const monitor = createQosMonitor({ endpoint: 'https://ingest.example/v1/events', pageUrlQuery: false,
  onEvent: (event: QosEvent) => console.log(event.metric_type, SDK_VERSION) });
monitor.attach(document.createElement('video'));
const phase: string = monitor.state.phase;
console.log(phase);
`,
    );
    execFileSync(process.execPath, [tsc, ...options, 'good.ts'], { cwd: site, encoding: 'utf8' });
    writeFileSync(path.join(site, 'bad.ts'), `import { createQosMonitor } from '@qos/player-sdk';\ncreateQosMonitor({ endpoint: 42 });\n`);
    assert.throws(
      () => execFileSync(process.execPath, [tsc, ...options, 'bad.ts'], { cwd: site, encoding: 'utf8', stdio: 'pipe' }),
      (/** @type {any} */ error) => /TS2322/.test(String(error.stdout)),
    );
  });
});
