'use strict';
// gather-seal for Node: argument checks in JavaScript, sealing in WebAssembly.
// Every error thrown here or by the wasm module is an Error whose message starts with
// "gather-seal:" and never contains a key, a plaintext, a context or a ciphertext.

const { isDate, isUint8Array } = require('node:util').types;
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

// ---- Submissions: what the worker hands an application (src/handoff.rs) ----

const DEFAULT_TOLERANCE_SECONDS = 300;
// The worker refuses a BACKEND_SIGNING_SECRET shorter than this; so does the receiving side, so
// that an empty or placeholder secret (an unset variable read as '') cannot accept forgeries.
const MIN_SECRET_CHARS = 32;
// What the worker accepts as a CallSid (flow::is_call_sid).
const CALL_SID = /^[A-Za-z0-9]{1,64}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const own = (object, name) => Object.prototype.hasOwnProperty.call(object, name);

function rawBytes(value) {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (isUint8Array(value)) return value; // Buffers too
  return fail('rawBody must be the body as received: a string, a Buffer or a Uint8Array');
}

function signingSecrets(value) {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? Array.from(value) : [];
  if (list.length === 0 || !list.every((s) => typeof s === 'string' &&
      [...s].length >= MIN_SECRET_CHARS && s.indexOf('\0') === -1)) {
    fail(`secrets must be a signing secret of at least ${MIN_SECRET_CHARS} characters or a non-empty array of them`);
  }
  return list.join('\0'); // split again in wasm; a secret from the environment has no NUL
}

const isTime = (n) => typeof n === 'number' && Number.isFinite(n) && n >= 0;

function verifyOptions(options) {
  if (options === undefined || options === null) options = {};
  if (!isPlainObject(options)) fail('options must be an object such as { toleranceSeconds: 300 }');
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const now = options.now ?? Date.now();
  if (!isTime(toleranceSeconds)) fail('options.toleranceSeconds must be a non-negative finite number');
  const ms = isDate(now) ? now.getTime() : now;
  if (!isTime(ms)) fail('options.now must be a Date or a non-negative number of milliseconds since the epoch');
  // Whole seconds, as in the header; a fraction of the tolerance is dropped.
  return { tolerance: Math.floor(toleranceSeconds), nowSeconds: Math.floor(ms / 1000) };
}

/**
 * Checks the X-Gather-Seal-Signature header of a submission against its raw body, with any of
 * `secrets` (the new and the old one during a rotation), and returns the parsed submission.
 */
function verifySubmission(rawBody, signatureHeader, secrets, options) {
  const body = rawBytes(rawBody);
  if (signatureHeader !== undefined && signatureHeader !== null) {
    text(signatureHeader, 'signatureHeader');
  }
  const joined = signingSecrets(secrets);
  const { tolerance, nowSeconds } = verifyOptions(options);
  wasm.verifySubmission(body, signatureHeader ?? undefined, joined, tolerance, nowSeconds);
  let submission;
  try {
    submission = JSON.parse(utf8.decode(body));
  } catch {
    // JSON.parse's own message quotes the body.
  }
  if (!isPlainObject(submission)) throw new Error('gather-seal: submission body is not a JSON object');
  return submission;
}

// A field's sealed value travels under `encrypted<Name>Digits` (handoff::json_key):
// `last_four` ↔ `encryptedLastFourDigits`. Which names are valid is the core's rule.
const SUBMISSION_KEY = /^encrypted((?:[A-Z][a-z0-9]*)+)Digits$/;

function jsonKey(name) {
  return `encrypted${name.split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('')}Digits`;
}

/** The field whose key `key` is, or undefined for any other key. */
function fieldName(key) {
  const middle = SUBMISSION_KEY.exec(key)?.[1];
  const name = middle?.match(/[A-Z][a-z0-9]*/g).map((w) => w.toLowerCase()).join('_');
  return name !== undefined && wasm.isFieldName(name) ? name : undefined;
}

function requiredFields(options) {
  if (options === undefined || options === null) return [];
  if (!isPlainObject(options)) fail('options must be an object such as { fields: [...] }');
  const { fields } = options;
  if (fields === undefined || fields === null) return [];
  const list = Array.isArray(fields) ? Array.from(fields) : null;
  if (!list || !list.every((f) => typeof f === 'string' && wasm.isFieldName(f))) {
    fail('options.fields must be an array of field names (a-z and 0-9 words joined by _)');
  }
  return list;
}

/**
 * Opens every `encrypted<Name>Digits` value of a submission (or of a Twilio Function's `event`
 * in redirect mode) with the context `<callSid>:<name>`: `{ card: '1234', pin: '4321' }`.
 */
function openSubmission(submission, keys, options) {
  plainObject(submission, 'submission');
  const ring = keyRing(keys);
  const required = requiredFields(options);
  // The worker's submissions say callSid; Twilio's requests (a redirect) say CallSid.
  const sid = own(submission, 'callSid') ? submission.callSid
    : own(submission, 'CallSid') ? submission.CallSid : undefined;
  if (typeof sid !== 'string' || !CALL_SID.test(sid)) {
    throw new Error('gather-seal: submission has no valid callSid (or CallSid)');
  }
  for (const name of required) {
    if (!own(submission, jsonKey(name))) {
      throw new Error(`gather-seal: submission has no ${jsonKey(name)}, which options.fields requires`);
    }
  }
  const opened = {};
  for (const key of Object.keys(submission)) {
    const name = fieldName(key);
    if (name === undefined) continue;
    const sealed = submission[key];
    if (typeof sealed !== 'string') fail(`${key} must be a string`);
    let plain;
    try {
      plain = plainText(wasm.decryptToBuffer(sealed, ring, `${sid}:${name}`));
    } catch (error) {
      // Which value failed, never what it held: the key is a field's public name.
      throw new Error(`gather-seal: ${key}: ${String(error.message).replace(/^gather-seal: /, '')}`);
    }
    // Defined, not assigned, like openFields: no name can reach a prototype.
    Object.defineProperty(opened, name, { value: plain, writable: true, enumerable: true, configurable: true });
  }
  return opened;
}

module.exports = {
  encrypt, decrypt, generateKey, sealFields, openFields, verifySubmission, openSubmission,
};
