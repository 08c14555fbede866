/** Session semantics through the HTMLVideoElement adapter, on a fake element and a fake clock. */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { SDK_VERSION } from '../../src/version.js';
import { assertCounters, attachedVideo, EPOCH, FakeVideo, playingVideo, setup, startVideo } from './helpers.js';

/** A QUALITY_CHANGED event's from/to rendition and bitrate and its direction, in that order. */
const qualityStep = (change) => [
  change.from_rendition_name,
  change.to_rendition_name,
  change.from_bitrate,
  change.to_bitrate,
  change.step_direction,
];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('attempt and first frame', () => {
  test('ATTEMPT at play intent carries the common fields and the page visibility', () => {
    const { ctx, video } = attachedVideo({ platform: 'web', playerVersion: 'hls.js 1.5.0' });
    ctx.clock.advance(250);
    video.userPlay();
    assert.deepEqual(ctx.types(), ['ATTEMPT']);
    const attempt = ctx.events[0];
    assert.equal(attempt.metric_type, 'ATTEMPT');
    assert.equal(attempt.client_platform, 'web');
    assert.equal(attempt.channel_watched, 'demo-channel');
    assert.equal(attempt.is_live, false);
    assert.equal(attempt.visibility_state, 'visible');
    assert.equal(attempt.autoplay, false);
    assert.equal(attempt.event_time, EPOCH + 1250);
    assert.match(attempt.event_id, UUID);
    assert.match(attempt.session_id, UUID);
    assert.notEqual(attempt.session_id, attempt.event_id);
    assert.equal(attempt.schema_version, '1');
    assert.equal(attempt.sdk_version, SDK_VERSION);
    assert.equal(attempt.player_version, 'hls.js 1.5.0');
    assert.equal(typeof attempt.user_id, 'string');
    assert.equal(ctx.monitor.state.phase, 'starting');
  });

  test('the user id is kept in storage and reused by the next monitor', () => {
    const first = setup();
    const video = new FakeVideo();
    first.monitor.attach(video);
    video.userPlay();
    const stored = first.storage.get('qos_user_id');
    assert.equal(first.events[0].user_id, stored);
    const explicit = setup({ userId: 'viewer-42' });
    const other = new FakeVideo();
    explicit.monitor.attach(other);
    other.userPlay();
    assert.equal(explicit.events[0].user_id, 'viewer-42');
  });

  test('PLAY: startup runs from play intent to the first frame, including manifest and first segment', () => {
    const { ctx, video } = attachedVideo();
    video.src = video.currentSrc = 'https://cdn.example/vod/movie.m3u8';
    video.fire('loadstart');
    video.userPlay(); // intent at t=1000
    ctx.clock.advance(300);
    video.fire('loadedmetadata'); // the old sample started its stopwatch about here (READY)
    video.fire('waiting');
    ctx.clock.advance(900); // waiting during startup
    video.readyState = 4;
    video.currentTime = 0;
    video.fire('playing');
    const play = ctx.last('PLAY');
    assert.equal(play.startup_latency_ms, 1200);
    assert.equal(play.start_playback_position_sec, 0);
    assert.equal(play.visibility_state, 'visible');
    assert.equal(play.session_id, ctx.events[0].session_id);
    assert.equal(play.event_time, EPOCH + 2200);
    assert.equal(ctx.monitor.state.startupTimeMs, 1200);
    assert.equal(ctx.monitor.state.phase, 'playing');
  });

  test('autoplay: the intent is the load, not the later play event', () => {
    const { ctx, video } = attachedVideo({ video: { autoplay: true } });
    video.setSource('https://cdn.example/live/a.m3u8'); // intent at 1000
    ctx.clock.advance(1500);
    video.paused = false;
    video.fire('play'); // the element fires play once it has data
    ctx.clock.advance(100);
    video.fire('playing');
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY']);
    assert.equal(ctx.events[0].autoplay, true);
    assert.equal(ctx.last('PLAY').startup_latency_ms, 1600);
  });

  test('a tab hidden during startup is marked hidden on PLAY; ATTEMPT keeps the visibility at intent', () => {
    const { ctx, video } = attachedVideo();
    video.userPlay();
    ctx.clock.advance(100);
    ctx.document.hide();
    ctx.clock.advance(5000);
    ctx.document.show();
    video.fire('playing');
    assert.equal(ctx.events[0].visibility_state, 'visible');
    assert.equal(ctx.last('PLAY').visibility_state, 'hidden');
  });

  test('a page hidden at intent reports hidden on ATTEMPT', () => {
    const ctx = setup();
    ctx.document.visibilityState = 'hidden';
    const video = new FakeVideo();
    ctx.monitor.attach(video);
    video.userPlay();
    assert.equal(ctx.events[0].visibility_state, 'hidden');
  });
});

