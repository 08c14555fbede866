/**
 * The `<script>` bundle's size budget: at most 12 KiB minified and gzipped (what a page pays for
 * the SDK over the wire). Reads `dist/`, so `npm run build` comes first.
 */

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

export const BUDGET_BYTES = 12 * 1024;
const BUNDLE = new URL('../../dist/qos-player.min.js', import.meta.url);

test('the minified IIFE bundle fits 12 KiB gzipped', () => {
  assert.ok(existsSync(BUNDLE), 'dist/qos-player.min.js is missing: run `npm run build` first');
  const raw = readFileSync(BUNDLE);
  const gzipped = gzipSync(raw, { level: 9 }).length;
  console.log(`# dist/qos-player.min.js: ${raw.length} B minified, ${gzipped} B gzipped (budget ${BUDGET_BYTES} B)`);
  assert.ok(gzipped <= BUDGET_BYTES, `${gzipped} B gzipped is over the ${BUDGET_BYTES} B budget`);
  // Minified for real: a bundle with its comments and indentation would pass the budget by luck.
  const lines = raw.toString('utf8').split('\n').filter(Boolean);
  assert.ok(lines.length <= 3, `${lines.length} lines: not minified`);
});
