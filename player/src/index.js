/**
 * The QoS player SDK's public entry: `import { createQosMonitor } from './src/index.js'`.
 * Plain ES modules with relative imports only, so a page can load it without a bundler.
 */

export { createQosMonitor, channelFromUrl } from './monitor.js';
export { IVS_PLAYER_EVENT, IVS_PLAYER_STATE } from './ivs-constants.js';
export { SCHEMA_VERSION, SDK_VERSION } from './version.js';

/** @typedef {import('./monitor.js').QosMonitor} QosMonitor */
/** @typedef {import('./monitor.js').QosMonitorOptions} QosMonitorOptions */
/** @typedef {import('./monitor.js').AttachOptions} AttachOptions */
/** @typedef {import('./monitor.js').MonitorState} MonitorState */
/** @typedef {import('./types.js').QosEvent} QosEvent */
/** @typedef {import('./types.js').Environment} Environment */
