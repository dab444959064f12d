// Entry point for Cloudflare Workers (the `workerd` and `worker` conditions, which wrangler's
// bundler sets): the wasm is imported as a module, which wrangler uploads beside the script.
import module from './gather_seal_wasm_bg.wasm';
import { start } from './core.js';

start(module);

export * from './seal.js';
export * from './twilio.js';
