/** Session semantics through the Amazon IVS adapter, on a fake player with the real event names. */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { FakeIvsPlayer, FakeVideo, setup } from './helpers.js';

// The package's own enums: the fake player is driven with exactly what the real one emits.
const { default: IVS } = await import('amazon-ivs-player');
const { PlayerState, PlayerEventType, ErrorType } = IVS;

const URL = 'https://fcc3ddae59ed.us-west-2.playback.live-video.net/api/video/v1/us-west-2.893648527354.channel.DmumNckWFTqz.m3u8';

/** An autoplaying IVS load that renders its first frame `startupMs` after load(). */
function startIvs(ctx, player, { startupMs = 1_200 } = {}) {
  player.setAutoplay(true);
  player.load(URL);
  ctx.clock.advance(startupMs / 2);
  player.emit(PlayerState.READY);
  player.emit(PlayerState.BUFFERING);
  ctx.clock.advance(startupMs / 2);
  player.paused = false;
  player.emit(PlayerState.PLAYING);
}

/**
 * A monitor made by `setup(options)` attached to a new FakeIvsPlayer with `options.player`'s
 * properties.
 */
function attachedIvs({ player: props, ...options } = {}) {
  const ctx = setup(options);
  const player = new FakeIvsPlayer(props);
  ctx.monitor.attach(player);
  return { ctx, player };
}

/** The same, the player already playing (`startIvs`). */
function playingIvs(options = {}) {
  const { ctx, player } = attachedIvs(options);
  startIvs(ctx, player);
  return { ctx, player };
}

