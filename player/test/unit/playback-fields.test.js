/**
 * The playback fields every event carries: playback_id, page_url, referrer_host, player_version,
 * sdk_version, and the bandwidth estimate on summaries and switches.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import { hostOf, pageUrlOf } from '../../src/monitor.js';
import { SDK_VERSION } from '../../src/version.js';
import { FakeIvsPlayer, FakeVideo, setup, startVideo } from './helpers.js';

const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
const IVS_URL = 'https://a1b2c3.us-west-2.playback.live-video.net/api/video/v1/us-west-2.1.channel.AbCdEf123456.m3u8';

/** A monitor on a fake page at `url` reached from `referrer`, attached to a fake element. */
function onPage(url, referrer, options = {}) {
  const ctx = setup(options);
  ctx.document.URL = url;
  ctx.document.referrer = referrer;
  const video = new FakeVideo();
  return { ctx, video };
}

describe('page_url and referrer_host', () => {
  test('the page URL goes without its query string, fragment or credentials by default', () => {
    const { ctx, video } = onPage('https://viewer:secret@www.example.com/watch/live?token=abc&u=42#chat', 'https://news.example.org/story?id=7');
    ctx.monitor.attach(video);
    startVideo(ctx, video);
    const attempt = ctx.last('ATTEMPT');
    assert.equal(attempt.page_url, 'https://www.example.com/watch/live');
    assert.equal(attempt.referrer_host, 'news.example.org');
    // Every event of the session has them, not only the first.
    assert.deepEqual(
      new Set(ctx.events.map((e) => `${e.page_url} ${e.referrer_host}`)),
      new Set(['https://www.example.com/watch/live news.example.org']),
    );
  });

  test('pageUrlQuery keeps the query string, never the fragment', () => {
    const { ctx, video } = onPage('https://www.example.com/watch?v=9&t=1#comments', '', { pageUrlQuery: true });
    ctx.monitor.attach(video);
    video.userPlay();
    const attempt = ctx.last('ATTEMPT');
    assert.equal(attempt.page_url, 'https://www.example.com/watch?v=9&t=1');
    assert.equal('referrer_host' in attempt, false, 'no referrer, no field');
  });

  test('the page URL is read at each session start (single-page apps change it)', () => {
    const { ctx, video } = onPage('https://app.example.com/a?x=1', '');
    ctx.monitor.attach(video);
    startVideo(ctx, video, { src: 'https://cdn.example/a.m3u8' });
    ctx.document.URL = 'https://app.example.com/b';
    startVideo(ctx, video, { src: 'https://cdn.example/b.m3u8' });
    assert.deepEqual(ctx.all('ATTEMPT').map((e) => e.page_url), ['https://app.example.com/a', 'https://app.example.com/b']);
  });

  test('pageUrlOf and hostOf on odd input', () => {
    assert.equal(pageUrlOf(undefined, false), undefined);
    assert.equal(pageUrlOf('', false), undefined);
    assert.equal(pageUrlOf('not a url?q=1#f', false), 'not a url');
    assert.equal(pageUrlOf('not a url?q=1#f', true), 'not a url?q=1');
    const long = `https://example.com/${'p'.repeat(2000)}`;
    assert.equal(pageUrlOf(long, false), long.slice(0, 1024));
    assert.equal(hostOf('https://Sub.Example.COM:8443/path'), 'sub.example.com');
    assert.equal(hostOf(''), undefined);
    assert.equal(hostOf('about:blank'), undefined);
    assert.equal(hostOf('garbage'), undefined);
  });
});

describe('playback_id', () => {
  test('one per load of a source: a replay after the end keeps it, new content gets a new one', () => {
    const ctx = setup();
    const video = new FakeVideo();
    ctx.monitor.attach(video);
    startVideo(ctx, video, { src: 'https://cdn.example/vod/a.m3u8' });
    video.ended = true;
    video.fire('ended');
    // The viewer presses replay on the same source: a new session of the same playback.
    video.ended = false;
    video.userPlay();
    const [first, replay] = ctx.all('ATTEMPT');
    assert.notEqual(first.session_id, replay.session_id);
    assert.equal(first.playback_id, replay.playback_id);
    // Another source on the same element: a new playback.
    startVideo(ctx, video, { src: 'https://cdn.example/vod/b.m3u8' });
    const third = ctx.all('ATTEMPT')[2];
    assert.notEqual(third.playback_id, first.playback_id);
    // hls.js switching content through endSession(): a new playback too.
    ctx.monitor.endSession();
    video.userPlay();
    const fourth = ctx.all('ATTEMPT')[3];
    assert.notEqual(fourth.playback_id, third.playback_id);
    // Every event carries its session's playback id.
    for (const event of ctx.events) {
      const attempt = ctx.all('ATTEMPT').find((a) => a.session_id === event.session_id);
      assert.equal(event.playback_id, attempt?.playback_id, event.metric_type);
    }
  });

  test('a new monitor attach starts a new playback', () => {
    const ctx = setup();
    const first = new FakeVideo();
    ctx.monitor.attach(first);
    first.userPlay();
    const second = new FakeVideo();
    ctx.monitor.attach(second);
    second.userPlay();
    const [a, b] = ctx.all('ATTEMPT');
    assert.ok(a.playback_id && b.playback_id);
    assert.notEqual(a.playback_id, b.playback_id);
  });
});

