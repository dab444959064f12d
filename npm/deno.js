// Entry point for Deno: the wasm is imported as a compiled module (a source phase import), so
// no read permission is needed.
import source module from './gather_seal_wasm_bg.wasm';
import { start } from './core.js';

start(module);

export * from './seal.js';
export * from './twilio.js';
