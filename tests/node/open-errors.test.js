'use strict';
// What decrypt refuses, and how: a tampered, truncated, extended or re-keyed value, a wrong or
// missing context, text that is not a sealed value, and malformed keys. Authentication failures
// of every cause share one message; the other kinds are told apart.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const {
  gs, reference, referenceKey, remember, expectSealError, flipByte, KIND, NONCE_LEN, TAG_LEN,
} = require('./support');

const CONTEXT = remember('CA5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d:pin');

/** The message of an authentication failure, taken from a plain wrong-key case. */
function unauthenticMessage() {
  const sealed = remember(gs.encrypt('2580', referenceKey()));
  return expectSealError(gs.decrypt, [sealed, referenceKey()], KIND.unauthentic);
}

test('the error kinds have distinct messages', () => {
  const key = referenceKey();
  const messages = [
    unauthenticMessage(),
    expectSealError(gs.decrypt, ['zz'.repeat(40), key], KIND.notHex),
    expectSealError(gs.decrypt, ['ab'.repeat(27), key], KIND.tooShort),
    expectSealError(gs.decrypt, [reference.seal(Buffer.from([0xc3, 0x28, 0xff]), key), key], KIND.notUtf8),
    expectSealError(gs.decrypt, [gs.encrypt('2580', key), key.slice(1)], KIND.invalidKey),
  ];
  assert.equal(new Set(messages).size, messages.length, messages.join('\n'));
});

test('flipping any bit of any byte fails with the one authentication message', () => {
  const auth = unauthenticMessage();
  const key = referenceKey();
  for (const context of [undefined, CONTEXT]) {
    const options = context === undefined ? undefined : { context };
    const sealed = remember(gs.encrypt('7319', key, options));
    const bytes = sealed.length / 2;
    assert.equal(bytes, NONCE_LEN + 4 + TAG_LEN);
    for (let i = 0; i < bytes; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        expectSealError(gs.decrypt, [flipByte(sealed, i, mask), key, options], auth);
      }
    }
    // The untouched value still opens: the failures above come from the flips.
    assert.equal(gs.decrypt(sealed, key, options), '7319');
  }
});

test('tampering with a value sealed by node:crypto fails the same way', () => {
  const auth = unauthenticMessage();
  const key = referenceKey();
  const sealed = reference.seal('0000', key, CONTEXT);
  for (let i = 0; i < sealed.length / 2; i++) {
    expectSealError(gs.decrypt, [flipByte(sealed, i), key, { context: CONTEXT }], auth);
  }
  assert.equal(gs.decrypt(sealed, key, { context: CONTEXT }), '0000');
});

test('an empty plaintext is authenticated too: its 28 bytes are all checked', () => {
  const auth = unauthenticMessage();
  const key = referenceKey();
  const sealed = gs.encrypt('', key);
  assert.equal(sealed.length, 2 * (NONCE_LEN + TAG_LEN));
  assert.equal(gs.decrypt(sealed, key), '');
  for (let i = 0; i < NONCE_LEN + TAG_LEN; i++) {
    expectSealError(gs.decrypt, [flipByte(sealed, i), key], auth);
  }
});

test('truncation: whole bytes off the end or the start fail to authenticate, then too short', () => {
  const auth = unauthenticMessage();
  const key = referenceKey();
  const sealed = remember(gs.encrypt('4821', key));
  const bytes = sealed.length / 2;
  for (let keep = bytes - 1; keep >= 0; keep--) {
    const kind = keep >= NONCE_LEN + TAG_LEN ? auth : KIND.tooShort;
    expectSealError(gs.decrypt, [sealed.slice(0, 2 * keep), key], kind);
    expectSealError(gs.decrypt, [sealed.slice(2 * (bytes - keep)), key], kind);
  }
});

test('extension: bytes added at either end fail to authenticate', () => {
  const auth = unauthenticMessage();
  const key = referenceKey();
  const sealed = remember(gs.encrypt('4821', key));
  for (const extended of [`${sealed}00`, `00${sealed}`, sealed + sealed.slice(-32)]) {
    expectSealError(gs.decrypt, [extended, key], auth);
  }
});

test('text that is not even-length hex is refused as not hex', () => {
  const key = referenceKey();
  const sealed = remember(gs.encrypt('4821', key));
  const cases = [
    sealed.slice(0, -1), // odd length
    `${sealed}0`,
    `${sealed.slice(0, 10)}g${sealed.slice(11)}`,
    `${sealed} `,
    `${sealed}\n`,
    ` ${sealed}`,
    `0x${sealed}`,
    `${sealed.slice(0, 20)}-${sealed.slice(21)}`,
    Buffer.from(sealed, 'hex').toString('base64'),
    'é'.repeat(sealed.length / 2),
  ];
  for (const text of cases) expectSealError(gs.decrypt, [text, key], KIND.notHex);
});

