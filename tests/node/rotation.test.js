'use strict';
// Key rotation: decrypt and openFields take an array of keys, the current key first, then older
// ones. A value sealed under an older key still opens while that key is in the array, and stops
// opening once it is dropped.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { gs, reference, referenceKey, expectSealError, KIND } = require('./support');

test('a value sealed with the old key opens with [new, old], and not with [new] alone', () => {
  const oldKey = referenceKey();
  const newKey = referenceKey();
  const fromOld = gs.encrypt('4821', oldKey);
  assert.equal(gs.decrypt(fromOld, [newKey, oldKey]), '4821');
  expectSealError(gs.decrypt, [fromOld, [newKey]], KIND.unauthentic);
  expectSealError(gs.decrypt, [fromOld, newKey], KIND.unauthentic);
});

test('a value sealed with the new key opens with [new, old] too', () => {
  const oldKey = referenceKey();
  const newKey = referenceKey();
  assert.equal(gs.decrypt(gs.encrypt('1357', newKey), [newKey, oldKey]), '1357');
});

test('values sealed by node:crypto under each key of a ring of three all open', () => {
  const keys = [referenceKey(), referenceKey(), referenceKey()];
  for (const [i, key] of keys.entries()) {
    const context = `CA${i}:pin`;
    const sealed = reference.seal(`pin ${i}`, key, context);
    assert.equal(gs.decrypt(sealed, keys, { context }), `pin ${i}`);
    // The order of the older keys does not matter for opening.
    assert.equal(gs.decrypt(sealed, [...keys].reverse(), { context }), `pin ${i}`);
    // Without the key that sealed it, the value does not open.
    expectSealError(gs.decrypt, [sealed, keys.filter((k) => k !== key), { context }], KIND.unauthentic);
  }
});

test('rotation keeps the context binding: an old value with a wrong context does not open', () => {
  const oldKey = referenceKey();
  const newKey = referenceKey();
  const sealed = gs.encrypt('4821', oldKey, { context: 'CA1:pin' });
  assert.equal(gs.decrypt(sealed, [newKey, oldKey], { context: 'CA1:pin' }), '4821');
  expectSealError(gs.decrypt, [sealed, [newKey, oldKey], { context: 'CA2:pin' }], KIND.unauthentic);
  expectSealError(gs.decrypt, [sealed, [newKey, oldKey]], KIND.unauthentic);
});

test('keys in a ring may be pasted with a trailing newline or in upper case', () => {
  const oldKey = referenceKey();
  const newKey = referenceKey();
  const sealed = reference.seal('4821', oldKey);
  assert.equal(gs.decrypt(sealed, [`${newKey}\n`, `${oldKey.toUpperCase()}\n`]), '4821');
});

test('the same key twice in a ring is harmless', () => {
  const key = referenceKey();
  assert.equal(gs.decrypt(gs.encrypt('4821', key), [key, key]), '4821');
});

test('a ring with a malformed key is refused as a malformed key, not tried partly', () => {
  const newKey = referenceKey();
  const oldKey = referenceKey();
  const sealed = gs.encrypt('4821', newKey);
  expectSealError(gs.decrypt, [sealed, [newKey, oldKey.slice(1)]], KIND.invalidKey);
  expectSealError(gs.decrypt, [sealed, [newKey, '']], KIND.invalidKey);
  expectSealError(gs.decrypt, [sealed, [`${oldKey}zz`, newKey]], KIND.invalidKey);
});

test('a key containing a comma is refused, in a ring and alone', () => {
  // The wrapper passes a ring to wasm as comma-joined text, so a comma inside one element must
  // not smuggle in a second key.
  const a = referenceKey();
  const b = referenceKey();
  const sealed = gs.encrypt('4821', b);
  expectSealError(gs.decrypt, [sealed, [`${a},${b}`]], KIND.any);
  expectSealError(gs.encrypt, ['4821', `${a},${b}`], KIND.any);
  expectSealError(gs.sealFields, [{ pin: '4821' }, `${a},${b}`], KIND.any);
  expectSealError(gs.openFields, [{ pin: sealed }, [`${a},${b}`]], KIND.any);
});

test('openFields takes a ring: fields sealed under different keys open together', () => {
  const oldKey = referenceKey();
  const newKey = referenceKey();
  const sealed = {
    pin: gs.encrypt('4821', oldKey, { context: 'CA9:pin' }),
    card: gs.encrypt('1111', newKey, { context: 'CA9:card' }),
    attempts: 2,
  };
  const options = { context: 'CA9', copy: ['attempts'] };
  assert.deepEqual(gs.openFields(sealed, [newKey, oldKey], options), { pin: '4821', card: '1111', attempts: 2 });
  expectSealError(gs.openFields, [sealed, [newKey], options], KIND.unauthentic);
  expectSealError(gs.openFields, [sealed, [oldKey], options], KIND.unauthentic);
});

test('sealing always uses the one given key, so after rotation new values need only the new key', () => {
  const oldKey = referenceKey();
  const newKey = referenceKey();
  const sealed = gs.sealFields({ pin: '4821' }, newKey);
  assert.equal(reference.open(sealed.pin, newKey, ':pin'), '4821');
  assert.deepEqual(gs.openFields(sealed, [newKey]), { pin: '4821' });
  expectSealError(gs.openFields, [sealed, [oldKey]], KIND.unauthentic);
});
