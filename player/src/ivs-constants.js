/**
 * The Amazon IVS web player's event names the IVS adapter listens to, as plain strings.
 *
 * The SDK never imports `amazon-ivs-player` at run time (the page passes its own player), so these
 * values are copies; `test/unit/ivs-constants.test.js` compares each one with the enums the real
 * package exports, so a rename there fails our tests instead of silently breaking users.
 */

/** `IVSPlayer.PlayerState` values the adapter relies on. */
export const IVS_PLAYER_STATE = Object.freeze({
  IDLE: 'Idle',
  READY: 'Ready',
  BUFFERING: 'Buffering',
  PLAYING: 'Playing',
  ENDED: 'Ended',
});

/** `IVSPlayer.PlayerEventType` values the adapter relies on. */
export const IVS_PLAYER_EVENT = Object.freeze({
  ERROR: 'PlayerError',
  RECOVERABLE_ERROR: 'PlayerRecoverableError',
  QUALITY_CHANGED: 'PlayerQualityChanged',
  REBUFFERING: 'PlayerRebuffering',
  SEEK_COMPLETED: 'PlayerSeekCompleted',
  PLAYBACK_BLOCKED: 'PlayerPlaybackBlocked',
});
