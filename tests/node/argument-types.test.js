'use strict';
// Wrong argument types in every position of every export give an Error whose message starts
// with "gather-seal:" and echoes nothing: never a crash, never a TypeError from the wasm-bindgen
// glue (e.g. from passing a number where it expects a string), never a silent success.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { gs, referenceKey, remember, expectSealError } = require('./support');

const KEY = referenceKey();
const OTHER_KEY = referenceKey();
const SEALED = remember(gs.encrypt('4821', KEY));
const SEALED_OBJECT = gs.sealFields({ pin: '4821' }, KEY);

// Not a string; each value is distinctive so that an echo in a message would be seen.
const NOT_STRINGS = {
  number: 48213579,
  NaN: NaN,
  bigint: 48213579n,
  undefined: undefined,
  null: null,
  boolean: true,
  symbol: Symbol('4821-symbol'),
  function: () => '4821',
  object: { value: 'object-4821' },
  'object with toString': { toString: () => KEY },
  'String object': new String('4821'), // eslint-disable-line no-new-wrappers
  array: ['array-4821'],
  'empty array': [],
  Buffer: Buffer.from('buffer-4821'),
  Uint8Array: new Uint8Array([4, 8, 2, 1]),
};

// Not one key: a key position of encrypt/sealFields takes a single string.
const NOT_ONE_KEY = {
  ...NOT_STRINGS,
  'array of one key': [KEY],
  'Buffer of the key bytes': Buffer.from(KEY, 'hex'),
  'Buffer of the key text': Buffer.from(KEY),
  'String object of the key': new String(KEY), // eslint-disable-line no-new-wrappers
};

// Not a key or a non-empty array of key strings: the key position of decrypt/openFields.
const NOT_KEYS = {
  number: 48213579,
  undefined: undefined,
  null: null,
  boolean: false,
  object: { current: KEY },
  'array-like object': { 0: KEY, length: 1 },
  'empty array': [],
  'array with a number': [KEY, 48213579],
  'array with null': [KEY, null],
  'array with undefined': [KEY, undefined],
  'array with an object': [KEY, { key: OTHER_KEY }],
  'array with a Buffer': [KEY, Buffer.from(OTHER_KEY, 'hex')],
  'array with a nested array': [[KEY]],
  'array starting with a number': [48213579, KEY],
  'sparse array': [, KEY], // eslint-disable-line no-sparse-arrays
  Buffer: Buffer.from(KEY, 'hex'),
  'Buffer of the key text': Buffer.from(KEY),
  'String object of the key': new String(KEY), // eslint-disable-line no-new-wrappers
  function: () => KEY,
};

// Not an options object (undefined and null mean "no options" and are allowed).
const NOT_OPTIONS = {
  number: 7,
  string: 'CA4821:pin',
  boolean: true,
  symbol: Symbol('options'),
  function: () => ({ context: 'CA4821:pin' }),
  'context a number': { context: 48213579 },
  'context an object': { context: { callSid: 'CA4821' } },
  'context an array': { context: ['CA4821:pin'] },
  'context a Buffer': { context: Buffer.from('CA4821:pin') },
  'context a boolean': { context: true },
  'context a String object': { context: new String('CA4821:pin') }, // eslint-disable-line no-new-wrappers
};

// Not a plain object: the first position of sealFields/openFields.
const NOT_OBJECTS = {
  number: 48213579,
  undefined: undefined,
  null: null,
  string: 'string-4821',
  boolean: true,
  symbol: Symbol('fields'),
  function: () => ({ pin: '4821' }),
  array: ['array-4821'],
  'array of entries': [['pin', '4821']],
  'empty array': [],
  // Buffers and other non-plain objects: see the regression tests at the end.
};

/** Calls every export with `value` at one position, the other arguments valid. */
const POSITIONS = [
  ['encrypt', 'plainText', NOT_STRINGS, (v) => [v, KEY]],
  ['encrypt', 'keyHex', NOT_ONE_KEY, (v) => ['4821', v]],
  ['encrypt', 'options', NOT_OPTIONS, (v) => ['4821', KEY, v]],
  ['decrypt', 'cipherHex', NOT_STRINGS, (v) => [v, KEY]],
  ['decrypt', 'keys', NOT_KEYS, (v) => [SEALED, v]],
  ['decrypt', 'options', NOT_OPTIONS, (v) => [SEALED, KEY, v]],
  ['sealFields', 'object', NOT_OBJECTS, (v) => [v, KEY]],
  ['sealFields', 'keyHex', NOT_ONE_KEY, (v) => [{ pin: '4821' }, v]],
  ['sealFields', 'options', NOT_OPTIONS, (v) => [{ pin: '4821' }, KEY, v]],
  ['openFields', 'object', NOT_OBJECTS, (v) => [v, KEY]],
  ['openFields', 'keys', NOT_KEYS, (v) => [SEALED_OBJECT, v]],
  ['openFields', 'options', NOT_OPTIONS, (v) => [SEALED_OBJECT, KEY, v]],
];