describe('play intent from play()', () => {
  test('play() is the intent: startup from the call; the play event a task later adds nothing', () => {
    const { ctx, video } = attachedVideo();
    video.setSource('https://cdn.example/vod/movie.m3u8');
    const returned = video.play(); // t = 1000
    assert.ok(returned instanceof Promise, "play() returns the element's promise");
    assert.equal(video.playCalls, 1);
    assert.deepEqual(ctx.types(), ['ATTEMPT']);
    assert.equal(ctx.events[0].event_time, EPOCH + 1000);
    assert.equal(ctx.events[0].autoplay, false);
    ctx.clock.advance(40);
    video.fire('play');
    video.fire('waiting');
    ctx.clock.advance(760);
    video.fire('playing');
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY']);
    assert.equal(ctx.last('PLAY').startup_latency_ms, 800);
    assert.equal(ctx.monitor.state.sessionCount, 1);
  });

  test('a play that does not go through the wrapper: the play event is the intent', () => {
    const { ctx, video } = attachedVideo();
    // Native controls, or a play() the page kept from before attach.
    FakeVideo.prototype.play.call(video);
    assert.deepEqual(ctx.types(), []);
    ctx.clock.advance(40);
    video.fire('play'); // t = 1040
    ctx.clock.advance(500);
    video.fire('playing');
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY']);
    assert.equal(ctx.events[0].event_time, EPOCH + 1040);
    assert.equal(ctx.last('PLAY').startup_latency_ms, 500);
  });

  test('a play() refused by the autoplay policy, or on a playing element, is no intent', async () => {
    const { ctx, video } = attachedVideo({ video: { refusePlay: true } });
    await assert.rejects(video.play());
    assert.deepEqual(ctx.types(), []);
    video.refusePlay = false;
    video.play();
    video.fire('play');
    video.fire('playing');
    video.play(); // already playing: the element fires nothing
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY']);
  });

  test('autoplay refused (play() rejected with NotAllowedError): startup runs from the click', async () => {
    const { ctx, video } = attachedVideo({ video: { autoplay: true, refusePlay: true } });
    video.setSource('https://cdn.example/vod/a.m3u8'); // the autoplay attribute: an intent
    assert.deepEqual(ctx.types(), ['ATTEMPT']);
    await assert.rejects(video.play(), { name: 'NotAllowedError' });
    ctx.clock.advance(10_700); // waiting for the viewer
    video.refusePlay = false;
    video.play(); // the click
    ctx.clock.advance(20);
    video.fire('play');
    ctx.clock.advance(430);
    video.fire('playing');
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY']);
    assert.equal(ctx.last('PLAY').startup_latency_ms, 450);
  });

  test('instrumentPlayer: false leaves play() alone: the play event is the intent', () => {
    const { ctx, video } = attachedVideo({ instrumentPlayer: false });
    assert.equal(Object.hasOwn(video, 'play'), false);
    video.play();
    assert.deepEqual(ctx.types(), []);
    ctx.clock.advance(30);
    video.fire('play');
    assert.deepEqual(ctx.types(), ['ATTEMPT']);
  });

  test('play() after a pause resumes the session: no second ATTEMPT', () => {
    const { ctx, video } = playingVideo();
    ctx.clock.advance(1_000);
    video.userPause();
    ctx.clock.advance(5_000);
    video.play();
    video.fire('play');
    ctx.clock.advance(100);
    video.fire('playing');
    ctx.clock.advance(1_000);
    assert.equal(ctx.all('ATTEMPT').length, 1);
    assert.equal(ctx.monitor.state.counters.playingTimeMs, 2_000);
  });

  test('detach restores play(): the prototype method, or an own one the page had set', () => {
    const { ctx, video } = attachedVideo();
    assert.ok(Object.hasOwn(video, 'play'), 'wrapped on the instance');
    assert.notEqual(video.play, FakeVideo.prototype.play);
    ctx.monitor.detach();
    assert.equal(Object.hasOwn(video, 'play'), false);
    assert.equal(video.play, FakeVideo.prototype.play);
    video.play();
    video.fire('play');
    assert.deepEqual(ctx.types(), []);

    const other = new FakeVideo();
    const own = function play() {
      return FakeVideo.prototype.play.call(this);
    };
    other.play = own;
    ctx.monitor.attach(other);
    other.play();
    assert.deepEqual(ctx.types(), ['ATTEMPT']);
    ctx.monitor.detach();
    assert.equal(other.play, own);

    // Wrapped again by someone after us: theirs stays.
    const third = new FakeVideo();
    ctx.monitor.attach(third);
    const ours = third.play;
    const theirs = function play() {
      return ours.call(this);
    };
    third.play = theirs;
    ctx.monitor.detach();
    assert.equal(third.play, theirs);
  });

  test('`video.src = next; video.play()` after ended: play() opens the session and the loadstart after it keeps it', () => {
    const { ctx, video } = attachedVideo({ video: { duration: 30 } });
    startVideo(ctx, video, { src: 'https://cdn.example/vod/one.m3u8' });
    ctx.clock.advance(30_000);
    video.ended = true;
    video.paused = true;
    video.fire('ended');
    video.ended = false;
    video.src = 'https://cdn.example/vod/two.m3u8';
    video.play(); // t = 31800: before the element loads the new URL
    video.fire('play');
    ctx.clock.advance(20);
    video.currentSrc = video.src;
    video.fire('loadstart');
    ctx.clock.advance(580);
    video.fire('playing');
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY', 'PLAYBACK_SUMMARY', 'STOP', 'ATTEMPT', 'PLAY']);
    assert.equal(ctx.last('PLAY').session_id, ctx.last('ATTEMPT').session_id);
    assert.equal(ctx.last('PLAY').startup_latency_ms, 600);
  });

  test('`video.src = next; video.play()` while a session is open: it ends, and the new one opens at loadstart', () => {
    const { ctx, video } = attachedVideo();
    startVideo(ctx, video, { src: 'https://cdn.example/live/one.m3u8' });
    ctx.clock.advance(10_000);
    video.paused = true; // the load algorithm pauses the element, without a pause event
    video.src = 'https://cdn.example/live/two.m3u8';
    video.play(); // resumes the open session: the element still shows the first URL
    video.fire('play');
    assert.equal(ctx.all('ATTEMPT').length, 1);
    ctx.clock.advance(10);
    video.currentSrc = video.src;
    video.fire('loadstart');
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY', 'PLAYBACK_SUMMARY', 'STOP', 'ATTEMPT']);
    ctx.clock.advance(500);
    video.fire('playing');
    assert.equal(ctx.last('PLAY').session_id, ctx.last('ATTEMPT').session_id);
    assert.equal(ctx.last('PLAY').startup_latency_ms, 500);
    ctx.clock.advance(1_000);
    video.fire('loadstart'); // the same URL again: the same session
    assert.equal(ctx.all('ATTEMPT').length, 2);
  });
});

