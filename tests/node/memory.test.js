'use strict';
// What the package leaves in its WebAssembly memory: README's memory-hygiene note says that every
// copy of a plaintext, a caller's Digits, an auth token or a signing secret that enters the
// module is wiped before the call returns. These tests call each export with distinctive values
// and then read the whole memory of the very instance that did the work, looking for them.
//
// The package's ES-module entry and its wasm-bindgen glue are imported by file URL (the
// `exports` map hides the glue from `import 'gather-seal/...'`): one module graph, so the glue's
// `wasmMemory()` is the memory of the instance the entry started. Every value is random per
// run and long (a 16-digit card number, texts of 40 characters and more), and is looked for
// by every 12-byte window of its UTF-8, so a copy cut short (the prefix a reallocation leaves
// behind) is found too, while a chance match in hex or other bytes is not.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { PKG_DIR, reference, referenceKey } = require('./support');

let gs;
let memory;

before(async () => {
  gs = await import(pathToFileURL(path.join(PKG_DIR, 'index.js')).href);
  const glue = await import(pathToFileURL(path.join(PKG_DIR, 'gather_seal_wasm_bg.js')).href);
  memory = glue.wasmMemory();
  assert.ok(memory instanceof WebAssembly.Memory);
});

const WINDOW = 12;

/** Where in the wasm memory any 12-byte window of `value`'s UTF-8 occurs: [] when nowhere. */
function foundIn(value) {
  const bytes = Buffer.from(memory.buffer);
  const needle = Buffer.from(value, 'utf8');
  assert.ok(needle.length >= WINDOW, 'values are long enough to be told apart');
  const found = [];
  for (let at = 0; at + WINDOW <= needle.length; at++) {
    const where = bytes.indexOf(needle.subarray(at, at + WINDOW));
    if (where !== -1) found.push({ window: at, where });
  }
  return found;
}

function assertGone(values, what) {
  for (const [name, value] of Object.entries(values)) {
    const found = foundIn(value);
    assert.deepEqual(found, [], `${what}: ${name} stays in wasm memory (${found.length} windows)`);
  }
}

const digits = (n) => Array.from(crypto.randomBytes(n), (b) => String(b % 10)).join('');
const card = () => `4${digits(15)}`;
// Text with non-ASCII characters after a long ASCII run: wasm-bindgen's string passing copies
// the ASCII run, then reallocates for the rest, which can leave the run behind.
const nonAscii = () => `passphrase-${digits(12)}-Zürich-Grüße-€${digits(8)}-ß-✓-${digits(6)}`;
const token = () => crypto.randomBytes(16).toString('hex');
const newCallSid = () => `CA${crypto.randomBytes(16).toString('hex')}`;

test('the scan reads the instance that does the work: a prepared key is found', () => {
  // The prepared-key cache keeps the key text on purpose (README): proof that the memory
  // scanned is the memory the package works in.
  const key = referenceKey();
  gs.encrypt('1234', key);
  assert.notDeepEqual(foundIn(key), [], 'the cached key text is in the scanned memory');
});

test('encrypt leaves no plaintext behind, ASCII or not', () => {
  const key = referenceKey();
  for (const value of [card(), nonAscii()]) {
    const sealed = gs.encrypt(value, key, { context: 'CA1:pin' });
    assert.equal(reference.open(sealed, key, 'CA1:pin'), value);
    assertGone({ value }, 'encrypt');
  }
  // A long plaintext grows the output buffer (a reallocation inside the module).
  const long = `${nonAscii()}${'x'.repeat(3000)}${card()}`;
  assert.equal(reference.open(gs.encrypt(long, key), key), long);
  assertGone({ head: long.slice(0, 60), tail: long.slice(-30) }, 'a long encrypt');
});

