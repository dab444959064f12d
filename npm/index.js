// Entry point for Node's `import`, Bun and other runtimes with Node's fs: the wasm is read from
// the package, and Node's Buffer turns results into text.
import { readFileSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { start } from './core.js';

start(new WebAssembly.Module(readFileSync(new URL('./gather_seal_wasm_bg.wasm', import.meta.url))), Buffer);

export * from './seal.js';
export * from './twilio.js';
