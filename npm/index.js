'use strict';
// gather-seal for Node: argument checks in JavaScript, sealing in WebAssembly.
// Every error thrown here or by the wasm module is an Error whose message starts with
// "gather-seal:" and never contains a key, a plaintext, a context or a ciphertext.

const wasm = require('./gather_seal_wasm.js');

// A Buffer over the wasm memory, to read results out of the module's output buffer without a
// copy. It is replaced when the memory grows (growing detaches the old ArrayBuffer).
const memory = wasm.wasmMemory();
let view = Buffer.from(memory.buffer);
function output() {
  if (view.buffer !== memory.buffer) view = Buffer.from(memory.buffer);
  return wasm.outputPointer();
}
function sealedHex(length) {
  const start = output();
  return view.toString('hex', start, start + length);
}
function plainText(length) {
  const start = output();
  try {
    return view.toString('utf8', start, start + length);
  } finally {
    wasm.wipeOutput();
  }
}

function fail(what) {
  throw new TypeError(`gather-seal: ${what}`);
}

function text(value, name) {
  if (typeof value !== 'string') fail(`${name} must be a string`);
  return value;
}

function oneKey(value) {
  if (typeof value !== 'string' || value.indexOf(',') !== -1) {
    fail('keyHex must be one key: a string of 64 hex characters');
  }
  return value;
}

function keyRing(value) {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length > 0 &&
      value.every((k) => typeof k === 'string' && k.indexOf(',') === -1)) {
    return value.join(',');
  }
  return fail('keys must be a string of 64 hex characters or a non-empty array of them');
}

// Ordinary objects only ({...}, JSON.parse, class instances, Object.create(null)): arrays,
// Buffers, Maps, Dates and boxed strings would be read as something else or lose entries.
const toTag = Object.prototype.toString;
function isPlainObject(value) {
  return value !== null && typeof value === 'object' && toTag.call(value) === '[object Object]';
}

function contextOf(options) {
  if (options === undefined || options === null) return '';
  if (!isPlainObject(options)) fail('options must be an object such as { context: "..." }');
  const { context } = options;
  if (context === undefined || context === null) return '';
  if (typeof context !== 'string') fail('options.context must be a string');
  return context;
}

function plainObject(value, name) {
  if (!isPlainObject(value)) fail(`${name} must be a plain object`);
  return value;
}

/** Seals `plainText` under `keyHex`: hex(nonce 12 ‖ ciphertext ‖ tag 16). */
function encrypt(plainText, keyHex, options) {
  return sealedHex(wasm.encryptToBuffer(text(plainText, 'plainText'), oneKey(keyHex), contextOf(options)));
}

/** Opens a sealed value with one key, or with an array of keys (current first, then older). */
function decrypt(cipherHex, keys, options) {
  return plainText(wasm.decryptToBuffer(text(cipherHex, 'cipherHex'), keyRing(keys), contextOf(options)));
}

/** A new random key: 64 lowercase hex characters. */
function generateKey() {
  return wasm.generateKey();
}

/** A new object with every string value of `object` sealed; other values are copied. */
function sealFields(object, keyHex, options) {
  return wasm.sealFields(plainObject(object, 'object'), oneKey(keyHex), contextOf(options));
}

/** The reverse of sealFields: every string value opened. */
function openFields(object, keys, options) {
  return wasm.openFields(plainObject(object, 'object'), keyRing(keys), contextOf(options));
}

module.exports = { encrypt, decrypt, generateKey, sealFields, openFields };