test('sealFields leaves no field behind', () => {
  const key = referenceKey();
  const fields = { card: card(), pin: digits(16), note: nonAscii() };
  const sealed = gs.sealFields(fields, key, { context: 'CA1' });
  assert.equal(reference.open(sealed.card, key, 'CA1:card'), fields.card);
  assertGone(fields, 'sealFields');
});

test('decrypt, openFields and openSubmission leave no plaintext behind', () => {
  const key = referenceKey();
  const callSid = newCallSid();
  const values = { card: card(), pin: digits(16), text: nonAscii() };
  assert.equal(gs.decrypt(reference.seal(values.text, key, 'CA1:note'), key, { context: 'CA1:note' }), values.text);
  const opened = gs.openFields({ card: reference.seal(values.card, key, 'CA1:card') }, [referenceKey(), key], { context: 'CA1' });
  assert.equal(opened.card, values.card);
  const submission = {
    callSid, result: 'success',
    encryptedCardDigits: reference.seal(values.card, key, `${callSid}:card`),
    encryptedPinDigits: reference.seal(values.pin, key, `${callSid}:pin`),
  };
  assert.deepEqual(gs.openSubmission(submission, key), { card: values.card, pin: values.pin });
  assertGone(values, 'opening');
});

test("validateRequest leaves neither the caller's Digits nor the auth token behind", () => {
  const authToken = token();
  const callSid = newCallSid();
  // Short parameters and URL: the Digits end up in the last, partial block that SHA-1 buffers.
  for (const url of ['https://a.example/g', `https://example.com/gather/${'p'.repeat(200)}?step=2`]) {
    const params = { CallSid: callSid, Digits: card() };
    const signed = Object.keys(params).sort().reduce((s, k) => s + k + params[k], url);
    const signature = crypto.createHmac('sha1', authToken).update(signed).digest('base64');
    assert.equal(gs.validateRequest(authToken, signature, url, params), true);
    assert.equal(gs.validateRequest(authToken, signature, url, { ...params, Digits: card() }), false);
    assertGone({ Digits: params.Digits, authToken }, `validateRequest to ${url.slice(0, 30)}`);
  }
  const body = JSON.stringify({ Digits: card(), text: nonAscii() });
  const hash = crypto.createHash('sha256').update(body).digest('hex');
  const url = `https://a.example/j?bodySHA256=${hash}`;
  const signature = crypto.createHmac('sha1', authToken).update(url).digest('base64');
  assert.equal(gs.validateRequestWithBody(authToken, signature, url, body), true);
  assertGone({ body: body.slice(0, 40), tail: body.slice(-40), authToken }, 'validateRequestWithBody');
});

test('verifySubmission leaves no signing secret behind', () => {
  const secret = `whsec-${token()}-${digits(12)}`;
  const older = `whsec-${token()}-Grüße-${token()}`;
  const body = JSON.stringify({ callSid: newCallSid(), result: 'success' });
  assert.equal(gs.verifySubmission(body, reference.sign(body, secret), [older, secret]).result, 'success');
  assertGone({ secret, older }, 'verifySubmission');
  assert.equal(gs.verifySubmission(body, reference.sign(body, older), older).result, 'success');
  assertGone({ older }, 'verifySubmission under one secret');
});

test('generateKey leaves no copy of the new key behind', () => {
  const key = gs.generateKey();
  assert.match(key, /^[0-9a-f]{64}$/);
  assertGone({ key }, 'generateKey');
});

test('a key ring evicted from the cache leaves no key text behind, nor does a refused key', () => {
  const first = referenceKey();
  gs.encrypt(card(), first);
  // Four other rings push the first out of the four-ring cache.
  for (let i = 0; i < 4; i++) gs.encrypt('1234', referenceKey());
  assertGone({ first }, 'an evicted key');
  const refused = `${referenceKey().slice(0, 60)}zzzz`;
  assert.throws(() => gs.encrypt('1234', refused), /^Error: gather-seal: /);
  assertGone({ refused }, 'a refused key');
});