test('hex shorter than a nonce and a tag (28 bytes) is refused as too short', () => {
  const key = referenceKey();
  for (const bytes of [0, 1, 12, 16, 27]) {
    expectSealError(gs.decrypt, ['a5'.repeat(bytes), key], KIND.tooShort);
  }
  // 28 bytes is long enough to be tried, and fails to authenticate.
  expectSealError(gs.decrypt, ['a5'.repeat(28), key], KIND.unauthentic);
});

test('a value whose plaintext is not UTF-8 is refused as such, never returned mangled', () => {
  const key = referenceKey();
  for (const bytes of [[0xff], [0xc3, 0x28], [0x34, 0x38, 0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x94]]) {
    const sealed = reference.seal(Buffer.from(bytes), key);
    expectSealError(gs.decrypt, [sealed, key], KIND.notUtf8);
  }
});

test('a wrong key fails with the authentication message, both for package and node:crypto values', () => {
  const auth = unauthenticMessage();
  const key = referenceKey();
  const wrong = referenceKey();
  expectSealError(gs.decrypt, [gs.encrypt('4821', key), wrong], auth);
  expectSealError(gs.decrypt, [reference.seal('4821', key), wrong], auth);
  expectSealError(gs.decrypt, [reference.seal('4821', key), [wrong]], auth);
  // A key differing from the right one in its last bit.
  const nearly = key.slice(0, 63) + (parseInt(key[63], 16) ^ 1).toString(16);
  expectSealError(gs.decrypt, [gs.encrypt('4821', key), nearly], auth);
});

test('a wrong context, or none, fails with the authentication message', () => {
  const auth = unauthenticMessage();
  const key = referenceKey();
  const withContext = gs.encrypt('4821', key, { context: CONTEXT });
  const cases = [
    [withContext, key], // context missing on open
    [withContext, key, {}],
    [withContext, key, { context: '' }],
    [withContext, key, { context: CONTEXT.replace(':pin', ':card') }],
    [withContext, key, { context: `${CONTEXT} ` }],
    [withContext, key, { context: CONTEXT.toUpperCase() }],
    [gs.encrypt('4821', key), key, { context: CONTEXT }], // context given, none sealed
    [reference.seal('4821', key, CONTEXT), key, { context: 'CA00000000:pin' }],
  ];
  for (const args of cases) expectSealError(gs.decrypt, args, auth);
  assert.equal(gs.decrypt(withContext, key, { context: CONTEXT }), '4821');
});

test('malformed keys are refused by every export, without echoing the key', () => {
  const good = referenceKey();
  const malformed = [
    '',
    '   \n',
    good.slice(0, 63),
    `${good}a`,
    `${good.slice(0, 62)}zz`,
    `${good.slice(0, 32)} ${good.slice(32, 63)}`,
    `0x${good.slice(2)}`,
    Buffer.from(good, 'hex').toString('base64'),
    'é'.repeat(32),
    'x'.repeat(64),
    good.slice(0, 32), // a 128-bit key
    good + good, // a 512-bit key
  ].map(remember);
  const sealed = gs.encrypt('4821', good);
  for (const key of malformed) {
    expectSealError(gs.encrypt, ['4821', key], KIND.invalidKey);
    expectSealError(gs.decrypt, [sealed, key], KIND.invalidKey);
    expectSealError(gs.decrypt, [sealed, [key]], KIND.invalidKey);
    expectSealError(gs.sealFields, [{ pin: '4821' }, key], KIND.invalidKey);
    expectSealError(gs.openFields, [{ pin: sealed }, key], KIND.invalidKey);
  }
});

test('inputs that look like secrets never appear in messages, whatever fails', () => {
  // Distinctive values in every position, through each failure kind; expectSealError checks
  // the messages and the after-hook checks them again against everything seen in this file.
  const key = referenceKey();
  const plain = 'PLAINTEXT-MARKER-6f1e';
  const context = 'CONTEXT-MARKER-19d2';
  const sealed = gs.encrypt(plain, key, { context });
  expectSealError(gs.decrypt, [sealed, key], KIND.unauthentic);
  expectSealError(gs.decrypt, [sealed, referenceKey(), { context }], KIND.unauthentic);
  expectSealError(gs.decrypt, [`${sealed}Q`, key, { context }], KIND.notHex);
  expectSealError(gs.decrypt, [sealed.slice(0, 54), key, { context }], KIND.tooShort);
  expectSealError(gs.encrypt, [plain, `KEY-MARKER-${key.slice(11)}`, { context }], KIND.invalidKey);
  expectSealError(gs.sealFields, [{ plain }, key.slice(2), { context }], KIND.invalidKey);
  expectSealError(gs.openFields, [{ sealed }, key, { context: `${context}!` }], KIND.unauthentic);
  expectSealError(gs.openFields, [{ plain }, key], KIND.notHex);
});