describe('stalls, seeks and pauses', () => {
  test('a wait during playback is a stall: counted once, timed until playing resumes', () => {
    const { ctx, video } = playingVideo();
    ctx.clock.advance(10_000);
    video.fire('waiting');
    assert.equal(ctx.monitor.state.phase, 'stalled');
    ctx.clock.advance(2_000);
    video.fire('waiting'); // repeated waiting inside one stall
    ctx.clock.advance(1_000);
    video.fire('playing');
    ctx.clock.advance(7_000);
    assertCounters(ctx, { bufferingCount: 1, bufferingTimeMs: 3_000, playingTimeMs: 17_000 });
  });

  test('waiting during startup is not a stall', () => {
    const { ctx, video } = attachedVideo();
    video.userPlay();
    video.fire('waiting');
    ctx.clock.advance(4_000);
    video.fire('playing');
    ctx.clock.advance(1_000);
    ctx.monitor.detach();
    const summary = ctx.last('PLAYBACK_SUMMARY');
    assert.equal(summary.buffering_count, 0);
    assert.equal(summary.buffering_time_ms, 0);
    assert.equal(summary.playing_time_ms, 1_000);
    assert.equal(ctx.last('PLAY').startup_latency_ms, 4_000);
  });

  test("a seek's waiting is not a stall, and seek time is neither watch nor stall time", () => {
    const { ctx, video } = playingVideo({ video: { duration: 600 } });
    ctx.clock.advance(5_000);
    video.fire('seeking');
    assert.equal(ctx.monitor.state.phase, 'seeking');
    video.fire('waiting');
    ctx.clock.advance(1_500);
    video.fire('seeked');
    video.fire('playing');
    ctx.clock.advance(5_000);
    assertCounters(ctx, { bufferingCount: 0, bufferingTimeMs: 0, playingTimeMs: 10_000 });
  });

  test('a seek while paused returns to paused', () => {
    const { ctx, video } = playingVideo({ video: { duration: 600 } });
    ctx.clock.advance(1_000);
    video.userPause();
    video.fire('seeking');
    video.fire('waiting');
    ctx.clock.advance(500);
    video.fire('seeked');
    assert.equal(ctx.monitor.state.phase, 'paused');
    ctx.clock.advance(10_000);
    assert.equal(ctx.monitor.state.counters.playingTimeMs, 1_000);
  });

  test('paused time is not watch time, and buffering on resume is not a stall', () => {
    const { ctx, video } = playingVideo();
    ctx.clock.advance(4_000);
    video.userPause();
    assert.equal(ctx.monitor.state.phase, 'paused');
    ctx.clock.advance(30_000);
    video.userPlay();
    video.fire('waiting'); // refilling after the pause
    ctx.clock.advance(700);
    video.fire('playing');
    ctx.clock.advance(6_000);
    assert.equal(ctx.all('ATTEMPT').length, 1, 'a resume is not a new session');
    assertCounters(ctx, { playingTimeMs: 10_000, bufferingCount: 0, bufferingTimeMs: 0 });
  });

  test('a pause during a stall ends the stall', () => {
    const { ctx, video } = playingVideo();
    ctx.clock.advance(1_000);
    video.fire('waiting');
    ctx.clock.advance(2_000);
    video.userPause();
    ctx.clock.advance(20_000);
    assert.deepEqual(
      { ...ctx.monitor.state.counters },
      { playingTimeMs: 1_000, bufferingTimeMs: 2_000, bufferingCount: 1, errorCount: 0 },
    );
  });
});

