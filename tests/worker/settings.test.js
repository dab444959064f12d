'use strict';
// Configuration: a missing or malformed secret or setting makes the caller hear a short
// apology and the call end, with the setting named in the log and no secret printed; key
// rotation; and a flow changed through GATHER_FLOWS alone. (flows.test.js covers every
// problem inside GATHER_FLOWS.)

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const h = require('./harness');

const { decrypt, encrypt } = h.sealingPackage();

function baseBindings(backendUrl) {
  return {
    GATHER_FLOWS: { default: h.articlesFlow({ action: backendUrl }) },
    AES_SECRET: h.KEY,
    TWILIO_AUTH_TOKEN: h.TOKEN,
    BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
  };
}

describe('a missing or malformed setting', () => {
  let backend;

  before(async () => {
    backend = await h.startBackend(() => ({ status: 200, json: { account: 'AC1', balance: '1' } }));
  });

  after(async () => {
    await backend?.close();
  });

  const badKey = 'c0ffee'.repeat(10) + 'abc'; // 63 hex characters
  const cases = [
    ['AES_SECRET', 'missing', (b) => delete b.AES_SECRET, []],
    ['AES_SECRET', 'empty', (b) => (b.AES_SECRET = ''), []],
    ['AES_SECRET', 'one character short', (b) => (b.AES_SECRET = badKey), [badKey]],
    ['AES_SECRET', 'not hex', (b) => (b.AES_SECRET = `${h.KEY.slice(0, 62)}zz`), [`${h.KEY.slice(0, 62)}zz`]],
    ['AES_SECRET_PREVIOUS', 'malformed', (b) => (b.AES_SECRET_PREVIOUS = `${h.OLD_KEY},${badKey}`), [badKey, h.OLD_KEY]],
    ['TWILIO_AUTH_TOKEN', 'missing', (b) => delete b.TWILIO_AUTH_TOKEN, []],
    ['BACKEND_SIGNING_SECRET', 'missing', (b) => delete b.BACKEND_SIGNING_SECRET, []],
    ['BACKEND_SIGNING_SECRET', 'too short', (b) => (b.BACKEND_SIGNING_SECRET = 'short-secret-9f8e7d'), ['short-secret-9f8e7d']],
    ['PUBLIC_URL', 'not a URL', (b) => (b.PUBLIC_URL = 'ivr.example.com'), []],
    ['OUTBOUND_TIMEOUT_MS', 'not a number of milliseconds', (b) => (b.OUTBOUND_TIMEOUT_MS = '5 s'), []],
    ['OUTBOUND_TIMEOUT_MS', 'longer than 5 s', (b) => (b.OUTBOUND_TIMEOUT_MS = 60000), []],
    ['GATHER_FLOWS', 'missing', (b) => delete b.GATHER_FLOWS, []],
    // Written without quotes in wrangler.toml, a secret arrives as a number: secrets are text.
    ['AES_SECRET', 'a number, not text', (b) => (b.AES_SECRET = 1234), []],
  ];

  for (const [setting, how, change, values] of cases) {
    test(`${setting} ${how}: the apology, the setting named in the log, no secret printed`, async () => {
      const bindings = baseBindings(backend.url);
      change(bindings);
      const worker = await h.startWorker(bindings);
      try {
        // The call comes in (signed with the token, which the worker may not have).
        const reply = await h.signedPost(worker.url('/gather'), h.callParams(h.newCallSid()));
        assert.equal(reply.status, 200);
        assert.equal(reply.type, 'text/xml');
        assert.equal(reply.text, h.expectedGoodbye(h.APOLOGY));
        const [line] = await worker.waitForLogLines(1);
        assert.equal(line.outcome, 'misconfigured');
        assert.equal(line.setting, setting);
        assert.equal(typeof line.problem, 'string');
        h.assertCleanLog(worker.output(), { secrets: [h.KEY, h.OLD_KEY, h.TOKEN, h.SIGNING_SECRET, ...values] });
        assert.ok(!/panicked|RuntimeError|unreachable/i.test(worker.output()), 'the worker crashed');
        assert.equal(backend.requests.length, 0);
      } finally {
        await worker.dispose();
      }
    });
  }
});

