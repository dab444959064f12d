'use strict';
// encrypt/decrypt against an independent node:crypto implementation of the wire format, both
// ways: what the package seals opens with node:crypto, and what node:crypto seals opens with the
// package; with and without a context, and for the key forms a user pastes.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { gs, reference, referenceKey, opts, expectSealError, NONCE_LEN, TAG_LEN } = require('./support');

const PLAINTEXTS = {
  empty: '',
  'four digits': '4821',
  '64 bytes': 'card 4111111111111111 exp 12/29 cvv 123 pin 4821 ...............'.slice(0, 64),
  '1 KiB': Array.from({ length: 1024 }, (_, i) => String.fromCharCode(33 + ((i * 7) % 94))).join(''),
  'non-ASCII (2-, 3- and 4-byte UTF-8)': 'Zürich, Ærø · 東京 ☎ 🔐 ñ',
};

const CONTEXTS = {
  'no context': undefined,
  'a CallSid context': 'CA8f3c1a2b9d7e6f5a4b3c2d1e0f9a8b7c:pin',
  'a non-ASCII context': 'appel-é-☎-🔐',
};

test('the test data has the sizes it claims', () => {
  assert.equal(Buffer.byteLength(PLAINTEXTS['64 bytes']), 64);
  assert.equal(Buffer.byteLength(PLAINTEXTS['1 KiB']), 1024);
  assert.ok(Buffer.byteLength(PLAINTEXTS['non-ASCII (2-, 3- and 4-byte UTF-8)']) >
    PLAINTEXTS['non-ASCII (2-, 3- and 4-byte UTF-8)'].length);
});

for (const [plainName, plainText] of Object.entries(PLAINTEXTS)) {
  for (const [contextName, context] of Object.entries(CONTEXTS)) {
    test(`encrypt → node:crypto opens: ${plainName}, ${contextName}`, () => {
      const key = referenceKey();
      const sealed = gs.encrypt(plainText, key, opts(context));
      assert.equal(typeof sealed, 'string');
      assert.match(sealed, /^[0-9a-f]*$/, 'sealed value is lowercase hex');
      assert.equal(sealed.length, 2 * (NONCE_LEN + Buffer.byteLength(plainText) + TAG_LEN));
      assert.equal(reference.open(sealed, key, context), plainText);
    });

    test(`node:crypto seals → decrypt opens: ${plainName}, ${contextName}`, () => {
      const key = referenceKey();
      const sealed = reference.seal(plainText, key, context);
      assert.equal(gs.decrypt(sealed, key, opts(context)), plainText);
      assert.equal(gs.decrypt(sealed, [key], opts(context)), plainText);
    });
  }
}

test('an empty context is the same as no context (GCM with empty associated data)', () => {
  const key = referenceKey();
  assert.equal(reference.open(gs.encrypt('4821', key, { context: '' }), key), '4821');
  assert.equal(gs.decrypt(reference.seal('4821', key), key, { context: '' }), '4821');
  assert.equal(gs.decrypt(gs.encrypt('4821', key, {}), key, { context: undefined }), '4821');
});

test('a context is bound: node:crypto refuses the value without it or with another', () => {
  const key = referenceKey();
  const sealed = gs.encrypt('4821', key, { context: 'CA01:pin' });
  assert.throws(() => reference.open(sealed, key), /unable to authenticate/i);
  assert.throws(() => reference.open(sealed, key, 'CA01:card'), /unable to authenticate/i);
  assert.equal(reference.open(sealed, key, 'CA01:pin'), '4821');
});

test('an upper-case key is the same key: interop both ways', () => {
  const key = referenceKey();
  const upper = key.toUpperCase();
  assert.notEqual(upper, key);
  assert.equal(reference.open(gs.encrypt('4821', upper), key), '4821');
  assert.equal(gs.decrypt(reference.seal('4821', key), upper), '4821');
  assert.equal(gs.decrypt(reference.seal('4821', key), [upper]), '4821');
  const mixed = key.slice(0, 32).toUpperCase() + key.slice(32);
  assert.equal(reference.open(gs.encrypt('4821', mixed, { context: 'c-ctx' }), key, 'c-ctx'), '4821');
});

test('a key pasted with surrounding whitespace (a trailing newline) is accepted', () => {
  const key = referenceKey();
  for (const pasted of [`${key}\n`, `${key}\r\n`, ` ${key} `, `\t${key.toUpperCase()}\n`]) {
    assert.equal(reference.open(gs.encrypt('4821', pasted), key), '4821');
    assert.equal(gs.decrypt(reference.seal('4821', key), pasted), '4821');
    assert.equal(gs.decrypt(reference.seal('4821', key), [pasted]), '4821');
  }
});

test('a key used after another keeps sealing with its own key (no cross-talk between keys)', () => {
  // The package prepares keys once and reuses them; interleave several keys and check each
  // value opens with exactly the key it was sealed with.
  const keys = Array.from({ length: 6 }, referenceKey);
  for (let round = 0; round < 3; round++) {
    for (const [i, key] of keys.entries()) {
      const sealed = gs.encrypt(`value ${i}`, key);
      assert.equal(reference.open(sealed, key), `value ${i}`);
      const other = keys[(i + 1) % keys.length];
      assert.throws(() => reference.open(sealed, other), /unable to authenticate/i);
    }
  }
});

// Regression (fixed): a lone surrogate reached the module as U+FFFD, as node:crypto (Buffer's
// UTF-8) also makes it, so 'a\uD800b' and 'a\uDFFFb' sealed as the same plaintext and opened as
// 'a\uFFFDb'. Expected: refused (tests/node/well-formed-text.test.js covers every argument).
test('a lone UTF-16 surrogate, which node:crypto would seal as U+FFFD, is refused', () => {
  const key = referenceKey();
  const text = 'a\uD800b';
  assert.equal(reference.open(reference.seal(text, key), key), 'a\uFFFDb');
  expectSealError(gs.encrypt, [text, key], /^gather-seal: plainText must be well-formed text/);
  assert.equal(gs.decrypt(gs.encrypt('a\uFFFDb', key), key), 'a\uFFFDb');
});

test('long plaintexts round-trip both ways, and short ones stay right after them', () => {
  // Megabyte values make the package's wasm memory grow between calls; values before and
  // after must still seal and open correctly.
  const key = referenceKey();
  const sizes = [4, 1 << 20, 4, 2 << 20, 64];
  for (const [i, size] of sizes.entries()) {
    const text = '9☎x'.repeat(Math.ceil(size / 5)).slice(0, size);
    const sealed = gs.encrypt(text, key, { context: `step ${i}` });
    assert.equal(reference.open(sealed, key, `step ${i}`), text, `size ${size}`);
    assert.equal(gs.decrypt(reference.seal(text, key, `step ${i}`), key, { context: `step ${i}` }), text);
    assert.equal(gs.decrypt(sealed, key, { context: `step ${i}` }), text);
  }
});
