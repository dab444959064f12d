'use strict';
// sealFields/openFields: a new object with every field sealed (or opened) under the context
// `${context}:${field name}` (context '' when none is given), the fields named in options.copy
// as they were, keys in their order, the input untouched; each sealed field is an ordinary
// sealed value that decrypt and node:crypto open with that context. A field that is not a
// string, and not named in options.copy, is refused both ways.

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

test('each sealed field opens with decrypt and with node:crypto under "<context>:<field name>"', () => {
  const key = referenceKey();
  const context = 'CA77aa:gather';
  const sealed = gs.sealFields(STRINGS, key, { context });
  for (const [name, value] of Object.entries(STRINGS)) {
    assert.equal(gs.decrypt(sealed[name], key, { context: `${context}:${name}` }), value, name);
    assert.equal(reference.open(sealed[name], key, `${context}:${name}`), value, name);
  }
  assert.deepEqual(gs.openFields(sealed, key, { context }), STRINGS);
  // Without a context (or with ''), the context is ":<field name>".
  for (const options of [undefined, {}, { context: '' }]) {
    const bare = gs.sealFields(STRINGS, key, options);
    for (const [name, value] of Object.entries(STRINGS)) {
      assert.equal(reference.open(bare[name], key, `:${name}`), value, name);
    }
    assert.deepEqual(gs.openFields(bare, key), STRINGS);
    assert.deepEqual(gs.openFields(bare, key, { context: '' }), STRINGS);
  }
});

test('openFields opens fields sealed one by one with encrypt or with node:crypto', () => {
  const key = referenceKey();
  const sealed = {
    pin: gs.encrypt('4821', key, { context: 'c1:pin' }),
    card: reference.seal('1111', key, 'c1:card'),
    attempts: 3,
  };
  assert.deepEqual(gs.openFields(sealed, key, { context: 'c1', copy: ['attempts'] }),
    { pin: '4821', card: '1111', attempts: 3 });
});

// The worker seals each gathered field under "<CallSid>:<field>": with the CallSid as the
// context, openFields opens them as openSubmission does.
test("openFields opens the worker's values with the CallSid as the context", () => {
  const key = referenceKey();
  const callSid = `CA${'7f'.repeat(16)}`;
  const fromWorker = {
    card: reference.seal('4111', key, `${callSid}:card`),
    last_four: reference.seal('1111', key, `${callSid}:last_four`),
  };
  assert.deepEqual(gs.openFields(fromWorker, key, { context: callSid }), { card: '4111', last_four: '1111' });
  const submission = { callSid, result: 'success', encryptedCardDigits: fromWorker.card, encryptedLastFourDigits: fromWorker.last_four };
  assert.deepEqual(gs.openSubmission(submission, key), gs.openFields(fromWorker, key, { context: callSid }));
});

// Regression (fixed): every field was sealed under the one context, so sealed values could be
// swapped between fields, or moved into a field of another name, and still open:
//   s = sealFields({ card: '4111', pin: '1234' }, key, { context: 'CA1' })
//   openFields({ card: s.pin, pin: s.card }, key, { context: 'CA1' }) → { card: '1234', pin: '4111' }
// Expected: each value bound to its field's name, so a moved value does not open.
test('a value moved to another field does not open: each is bound to its field name', () => {
  const key = referenceKey();
  for (const context of [undefined, 'CA1']) {
    const s = gs.sealFields({ card: '4111', pin: '1234' }, key, { context });
    expectSealError(gs.openFields, [{ card: s.pin, pin: s.card }, key, { context }], KIND.unauthentic);
    expectSealError(gs.openFields, [{ card: s.card, pin: s.card }, key, { context }], KIND.unauthentic);
    expectSealError(gs.openFields, [{ ssn: s.pin }, key, { context }], KIND.unauthentic);
    expectSealError(gs.decrypt, [s.pin, key, { context }], KIND.unauthentic);
  }
});

// Regression (fixed): openFields passed a value that was not a string through unopened, so
// what an attacker put in a request body came back looking authenticated:
//   openFields({ pin: { $gt: '' } }, key) → { pin: { $gt: '' } }
// and sealFields left such values in clear. Expected: a gather-seal error both ways, unless the
// field is named in options.copy.
test('a field that is not a string is refused both ways unless named in options.copy', () => {
  const key = referenceKey();
  const sealedPin = gs.sealFields({ pin: '4821' }, key).pin;
  const notStrings = [{ $gt: '' }, 4821, 0, null, undefined, true, ['4821'], { value: '4821' }, 4821n,
    Buffer.from('4821'), new String('4821')]; // eslint-disable-line no-new-wrappers
  for (const value of notStrings) {
    expectSealError(gs.openFields, [{ pin: value }, key], /^gather-seal: openFields .*options\.copy/);
    expectSealError(gs.openFields, [{ pin: sealedPin, other: value }, key], /^gather-seal: openFields .*options\.copy/);
    expectSealError(gs.sealFields, [{ pin: '4821', other: value }, key], /^gather-seal: sealFields .*options\.copy/);
    const copied = gs.sealFields({ pin: '4821', other: value }, key, { copy: ['other'] });
    assert.equal(copied.other, value);
    assert.deepEqual(gs.openFields(copied, key, { copy: ['other'] }), { pin: '4821', other: value });
  }
});

