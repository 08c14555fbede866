#!/usr/bin/env node
// Generates the multi-rendition HLS test stream (ffmpeg, H.264/AAC, MPEG-TS segments) into a cache
// directory keyed by its parameters, so a rerun with the same parameters is instant.
//
//   node tools/make-stream.mjs [--duration 36] [--segment 1] [--fps 30] [--cache DIR] [--force]
//
// Prints the stream directory (holding master.m3u8, <rendition>/index.m3u8, <rendition>/seg_NNN.ts
// and stream.json). Also importable: `ensureStream(options)` returns the same description.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { parseArgs } from './args.mjs';

const PLAYER_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Under node_modules/ so it is ignored by git and removed with the rest of the install.
export const DEFAULT_CACHE_DIR = path.join(PLAYER_DIR, 'node_modules', '.cache', 'qos-test-stream');
const GENERATOR_VERSION = 1;
const running = new Set(); // ffmpeg processes under way
let aborted = false;

/** Kill any ffmpeg under way (a server stopping mid-make); resolves once they have exited. */
export function abortStreamMaking() {
  aborted = true;
  return Promise.all(
    [...running].map((child) => new Promise((resolve) => {
      child.once('close', resolve);
      child.kill('SIGKILL');
    })),
  );
}

export const DEFAULT_RENDITIONS = Object.freeze([
  { name: '240p', height: 240, videoKbps: 400 },
  { name: '360p', height: 360, videoKbps: 800 },
  { name: '480p', height: 480, videoKbps: 1400 },
]);

/** The ffmpeg binary to use (env FFMPEG, else `ffmpeg` on PATH), or null when there is none. */
export function findFfmpeg() {
  const bin = process.env.FFMPEG || 'ffmpeg';
  const probe = spawnSync(bin, ['-hide_banner', '-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return null;
  return { bin, version: probe.stdout.split('\n')[0].trim() };
}

function streamParams(options) {
  return {
    generator: GENERATOR_VERSION,
    durationS: options.durationS ?? 36,
    segmentS: options.segmentS ?? 1,
    fps: options.fps ?? 30,
    audioKbps: options.audioKbps ?? 64,
    renditions: (options.renditions ?? DEFAULT_RENDITIONS).map((r) => ({ ...r })),
  };
}

/**
 * Make the stream unless the cache already has it; resolves to its description:
 * `{ dir, master, renditions: [{name, height, width, bandwidth, playlist, segments}], ... }`.
 */
export async function ensureStream(options = {}) {
  const params = streamParams(options);
  const ffmpeg = findFfmpeg();
  if (!ffmpeg) {
    throw new Error('ffmpeg not found: install it (Debian: apt-get install -y ffmpeg) or set FFMPEG');
  }
  const key = createHash('sha256')
    .update(JSON.stringify({ ...params, ffmpeg: ffmpeg.version }))
    .digest('hex')
    .slice(0, 16);
  const cacheDir = options.cacheDir ?? process.env.QOS_STREAM_CACHE ?? DEFAULT_CACHE_DIR;
  const dir = path.join(cacheDir, `vod-${key}`);
  const descriptionPath = path.join(dir, 'stream.json');
  if (!options.force && existsSync(descriptionPath)) {
    return { ...JSON.parse(readFileSync(descriptionPath, 'utf8')), dir, cached: true };
  }
  // Build beside the final place and rename: a concurrent or interrupted run never leaves a
  // half-written stream where readers look.
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  try {
    try {
      await runFfmpeg(ffmpeg.bin, tmp, params, { timecode: true, log: options.log, nice: options.nice });
    } catch (error) {
      // drawtext needs a font through fontconfig; without one, the pattern alone still works.
      options.log?.(`ffmpeg with a timecode overlay failed (${error.message}); retrying without`);
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      await runFfmpeg(ffmpeg.bin, tmp, params, { timecode: false, log: options.log, nice: options.nice });
    }
    const description = describe(tmp, params, ffmpeg.version);
    writeFileSync(path.join(tmp, 'stream.json'), `${JSON.stringify(description, null, 2)}\n`);
    if (options.force) rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch (error) {
      if (!existsSync(descriptionPath)) throw error; // another process won the race: use its copy
    }
    return { ...description, dir, cached: false };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function ffmpegArgs(outDir, params, { timecode }) {
  const { durationS, segmentS, fps, renditions } = params;
  const top = Math.max(...renditions.map((r) => r.height));
  const topWidth = evenWidth(top);
  const n = renditions.length;
  const font = 'DejaVu Sans Mono';
  const overlay = timecode
    ? `,drawtext=font='${font}':text='%{pts\\:hms}  frame %{n}':x=16:y=16:fontsize=${Math.round(top / 12)}` +
      `:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=6`
    : '';
  const chains = [`[0:v]format=yuv420p${overlay},split=${n}${renditions.map((_, i) => `[s${i}]`).join('')}`];
  renditions.forEach((r, i) => {
    const label = timecode
      ? `,drawtext=font='${font}':text='${r.name}':x=w-tw-12:y=h-th-12:fontsize=${Math.max(14, Math.round(r.height / 10))}` +
        `:fontcolor=yellow:box=1:boxcolor=black@0.6:boxborderw=4`
      : '';
    chains.push(`[s${i}]scale=${evenWidth(r.height)}:${r.height}${label}[v${i}]`);
  });
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${topWidth}x${top}:rate=${fps}:duration=${durationS}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:beep_factor=4:sample_rate=48000:duration=${durationS}`,
    '-filter_complex', chains.join(';'),
  ];
  renditions.forEach((r, i) => {
    args.push('-map', `[v${i}]`, '-map', '1:a');
    args.push(`-b:v:${i}`, `${r.videoKbps}k`, `-maxrate:v:${i}`, `${Math.round(r.videoKbps * 1.1)}k`,
      `-bufsize:v:${i}`, `${r.videoKbps * 2}k`);
  });
  const gop = Math.round(fps * segmentS);
  args.push(
    '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-pix_fmt', 'yuv420p',
    '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0',
    '-force_key_frames', `expr:gte(t,n_forced*${segmentS})`,
    '-c:a', 'aac', '-b:a', `${params.audioKbps}k`, '-ac', '2', '-ar', '48000',
    '-f', 'hls', '-hls_time', String(segmentS), '-hls_playlist_type', 'vod',
    '-hls_flags', 'independent_segments',
    '-hls_segment_filename', path.join(outDir, '%v', 'seg_%03d.ts'),
    '-master_pl_name', 'master.m3u8',
    '-var_stream_map', renditions.map((r, i) => `v:${i},a:${i},name:${r.name}`).join(' '),
    path.join(outDir, '%v', 'index.m3u8'),
  );
  return args;
}

function evenWidth(height) {
  return Math.round((height * 16) / 9 / 2) * 2;
}

function runFfmpeg(bin, outDir, params, { timecode, log, nice }) {
  const args = ffmpegArgs(outDir, params, { timecode });
  log?.(`${bin} ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    if (aborted) {
      reject(new Error('stream making was aborted'));
      return;
    }
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    running.add(child);
    if (nice) {
      try {
        os.setPriority(child.pid, nice); // made in the background: leave the CPU to the stack
      } catch {
        // not permitted here: run at normal priority
      }
    }
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      running.delete(child);
      if (code === 0) resolve();
      else reject(new Error(`ffmpeg exited with ${code}: ${stderr.trim().slice(-2000)}`));
    });
  });
}

