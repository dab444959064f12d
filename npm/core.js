// What every export shares: the WebAssembly instance, the way results leave its memory, and the
// argument checks. Every error thrown by the package is an Error whose message starts with
// "gather-seal:" and never contains a key, a token, a plaintext, a context or a ciphertext.
// (What a caller's own getter, Proxy trap or toString throws passes through as it is.)
//
// Every argument is read and checked here, in JavaScript, before anything enters the
// WebAssembly module: objects and arrays once each, into copies of our own, so that no caller's
// code runs while the module is working and a getter or a Proxy cannot change a value after its
// check. Only strings, fresh byte arrays and numbers reach the module; secrets (plaintexts, keys,
// tokens, signing secrets, what a Twilio signature covers) only through withInput, written
// straight into the module's memory, where it wipes them.
//
// Each entry point (index.js, index.cjs, deno.js, workerd.js) gets the compiled module the way
// its runtime allows and calls start() once, before anything below runs.

import * as glue from './gather_seal_wasm_bg.js';
import { outputPointer, wasmMemory, wipeOutput } from './gather_seal_wasm_bg.js';

let memory;
let view; // the wasm memory as bytes; replaced when the memory grows (growing detaches it)
let NodeBuffer; // Node's Buffer, where the entry passes it: its hex and UTF-8 are the fastest

/** Instantiates `module` (a WebAssembly.Module of gather_seal_wasm_bg.wasm). */
export function start(module, Buffer) {
  const instance = new WebAssembly.Instance(module, { './gather_seal_wasm_bg.js': glue });
  glue.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start();
  memory = wasmMemory();
  NodeBuffer = Buffer;
}

function freshView() {
  // A grown memory has a new buffer and detaches the old one: the view then has no bytes.
  // (Cheaper than asking for memory.buffer on every call.)
  if (view === undefined || view.byteLength === 0) {
    view = NodeBuffer ? NodeBuffer.from(memory.buffer) : new Uint8Array(memory.buffer);
  }
}

function output() {
  freshView();
  return outputPointer();
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The first `length` bytes of the wasm output buffer as lowercase hex. */
export function sealedHex(length) {
  const start = output();
  if (NodeBuffer) return view.toString('hex', start, start + length);
  let hex = '';
  for (let i = start; i < start + length; i++) hex += HEX[view[i]];
  return hex;
}

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** The first `length` bytes of the wasm output buffer as UTF-8 text; the buffer is then wiped. */
export function plainText(length) {
  const start = output();
  try {
    return NodeBuffer ? view.toString('utf8', start, start + length) : utf8.decode(view.subarray(start, start + length));
  } finally {
    wipeOutput();
  }
}

export function fail(what) {
  throw new TypeError(`gather-seal: ${what}`);
}

// Whether a string is well-formed UTF-16. One with a lone surrogate would reach the module as
// U+FFFD (TextEncoder replaces it), so two different texts would seal, open or sign as one.
const isWellFormed = String.prototype.isWellFormed;
const LONE_SURROGATE = /\p{Cs}/u;
export const wellFormed = isWellFormed ? (s) => isWellFormed.call(s) : (s) => !LONE_SURROGATE.test(s);

/** `value` when it is a well-formed string (text that reaches the module as it is). */
export function text(value, name) {
  if (typeof value !== 'string') fail(`${name} must be a string`);
  if (!wellFormed(value)) fail(`${name} must be well-formed text, without lone surrogates`);
  return value;
}

// Ordinary objects only ({...}, JSON.parse, class instances, Object.create(null)): arrays,
// Buffers, Maps, Dates and boxed strings would be read as something else or lose entries.
export const toTag = Object.prototype.toString;
export function isPlainObject(value) {
  return value !== null && typeof value === 'object' && toTag.call(value) === '[object Object]';
}

const encoder = new TextEncoder();

/**
 * Writes `first` and then `second` (well-formed strings as UTF-8, or byte arrays of our own;
 * `second` may be left out) into the module's input buffer, for an export that reads them there
 * and wipes them before it returns; calls `take` with their byte lengths. Secrets enter the
 * module only this way: never as wasm-bindgen string or array arguments, whose copies are freed
 * unwiped, and with no temporary copy on the JavaScript side. Nothing else may run between the
 * write and the export: every check comes first.
 */
export function withInput(first, second, take) {
  const room = roomFor(first) + (second === undefined ? 0 : roomFor(second));
  // Asked every time, never remembered: after a trap the module has a new buffer, and a host
  // callback that re-enters the package during a call gets one of its own instead of
  // overwriting the one that call is reading.
  const at = glue.inputBuffer(room);
  freshView(); // growing the buffer may have grown the memory
  const firstLength = put(first, at, at + room);
  if (second === undefined) return take(firstLength);
  return take(firstLength, put(second, at + firstLength, at + room));
}

// UTF-8 takes at most 3 bytes for each UTF-16 unit.
const roomFor = (part) => (typeof part === 'string' ? 3 * part.length : part.length);

/** Writes `part` into wasm memory at `at` (with room up to `end`); the bytes written. */
function put(part, at, end) {
  if (typeof part !== 'string') {
    view.set(part, at);
    return part.length;
  }
  if (NodeBuffer) return view.write(part, at, 'utf8');
  return encoder.encodeInto(part, view.subarray(at, end)).written;
}

// The internal slots of a typed array, read with the built-in getters, which no property of the
// array itself can override: its kind ('Uint8Array' for Buffers too, undefined for anything
// else) and its length.
const typedArray = Object.getPrototypeOf(Uint8Array.prototype);
const getter = (name) => Object.getOwnPropertyDescriptor(typedArray, name).get;
const kindOf = getter(Symbol.toStringTag);
const lengthOf = getter('length');

/**
 * A body as received, as a new Uint8Array of our own: a string's UTF-8 bytes, or a copy of a
 * Uint8Array's (a Buffer's) bytes. The copy matters: the module's glue reads `length` from what
 * it is given, and an own `length` getter on the caller's array could lie about it (writing
 * past the glue's allocation) or call the package from inside the glue. Undefined for a string
 * that is not well-formed.
 */
export function bodyBytes(value, name) {
  if (typeof value === 'string') return wellFormed(value) ? encoder.encode(value) : undefined;
  if (kindOf.call(value) === 'Uint8Array') {
    const copy = new Uint8Array(lengthOf.call(value));
    try {
      copy.set(value);
      return copy;
    } catch {
      // A detached buffer.
    }
  }
  return fail(`${name} must be the body as received: a string, a Buffer or a Uint8Array`);
}
