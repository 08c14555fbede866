// The segment server's control API, without a browser: what the browser tests rely on when they
// delay, fail or pin segments, and the files the demo needs.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ensureStream } from '../../tools/make-stream.mjs';
import { startSegmentServer } from '../../tools/segment-server.mjs';

let server;
let stream;

before(async () => {
  stream = await ensureStream();
  server = await startSegmentServer({ streamDir: stream.dir, ingestUrl: 'http://127.0.0.1:9/' });
}, { timeout: 180_000 });

after(async () => {
  await server?.close();
});

const get = (path) => fetch(`${server.url}${path}`);
async function control(route, body) {
  const response = await fetch(`${server.url}/control/${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

test('the stream: 3 renditions in the master playlist, 1 s segments, ~36 s', async () => {
  assert.deepEqual(stream.renditions.map((r) => r.name), ['240p', '360p', '480p']);
  assert.equal(stream.segmentCount, 36);
  const master = await (await get('/stream/master.m3u8')).text();
  for (const r of stream.renditions) {
    assert.match(master, new RegExp(`BANDWIDTH=\\d+,RESOLUTION=${r.width}x${r.height},CODECS="avc1\\.[0-9a-f]+,mp4a\\.40\\.2"\\n${r.name}/index\\.m3u8`));
  }
  const playlist = await (await get('/stream/360p/index.m3u8')).text();
  assert.match(playlist, /#EXT-X-PLAYLIST-TYPE:VOD/);
  assert.match(playlist, /#EXT-X-ENDLIST/);
  const segment = await get('/stream/360p/seg_000.ts');
  assert.equal(segment.status, 200);
  assert.equal(segment.headers.get('content-type'), 'video/mp2t');
  assert.equal((await segment.arrayBuffer()).byteLength > 1000, true);
});

test('a delay holds that segment once; the log shows when it was asked and answered', async () => {
  await control('reset', {});
  const rule = (await control('delay', { segment: 3, rendition: '240p', ms: 400 })).body;
  const started = Date.now();
  assert.equal((await get('/stream/240p/seg_003.ts')).status, 200);
  assert.ok(Date.now() - started >= 390);
  const again = Date.now();
  await (await get('/stream/240p/seg_003.ts')).arrayBuffer();
  assert.ok(Date.now() - again < 390, 'once only');
  const { requests } = (await control('log')).body;
  assert.equal(requests.length, 2);
  assert.equal(requests[0].rule, rule.id);
  assert.equal(requests[0].delayMs, 400);
  assert.ok(requests[0].doneAt - requests[0].at >= 390);
  assert.equal(requests[1].rule, null);
});

test('a failure answers the status asked; other renditions and segments are untouched', async () => {
  await control('reset', {});
  await control('fail', { segment: 5, status: 500, times: 2 });
  assert.equal((await get('/stream/480p/seg_005.ts')).status, 500);
  assert.equal((await get('/stream/360p/seg_004.ts')).status, 200);
  assert.equal((await get('/stream/360p/seg_005.ts')).status, 500);
  assert.equal((await get('/stream/360p/seg_005.ts')).status, 200);
  assert.equal((await control('fail', { segment: 1, status: 200 })).status, 400);
});

test('pin lists one rendition; force answers every segment from one', async () => {
  await control('reset', {});
  await control('pin', { rendition: '360p' });
  const master = await (await get('/stream/master.m3u8')).text();
  assert.equal((master.match(/#EXT-X-STREAM-INF/g) ?? []).length, 1);
  assert.match(master, /\n360p\/index\.m3u8/);
  assert.equal((await control('pin', { rendition: '1080p' })).status, 400);
  await control('force', { rendition: '240p' });
  const forced = await (await get('/stream/480p/seg_001.ts')).arrayBuffer();
  const small = await (await get('/stream/240p/seg_001.ts')).arrayBuffer();
  assert.equal(forced.byteLength, small.byteLength);
  await control('reset', {});
  assert.equal(((await (await get('/stream/master.m3u8')).text()).match(/#EXT-X-STREAM-INF/g) ?? []).length, 3);
});

test('the live playlist grows with time and ends with the stream', async () => {
  await control('reset', {});
  const first = await (await get('/live/240p/index.m3u8')).text();
  assert.match(first, /#EXT-X-PLAYLIST-TYPE:EVENT/);
  assert.doesNotMatch(first, /#EXT-X-ENDLIST/);
  const count = (text) => (text.match(/\.ts/g) ?? []).length;
  assert.equal(count(first), 3);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  assert.ok(count(await (await get('/live/240p/index.m3u8')).text()) >= 4);
  assert.equal((await get('/live/240p/seg_000.ts')).status, 200);
});

test('the demo, its config, the SDK and hls.js are served; nothing outside their roots', async () => {
  assert.match(await (await get('/demo/')).text(), /QoS player SDK demo/);
  assert.deepEqual(await (await get('/demo/config.json')).json(), {
    endpoint: 'http://127.0.0.1:9/v1/events',
    src: '/stream/master.m3u8',
    liveSrc: '/live/master.m3u8',
    channel: 'local-test-stream',
  });
  assert.equal((await get('/src/index.js')).status, 200);
  assert.equal((await get('/vendor/hls/hls.min.mjs')).status, 200);
  assert.equal((await get('/vendor/amazon-ivs-player.js')).status, 200);
  assert.equal((await get('/src/../package.json')).status, 404);
  assert.equal((await get('/demo/%2e%2e/package.json')).status, 404);
  assert.equal((await get('/stream/..%2f..%2fpackage.json')).status, 404);
});