describe('summaries', () => {
  test('every 60 s from the first frame, per-interval counters, then a final one at the end', () => {
    const { ctx, video } = playingVideo({ isLive: true, video: { duration: Infinity, seekableEnd: 0 } });
    video.currentTime = 100;
    video.seekableEnd = 103;
    ctx.clock.advance(20_000);
    video.fire('waiting');
    ctx.clock.advance(5_000);
    video.fire('playing');
    ctx.clock.advance(35_000); // t = first frame + 60 s
    let summaries = ctx.all('PLAYBACK_SUMMARY');
    assert.equal(summaries.length, 1);
    assert.deepEqual(
      [summaries[0].playing_time_ms, summaries[0].buffering_time_ms, summaries[0].buffering_count],
      [55_000, 5_000, 1],
    );
    assert.equal(summaries[0].is_final, false);
    assert.equal(summaries[0].rendition_name, '720p');
    assert.equal(summaries[0].rendition_height, 720);
    assert.equal(summaries[0].live_latency_ms, 3_000);
    assert.equal(summaries[0].error_count, 0);

    ctx.clock.advance(60_000);
    summaries = ctx.all('PLAYBACK_SUMMARY');
    assert.equal(summaries.length, 2);
    assert.deepEqual([summaries[1].playing_time_ms, summaries[1].buffering_count], [60_000, 0]);

    ctx.clock.advance(12_345);
    ctx.monitor.detach();
    const final = ctx.last('PLAYBACK_SUMMARY');
    assert.equal(final.is_final, true);
    assert.equal(final.playing_time_ms, 12_345);
    assert.deepEqual(ctx.types().slice(-2), ['PLAYBACK_SUMMARY', 'STOP']);
    // The sum of the intervals is the session's watch time.
    const total = ctx.all('PLAYBACK_SUMMARY').reduce((sum, s) => sum + s.playing_time_ms, 0);
    assert.equal(total, 55_000 + 60_000 + 12_345);
  });

  test('summaryIntervalMs is configurable', () => {
    const { ctx, video } = playingVideo({ summaryIntervalMs: 10_000 });
    ctx.clock.advance(35_000);
    assert.equal(ctx.all('PLAYBACK_SUMMARY').length, 3);
    assert.ok(ctx.all('PLAYBACK_SUMMARY').every((s) => s.playing_time_ms === 10_000));
  });

  test('an interval spent paused sends no summary (the viewer is not watching)', () => {
    const { ctx, video } = playingVideo();
    ctx.clock.advance(1_000);
    video.userPause();
    ctx.clock.advance(59_000); // first interval: 1 s played
    ctx.clock.advance(120_000); // two intervals all paused
    assert.equal(ctx.all('PLAYBACK_SUMMARY').length, 1);
  });

  test('dropped frames are reported per interval from getVideoPlaybackQuality', () => {
    const { ctx, video } = playingVideo({ video: { droppedVideoFrames: 3 } });
    video.droppedVideoFrames = 10;
    ctx.clock.advance(60_000);
    video.droppedVideoFrames = 12;
    ctx.clock.advance(60_000);
    assert.deepEqual(ctx.all('PLAYBACK_SUMMARY').map((s) => s.dropped_frames), [7, 2]);
  });

  test('hls.js live: is_live and live_latency_ms from hls.js, though MSE gives the element a finite duration', () => {
    const ctx = setup();
    // What hls.js exposes for a live (EVENT, no ENDLIST) playlist: details.live and its latency.
    const hls = { latestLevelDetails: { live: true }, latency: 7.25, levels: [], currentLevel: 0 };
    const video = new FakeVideo({ duration: 36, seekableEnd: 36 });
    ctx.monitor.attach(video, { hls });
    startVideo(ctx, video);
    video.currentTime = 30;
    ctx.clock.advance(60_000);
    const summary = ctx.last('PLAYBACK_SUMMARY');
    assert.equal(summary.is_live, true);
    assert.equal(summary.live_latency_ms, 7_250);
    assert.equal(ctx.last('PLAY').is_live, true);
    // hls.js's older shape: the current level's details.
    const older = setup();
    const video2 = new FakeVideo({ duration: 36 });
    older.monitor.attach(video2, { hls: { levels: [{ details: { live: false } }], currentLevel: 0, latency: 0 } });
    startVideo(older, video2);
    older.clock.advance(60_000);
    assert.equal(older.last('PLAYBACK_SUMMARY').is_live, false);
    assert.equal('live_latency_ms' in older.last('PLAYBACK_SUMMARY'), false);
  });

  test('on-demand summaries carry no live latency', () => {
    const { ctx, video } = playingVideo({ video: { duration: 120, seekableEnd: 120 } });
    ctx.clock.advance(60_000);
    const summary = ctx.last('PLAYBACK_SUMMARY');
    assert.equal(summary.is_live, false);
    assert.equal('live_latency_ms' in summary, false);
  });
});

