'use strict';
// Entry point for Node's `require()`. scripts/build-node.sh bundles this file and the ES modules
// it requires into one CommonJS file (pkg/index.cjs).
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { start } = require('./core.js');

start(new WebAssembly.Module(readFileSync(join(__dirname, 'gather_seal_wasm_bg.wasm'))), Buffer);

module.exports = { ...require('./seal.js'), ...require('./twilio.js') };
