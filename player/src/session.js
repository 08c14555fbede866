/**
 * One playback session's state machine: phases and the time spent in each, from normalised player
 * signals. No I/O and no events: the monitor turns its transitions into events.
 *
 * Measurement rules (METRICS.md §2 and §4):
 * - startup runs from play intent to the first frame; buffering before the first frame is startup,
 *   not a stall;
 * - a stall is buffering after playback started that no seek caused; buffering while seeking or
 *   while resuming from pause counts neither as stall nor as watch time;
 * - paused time is not watch time; a stall is counted when it begins.
 */

/** @typedef {import('./types.js').Phase} Phase */

/**
 * @typedef {object} Counters
 * @property {number} playingTimeMs
 * @property {number} bufferingTimeMs
 * @property {number} bufferingCount
 * @property {number} errorCount
 */

/** @returns {Counters} */
function zeroCounters() {
  return { playingTimeMs: 0, bufferingTimeMs: 0, bufferingCount: 0, errorCount: 0 };
}

export class PlaybackSession {
  /**
   * @param {object} init
   * @param {string} init.id
   * @param {number} init.now Monotonic ms of the play intent (or of joining a running playback).
   * @param {boolean} [init.joined] Attached to a playback already under way: no startup to measure.
   * @param {boolean} [init.hiddenAtIntent]
   */
  constructor({ id, now, joined = false, hiddenAtIntent = false }) {
    this.id = id;
    this.intentAt = now;
    this.joined = joined;
    /** @type {Phase} */
    this.phase = joined ? 'playing' : 'starting';
    this.phaseSince = now;
    this.started = joined;
    /** @type {number | null} */
    this.startupMs = null;
    /** Hidden at intent or at any moment before the first frame: that startup time is skewed. */
    this.hiddenDuringStartup = hiddenAtIntent;
    /** The viewer's pause state, kept apart from the phase so a seek knows what to return to. */
    this.userPaused = false;
    this.fatalError = false;
    this.interval = zeroCounters();
    this.totals = zeroCounters();
  }

  get open() {
    return this.phase !== 'ended' && this.phase !== 'failed';
  }

  /**
   * Credit the time since the last transition to the current phase.
   * @param {number} now
   */
  accumulate(now) {
    const delta = Math.max(0, now - this.phaseSince);
    if (this.phase === 'playing') {
      this.interval.playingTimeMs += delta;
      this.totals.playingTimeMs += delta;
    } else if (this.phase === 'stalled') {
      this.interval.bufferingTimeMs += delta;
      this.totals.bufferingTimeMs += delta;
    }
    this.phaseSince = now;
  }

  /**
   * @param {Phase} phase
   * @param {number} now
   */
  enter(phase, now) {
    this.accumulate(now);
    this.phase = phase;
  }

  /**
   * Playback is rendering: the first frame, or a resume after a stall, pause or seek.
   * @param {number} now
   * @returns {{firstFrame: boolean}}
   */
  playing(now) {
    if (!this.open) return { firstFrame: false };
    this.userPaused = false;
    if (this.phase === 'starting') {
      this.started = true;
      this.startupMs = Math.max(0, now - this.intentAt);
      this.enter('playing', now);
      return { firstFrame: true };
    }
    if (this.phase !== 'playing') this.enter('playing', now);
    return { firstFrame: false };
  }

  /**
   * The player waits for data. Only a wait during steady playback is a stall.
   * @param {number} now
   * @returns {boolean} whether a stall began
   */
  waiting(now) {
    if (this.phase !== 'playing') return false;
    this.enter('stalled', now);
    this.interval.bufferingCount += 1;
    this.totals.bufferingCount += 1;
    return true;
  }

  /** @param {number} now */
  pause(now) {
    this.userPaused = true;
    if (this.phase === 'playing' || this.phase === 'stalled') this.enter('paused', now);
  }

  /** A play intent while the session is open: a resume. The phase changes when frames render. */
  resume() {
    this.userPaused = false;
  }

  /** @param {number} now */
  seeking(now) {
    // A seek before the first frame is part of startup; a seek during a stall ends the stall.
    if (this.phase === 'playing' || this.phase === 'stalled' || this.phase === 'paused') {
      this.enter('seeking', now);
    }
  }

  /** @param {number} now */
  seeked(now) {
    if (this.phase === 'seeking') this.enter(this.userPaused ? 'paused' : 'playing', now);
  }

  /** @param {number} now */
  markHidden(now) {
    if (this.phase === 'starting' && now >= this.intentAt) this.hiddenDuringStartup = true;
  }

  countError() {
    this.interval.errorCount += 1;
    this.totals.errorCount += 1;
  }

  /**
   * The interval's counters, then start a new interval.
   * @param {number} now
   * @returns {Counters}
   */
  takeInterval(now) {
    this.accumulate(now);
    const taken = this.interval;
    this.interval = zeroCounters();
    return taken;
  }

  /**
   * @param {number} now
   * @param {{fatal: boolean}} how
   */
  close(now, { fatal }) {
    this.accumulate(now);
    this.fatalError = this.fatalError || fatal;
    this.phase = fatal ? 'failed' : 'ended';
  }

  /**
   * Totals so far, including the running phase (for `monitor.state`).
   * @param {number} now
   * @returns {Counters}
   */
  totalsAt(now) {
    const running = this.open ? Math.max(0, now - this.phaseSince) : 0;
    return {
      playingTimeMs: this.totals.playingTimeMs + (this.phase === 'playing' ? running : 0),
      bufferingTimeMs: this.totals.bufferingTimeMs + (this.phase === 'stalled' ? running : 0),
      bufferingCount: this.totals.bufferingCount,
      errorCount: this.totals.errorCount,
    };
  }
}
