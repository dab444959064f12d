'use strict';
// sealFields/openFields: a new object with every string value sealed (or opened), every other
// value as it was, keys in their order, the input untouched; each sealed field is an ordinary
// sealed value that decrypt and node:crypto open.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { gs, reference, referenceKey, expectSealError, KIND, NONCE_LEN, TAG_LEN } = require('./support');

const STRINGS = { pin: '4821', card: '4111111111111111', name: 'Zoë ☎ 🔐', empty: '' };

test('sealFields seals every string field; openFields gives the original back', () => {
  const key = referenceKey();
  const sealed = gs.sealFields(STRINGS, key);
  assert.deepEqual(Object.keys(sealed), Object.keys(STRINGS));
  for (const [name, value] of Object.entries(STRINGS)) {
    assert.match(sealed[name], /^[0-9a-f]+$/, name);
    assert.equal(sealed[name].length, 2 * (NONCE_LEN + Buffer.byteLength(value) + TAG_LEN), name);
  }
  assert.deepEqual(gs.openFields(sealed, key), STRINGS);
  assert.deepEqual(gs.openFields(sealed, [key]), STRINGS);
});

test('each sealed field opens with decrypt and with node:crypto, with the same context', () => {
  const key = referenceKey();
  const context = 'CA77aa:gather';
  const sealed = gs.sealFields(STRINGS, key, { context });
  for (const [name, value] of Object.entries(STRINGS)) {
    assert.equal(gs.decrypt(sealed[name], key, { context }), value, name);
    assert.equal(reference.open(sealed[name], key, context), value, name);
  }
  assert.deepEqual(gs.openFields(sealed, key, { context }), STRINGS);
});

test('openFields opens fields sealed one by one with encrypt or with node:crypto', () => {
  const key = referenceKey();
  const sealed = {
    pin: gs.encrypt('4821', key, { context: 'c1' }),
    card: reference.seal('1111', key, 'c1'),
    attempts: 3,
  };
  assert.deepEqual(gs.openFields(sealed, key, { context: 'c1' }), { pin: '4821', card: '1111', attempts: 3 });
});

test('the two fields of one object get different nonces and ciphertexts', () => {
  const key = referenceKey();
  const sealed = gs.sealFields({ a: '4821', b: '4821' }, key);
  assert.notEqual(sealed.a.slice(0, 2 * NONCE_LEN), sealed.b.slice(0, 2 * NONCE_LEN));
  assert.notEqual(sealed.a, sealed.b);
});

test('non-string values are kept unchanged, both ways', () => {
  const key = referenceKey();
  const nested = { pin: '4821', deeper: { card: '1111', list: ['a', 1] } };
  const list = ['4821', 7, null];
  const input = {
    pin: '4821',
    zero: 0,
    count: 42,
    negative: -1.5,
    huge: Number.MAX_SAFE_INTEGER,
    tiny: Number.MIN_VALUE,
    negativeZero: -0,
    notANumber: NaN,
    infinity: -Infinity,
    yes: true,
    no: false,
    nothing: null,
    missing: undefined,
    nested,
    list,
    emptyObject: {},
    emptyArray: [],
  };
  const sealed = gs.sealFields(input, key);
  const opened = gs.openFields(sealed, key);
  for (const result of [sealed, opened]) {
    assert.deepEqual(Object.keys(result), Object.keys(input));
    for (const name of Object.keys(input)) {
      if (name === 'pin') continue;
      // Object.is tells -0 from 0 and sees NaN as itself; deepEqual compares nested values.
      if (typeof input[name] !== 'object' || input[name] === null) {
        assert.ok(Object.is(result[name], input[name]), `${name}: ${String(result[name])}`);
      } else {
        assert.deepEqual(result[name], input[name], name);
      }
    }
    assert.ok(Object.hasOwn(result, 'missing'), 'a field holding undefined is kept');
  }
  // Strings nested inside objects or arrays are not top-level fields: they stay as they are.
  assert.equal(sealed.nested.pin, '4821');
  assert.equal(sealed.list[0], '4821');
  assert.equal(opened.pin, '4821');
  assert.notEqual(sealed.pin, '4821');
});

test('key order is kept, including the order of mixed string and non-string fields', () => {
  const key = referenceKey();
  const input = { zeta: '1', alpha: 2, mid: '3', beta: null, omega: '5', '': 'empty name', 'a b': true };
  const sealed = gs.sealFields(input, key);
  assert.deepEqual(Object.keys(sealed), Object.keys(input));
  assert.deepEqual(Object.keys(gs.openFields(sealed, key)), Object.keys(input));
  assert.deepEqual(gs.openFields(sealed, key), input);
});