describe('player_version and the bandwidth estimate', () => {
  test('hls.js: "hls.js <Hls.version>" and its bandwidthEstimate on summaries and switches', () => {
    class Hls {
      static get version() {
        return '1.7.4';
      }
      bandwidthEstimate = 4_800_000.4;
    }
    const hls = new Hls();
    const ctx = setup({ summaryIntervalMs: 10_000 });
    const video = new FakeVideo();
    ctx.monitor.attach(video, { hls });
    startVideo(ctx, video, { src: 'blob:https://www.example.com/1' });
    ctx.monitor.setQuality({ name: '720p', bitrate: 3_000_000, height: 720 });
    hls.bandwidthEstimate = 6_100_000;
    ctx.monitor.setQuality({ name: '1080p', bitrate: 5_000_000, height: 1080 });
    ctx.clock.advance(10_000);
    assert.ok(ctx.events.every((e) => e.player_version === 'hls.js 1.7.4'));
    assert.equal(ctx.last('QUALITY_CHANGED').bandwidth_estimate_bps, 6_100_000);
    hls.bandwidthEstimate = 4_800_000.4;
    ctx.clock.advance(10_000);
    assert.equal(ctx.last('PLAYBACK_SUMMARY').bandwidth_estimate_bps, 4_800_000);
    // Only summaries and switches carry the estimate.
    assert.equal('bandwidth_estimate_bps' in ctx.last('PLAY'), false);
  });

  test('native HLS (the element plays the URL itself) is "native", with no estimate', () => {
    const ctx = setup({ summaryIntervalMs: 10_000 });
    const video = new FakeVideo();
    ctx.monitor.attach(video);
    startVideo(ctx, video, { src: 'https://cdn.example/live/stream.m3u8' });
    ctx.clock.advance(10_000);
    assert.equal(ctx.last('PLAY').player_version, 'native');
    assert.equal('bandwidth_estimate_bps' in ctx.last('PLAYBACK_SUMMARY'), false);
  });

  test('an MSE player the SDK was not told about reports no player_version', () => {
    const ctx = setup();
    const video = new FakeVideo();
    ctx.monitor.attach(video);
    startVideo(ctx, video, { src: 'blob:https://www.example.com/2' });
    assert.equal('player_version' in ctx.last('PLAY'), false);
  });

  test('IVS: getVersion() and getBandwidthEstimate(); a player without the method sends none', () => {
    const ctx = setup({ summaryIntervalMs: 10_000 });
    const player = new FakeIvsPlayer({ version: '1.56.1' });
    player.getBandwidthEstimate = () => 7_250_000;
    ctx.monitor.attach(player);
    player.setAutoplay(true);
    player.load(IVS_URL);
    ctx.clock.advance(500);
    player.paused = false;
    player.emit('Playing');
    ctx.clock.advance(10_000);
    const summary = ctx.last('PLAYBACK_SUMMARY');
    assert.equal(summary.player_version, '1.56.1');
    assert.equal(summary.bandwidth_estimate_bps, 7_250_000);
    player.getBandwidthEstimate = () => Number.NaN;
    ctx.clock.advance(10_000);
    assert.equal('bandwidth_estimate_bps' in ctx.last('PLAYBACK_SUMMARY'), false);
  });
});

describe('sdk_version', () => {
  test('events carry the package version', () => {
    assert.equal(SDK_VERSION, PACKAGE.version);
    const ctx = setup();
    const video = new FakeVideo();
    ctx.monitor.attach(video);
    video.userPlay();
    assert.equal(ctx.last('ATTEMPT').sdk_version, PACKAGE.version);
  });
});