describe('quality and errors', () => {
  test('QUALITY_CHANGED from resize (videoHeight) and from setQuality (hls.js levels)', () => {
    const { ctx, video } = playingVideo();
    video.videoHeight = 1080;
    video.fire('resize');
    const change = ctx.last('QUALITY_CHANGED');
    assert.equal(change.from_rendition_name, '720p');
    assert.equal(change.to_rendition_name, '1080p');
    assert.equal(change.step_direction, 'UP');

    ctx.monitor.setQuality({ name: '1080p', bitrate: 6_000_000, height: 1080 }); // the same rendition
    assert.equal(ctx.all('QUALITY_CHANGED').length, 1);
    ctx.monitor.setQuality({ name: '480p', bitrate: 1_200_000, height: 480 });
    assert.equal(ctx.all('QUALITY_CHANGED').length, 2);
    const down = ctx.last('QUALITY_CHANGED');
    assert.deepEqual(qualityStep(down), ['1080p', '480p', 6_000_000, 1_200_000, 'DOWN']);
    video.videoHeight = 360;
    video.fire('resize'); // ignored once the app reports levels
    assert.equal(ctx.last('QUALITY_CHANGED'), down);
    ctx.clock.advance(60_000);
    assert.equal(ctx.last('PLAYBACK_SUMMARY').bitrate_bps, 1_200_000);
  });

  test('hls.js after resize: its level for the rendition guessed from videoHeight is no switch', () => {
    // What Chromium and hls.js do: the element's resize (videoHeight 240) comes first, then
    // LEVEL_SWITCHED for that same rendition, now with its bitrate.
    const { ctx, video } = attachedVideo();
    video.setSource('blob:https://app.example/1111');
    video.play();
    video.fire('play');
    ctx.clock.advance(700);
    video.videoHeight = 240;
    video.fire('resize');
    video.readyState = 4;
    video.fire('playing');
    ctx.monitor.setQuality({ name: '240p', bitrate: 510_400, height: 240 });
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY'], 'no 240p -> 240p');

    ctx.clock.advance(3_000);
    ctx.monitor.setQuality({ name: '360p', bitrate: 900_000, height: 360 });
    assert.equal(ctx.all('QUALITY_CHANGED').length, 1);
    const up = ctx.last('QUALITY_CHANGED');
    assert.deepEqual(qualityStep(up), ['240p', '360p', 510_400, 900_000, 'UP']);
    ctx.monitor.setQuality({ name: '360p', bitrate: 900_000, height: 360 }); // LEVEL_SWITCHED again
    assert.equal(ctx.all('QUALITY_CHANGED').length, 1);
    ctx.clock.advance(57_000);
    const summary = ctx.last('PLAYBACK_SUMMARY');
    assert.deepEqual([summary.rendition_name, summary.bitrate_bps], ['360p', 900_000]);
  });

  test('the level after a guess that came with the first frame, and a level named otherwise', () => {
    const { ctx, video } = attachedVideo();
    startVideo(ctx, video); // videoHeight 720 at the first frame: the known rendition is 720p
    ctx.monitor.setQuality({ name: 'hd', bitrate: 3_000_000, height: 720 });
    assert.equal(ctx.all('QUALITY_CHANGED').length, 0, 'the same height: the guess was this level');
    ctx.clock.advance(60_000);
    const summary = ctx.last('PLAYBACK_SUMMARY');
    assert.deepEqual([summary.rendition_name, summary.rendition_height, summary.bitrate_bps], ['hd', 720, 3_000_000]);
  });

  test('step_direction compares like with like; equal ranks are no switch', () => {
    const { ctx, video } = playingVideo();
    ctx.monitor.setQuality({ name: '720p', bitrate: 3_000_000, height: 720 });
    // Two levels of one height: the bitrate decides.
    ctx.monitor.setQuality({ name: '720p', bitrate: 4_500_000, height: 720 });
    let change = ctx.last('QUALITY_CHANGED');
    assert.deepEqual([change.from_bitrate, change.to_bitrate, change.step_direction], [3_000_000, 4_500_000, 'UP']);
    // A bitrate on one side only: heights, not a height against a bitrate.
    ctx.monitor.setQuality({ name: 'small', height: 360 });
    change = ctx.last('QUALITY_CHANGED');
    assert.deepEqual(qualityStep(change), ['720p', 'small', 4_500_000, undefined, 'DOWN']);
    const count = ctx.all('QUALITY_CHANGED').length;
    // Another name for the same bitrate: nothing to report.
    ctx.monitor.setQuality({ name: 'a', bitrate: 1_000_000, height: 480 });
    ctx.monitor.setQuality({ name: 'b', bitrate: 1_000_000, height: 480 });
    assert.equal(ctx.all('QUALITY_CHANGED').length, count + 1);
    assert.equal(ctx.last('QUALITY_CHANGED').to_rendition_name, 'a');
  });

  test('a media error before the first frame: ERROR fatal in startup, then STOP (a start failure)', () => {
    const { ctx, video } = attachedVideo();
    video.userPlay();
    ctx.clock.advance(2_000);
    video.error = { code: 4, message: 'MEDIA_ELEMENT_ERROR: Format error' };
    video.fire('error');
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'ERROR', 'STOP']);
    const error = ctx.last('ERROR');
    assert.equal(error.error_code, '4');
    assert.equal(error.error_type, 'MEDIA_ERR_SRC_NOT_SUPPORTED');
    assert.equal(error.fatal, true);
    assert.equal(error.phase, 'startup');
    assert.equal(error.error_message, 'MEDIA_ELEMENT_ERROR: Format error');
    assert.equal(ctx.last('STOP').exit_before_start, false);
    assert.equal(ctx.monitor.state.phase, 'failed');
  });

  test('reportError: recoverable errors are counted in the summary; a fatal one after start ends it', () => {
    const { ctx, video } = playingVideo();
    ctx.monitor.reportError({ code: 'fragLoadError', type: 'networkError', message: 'x'.repeat(400), fatal: false });
    assert.equal(ctx.last('ERROR').error_message.length, 256);
    assert.equal(ctx.last('ERROR').phase, 'playback');
    ctx.clock.advance(3_000);
    ctx.monitor.reportError({ code: 'bufferStalledError', type: 'mediaError', fatal: true });
    assert.deepEqual(ctx.types().slice(-3), ['ERROR', 'PLAYBACK_SUMMARY', 'STOP']);
    assert.equal(ctx.last('PLAYBACK_SUMMARY').error_count, 2);
    assert.equal(ctx.last('PLAYBACK_SUMMARY').is_final, true);
    assert.equal(ctx.last('STOP').exit_before_start, false);
  });
});

