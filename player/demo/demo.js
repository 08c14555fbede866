// The demo page: plays the local HLS test stream with hls.js (or an Amazon IVS playback URL with the
// IVS web player when `?ivs=URL` is given), attaches the QoS SDK and lists the events it sends.
// Everything is served locally (tools/segment-server.mjs): no CDN. Browser tests drive this page
// through `window.qosDemo`.

const params = new URLSearchParams(window.location.search);
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const video = /** @type {HTMLVideoElement} */ ($('video'));

const demo = {
  params: Object.fromEntries(params),
  video,
  hls: null,
  ivsPlayer: null,
  monitor: null,
  events: [],
  errors: [],
  /** Resolves once the player and the monitor are set up (or rejects with the reason). */
  ready: null,
  play: () => (demo.ivsPlayer ? demo.ivsPlayer.play() : video.play()),
};
window.qosDemo = demo;

function setStatus(text, isError = false) {
  const status = $('status');
  status.textContent = text;
  status.classList.toggle('error', isError);
  if (isError) demo.errors.push(text);
}

function numberParam(name) {
  const raw = params.get(name);
  if (raw == null || raw === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

async function loadConfig() {
  // Written by the segment server (its --ingest-url); a plain static server has none.
  try {
    const response = await fetch('./config.json', { cache: 'no-store' });
    if (response.ok) return await response.json();
  } catch {
    // fall through to the defaults
  }
  return {};
}

function showEvent(event) {
  demo.events.push(event);
  $('count').textContent = String(demo.events.length);
  const item = document.createElement('li');
  item.className = event.metric_type;
  const name = document.createElement('b');
  name.textContent = event.metric_type;
  const detail = document.createElement('span');
  detail.className = 'detail';
  const skip = new Set([
    'metric_type', 'session_id', 'user_id', 'client_platform', 'channel_watched', 'event_id',
    'schema_version', 'sdk_version', 'player_version', 'event_time',
  ]);
  detail.textContent = Object.entries(event)
    .filter(([key, value]) => !skip.has(key) && value !== null && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : value}`)
    .join(' ');
  item.append(name, ' ', detail);
  $('events').prepend(item);
}

function showState() {
  const state = demo.monitor?.state;
  $('state').textContent = state === undefined ? '-' : typeof state === 'object' ? JSON.stringify(state) : String(state);
}

/** The hls.js player for `src`, with the buffer caps the stall tests need. */
async function startHls(src) {
  const { default: Hls } = await import('../vendor/hls/hls.min.mjs');
  if (!Hls.isSupported()) {
    // Chromium answers "maybe" to native HLS too, so hls.js is asked first; Safari lands here.
    if (video.canPlayType('application/vnd.apple.mpegurl')) {
      $('player').textContent = 'native HLS';
      return { attach: () => { video.src = src; } };
    }
    throw new Error('neither hls.js (MediaSource) nor native HLS is available in this browser');
  }
  const maxBuffer = numberParam('maxBuffer');
  const level = numberParam('level');
  const config = { enableWorker: true, lowLatencyMode: false };
  if (maxBuffer !== undefined) {
    Object.assign(config, { maxBufferLength: maxBuffer, maxMaxBufferLength: maxBuffer, backBufferLength: 30 });
  }
  if (level !== undefined) config.startLevel = level;
  const hls = new Hls(config);
  demo.hls = hls;
  demo.Hls = Hls;
  $('player').textContent = `hls.js ${Hls.version}`;
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    if (level !== undefined) hls.currentLevel = level; // fixed level: ABR off
  });
  hls.on(Hls.Events.LEVEL_SWITCHED, (_name, data) => {
    const switched = hls.levels[data.level];
    if (!switched) return;
    const height = switched.height || undefined;
    // The rendition names of the master playlist's URIs (`360p/index.m3u8`), else the height.
    const fromUri = /([^/]+)\/[^/]*\.m3u8/.exec(switched.url?.[0] ?? switched.uri ?? '')?.[1];
    demo.monitor?.setQuality({ name: switched.name || fromUri || `${height}p`, bitrate: switched.bitrate, height });
  });
  hls.on(Hls.Events.ERROR, (_name, data) => {
    if (data.fatal) setStatus(`hls.js fatal ${data.type}: ${data.details}`, true);
    // A stall shows up as hls.js's non-fatal bufferStalledError (and nudges) just after the
    // element's `waiting`: the SDK measures stalls from the element, so they are not errors.
    if (!data.fatal && data.type === Hls.ErrorTypes.MEDIA_ERROR && /^buffer(Stalled|Nudge|SeekOverHole)/.test(data.details)) return;
    demo.monitor?.reportError({
      code: data.details,
      type: data.type,
      message: data.error?.message ?? data.reason ?? data.details,
      fatal: !!data.fatal,
    });
  });
  return {
    attach: () => {
      hls.loadSource(src);
      hls.attachMedia(video);
    },
  };
}

/** The Amazon IVS web player, loaded only when asked (`?ivs=URL`), from the local npm package. */
async function startIvs(url) {
  const { loadIvsPlayer } = await import('./ivs.js');
  const IVSPlayer = await loadIvsPlayer();
  if (!IVSPlayer.isPlayerSupported) throw new Error('the IVS web player does not support this browser');
  const player = IVSPlayer.create({
    wasmWorker: new URL('../vendor/amazon-ivs-player/assets/amazon-ivs-wasmworker.min.js', window.location.href).href,
    wasmBinary: new URL('../vendor/amazon-ivs-player/assets/amazon-ivs-wasmworker.min.wasm', window.location.href).href,
  });
  player.attachHTMLVideoElement(video);
  demo.ivsPlayer = player;
  $('player').textContent = `Amazon IVS web player ${player.getVersion()}`;
  player.addEventListener(IVSPlayer.PlayerEventType.ERROR, (error) => {
    setStatus(`IVS player error ${error.type}: ${error.message ?? ''}`, true);
  });
  return { attach: () => player.load(url), player };
}

async function main() {
  const config = await loadConfig();
  const legacy = params.get('legacy') === '1';
  let endpoint = params.get('endpoint') || config.endpoint || 'http://127.0.0.1:8780/v1/events';
  if (legacy && !params.get('endpoint')) endpoint = endpoint.replace(/\/v1\/events$/, '/streams');
  const channel = params.get('channel') || config.channel || 'local-test-stream';
  const ivsUrl = params.get('ivs');
  const src = ivsUrl || params.get('src') || config.src || '/stream/master.m3u8';
  const autoplay = params.get('autoplay') !== '0';
  if (params.get('muted') === '0') video.muted = false;
  $('source').textContent = src;
  $('endpoint').textContent = endpoint;
  $('channel').textContent = channel;

  const player = ivsUrl ? await startIvs(ivsUrl) : await startHls(new URL(src, window.location.href).href);

  let sdk;
  try {
    sdk = await import('../src/index.js');
  } catch (error) {
    setStatus(`the SDK did not load (${error.message}); playing without it`, true);
  }
  if (sdk) {
    const options = {
      endpoint,
      channel,
      platform: 'web',
      legacyEnvelope: legacy,
      onEvent: (event) => {
        showEvent(event);
        showState();
      },
    };
    const summaryMs = numberParam('summaryMs');
    if (summaryMs !== undefined) options.summaryIntervalMs = summaryMs;
    if (params.get('beacon') === '0') options.useBeacon = false;
    demo.monitor = sdk.createQosMonitor(options);
    // With hls.js, pass it: live playlists (MSE gives the element a finite duration) and latency.
    demo.monitor.attach(player.player ?? video, demo.hls ? { hls: demo.hls } : undefined);
  }

  player.attach();
  $('play').addEventListener('click', () => demo.play());
  $('pause').addEventListener('click', () => (demo.ivsPlayer ? demo.ivsPlayer.pause() : video.pause()));
  $('seek').addEventListener('click', () => {
    if (demo.ivsPlayer) demo.ivsPlayer.seekTo(demo.ivsPlayer.getPosition() + 10);
    else video.currentTime += 10;
  });
  $('flush').addEventListener('click', () => demo.monitor?.flush());
  $('detach').addEventListener('click', () => {
    demo.monitor?.detach();
    showState();
  });
  setInterval(showState, 1000);
  setStatus(autoplay ? 'playing' : 'ready: press Play');
  if (autoplay) {
    demo.play()?.catch?.((error) => setStatus(`autoplay refused (${error.message}); press Play`, true));
  }
}

demo.ready = main().catch((error) => {
  setStatus(String(error.message || error), true);
  throw error;
});
