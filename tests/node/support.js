'use strict';
// Shared by the Node tests of the built package (not a test file itself: node --test only runs
// *.test.js here).
//
// - `gs`: the package, require()d from pkg/ exactly as a user's code would, through its
//   package.json "main"/"exports".
// - `reference`: an independent AES-256-GCM implementation of the wire format on node:crypto,
//   written from the format's definition: hex(nonce 12 ‖ ciphertext ‖ tag 16), the key read as
//   hex, the context as GCM associated data; and `reference.sign`, the hand-off's signature
//   header from its definition: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
// - `expectSealError`: every error the suite provokes goes through it. It checks that the call
//   throws an Error whose message starts with "gather-seal:", matches the expected kind, and
//   does not echo any input of that call; and, when the file's tests are done, that no thrown
//   message or stack contains any input given to any failing call in the file, nor any key the
//   file made.

const path = require('node:path');
const crypto = require('node:crypto');
const assert = require('node:assert/strict');
const { after } = require('node:test');
const { findTyped } = require('../support/plaintext');

const PKG_DIR = path.join(__dirname, '../../pkg');
const gs = require(PKG_DIR);

// The fixed texts of the errors a caller can tell apart (src/error.rs); matched loosely so
// that rewording keeps the tests meaningful while the kinds stay distinct.
const KIND = {
  unauthentic: /^gather-seal: .*did not authenticate/,
  notHex: /^gather-seal: .*not hex/,
  tooShort: /^gather-seal: .*too short/,
  notUtf8: /^gather-seal: .*UTF-8/,
  invalidKey: /^gather-seal: .*64 hex characters/,
  any: /^gather-seal: /,
};

const NONCE_LEN = 12;
const TAG_LEN = 16;

const reference = {
  seal(plainText, keyHex, context) {
    const nonce = crypto.randomBytes(NONCE_LEN);
    const cipher = crypto.createCipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), nonce, {
      authTagLength: TAG_LEN,
    });
    if (context !== undefined) cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.isBuffer(plainText) ? plainText : Buffer.from(plainText, 'utf8');
    const ciphertext = Buffer.concat([cipher.update(body), cipher.final()]);
    return Buffer.concat([nonce, ciphertext, cipher.getAuthTag()]).toString('hex');
  },

  openBytes(sealedHex, keyHex, context) {
    assert.match(sealedHex, /^(?:[0-9a-f]{2})*$/, 'reference opens only lowercase, even-length hex');
    const raw = Buffer.from(sealedHex, 'hex');
    assert.ok(raw.length >= NONCE_LEN + TAG_LEN, 'sealed value shorter than nonce + tag');
    const nonce = raw.subarray(0, NONCE_LEN);
    const ciphertext = raw.subarray(NONCE_LEN, raw.length - TAG_LEN);
    const tag = raw.subarray(raw.length - TAG_LEN);
    const decipher = crypto.createDecipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), nonce, {
      authTagLength: TAG_LEN,
    });
    decipher.setAuthTag(tag);
    if (context !== undefined) decipher.setAAD(Buffer.from(context, 'utf8'));
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  },

  open(sealedHex, keyHex, context) {
    return reference.openBytes(sealedHex, keyHex, context).toString('utf8');
  },

  /** The X-Gather-Seal-Signature value for `body` (string or bytes) at `t` (Unix seconds). */
  sign(body, secret, t = Math.floor(Date.now() / 1000)) {
    const mac = crypto.createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
    return `t=${t},v1=${mac}`;
  },
};

/** A fresh random key from node:crypto (independent of the package), remembered as a secret. */
function referenceKey() {
  return remember(crypto.randomBytes(32).toString('hex'));
}

/** The options argument for a context, or none. */
function opts(context) {
  return context === undefined ? undefined : { context };
}

const secrets = new Set();
const thrown = [];

/** Remembers a value that no error message may ever contain; returns it. */
function remember(value) {
  collect(value, secrets, new Set());
  return value;
}

function collect(value, into, seen) {
  if (typeof value === 'string') {
    // Short strings ("", "1", "abc") occur in ordinary words; long runs of hex are caught by the
    // hex rule below whatever their origin.
    if (value.trim().length >= 4) into.add(value.trim());
  } else if (typeof value === 'number' || typeof value === 'bigint') {
    collect(String(value), into, seen);
  } else if (Buffer.isBuffer(value)) {
    collect(value.toString('utf8'), into, seen);
    collect(value.toString('hex'), into, seen);
  } else if (value !== null && typeof value === 'object' && !seen.has(value)) {
    seen.add(value);
    for (const v of Object.values(value)) collect(v, into, seen);
  }
}

/**
 * The values found in `text`: digits as a token (tests/support/plaintext.js), so that a stack's
 * wasm module hash or code offset ("wasm://wasm/0004fdaa", "0x12d42"), which change with every
 * build, cannot hold a PIN by chance; anything else as an exact substring.
 */
function leaks(text, values) {
  return [...values].filter((s) => (/^[0-9]+$/.test(s) ? findTyped(text, s) !== null : text.includes(s)));
}

/**
 * Calls `fn(...args)`, expects it to throw an Error whose message starts with "gather-seal:"
 * and matches `kind` (a RegExp or an exact string), and checks that neither the message nor the
 * stack contains any input of the call. Returns the message.
 */
function expectSealError(fn, args, kind = KIND.any) {
  const inputs = new Set();
  collect(args, inputs, new Set());
  for (const s of inputs) secrets.add(s);
  let error;
  let returned;
  try {
    returned = fn(...args);
  } catch (e) {
    error = e;
  }
  assert.ok(error !== undefined, `expected ${fn.name}() to throw, it returned ${typeof returned}`);
  assert.ok(error instanceof Error, `${fn.name}() threw a non-Error: ${typeof error}`);
  const message = String(error.message);
  thrown.push({ message, stack: String(error.stack) });
  assert.match(message, /^gather-seal: /, `${fn.name}() threw a foreign error: ${error.name}: ${message}`);
  if (kind instanceof RegExp) assert.match(message, kind);
  else assert.equal(message, kind);
  assert.deepEqual(leaks(message, inputs), [], `${fn.name}() error message echoes its input`);
  assert.deepEqual(leaks(String(error.stack), inputs), [], `${fn.name}() error stack echoes its input`);
  assert.doesNotMatch(message, /[0-9a-fA-F]{8,}/, 'error message contains a run of hex');
  return message;
}

after(() => {
  for (const { message, stack } of thrown) {
    assert.deepEqual(leaks(message, secrets), [], `a thrown message echoes an input: ${message}`);
    assert.deepEqual(leaks(stack, secrets), [], `a thrown stack echoes an input: ${message}`);
  }
});

/** XORs byte `index` of a hex string with `mask`. */
function flipByte(hex, index, mask = 0x01) {
  const byte = parseInt(hex.slice(2 * index, 2 * index + 2), 16) ^ mask;
  return hex.slice(0, 2 * index) + byte.toString(16).padStart(2, '0') + hex.slice(2 * index + 2);
}

module.exports = {
  PKG_DIR,
  gs,
  reference,
  referenceKey,
  opts,
  remember,
  expectSealError,
  flipByte,
  KIND,
  NONCE_LEN,
  TAG_LEN,
};
