#!/usr/bin/env node
/**
 * The package build: `dist/` from `src/`.
 *
 *   dist/index.js            ESM, one file (bundlers and `<script type="module">`), with its source map
 *   dist/qos-player.min.js   minified IIFE for a plain `<script>` tag: the global `QosPlayer`
 *   dist/types/*.d.ts        declarations generated from the JSDoc by tsc (tsconfig.build.json)
 *
 * First it writes `src/version.js` from package.json's `version`, so the `sdk_version` the events
 * carry is the package's (`npm version` runs this with `--version-only` through the `version`
 * script; a unit test checks that the two agree). `--version-only` stops there.
 */

import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
export const GLOBAL_NAME = 'QosPlayer';

/** The text of src/version.js for a package version. @param {string} version */
export function versionModule(version) {
  return `/** The SDK's version and the event contract version it emits (shared/src/qos_shared/events.py).
 * Written by tools/build.mjs from package.json's \`version\`: do not edit by hand. */

export const SDK_VERSION = '${version}';
export const SCHEMA_VERSION = '1';
`;
}

function writeVersion() {
  const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  if (typeof version !== 'string' || !/^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/.test(version)) {
    throw new Error(`package.json: version ${JSON.stringify(version)} is not a semantic version`);
  }
  const file = path.join(ROOT, 'src', 'version.js');
  const text = versionModule(version);
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // first build
  }
  if (current !== text) writeFileSync(file, text);
  return version;
}

async function build() {
  const version = writeVersion();
  if (process.argv.includes('--version-only')) return;
  const esbuild = await import('esbuild');
  rmSync(DIST, { recursive: true, force: true });
  const common = {
    entryPoints: [path.join(ROOT, 'src', 'index.js')],
    bundle: true,
    target: ['es2020'],
    platform: /** @type {const} */ ('browser'),
    legalComments: /** @type {const} */ ('none'),
    logLevel: /** @type {const} */ ('warning'),
    banner: { js: `/*! @qos/player-sdk ${version} */` },
  };
  await esbuild.build({ ...common, format: 'esm', outfile: path.join(DIST, 'index.js'), sourcemap: true });
  await esbuild.build({
    ...common,
    format: 'iife',
    globalName: GLOBAL_NAME,
    minify: true,
    sourcemap: true,
    outfile: path.join(DIST, 'qos-player.min.js'),
  });
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
}

await build();
