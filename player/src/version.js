/** The SDK's version and the event contract version it emits (shared/src/qos_shared/events.py).
 * Written by tools/build.mjs from package.json's `version`: do not edit by hand. */

export const SDK_VERSION = '0.1.0';
export const SCHEMA_VERSION = '1';