for (const [name, position, values, args] of POSITIONS) {
  test(`${name}: a wrong type as ${position} gives a gather-seal error`, () => {
    for (const [label, value] of Object.entries(values)) {
      try {
        expectSealError(gs[name], args(value), /^gather-seal: /);
      } catch (e) {
        e.message = `${name}(${position} = ${label}): ${e.message}`;
        throw e;
      }
    }
  });
}

test('missing arguments give gather-seal errors', () => {
  for (const name of ['encrypt', 'decrypt', 'sealFields', 'openFields']) {
    expectSealError(gs[name], []);
  }
  expectSealError(gs.encrypt, ['4821']);
  expectSealError(gs.decrypt, [SEALED]);
  expectSealError(gs.sealFields, [{ pin: '4821' }]);
  expectSealError(gs.openFields, [SEALED_OBJECT]);
});

test('undefined, null and an empty object as options mean "no context"', () => {
  for (const options of [undefined, null, {}, { context: undefined }, { context: null }]) {
    assert.equal(gs.decrypt(gs.encrypt('4821', KEY, options), KEY), '4821');
    assert.equal(gs.decrypt(gs.encrypt('4821', KEY), KEY, options), '4821');
    assert.deepEqual(gs.openFields(gs.sealFields({ pin: '4821' }, KEY, options), KEY), { pin: '4821' });
  }
});

// Regression (fixed): an array or a Buffer in the options position was read as "no options":
// the value was sealed without any context and opens without one, so a caller writing
// encrypt(pin, key, [callSid]) or encrypt(pin, key, Buffer.from(callSid)) silently loses the
// binding to the call. Expected: "gather-seal: options must be an object ..." like a string or a
// number there. Actual: no error.
test('an array or a Buffer as options is refused, not taken as "no context"', () => {
  for (const options of [['CA4821:pin'], [], Buffer.from('CA4821:pin')]) {
    expectSealError(gs.encrypt, ['4821', KEY, options]);
    expectSealError(gs.decrypt, [SEALED, KEY, options]);
    expectSealError(gs.sealFields, [{ pin: '4821' }, KEY, options]);
    expectSealError(gs.openFields, [SEALED_OBJECT, KEY, options]);
  }
});

// Regression (fixed): sealFields/openFields copied the indexed entries of a Buffer or typed array into a plain
// object, so the bytes of what was meant to be sealed come back in clear:
//   sealFields(Buffer.from('4821'), key)         → { 0: 52, 1: 56, 2: 50, 3: 49 }
//   sealFields(new Uint8Array([4, 8, 2, 1]), key) → { 0: 4, 1: 8, 2: 2, 3: 1 }
// (npm/index.js plainObject() lets any non-array object through.) Expected:
// "gather-seal: object must be a plain object", as for an array.
test('a Buffer or a typed array as the object is refused, not copied out in clear', () => {
  const cases = [['Buffer', Buffer.from('buffer-4821')], ['Uint8Array', new Uint8Array([4, 8, 2, 1])]];
  for (const [name, value] of cases) {
    try {
      expectSealError(gs.sealFields, [value, KEY]);
      expectSealError(gs.openFields, [value, KEY]);
    } catch (e) {
      e.message = `${name}: ${e.message}`;
      throw e;
    }
  }
});

// Regression (fixed): other non-plain objects were not refused either, and what comes back is not "every string
// field sealed, the rest unchanged":
//   sealFields(new String('4821'), key) → { 0: <sealed "4">, 1: <sealed "8">, 2: …, 3: … }
//   sealFields(new Map([['pin', '4821']]), key) → {}   (the entry is silently lost)
//   sealFields(new Set(['4821']), key) → {},  sealFields(new Date(), key) → {}
// Expected: "gather-seal: object must be a plain object".
test('sealFields refuses a String object, a Map, a Set or a Date instead of mangling it', () => {
  const cases = {
    'String object': new String('4821'), // eslint-disable-line no-new-wrappers
    Map: new Map([['pin', '4821']]),
    Set: new Set(['4821']),
    Date: new Date(0),
  };
  const failures = [];
  for (const [name, value] of Object.entries(cases)) {
    try {
      expectSealError(gs.sealFields, [value, KEY]);
    } catch (e) {
      failures.push(`${name}: ${e.message.split('\n')[0]}`);
    }
  }
  assert.deepEqual(failures, []);
});

test('after every wrong call above the package still works', () => {
  const sealed = gs.encrypt('4821', KEY, { context: 'CA1' });
  assert.equal(gs.decrypt(sealed, [OTHER_KEY, KEY], { context: 'CA1' }), '4821');
  assert.deepEqual(gs.openFields(gs.sealFields({ pin: '4821' }, KEY), KEY), { pin: '4821' });
  assert.match(gs.generateKey(), /^[0-9a-f]{64}$/);
});
