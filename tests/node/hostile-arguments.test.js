'use strict';
// No call can leave the package unusable. Every export is called with its valid arguments made
// hostile one at a time: getters that throw, getters that call the package from inside (every
// export, while the outer call is under way), getters and Proxy traps that answer differently
// each time they are asked, and byte arrays whose own `length` lies. Whatever each call does
// (it may give the right result or throw), it never gives a wrong result or a foreign error,
// and afterwards every export still works, the key prepared before included.
//
// Regressions (fixed), each of which left every later encrypt/decrypt throwing
// `RuntimeError: unreachable`:
// - a RefCell borrowed inside the wasm instance while a caller's getter ran (sealFields walked
//   objects from Rust);
// - a Buffer given as a body with an own `length` getter answering 1, then 3: the wasm glue
//   allocated by the first answer and copied the whole body there, over the allocator's heap
//   (validateRequestWithBody and verifySubmission);
// - a call the host could not give memory to (a trap inside encrypt, e.g. under a Worker's
//   memory limit), which left the module's state borrowed for good.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const twilio = require('twilio');
const { gs, PKG_DIR, reference, referenceKey, remember } = require('./support');

const KEY = referenceKey();
const OTHER_KEY = referenceKey();
const SECRET = remember('s'.repeat(20) + KEY.slice(0, 24));
const TOKEN = remember(KEY.slice(0, 32));
const CALL_SID = `CA${'5e'.repeat(16)}`;

const URL_ = 'https://example.com/gather?step=pin';
const PARAMS = { CallSid: CALL_SID, Digits: '4821', Multi: ['b', 'a'] };
const SIGNATURE = twilio.getExpectedTwilioSignature(TOKEN, URL_, PARAMS);
const JSON_BODY = JSON.stringify({ CallSid: CALL_SID, CallStatus: 'completed' });
const JSON_URL = `https://example.com/status?bodySHA256=${twilio.getExpectedBodyHash(JSON_BODY)}`;
const JSON_SIGNATURE = twilio.getExpectedTwilioSignature(TOKEN, JSON_URL, {});

const SUBMISSION = {
  callSid: CALL_SID, flow: 'login', result: 'success',
  encryptedPinDigits: reference.seal('4321', KEY, `${CALL_SID}:pin`),
  encryptedCardDigits: reference.seal('1234', KEY, `${CALL_SID}:card`),
};
const SUBMISSION_BODY = JSON.stringify(SUBMISSION);
const header = () => reference.sign(SUBMISSION_BODY, SECRET);
const STATUS_EVENT = { callSid: CALL_SID, flow: 'pay', field: 'card', event: 'accepted', error: null, attempt: 1,
  at: 1764892800123, masked: { last4: '4242', brand: 'visa' } };
const STATUS_BODY = JSON.stringify(STATUS_EVENT);
const UPSTREAM = 'wss://agent.example.com/ws?relay=agent';

// Made before any hostile call: the key's prepared ring must survive them all.
const SEALED = gs.encrypt('4821', KEY, { context: 'CA1' });
const SEALED_FIELDS = gs.sealFields({ pin: '4821', card: '4111', n: 1 }, KEY, { context: 'CA1', copy: ['n'] });

/** Every export with valid arguments (made fresh for each call) and what it must give. */
const CALLS = {
  encrypt: {
    args: () => ['4821', KEY, { context: 'CA1' }],
    check: (r) => assert.equal(reference.open(r, KEY, 'CA1'), '4821'),
  },
  decrypt: {
    args: () => [SEALED, [OTHER_KEY, KEY], { context: 'CA1' }],
    check: (r) => assert.equal(r, '4821'),
  },
  sealFields: {
    args: () => [{ pin: '4821', card: '4111', n: 1 }, KEY, { context: 'CA1', copy: ['n'] }],
    check: (r) => {
      assert.deepEqual(Object.keys(r), ['pin', 'card', 'n']);
      assert.equal(reference.open(r.pin, KEY, 'CA1:pin'), '4821');
      assert.equal(reference.open(r.card, KEY, 'CA1:card'), '4111');
      assert.equal(r.n, 1);
    },
  },
  openFields: {
    args: () => [{ ...SEALED_FIELDS }, [OTHER_KEY, KEY], { context: 'CA1', copy: ['n'] }],
    check: (r) => assert.deepEqual(r, { pin: '4821', card: '4111', n: 1 }),
  },
  verifySubmission: {
    args: () => [Buffer.from(SUBMISSION_BODY), header(), [SECRET], { toleranceSeconds: 300, now: new Date() }],
    check: (r) => assert.deepEqual(r, SUBMISSION),
  },
  openSubmission: {
    args: () => [{ ...SUBMISSION }, [OTHER_KEY, KEY], { fields: ['pin', 'card'] }],
    check: (r) => assert.deepEqual(r, { pin: '4321', card: '1234' }),
  },
  maskedCards: {
    args: () => [{ ...SUBMISSION, masked: { card: { last4: '4242', brand: 'visa' }, pin_card: { last4: '0005' } } }],
    check: (r) => assert.deepEqual(r, { card: { last4: '4242', brand: 'visa' }, pin_card: { last4: '0005' } }),
  },
  verifyStatusEvent: {
    args: () => [Buffer.from(STATUS_BODY), reference.sign(STATUS_BODY, SECRET), [SECRET], { now: new Date() }],
    check: (r) => assert.deepEqual(r, STATUS_EVENT),
  },
  verifyRelayHandshake: {
    args: () => [UPSTREAM, reference.sign(UPSTREAM, SECRET), [SECRET], { toleranceSeconds: 300, now: new Date() }],
    check: (r) => assert.equal(r, true),
  },
  validateRequest: {
    args: () => [TOKEN, SIGNATURE, URL_, { ...PARAMS, Multi: [...PARAMS.Multi] }],
    check: (r) => assert.equal(r, true),
  },
  validateRequestWithBody: {
    args: () => [TOKEN, JSON_SIGNATURE, JSON_URL, new TextEncoder().encode(JSON_BODY)],
    check: (r) => assert.equal(r, true),
  },
  generateKey: {
    args: () => [],
    check: (r) => assert.match(r, /^[0-9a-f]{64}$/),
  },
};

