/** Playback scenarios that together emit every event type with every optional field. Not a test file. */

import { FakeIvsPlayer, FakeVideo, setup, startVideo } from './helpers.js';

const IVS_URL = 'https://abc.us-west-2.playback.live-video.net/api/video/v1/us-west-2.1.channel.xhP3ExfcX8ON.m3u8';

/** @param {object} [options] createQosMonitor options */
export async function everyEventType(options = {}) {
  const live = setup({ channel: undefined, batchSize: 500, ...options });
  const video = new FakeVideo({ droppedVideoFrames: 2 });
  const player = new FakeIvsPlayer({ video });
  live.monitor.attach(player);
  player.setAutoplay(true);
  player.load(IVS_URL);
  live.clock.advance(900);
  player.emit('Playing');
  live.clock.advance(10_000);
  player.emit('PlayerRebuffering');
  live.clock.advance(1_000);
  player.emit('Playing');
  const lower = { name: '480p30', bitrate: 1_000_000, height: 480 };
  player.quality = lower;
  player.emit('PlayerQualityChanged', lower);
  player.emit('PlayerRecoverableError', { type: 'ErrorNetwork', code: 503, source: 'Segment', message: 'retrying' });
  live.clock.advance(49_000);
  player.position = 61.4;
  player.emit('PlayerError', { type: 'ErrorNetworkIO', code: -1, source: 'Segment', message: 'gone' });

  const vod = setup({ ...options, channel: 'vod-42', batchSize: 500 });
  const element = new FakeVideo({ duration: 30 });
  vod.monitor.attach(element);
  element.userPlay();
  vod.window.pagehide(); // exit before start

  element.setSource('https://cdn.example/vod/a.m3u8');
  startVideo(vod, element);
  vod.clock.advance(60_000);
  element.currentTime = 29.6;
  element.ended = true;
  element.fire('ended');

  await live.monitor.flush();
  await vod.monitor.flush();
  return { live, vod };
}