describe('the development secrets cannot go live', () => {
  const fs = require('node:fs');
  const path = require('node:path');
  /** NAME=value pairs of .dev.vars.example, the values published with the repository. */
  const published = fs
    .readFileSync(path.join(__dirname, '..', '..', '.dev.vars.example'), 'utf8')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .map((line) => line.split('='))
    .filter(([name, value]) => name && value && value.trim() !== '')
    .map(([name, value]) => [name.trim(), value.trim()]);
  let backend;

  before(async () => {
    backend = await h.startBackend(() => ({ status: 200, json: { account: 'AC1', balance: '1' } }));
  });

  after(async () => {
    await backend?.close();
  });

  test('.dev.vars.example publishes the secrets checked below', () => {
    assert.deepEqual(published.map(([name]) => name).sort(), [
      'AES_SECRET', 'BACKEND_SIGNING_SECRET', 'TWILIO_API_KEY_SECRET', 'TWILIO_API_KEY_SID', 'TWILIO_AUTH_TOKEN',
    ]);
  });

  const spellings = [
    ['as published', (name, value) => ({ [name]: value })],
    ['in capitals', (name, value) => ({ [name]: value.toUpperCase() })],
    ['among previous keys', (name, value) => (name === 'AES_SECRET' ? { AES_SECRET_PREVIOUS: `${h.OLD_KEY}, ${value}` } : null)],
  ];
  for (const [name, value] of published) {
    for (const [how, bindingsFor] of spellings) {
      const changed = bindingsFor(name, value);
      if (changed === null) continue;
      const setting = Object.keys(changed)[0];
      test(`the production build refuses ${setting} set to the published ${name} ${how}`, async () => {
        const worker = await h.startWorker({ ...baseBindings(backend.url), ...changed });
        try {
          // Signed with the published token where that is the one set: still refused.
          const token = name === 'TWILIO_AUTH_TOKEN' ? value : h.TOKEN;
          const reply = await h.signedPost(worker.url('/gather'), h.callParams(h.newCallSid()), { token });
          assert.equal(reply.text, h.expectedGoodbye(h.APOLOGY));
          assert.equal(h.gatherAction(reply.text), null, 'nothing is asked');
          const [line] = await worker.waitForLogLines(1);
          assert.equal(line.outcome, 'misconfigured');
          assert.equal(line.setting, setting);
          assert.match(line.problem, /published in \.dev\.vars\.example/);
          h.assertCleanLog(worker.output(), { secrets: [value, value.toUpperCase(), h.KEY, h.TOKEN] });
        } finally {
          await worker.dispose();
        }
      });
    }
  }

  test('the development build runs with them', async () => {
    const devSecrets = Object.fromEntries(published);
    const worker = await h.startWorker({ ...baseBindings(backend.url), ...devSecrets }, { build: 'build-dev' });
    try {
      const reply = await h.signedPost(worker.url('/gather'), h.callParams(h.newCallSid()), { token: devSecrets.TWILIO_AUTH_TOKEN });
      assert.notEqual(h.gatherAction(reply.text), null, 'the call is asked its first field');
    } finally {
      await worker.dispose();
    }
  });
});