describe('session boundaries', () => {
  test('STOP with exit_before_start when the page goes before the first frame', () => {
    const { ctx, video } = attachedVideo();
    video.userPlay();
    ctx.clock.advance(3_000);
    ctx.window.pagehide();
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'STOP']);
    assert.equal(ctx.last('STOP').exit_before_start, true);
  });

  test('ended: final summary and STOP with the end position', () => {
    const { ctx, video } = playingVideo({ video: { duration: 30 } });
    ctx.clock.advance(30_000);
    video.currentTime = 30;
    video.ended = true;
    video.paused = true;
    video.fire('pause');
    video.fire('ended');
    assert.deepEqual(ctx.types(), ['ATTEMPT', 'PLAY', 'PLAYBACK_SUMMARY', 'STOP']);
    assert.equal(ctx.last('PLAYBACK_SUMMARY').playing_time_ms, 30_000);
    assert.equal(ctx.last('STOP').end_playback_position_sec, 30);
    assert.equal(ctx.last('STOP').exit_before_start, false);
    assert.equal(ctx.monitor.state.phase, 'ended');
  });

  test('one session per playback: a second loadstart (hls.js re-attaching its MediaSource) keeps it', () => {
    const { ctx, video } = attachedVideo();
    video.setSource('blob:https://app.example/1111');
    video.userPlay();
    ctx.clock.advance(500);
    video.fire('playing');
    ctx.clock.advance(10_000);
    video.setSource('blob:https://app.example/2222'); // recoverMediaError()
    video.fire('waiting');
    ctx.clock.advance(300);
    video.fire('playing');
    assert.equal(ctx.all('ATTEMPT').length, 1);
    assert.equal(ctx.all('STOP').length, 0);
    assert.equal(ctx.monitor.state.sessionCount, 1);
  });

  test('one session per playback: native HLS reloading the same URL keeps it', () => {
    const { ctx, video } = attachedVideo();
    startVideo(ctx, video, { src: 'https://cdn.example/live/stream.m3u8' });
    ctx.clock.advance(5_000);
    video.fire('loadstart');
    video.fire('waiting');
    ctx.clock.advance(200);
    video.fire('playing');
    assert.equal(ctx.all('ATTEMPT').length, 1);
    assert.equal(ctx.all('STOP').length, 0);
  });

  test('a new source after ended starts a new session', () => {
    const { ctx, video } = attachedVideo({ video: { autoplay: true } });
    video.setSource('https://cdn.example/vod/one.m3u8');
    ctx.clock.advance(400);
    video.fire('playing');
    ctx.clock.advance(5_000);
    video.ended = true;
    video.fire('ended');
    const first = ctx.events[0].session_id;
    video.ended = false;
    video.setSource('https://cdn.example/vod/two.m3u8');
    ctx.clock.advance(600);
    video.fire('playing');
    const attempts = ctx.all('ATTEMPT');
    assert.equal(attempts.length, 2);
    assert.notEqual(attempts[1].session_id, first);
    assert.equal(ctx.last('PLAY').session_id, attempts[1].session_id);
    assert.equal(ctx.last('PLAY').startup_latency_ms, 600);
    assert.equal(ctx.monitor.state.sessionCount, 2);
  });

  test('a different real URL while playing ends the session (new content)', () => {
    const { ctx, video } = attachedVideo({ channel: undefined });
    startVideo(ctx, video, { src: 'https://abc.us-west-2.playback.live-video.net/api/video/v1/us-west-2.123.channel.xhP3ExfcX8ON.m3u8' });
    assert.equal(ctx.events[0].channel_watched, 'xhP3ExfcX8ON');
    ctx.clock.advance(1_000);
    video.paused = true;
    video.setSource('https://cdn.example/vod/other.m3u8?token=1');
    assert.deepEqual(ctx.types().slice(-2), ['PLAYBACK_SUMMARY', 'STOP']);
    video.userPlay();
    assert.equal(ctx.last('ATTEMPT').channel_watched, 'https://cdn.example/vod/other.m3u8');
  });

  test('endSession() then a play intent opens a new session (hls.js loadSource)', () => {
    let channel = 'first';
    const { ctx, video } = playingVideo({ channel: () => channel });
    channel = 'second';
    ctx.monitor.endSession();
    video.userPlay();
    assert.deepEqual(ctx.all('ATTEMPT').map((e) => e.channel_watched), ['first', 'second']);
  });

  test('attach to an element already playing joins without ATTEMPT or PLAY', () => {
    const { ctx, video } = attachedVideo({ video: { paused: false, readyState: 4, currentTime: 42, videoHeight: 480 } });
    assert.equal(ctx.monitor.state.phase, 'playing');
    assert.equal(ctx.events.length, 0);
    ctx.clock.advance(60_000);
    assert.equal(ctx.last('PLAYBACK_SUMMARY').playing_time_ms, 60_000);
    assert.equal(ctx.last('PLAYBACK_SUMMARY').rendition_name, '480p');
  });

  test('detach removes every listener: later media events emit nothing', () => {
    const { ctx, video } = playingVideo();
    ctx.monitor.detach();
    const count = ctx.events.length;
    video.userPause();
    video.userPlay();
    video.fire('playing');
    ctx.window.pagehide();
    ctx.clock.advance(120_000);
    assert.equal(ctx.events.length, count);
    assert.equal(ctx.monitor.state.attached, false);
  });

  test('state is a read-only snapshot', () => {
    const { ctx, video } = attachedVideo();
    const before = ctx.monitor.state;
    assert.equal(before.phase, 'idle');
    assert.equal(before.sessionId, null);
    assert.ok(Object.isFrozen(before));
    assert.throws(() => {
      'use strict';
      before.phase = 'playing';
    });
    video.userPlay();
    assert.equal(before.phase, 'idle');
    assert.equal(ctx.monitor.state.phase, 'starting');
    assert.equal(ctx.monitor.state.adapter, 'video');
  });
});