describe('IVS player', () => {
  test('attach detects the IVS player and listens with the package event names', () => {
    const { ctx, player } = attachedIvs({ channel: undefined });
    assert.equal(ctx.monitor.state.adapter, 'ivs');
    const names = [...player.listeners.keys()];
    for (const name of [PlayerState.READY, PlayerState.PLAYING, PlayerState.BUFFERING, PlayerState.IDLE,
      PlayerState.ENDED, PlayerEventType.ERROR, PlayerEventType.QUALITY_CHANGED, PlayerEventType.REBUFFERING]) {
      assert.ok(names.includes(name), name);
    }
  });

  test('startup runs from load() (the intent), not from READY', () => {
    const { ctx, player } = attachedIvs({ channel: undefined });
    startIvs(ctx, player, { startupMs: 1_200 });
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY']);
    const [attempt, play] = ctx.events;
    assert.equal(attempt.autoplay, true);
    assert.equal(attempt.channel_watched, 'DmumNckWFTqz');
    assert.equal(attempt.is_live, true);
    assert.equal(attempt.player_version, '1.56.1');
    assert.equal(play.startup_latency_ms, 1_200);
    assert.equal(play.player_session_id, 'ivs-session-1');
    assert.deepEqual(player.calls, [['load', URL]], 'the wrapped load still calls the player');
  });

  test('without autoplay, play() is the intent', () => {
    const { ctx, player } = attachedIvs();
    player.load(URL);
    player.emit(PlayerState.READY);
    assert.equal(ctx.events.length, 0, 'loading is not an intent to play');
    ctx.clock.advance(10_000);
    player.play();
    player.emit(PlayerState.BUFFERING);
    ctx.clock.advance(700);
    player.emit(PlayerState.PLAYING);
    assert.equal(ctx.events[0].autoplay, false);
    assert.equal(ctx.last('PLAY').startup_latency_ms, 700);
  });

  test('instrumentPlayer: false falls back to READY as the intent (documented underestimate)', () => {
    const { ctx, player } = attachedIvs({ instrumentPlayer: false, player: { autoplay: true } });
    player.load(URL);
    assert.equal(ctx.events.length, 0);
    ctx.clock.advance(500);
    player.emit(PlayerState.READY);
    ctx.clock.advance(300);
    player.emit(PlayerState.PLAYING);
    assert.equal(ctx.last('PLAY').startup_latency_ms, 300);
    assert.equal(Object.hasOwn(player, 'load'), false, 'nothing wrapped');
  });

  test('rebuffering is a stall; a seekTo() buffering is not', () => {
    const { ctx, player } = playingIvs();
    ctx.clock.advance(10_000);
    player.emit(PlayerEventType.REBUFFERING);
    player.emit(PlayerState.BUFFERING);
    ctx.clock.advance(2_500);
    player.emit(PlayerState.PLAYING);
    ctx.clock.advance(1_000);
    player.seekTo(30);
    player.emit(PlayerState.BUFFERING);
    ctx.clock.advance(800);
    player.emit(PlayerState.PLAYING);
    player.emit(PlayerEventType.SEEK_COMPLETED, 30);
    ctx.clock.advance(1_000);
    assert.deepEqual(
      { ...ctx.monitor.state.counters },
      { playingTimeMs: 12_000, bufferingTimeMs: 2_500, bufferingCount: 1, errorCount: 0 },
    );
  });

  test('IDLE while playing is a pause; play() resumes the same session', () => {
    const { ctx, player } = playingIvs();
    ctx.clock.advance(3_000);
    player.pause();
    player.emit(PlayerState.IDLE);
    ctx.clock.advance(60_000);
    player.play();
    player.emit(PlayerState.BUFFERING);
    ctx.clock.advance(400);
    player.emit(PlayerState.PLAYING);
    ctx.clock.advance(2_000);
    assert.equal(ctx.all('ATTEMPT').length, 1);
    assert.equal(ctx.monitor.state.counters.playingTimeMs, 5_000);
    assert.equal(ctx.monitor.state.counters.bufferingCount, 0);
  });

  test('summary fields come from the getters: quality, bitrate, live latency, buffer, dropped frames', () => {
    const ctx = setup();
    const video = new FakeVideo({ droppedVideoFrames: 0 });
    const player = new FakeIvsPlayer({ video, liveLatency: 3.2, bufferDuration: 2.25 });
    ctx.monitor.attach(player);
    startIvs(ctx, player);
    video.droppedVideoFrames = 5;
    ctx.clock.advance(60_000);
    const summary = ctx.last('PLAYBACK_SUMMARY');
    assert.equal(summary.rendition_name, '720p60');
    assert.equal(summary.rendition_height, 720);
    assert.equal(summary.bitrate_bps, 3_000_000);
    assert.equal(summary.live_latency_ms, 3_200);
    assert.equal(summary.buffer_duration_ms, 2_250);
    assert.equal(summary.dropped_frames, 5);
    assert.equal(summary.playing_time_ms, 60_000);
    assert.equal(summary.is_live, true);
  });

  test('QUALITY_CHANGED from the player event, with the step direction', () => {
    const { ctx, player } = playingIvs();
    const lower = { name: '480p30', bitrate: 1_000_000, height: 480, width: 852, codecs: 'avc1' };
    player.quality = lower;
    player.emit(PlayerEventType.QUALITY_CHANGED, lower);
    const change = ctx.last('QUALITY_CHANGED');
    assert.deepEqual(
      [change.from_rendition_name, change.to_rendition_name, change.from_bitrate, change.to_bitrate, change.step_direction],
      ['720p60', '480p30', 3_000_000, 1_000_000, 'DOWN'],
    );
    player.emit(PlayerEventType.QUALITY_CHANGED, lower); // same quality again: nothing
    assert.equal(ctx.all('QUALITY_CHANGED').length, 1);
  });

  test('a fatal PlayerError before the first frame is a start failure: ERROR(startup) then STOP', () => {
    const { ctx, player } = attachedIvs({ player: { autoplay: true } });
    player.load(URL);
    ctx.clock.advance(900);
    player.emit(PlayerEventType.ERROR, {
      type: ErrorType.NOT_AVAILABLE,
      code: 404,
      source: 'MasterPlaylist',
      message: 'Failed to load playlist',
    });
    player.emit(PlayerState.IDLE);
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'ERROR', 'STOP']);
    const error = ctx.last('ERROR');
    assert.deepEqual(
      [error.error_code, error.error_type, error.fatal, error.phase, error.error_message],
      ['404', 'ErrorNotAvailable', true, 'startup', 'MasterPlaylist: Failed to load playlist'],
    );
    assert.equal(ctx.last('STOP').exit_before_start, false);
  });

  test('a recoverable error is reported and counted but playback goes on', () => {
    const { ctx, player } = playingIvs();
    player.emit(PlayerEventType.RECOVERABLE_ERROR, { type: ErrorType.NETWORK, code: 503, source: 'Segment', message: 'x' });
    assert.equal(ctx.last('ERROR').fatal, false);
    assert.equal(ctx.last('ERROR').phase, 'playback');
    assert.equal(ctx.monitor.state.phase, 'playing');
    ctx.clock.advance(60_000);
    assert.equal(ctx.last('PLAYBACK_SUMMARY').error_count, 1);
  });

  test('a second load() is new content: STOP the old session, ATTEMPT a new one', () => {
    const { ctx, player } = playingIvs({ channel: undefined });
    ctx.clock.advance(5_000);
    player.load(URL.replace('DmumNckWFTqz', 'OtherChannel1'));
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY', 'PLAYBACK_SUMMARY', 'STOP', 'ATTEMPT']);
    assert.equal(ctx.last('ATTEMPT').channel_watched, 'OtherChannel1');
    assert.notEqual(ctx.last('ATTEMPT').session_id, ctx.events[0].session_id);
  });

  test('ENDED closes the session; play() again is a new session', () => {
    const { ctx, player } = playingIvs({ player: { duration: 20 } });
    ctx.clock.advance(20_000);
    player.position = 20;
    player.emit(PlayerState.ENDED);
    assert.equal(ctx.last('STOP').end_playback_position_sec, 20);
    assert.equal(ctx.last('STOP').is_live, false);
    player.play();
    assert.equal(ctx.all('ATTEMPT').length, 2);
  });

  test('attach to a player already playing joins the playback', () => {
    const { ctx, player } = attachedIvs({ player: { state: PlayerState.PLAYING, paused: false } });
    assert.equal(ctx.monitor.state.phase, 'playing');
    assert.equal(ctx.events.length, 0);
  });

  test('detach restores the wrapped methods and removes the listeners', () => {
    const { ctx, player } = attachedIvs();
    assert.equal(Object.hasOwn(player, 'load'), true);
    ctx.monitor.detach();
    assert.equal(Object.hasOwn(player, 'load'), false);
    assert.equal(Object.hasOwn(player, 'play'), false);
    assert.equal(Object.hasOwn(player, 'seekTo'), false);
    assert.equal(player.load, FakeIvsPlayer.prototype.load);
    assert.equal(player.listenerCount(), 0);
  });

  test('a throwing getter never breaks the page', () => {
    const ctx = setup();
    const player = new FakeIvsPlayer();
    player.getLiveLatency = () => {
      throw new Error('player deleted');
    };
    ctx.monitor.attach(player);
    startIvs(ctx, player);
    ctx.clock.advance(60_000);
    assert.equal('live_latency_ms' in ctx.last('PLAYBACK_SUMMARY'), false);
  });

  test('a seek through the video element (native controls, currentTime) is not a stall', () => {
    const video = new FakeVideo({ paused: false });
    const { ctx, player } = playingIvs({ player: { video } });
    ctx.clock.advance(4_000);
    video.currentTime = 4;
    video.fire('timeupdate');
    // What the real player does: the element seeks, the player buffers and pauses the element,
    // the element's seeked comes while paused, then PlayerSeekCompleted and PLAYING.
    video.currentTime = 30.2;
    video.seeking = true;
    video.fire('seeking');
    player.emit(PlayerState.BUFFERING);
    video.paused = true;
    ctx.clock.advance(700);
    video.seeking = false;
    video.fire('seeked');
    ctx.clock.advance(150);
    player.emit(PlayerEventType.SEEK_COMPLETED, 30.2);
    video.paused = false;
    player.emit(PlayerState.PLAYING);
    ctx.clock.advance(1_000);
    assert.deepEqual(
      { ...ctx.monitor.state.counters },
      { playingTimeMs: 5_000, bufferingTimeMs: 0, bufferingCount: 0, errorCount: 0 },
    );
    assert.equal(ctx.monitor.state.phase, 'playing');
  });

  test("the player's own sub-second nudge of the element during a rebuffer does not hide the stall", () => {
    const video = new FakeVideo({ paused: false });
    const { ctx, player } = playingIvs({ player: { video } });
    ctx.clock.advance(2_000);
    video.currentTime = 2;
    video.fire('timeupdate');
    player.emit(PlayerEventType.REBUFFERING);
    player.emit(PlayerState.BUFFERING);
    ctx.clock.advance(1_000);
    video.currentTime = 2.3; // skipping a gap
    video.fire('seeking');
    video.fire('seeked');
    ctx.clock.advance(1_500);
    player.emit(PlayerState.PLAYING);
    assert.equal(ctx.monitor.state.counters.bufferingCount, 1);
    assert.equal(ctx.monitor.state.counters.bufferingTimeMs, 2_500);
  });

  test('delete() ends the session and the monitor: no summary after it', () => {
    const { ctx, player } = playingIvs({ summaryIntervalMs: 10_000 });
    ctx.clock.advance(3_000);
    player.delete();
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY', 'PLAYBACK_SUMMARY', 'STOP']);
    assert.equal(ctx.last('PLAYBACK_SUMMARY').is_final, true);
    assert.equal(ctx.last('PLAYBACK_SUMMARY').playing_time_ms, 3_000);
    assert.deepEqual(player.calls.at(-1), ['delete'], 'the real delete() still ran');
    ctx.clock.advance(120_000);
    assert.equal(ctx.events.length, 4, 'nothing more for a deleted player');
    assert.equal(ctx.monitor.state.attached, false);
    assert.equal(player.listenerCount(), 0);
  });

  test('autoplay blocked (PlayerPlaybackBlocked): the wait for the click is not startup', () => {
    const { ctx, player } = attachedIvs();
    player.setAutoplay(true);
    player.load(URL);
    ctx.clock.advance(300);
    player.emit(PlayerEventType.PLAYBACK_BLOCKED);
    ctx.clock.advance(10_500); // the viewer reads the page, then clicks play
    player.play();
    player.emit(PlayerState.BUFFERING);
    ctx.clock.advance(600);
    player.emit(PlayerState.PLAYING);
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY']);
    assert.equal(ctx.last('PLAY').startup_latency_ms, 600);
  });

  test('the element is looked up again: one the page attaches after the monitor is the one listened to', () => {
    const first = new FakeVideo({ paused: false });
    const { ctx, player } = attachedIvs({ player: { video: first } });
    const attached = new FakeVideo({ paused: false });
    player.video = attached; // attachHTMLVideoElement(own element)
    startIvs(ctx, player);
    ctx.clock.advance(3_000);
    attached.currentTime = 20;
    attached.fire('seeking');
    player.emit(PlayerState.BUFFERING);
    ctx.clock.advance(900);
    player.emit(PlayerEventType.SEEK_COMPLETED, 20);
    player.emit(PlayerState.PLAYING);
    assert.equal(ctx.monitor.state.counters.bufferingCount, 0);
    first.currentTime = 30;
    first.fire('seeking');
    assert.equal(ctx.monitor.state.phase, 'playing', 'the replaced element is no longer listened to');
  });

  test('buffering the player reports after it said the seek completed is still the seek; a later rebuffer is a stall', () => {
    const video = new FakeVideo({ paused: false });
    const { ctx, player } = playingIvs({ player: { video } });
    ctx.clock.advance(2_000);
    video.currentTime = 2;
    video.fire('timeupdate');
    video.currentTime = 30.2;
    video.fire('seeking');
    ctx.clock.advance(100);
    video.fire('seeked');
    player.emit(PlayerEventType.SEEK_COMPLETED, 30.2); // the state is still PLAYING
    ctx.clock.advance(50);
    player.emit(PlayerEventType.REBUFFERING); // then it waits for data at the target
    player.emit(PlayerState.BUFFERING);
    ctx.clock.advance(600);
    player.emit(PlayerState.PLAYING);
    video.currentTime = 30.6;
    video.fire('timeupdate'); // played on from the target: settled
    ctx.clock.advance(1_000);
    assertCounters({ bufferingCount: 0, bufferingTimeMs: 0 });
    player.emit(PlayerEventType.REBUFFERING);
    player.emit(PlayerState.BUFFERING);
    ctx.clock.advance(700);
    player.emit(PlayerState.PLAYING);
    assertCounters({ bufferingCount: 1, bufferingTimeMs: 700 });

    function assertCounters(expected) {
      const { counters } = ctx.monitor.state;
      for (const [name, value] of Object.entries(expected)) assert.equal(counters[name], value, name);
    }
  });
});