/** Every export works, and gives what it should (the calls above, run plainly). */
function stillWorks() {
  for (const [name, { args, check }] of Object.entries(CALLS)) {
    try {
      check(gs[name](...args()));
    } catch (e) {
      e.message = `afterwards, ${name}: ${e.message}`;
      throw e;
    }
  }
  assert.equal(gs.decrypt(gs.encrypt('1234', OTHER_KEY), OTHER_KEY), '1234');
}

let reentries = 0;
let depth = 0;

/** What a re-entrant getter does: calls every export (not from inside itself again). */
function reenter() {
  if (depth > 0) return;
  depth++;
  try {
    stillWorks();
    reentries++;
  } finally {
    depth--;
  }
}

class FromTheGetter extends Error {}
const thrower = () => { throw new FromTheGetter('thrown by the caller\'s own code'); };

// What a lying getter or trap answers after its first (true) answer.
const LIES = [{ $gt: '' }, 48213579, undefined, 'a\uD800b', `${KEY},${OTHER_KEY}`, ['x'], 2];

/** A getter answering `value` at first, then each lie in turn. */
function liar(value) {
  let asked = 0;
  return () => (asked++ === 0 ? value : LIES[(asked - 2) % LIES.length]);
}

/**
 * Hostile versions of `value` (a plain object, an array, or bytes), each { how, value }; for
 * objects and arrays also of each member that is one, in place.
 */
function hostile(value, path = '') {
  const out = [];
  if (value instanceof Uint8Array) {
    const withLength = (how, get) => {
      const bytes = Buffer.from(value);
      Object.defineProperty(bytes, 'length', { get });
      out.push({ how: `${path} bytes whose own length ${how}`, value: bytes });
    };
    withLength('throws', thrower);
    withLength('re-enters', () => { reenter(); return value.length; });
    let asked = 0;
    withLength('says 1, then 3', () => (asked++ === 0 ? 1 : 3));
    withLength('says 0', () => 0);
    return out;
  }
  if (value === null || typeof value !== 'object' || value instanceof Date) return out;
  const copy = () => (Array.isArray(value) ? [...value] : { ...value });
  for (const member of Object.keys(value)) {
    for (const [how, make] of [['throws', () => thrower], ['re-enters', () => () => { reenter(); return value[member]; }],
      ['lies after its first answer', () => liar(value[member])]]) {
      const object = copy();
      Object.defineProperty(object, member, { get: make(), enumerable: true, configurable: true });
      out.push({ how: `${path}.${member}: a getter that ${how}`, value: object });
    }
    for (const inner of hostile(value[member], `${path}.${member}`)) {
      out.push({ how: inner.how, value: Object.assign(copy(), { [member]: inner.value }) });
    }
  }
  for (const trap of ['ownKeys', 'getOwnPropertyDescriptor', 'get', 'has', 'getPrototypeOf']) {
    out.push({ how: `${path} a Proxy whose ${trap} throws`, value: new Proxy(copy(), { [trap]: thrower }) });
    out.push({
      how: `${path} a Proxy whose ${trap} re-enters`,
      value: new Proxy(copy(), { [trap]: (...a) => { reenter(); return Reflect[trap](...a); } }),
    });
  }
  const answered = new Set();
  const once = (key) => !answered.has(key) && answered.add(key);
  out.push({
    how: `${path} a Proxy whose get answers each key truly once, then lies`,
    value: new Proxy(copy(), {
      get: (t, key, r) => (once(key) ? Reflect.get(t, key, r) : LIES[answered.size % LIES.length]),
    }),
  });
  out.push({
    how: `${path} a Proxy whose ownKeys names keys it does not have`,
    value: new Proxy(copy(), { ownKeys: (t) => [...Reflect.ownKeys(t), 'ghost', '0', 'pin'].filter((k, i, all) => all.indexOf(k) === i) }),
  });
  out.push({
    how: `${path} a Proxy whose getOwnPropertyDescriptor disagrees with get`,
    value: new Proxy(copy(), {
      getOwnPropertyDescriptor: (t, key) => {
        const d = Reflect.getOwnPropertyDescriptor(t, key);
        return d && { ...d, value: LIES[0] };
      },
    }),
  });
  return out;
}

