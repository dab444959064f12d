'use strict';
// generateKey gives fresh usable keys; every seal draws a fresh nonce (the package draws them
// from a pool it refills, so the runs below cross several refills).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { PKG_DIR, gs, reference, referenceKey, remember, NONCE_LEN } = require('./support');

test('generateKey gives 64 lowercase hex characters', () => {
  for (let i = 0; i < 20; i++) {
    const key = remember(gs.generateKey());
    assert.equal(typeof key, 'string');
    assert.match(key, /^[0-9a-f]{64}$/);
  }
});

test('generateKey gives distinct, random-looking keys', () => {
  const keys = Array.from({ length: 200 }, () => remember(gs.generateKey()));
  assert.equal(new Set(keys).size, keys.length);
  // 200 keys are 51,200 bits; a fixed or counter-like generator would be far from half ones
  // (the bound is over 10 standard deviations wide, so this does not fail by chance).
  assert.ok(bitBalance(keys.join('')) > 0.47 && bitBalance(keys.join('')) < 0.53);
});

test('a generated key is usable with the package and with node:crypto', () => {
  const key = remember(gs.generateKey());
  const sealed = gs.encrypt('4821', key, { context: 'CA1' });
  assert.equal(gs.decrypt(sealed, key, { context: 'CA1' }), '4821');
  assert.equal(reference.open(sealed, key, 'CA1'), '4821');
  assert.equal(gs.decrypt(reference.seal('4821', key), key), '4821');
  assert.deepEqual(gs.openFields(gs.sealFields({ pin: '4821' }, key), [key]), { pin: '4821' });
});

test('1000 seals of the same input under the same key use 1000 distinct nonces', () => {
  const key = referenceKey();
  const sealed = Array.from({ length: 1000 }, () => gs.encrypt('4821', key));
  const nonces = sealed.map((s) => s.slice(0, 2 * NONCE_LEN));
  assert.equal(new Set(nonces).size, 1000);
  assert.equal(new Set(sealed).size, 1000);
  assert.ok(bitBalance(nonces.join('')) > 0.47 && bitBalance(nonces.join('')) < 0.53);
  for (const s of sealed) assert.equal(reference.open(s, key), '4821');
});

test('nonces stay distinct across encrypt, sealFields and several keys interleaved', () => {
  const keys = [referenceKey(), referenceKey(), referenceKey()];
  const nonces = [];
  for (let i = 0; i < 400; i++) {
    const key = keys[i % keys.length];
    nonces.push(gs.encrypt('4821', key).slice(0, 2 * NONCE_LEN));
    const fields = gs.sealFields({ a: '4821', b: '4821' }, key, { context: 'CA' });
    nonces.push(fields.a.slice(0, 2 * NONCE_LEN), fields.b.slice(0, 2 * NONCE_LEN));
  }
  assert.equal(nonces.length, 1200);
  assert.equal(new Set(nonces).size, nonces.length);
});

test('a second copy of the package (another wasm instance) does not repeat the first one\'s nonces', () => {
  // Clearing the require cache loads a second, independent wasm instance, as two bundles of
  // one app would; each must draw its own nonces.
  const first = gs;
  const cached = Object.keys(require.cache).filter((p) => p.startsWith(PKG_DIR + path.sep));
  assert.ok(cached.length >= 1, 'the package was loaded from pkg/');
  for (const p of cached) delete require.cache[p];
  const second = require(PKG_DIR);
  assert.notEqual(second, first);
  const key = referenceKey();
  const nonces = [];
  for (let i = 0; i < 300; i++) {
    nonces.push(first.encrypt('4821', key).slice(0, 2 * NONCE_LEN));
    nonces.push(second.encrypt('4821', key).slice(0, 2 * NONCE_LEN));
  }
  assert.equal(new Set(nonces).size, nonces.length);
});

/** The fraction of one bits in a hex string. */
function bitBalance(hex) {
  let ones = 0;
  for (const c of hex) {
    let v = parseInt(c, 16);
    while (v) { ones += v & 1; v >>= 1; }
  }
  return ones / (4 * hex.length);
}

test('a host whose random source calls back into the package leaves it working, nonces distinct', () => {
  // In a child process, so that the patched random sources do not reach other tests. The
  // package draws nonces 256 at a time; every refill here calls encrypt again from inside the
  // random source, as a host instrumenting or polyfilling it might. The nonce pool must not be
  // held across that call (it was: the inner encrypt trapped, and every later call failed).
  const script = `
    const crypto = require('node:crypto');
    const gs = require(${JSON.stringify(PKG_DIR)});
    const key = ${JSON.stringify(referenceKey())};
    const inner = [];
    let depth = 0;
    const reenter = (fill) => function (...args) {
      if (depth === 0) {
        depth++;
        try { inner.push(gs.encrypt('1111', key)); } finally { depth--; }
      }
      return fill.apply(this, args);
    };
    crypto.randomFillSync = reenter(crypto.randomFillSync);
    globalThis.crypto.getRandomValues = reenter(globalThis.crypto.getRandomValues.bind(globalThis.crypto));
    const outer = [];
    for (let i = 0; i < 700; i++) outer.push(gs.encrypt('2222', key));
    const all = [...outer, ...inner];
    const opened = all.map((s) => gs.decrypt(s, key));
    console.log(JSON.stringify({
      outer: outer.length, inner: inner.length,
      distinct: new Set(all.map((s) => s.slice(0, ${2 * NONCE_LEN}))).size,
      opened: [...new Set(opened)].sort(),
    }));
  `;
  const result = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
  assert.equal(result.outer, 700);
  assert.ok(result.inner >= 2, `the random source was re-entered ${result.inner} times`);
  assert.equal(result.distinct, result.outer + result.inner);
  assert.deepEqual(result.opened, ['1111', '2222']);
});
