/**
 * The IVS adapter listens by string; these strings must be the real package's enum values.
 *
 * amazon-ivs-player's main entry (dist/index.js, CommonJS) loads in node without a DOM, so the
 * exported enums are compared directly; its type definitions (dist/index.d.ts) are parsed as a
 * second witness, since the public API is what its types declare.
 */

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { IVS_PLAYER_EVENT, IVS_PLAYER_STATE } from '../../src/index.js';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const srcDir = join(here, '..', '..', 'src');

/** enum Name { KEY = "value", ... } from a .d.ts file */
function declaredEnum(dts, name) {
  const body = new RegExp(`export declare enum ${name} \\{([\\s\\S]*?)\\n\\}`).exec(dts);
  assert.ok(body, `enum ${name} not found in the package's type definitions`);
  return Object.fromEntries([...body[1].matchAll(/^\s*([A-Z_0-9]+)\s*=\s*"([^"]*)"/gm)].map((m) => [m[1], m[2]]));
}

test('the package main entry loads in node and exports the enums', async () => {
  const mod = await import('amazon-ivs-player');
  const ivs = mod.default ?? mod;
  assert.equal(typeof ivs.PlayerState, 'object');
  assert.equal(typeof ivs.PlayerEventType, 'object');
});

test('PlayerState values the adapter uses match the package', async () => {
  const { default: ivs } = await import('amazon-ivs-player');
  for (const [key, value] of Object.entries(IVS_PLAYER_STATE)) {
    assert.equal(ivs.PlayerState[key], value, `PlayerState.${key}`);
  }
});

test('PlayerEventType values the adapter uses match the package', async () => {
  const { default: ivs } = await import('amazon-ivs-player');
  for (const [key, value] of Object.entries(IVS_PLAYER_EVENT)) {
    assert.equal(ivs.PlayerEventType[key], value, `PlayerEventType.${key}`);
  }
});

test('the type definitions declare the same values', () => {
  const dts = readFileSync(require.resolve('amazon-ivs-player/dist/index.d.ts'), 'utf8');
  const states = declaredEnum(dts, 'PlayerState');
  const events = declaredEnum(dts, 'PlayerEventType');
  assert.deepEqual(
    Object.fromEntries(Object.keys(IVS_PLAYER_STATE).map((k) => [k, states[k]])),
    { ...IVS_PLAYER_STATE },
  );
  for (const [key, value] of Object.entries(IVS_PLAYER_EVENT)) {
    // RECOVERABLE_ERROR is exported at run time but left out of the published .d.ts.
    if (key === 'RECOVERABLE_ERROR') continue;
    assert.equal(events[key], value, `PlayerEventType.${key} in index.d.ts`);
  }
});

test('the SDK never imports amazon-ivs-player and uses only relative .js imports', () => {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.js')) files.push(join(dir, entry.name));
    }
  };
  walk(srcDir);
  assert.ok(files.length >= 8);
  for (const file of files) {
    const source = readFileSync(file, 'utf8');
    const specifiers = [...source.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    specifiers.push(...[...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]));
    for (const spec of specifiers) {
      assert.match(spec, /^\.\.?\/.*\.js$/, `${file}: import '${spec}' would not load in a browser without a bundler`);
    }
  }
});