for (const [name, { args, check }] of Object.entries(CALLS)) {
  test(`${name}: hostile getters, Proxies and byte arrays leave the package working`, () => {
    let cases = 0;
    for (const [position] of args().entries()) {
      for (const { how, value } of hostile(args()[position])) {
        cases++;
        const call = args();
        call[position] = value;
        const label = `${name}(argument ${position + 1}${how})`;
        let result;
        let error;
        try {
          result = gs[name](...call);
        } catch (e) {
          error = e;
        }
        if (error === undefined) {
          // Each value is read once, so a getter's later lies change nothing; only where a
          // built-in reads a Proxy's array length more than once (new Set(array) on a
          // parameter's values) can one make it another request, with its own verdict.
          const anotherRequest = typeof result === 'boolean' && /lies/.test(how);
          try {
            if (!anotherRequest) check(result);
          } catch (e) {
            e.message = `${label} returned a wrong result: ${e.message}`;
            throw e;
          }
        } else {
          assert.ok(error instanceof FromTheGetter || /^gather-seal: /.test(error?.message),
            `${label} threw a foreign error: ${error?.name}: ${error?.message}`);
          if (/re-enters/.test(how)) assert.fail(`${label} threw though its getter told the truth: ${error.message}`);
        }
        try {
          stillWorks();
        } catch (e) {
          e.message = `after ${label}: ${e.message}`;
          throw e;
        }
      }
    }
    if (name !== 'generateKey') assert.ok(cases >= 4, `${name}: only ${cases} hostile cases`);
  });
}

// The old glue path, replayed: 4 KiB of zeros copied over the heap behind a 1-byte allocation
// made the allocator trap on a later call, then every call after that.
test('a body whose own length lies is copied whole, not written past an allocation', () => {
  for (const [name, call] of [
    ['validateRequestWithBody', (body) => gs.validateRequestWithBody(TOKEN, JSON_SIGNATURE, JSON_URL, body)],
    ['verifySubmission', (body) => gs.verifySubmission(body, header(), SECRET)],
  ]) {
    const body = Buffer.alloc(4096);
    let asked = 0;
    Object.defineProperty(body, 'length', { get: () => (asked++ === 0 ? 1 : 3) });
    try {
      call(body);
    } catch (e) {
      assert.match(e.message, /^gather-seal: /, name);
    }
    for (let size = 1; size <= 1 << 14; size *= 2) {
      const text = 'x'.repeat(size);
      assert.equal(gs.decrypt(gs.encrypt(text, KEY), KEY), text, `${name}, then ${size} bytes`);
    }
    stillWorks();
  }
});

test('the re-entrant getters above did call the package from inside its calls', () => {
  assert.ok(reentries >= 50, `re-entered ${reentries} times`);
});

// Each in a child Node whose wasm memories may grow to 100 pages (6.4 MB): sealing a plaintext
// of a few MB then fails inside the module, as a Worker's memory limit would make it fail
// (where, depends on the size: the sizes cover the glue's allocation and encrypt's own).
test('a call the host cannot give memory to fails alone: every call after it works', () => {
  const script = `
    const gs = require(${JSON.stringify(PKG_DIR)});
    const key = gs.generateKey();
    const before = gs.encrypt('4821', key);
    let failed = false;
    try { gs.encrypt('€'.repeat(Number(process.argv[1])), key); } catch { failed = true; }
    let after;
    try {
      after = gs.decrypt(gs.encrypt('1234', key), key) === '1234' && gs.decrypt(before, key) === '4821';
    } catch (e) {
      after = e.name + ': ' + e.message;
    }
    console.log(JSON.stringify({ failed, after }));`;
  const report = [];
  for (let size = 1 << 17; size <= 1 << 21; size *= 2) {
    const out = execFileSync(process.execPath, ['--wasm-max-mem-pages=100', '-e', script, String(size)], { encoding: 'utf8' });
    report.push({ size, ...JSON.parse(out) });
  }
  assert.ok(report.filter((r) => r.failed).length >= 2, `too few calls ran out of memory: ${JSON.stringify(report)}`);
  assert.deepEqual(report.filter((r) => r.after !== true), [], 'calls after one that ran out of memory');
});
