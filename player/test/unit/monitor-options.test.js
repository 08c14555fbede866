/** Options and the public surface of createQosMonitor. */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as sdk from '../../src/index.js';
import { channelFromUrl, createQosMonitor } from '../../src/index.js';
import { attachedVideo, FakeVideo, playingVideo, setup, startVideo } from './helpers.js';

test('the entry point exports the contract others rely on', () => {
  assert.equal(typeof sdk.createQosMonitor, 'function');
  const monitor = createQosMonitor({ endpoint: null, env: { document: null, window: null, storage: null } });
  for (const method of ['attach', 'detach', 'flush', 'reportError', 'setQuality', 'endSession']) {
    assert.equal(typeof monitor[method], 'function', method);
  }
  assert.ok(monitor.flush() instanceof Promise);
  assert.equal(monitor.state.phase, 'idle');
});

test('endpoint must be a string, or null to send nothing', () => {
  assert.throws(() => createQosMonitor({}), TypeError);
  assert.throws(() => createQosMonitor(), TypeError);
  const { ctx, video } = playingVideo({ endpoint: null });
  ctx.window.pagehide();
  assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY', 'PLAYBACK_SUMMARY', 'STOP']);
  assert.equal(ctx.net.requests.length + ctx.beacon.calls.length, 0);
});

test('attach rejects what is neither an IVS player nor a media element', () => {
  const ctx = setup();
  assert.throws(() => ctx.monitor.attach({}), TypeError);
});

test('a throwing onEvent callback does not stop measurement or delivery', async () => {
  const ctx = setup({
    onEvent: () => {
      throw new Error('page bug');
    },
  });
  const video = new FakeVideo();
  ctx.monitor.attach(video);
  startVideo(ctx, video);
  await ctx.monitor.flush();
  assert.deepEqual(ctx.net.requests[0].body.events.map((e) => e.metric_type), ['ATTEMPT', 'PLAY']);
});

test('platform names are normalised like ingest does', () => {
  const { ctx, video } = attachedVideo({ platform: 'Smart-TV' });
  video.userPlay();
  assert.equal(ctx.events[0].client_platform, 'other');
});

test('attaching another player ends the first one’s session', () => {
  const ctx = setup();
  const one = new FakeVideo();
  ctx.monitor.attach(one);
  startVideo(ctx, one);
  ctx.monitor.attach(new FakeVideo());
  assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY', 'PLAYBACK_SUMMARY', 'STOP']);
});

test('channelFromUrl: the IVS channel id, else the URL without query; nothing for blob URLs', () => {
  assert.equal(
    channelFromUrl('https://a.us-east-1.playback.live-video.net/api/video/v1/us-east-1.12.channel.AbC123.m3u8?token=x'),
    'AbC123',
  );
  assert.equal(channelFromUrl('https://cdn.example/vod/a.m3u8?sig=1#t=3'), 'https://cdn.example/vod/a.m3u8');
  assert.equal(channelFromUrl('blob:https://app.example/123'), undefined);
  assert.equal(channelFromUrl(undefined), undefined);
});