function describe(dir, params, ffmpegVersion) {
  const master = readFileSync(path.join(dir, 'master.m3u8'), 'utf8');
  const renditions = params.renditions.map((r) => {
    const playlist = readFileSync(path.join(dir, r.name, 'index.m3u8'), 'utf8');
    const segments = playlist.split('\n').filter((line) => line.endsWith('.ts'));
    const durations = [...playlist.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
    const inf = master.match(new RegExp(`#EXT-X-STREAM-INF:([^\\n]*)\\n${r.name}/index\\.m3u8`));
    return {
      name: r.name,
      height: r.height,
      width: evenWidth(r.height),
      bandwidth: inf ? Number(inf[1].match(/BANDWIDTH=(\d+)/)?.[1]) : null,
      playlist: `${r.name}/index.m3u8`,
      segments,
      segmentDurations: durations,
    };
  });
  return {
    params,
    ffmpeg: ffmpegVersion,
    master: 'master.m3u8',
    segmentCount: Math.min(...renditions.map((r) => r.segments.length)),
    renditions,
  };
}

function parseStreamArgs(argv) {
  return parseArgs(argv, {
    prog: 'make-stream.mjs',
    usage: '[--duration S] [--segment S] [--fps N] [--cache DIR] [--force] [--verbose]',
    table: {
      '--duration': ['durationS', Number],
      '--segment': ['segmentS', Number],
      '--fps': ['fps', Number],
      '--cache': ['cacheDir', (dir) => path.resolve(dir)],
      '--force': ['force', () => true, false],
      '--verbose': ['log', () => (line) => console.error(line), false],
    },
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  ensureStream(parseStreamArgs(process.argv.slice(2))).then(
    (stream) => {
      const how = stream.cached ? 'cached' : `made in ${((Date.now() - started) / 1000).toFixed(1)} s`;
      console.error(`make-stream: ${stream.renditions.length} renditions x ${stream.segmentCount} segments (${how})`);
      console.log(stream.dir);
    },
    (error) => {
      console.error(`make-stream: ${error.message}`);
      process.exit(1);
    },
  );
}