describe('key rotation', () => {
  let backend;
  let rotated;
  let unrotated;

  before(async () => {
    backend = await h.startBackend((request) => {
      const body = request.json;
      const ring = [h.KEY, h.OLD_KEY];
      request.card = decrypt(body.encryptedCardDigits, ring, { context: `${body.callSid}:card` });
      request.pin = decrypt(body.encryptedPinDigits, ring, { context: `${body.callSid}:pin` });
      return { status: 200, json: { account: 'AC7', balance: '7.00' } };
    });
    rotated = await h.startWorker({ ...baseBindings(backend.url), AES_SECRET_PREVIOUS: ` ${h.OTHER_KEY}, ${h.OLD_KEY} ` });
    unrotated = await h.startWorker(baseBindings(backend.url));
  });

  after(async () => {
    await rotated?.dispose();
    await unrotated?.dispose();
    await backend?.close();
  });

  test('a value sealed under the previous key still carries; new values use the current key', async () => {
    const callSid = h.newCallSid();
    const oldCard = encrypt('1234', h.OLD_KEY, { context: `${callSid}:card` });
    const url = rotated.url(`/gather?step=pin&attempt=1&card=${oldCard}`);
    const reply = await h.signedPost(url, { ...h.callParams(callSid), Digits: '4321' });
    assert.equal(reply.status, 200);
    assert.equal(reply.text, h.expectedThanks('AC7', '7.00'));

    assert.equal(backend.requests.length, 1);
    const [request] = backend.requests;
    const body = request.json;
    assert.equal(body.encryptedCardDigits, oldCard);
    assert.equal(request.card, '1234');
    assert.equal(request.pin, '4321');
    // The PIN was sealed with the current key, not an older one.
    assert.equal(decrypt(body.encryptedPinDigits, h.KEY, { context: `${callSid}:pin` }), '4321');
    assert.throws(() => decrypt(body.encryptedPinDigits, h.OLD_KEY, { context: `${callSid}:pin` }));
  });

  test('a worker that no longer holds the old key refuses the value: 400 with the apology', async () => {
    const callSid = h.newCallSid();
    const oldCard = encrypt('1234', h.OLD_KEY, { context: `${callSid}:card` });
    const url = unrotated.url(`/gather?step=pin&attempt=1&card=${oldCard}`);
    const reply = await h.signedPost(url, { ...h.callParams(callSid), Digits: '4321' });
    assert.equal(reply.status, 400);
    assert.equal(reply.text, h.expectedGoodbye(h.APOLOGY));
    assert.equal(backend.requests.length, 1, 'nothing more forwarded');
  });

  test('the log holds no key', async () => {
    await rotated.waitForLogLines(1);
    h.assertCleanLog(rotated.output(), { digits: ['1234', '4321'], secrets: [h.KEY, h.OLD_KEY, h.OTHER_KEY, h.TOKEN] });
  });
});

describe('a flow changed through GATHER_FLOWS', () => {
  let backend;
  let worker;
  const PROMPT = 'Enter your 6 digit "account" number & then <nothing>.';

  before(async () => {
    backend = await h.startBackend(() => ({ status: 404 }));
    worker = await h.startWorker({
      ...baseBindings(backend.url),
      GATHER_FLOWS: {
        default: {
          fields: [
            { name: 'account_number', kind: 'digits', length: 6, prompt: PROMPT },
            { name: 'pin', kind: 'digits', length: 4, prompt: 'PIN, please.' },
          ],
          then: { action: backend.url },
          attempts: 2,
          timeout: 5,
        },
      },
    });
  });

  after(async () => {
    await worker?.dispose();
    await backend?.close();
  });

  test('fields, prompts, digits, attempts and timeout come from the setting', async () => {
    const { callSid, steps } = await h.walkCall(worker, ['1234', '123456', '4321']);
    assert.equal(steps.length, 4);
    assert.equal(
      steps[0].reply.text,
      h.expectedAsk({ action: worker.url('/gather?step=account_number&attempt=1'), numDigits: 6, timeout: 5, prompts: [PROMPT] }),
    );
    assert.equal(
      steps[1].reply.text,
      h.expectedAsk({
        action: worker.url('/gather?step=account_number&attempt=2'),
        numDigits: 6,
        timeout: 5,
        prompts: ['Sorry, that was not 6 digits.', PROMPT],
      }),
    );
    const action = h.gatherAction(steps[2].reply.text);
    assert.equal(steps[2].reply.text, h.expectedAsk({ action, numDigits: 4, timeout: 5, prompts: ['PIN, please.'] }));
    // The application answered 404: nothing to continue the call with.
    assert.equal(steps[3].reply.text, h.expectedGoodbye(h.APOLOGY));

    const body = backend.requests[0].json;
    assert.deepEqual(Object.keys(body), [
      'callSid', 'accountSid', 'from', 'to', 'flow', 'result', 'encryptedAccountNumberDigits', 'encryptedPinDigits',
    ]);
    assert.equal(decrypt(body.encryptedAccountNumberDigits, h.KEY, { context: `${callSid}:account_number` }), '123456');
    assert.equal(decrypt(body.encryptedPinDigits, h.KEY, { context: `${callSid}:pin` }), '4321');
  });

  test('two bad tries end the gather when attempts is 2', async () => {
    const { steps } = await h.walkCall(worker, ['1', '']);
    assert.equal(steps.length, 3);
    assert.equal(steps[2].reply.text, h.expectedGoodbye(h.TOO_MANY));
    assert.equal(backend.requests.at(-1).json.result, 'too-many-attempts');
  });
});