test('a new object is returned and the input is not mutated', () => {
  const key = referenceKey();
  const input = { pin: '4821', count: 1, nested: { card: '1111' } };
  const before = structuredClone(input);
  const sealed = gs.sealFields(input, key);
  assert.notEqual(sealed, input);
  assert.deepEqual(input, before);
  const sealedBefore = structuredClone(sealed);
  const opened = gs.openFields(sealed, key);
  assert.notEqual(opened, sealed);
  assert.deepEqual(sealed, sealedBefore);
  assert.deepEqual(opened, input);
  // Changing a result does not reach back into what it was made from.
  sealed.pin = 'changed';
  opened.count = 99;
  assert.deepEqual(input, before);
});

test('an object without fields, or without string fields, comes back equal and new', () => {
  const key = referenceKey();
  for (const input of [{}, { n: 1, b: false, x: null }]) {
    const sealed = gs.sealFields(input, key);
    assert.notEqual(sealed, input);
    assert.deepEqual(sealed, input);
    assert.deepEqual(gs.openFields(sealed, key), input);
  }
});

test('an object with a null prototype and a class instance have their own fields sealed', () => {
  const key = referenceKey();
  const bare = Object.create(null);
  bare.pin = '4821';
  class Gathered { constructor() { this.pin = '4821'; this.step = 2; } }
  for (const input of [bare, new Gathered()]) {
    const sealed = gs.sealFields(input, key);
    assert.deepEqual(Object.keys(sealed), ['pin', ...('step' in input ? ['step'] : [])]);
    assert.equal(gs.decrypt(sealed.pin, key), '4821');
  }
});

// Regression (fixed): the copy was filled by assignment (Reflect.set), so an own
// "__proto__" field set the copy's prototype instead of becoming a field:
//   sealFields(JSON.parse('{"pin":"4821","__proto__":{"isAdmin":true}}'), key)
//     → { pin: <sealed> } whose prototype is { isAdmin: true } (result.isAdmin === true)
//   sealFields(JSON.parse('{"pin":"4821","__proto__":"1111"}'), key) → { pin: <sealed> }
// Expected: an own "__proto__" field (sealed if a string, as it was otherwise), prototype
// Object.prototype; e.g. define the property (Object.defineProperty / createDataProperty).
test('an own "__proto__" field (as JSON.parse makes from a request body) is a field like any other', () => {
  const key = referenceKey();
  for (const input of [
    JSON.parse('{"pin": "4821", "__proto__": "1111", "after": 1}'),
    JSON.parse('{"pin": "4821", "__proto__": {"isAdmin": true}, "after": 1}'),
  ]) {
    for (const result of [gs.sealFields(input, key), gs.openFields(gs.sealFields(input, key), key)]) {
      assert.equal(Object.getPrototypeOf(result), Object.prototype);
      assert.deepEqual(Object.keys(result), ['pin', '__proto__', 'after']);
      assert.equal(result.isAdmin, undefined);
    }
    const opened = gs.openFields(gs.sealFields(input, key), key);
    assert.deepEqual(Object.getOwnPropertyDescriptor(opened, '__proto__').value,
      Object.getOwnPropertyDescriptor(input, '__proto__').value);
  }
});

test('sealFields/openFields reject non-objects', () => {
  const key = referenceKey();
  for (const value of [undefined, null, 4821, '4821', true, ['4821'], [['pin', '4821']]]) {
    expectSealError(gs.sealFields, [value, key]);
    expectSealError(gs.openFields, [value, key]);
  }
});

test('openFields fails on a field that does not open, and names no value', () => {
  const key = referenceKey();
  const sealed = gs.sealFields({ pin: '4821', card: '1111' }, key, { context: 'CA3' });
  expectSealError(gs.openFields, [sealed, key], KIND.unauthentic);
  expectSealError(gs.openFields, [sealed, referenceKey(), { context: 'CA3' }], KIND.unauthentic);
  expectSealError(gs.openFields, [{ ...sealed, card: `${sealed.card.slice(0, -2)}00` }, key,
    { context: 'CA3' }], KIND.unauthentic);
  expectSealError(gs.openFields, [{ ...sealed, note: 'plain text, not sealed' }, key,
    { context: 'CA3' }], KIND.notHex);
  expectSealError(gs.openFields, [{ ...sealed, note: '00'.repeat(10) }, key, { context: 'CA3' }],
    KIND.tooShort);
});

test('a context passed to sealFields must be passed to openFields', () => {
  const key = referenceKey();
  const sealed = gs.sealFields({ pin: '4821' }, key, { context: 'CA8:pin' });
  expectSealError(gs.openFields, [sealed, key], KIND.unauthentic);
  expectSealError(gs.openFields, [sealed, key, { context: 'CA9:pin' }], KIND.unauthentic);
  assert.deepEqual(gs.openFields(sealed, key, { context: 'CA8:pin' }), { pin: '4821' });
});