test('options.copy copies the fields it names as they are, strings included, both ways', () => {
  const key = referenceKey();
  const input = { caller: 'Zoë', pin: '4821', step: 2 };
  const sealed = gs.sealFields(input, key, { copy: ['caller', 'step', 'absent'] });
  assert.equal(sealed.caller, 'Zoë');
  assert.equal(sealed.step, 2);
  assert.notEqual(sealed.pin, '4821');
  assert.deepEqual(gs.openFields(sealed, key, { copy: ['caller', 'step'] }), input);
  // A copied string is not opened, and a field not copied must open.
  expectSealError(gs.openFields, [sealed, key, { copy: ['step'] }], KIND.notHex);
  for (const copy of ['caller', { 0: 'caller', length: 1 }, [1], ['caller', null], new Set(['caller'])]) {
    expectSealError(gs.sealFields, [input, key, { copy }], /^gather-seal: options\.copy must be/);
    expectSealError(gs.openFields, [sealed, key, { copy }], /^gather-seal: options\.copy must be/);
  }
  for (const copy of [undefined, null, []]) {
    assert.deepEqual(gs.openFields(gs.sealFields({ pin: '4821' }, key, { copy }), key, { copy }), { pin: '4821' });
  }
});

// Values sealed by earlier versions of sealFields share one context (options.context, or none):
// options.sharedContext opens them, and seals that way when asked.
test('options.sharedContext seals and opens every field under options.context itself', () => {
  const key = referenceKey();
  for (const context of [undefined, 'CA1']) {
    const old = { pin: reference.seal('4821', key, context), card: reference.seal('4111', key, context) };
    assert.deepEqual(gs.openFields(old, key, { context, sharedContext: true }), { pin: '4821', card: '4111' });
    expectSealError(gs.openFields, [old, key, { context }], KIND.unauthentic);
    const shared = gs.sealFields({ pin: '4821' }, key, { context, sharedContext: true });
    assert.equal(reference.open(shared.pin, key, context), '4821');
    assert.equal(gs.decrypt(shared.pin, key, { context }), '4821');
    expectSealError(gs.openFields, [shared, key, { context, sharedContext: false }], KIND.unauthentic);
  }
  for (const sharedContext of ['yes', 1, {}]) {
    expectSealError(gs.sealFields, [{ pin: '4821' }, key, { sharedContext }], /^gather-seal: options\.sharedContext/);
  }
});

test('the two fields of one object get different nonces and ciphertexts', () => {
  const key = referenceKey();
  const sealed = gs.sealFields({ a: '4821', b: '4821' }, key);
  assert.notEqual(sealed.a.slice(0, 2 * NONCE_LEN), sealed.b.slice(0, 2 * NONCE_LEN));
  assert.notEqual(sealed.a, sealed.b);
});

test('fields named in options.copy are kept unchanged, whatever they hold, both ways', () => {
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
  const copy = Object.keys(input).filter((name) => name !== 'pin');
  const sealed = gs.sealFields(input, key, { copy });
  const opened = gs.openFields(sealed, key, { copy });
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
  const options = { copy: ['alpha', 'beta', 'a b'] };
  const sealed = gs.sealFields(input, key, options);
  assert.deepEqual(Object.keys(sealed), Object.keys(input));
  assert.deepEqual(Object.keys(gs.openFields(sealed, key, options)), Object.keys(input));
  assert.deepEqual(gs.openFields(sealed, key, options), input);
});

test('a new object is returned and the input is not mutated', () => {
  const key = referenceKey();
  const input = { pin: '4821', count: 1, nested: { card: '1111' } };
  const options = { copy: ['count', 'nested'] };
  const before = structuredClone(input);
  const sealed = gs.sealFields(input, key, options);
  assert.notEqual(sealed, input);
  assert.deepEqual(input, before);
  const sealedBefore = structuredClone(sealed);
  const opened = gs.openFields(sealed, key, options);
  assert.notEqual(opened, sealed);
  assert.deepEqual(sealed, sealedBefore);
  assert.deepEqual(opened, input);
  // Changing a result does not reach back into what it was made from.
  sealed.pin = 'changed';
  opened.count = 99;
  assert.deepEqual(input, before);
});

test('an object without fields, or with only copied fields, comes back equal and new', () => {
  const key = referenceKey();
  const options = { copy: ['n', 'b', 'x'] };
  for (const input of [{}, { n: 1, b: false, x: null }]) {
    const sealed = gs.sealFields(input, key, options);
    assert.notEqual(sealed, input);
    assert.deepEqual(sealed, input);
    assert.deepEqual(gs.openFields(sealed, key, options), input);
  }
});

test('an object with a null prototype and a class instance have their own fields sealed', () => {
  const key = referenceKey();
  const bare = Object.create(null);
  bare.pin = '4821';
  class Gathered { constructor() { this.pin = '4821'; this.step = 2; } }
  for (const input of [bare, new Gathered()]) {
    const sealed = gs.sealFields(input, key, { copy: ['step'] });
    assert.deepEqual(Object.keys(sealed), ['pin', ...('step' in input ? ['step'] : [])]);
    assert.equal(gs.decrypt(sealed.pin, key, { context: ':pin' }), '4821');
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
    const options = { copy: typeof Object.getOwnPropertyDescriptor(input, '__proto__').value === 'string'
      ? ['after'] : ['__proto__', 'after'] };
    const sealed = gs.sealFields(input, key, options);
    for (const result of [sealed, gs.openFields(sealed, key, options)]) {
      assert.equal(Object.getPrototypeOf(result), Object.prototype);
      assert.deepEqual(Object.keys(result), ['pin', '__proto__', 'after']);
      assert.equal(result.isAdmin, undefined);
    }
    const opened = gs.openFields(sealed, key, options);
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
