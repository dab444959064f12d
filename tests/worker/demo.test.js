'use strict';
// The articles' demo backend served by the worker itself (DEMO_BACKEND = "true"), called
// through BACKEND_URL like any backend: the local default that scripts/dev.sh runs.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const h = require('./harness');

const { encrypt } = h.sealingPackage();

describe('the demo backend', () => {
  let worker;

  before(async () => {
    // The worker must know its own address for BACKEND_URL, so it gets a fixed free port.
    const port = await h.freePort();
    worker = await h.startWorker(
      {
        ...h.wranglerVars(),
        DEMO_BACKEND: 'true',
        BACKEND_URL: `http://127.0.0.1:${port}/decrypt-gather`,
        AES_SECRET: h.KEY,
        TWILIO_AUTH_TOKEN: h.TOKEN,
      },
      { port },
    );
  });

  after(async () => {
    await worker?.dispose();
  });

  test('wrangler.toml turns it on for local use', () => {
    const vars = h.wranglerVars();
    assert.equal(vars.DEMO_BACKEND, 'true');
    assert.match(vars.BACKEND_URL, /^http:\/\/127\.0\.0\.1:8787\/decrypt-gather$/);
  });

  test('card 1234 and PIN 4321: account AC12345678, balance 12.55', async () => {
    const { steps } = await h.walkCall(worker, ['1234', '4321']);
    assert.equal(steps.length, 3);
    assert.equal(steps[2].reply.text, h.expectedThanks('AC12345678', '12.55'));
  });

  test('any other caller: the not-found goodbye', async () => {
    for (const digits of [['1234', '0000'], ['4321', '1234']]) {
      const { steps } = await h.walkCall(worker, digits);
      assert.equal(steps[2].reply.text, h.expectedGoodbye(h.NOT_FOUND));
    }
  });

  test('POST /decrypt-gather opens the values with the key ring and the call contexts', async () => {
    const url = worker.url('/decrypt-gather');
    const callSid = h.newCallSid();
    const post = (body, type = 'application/json') =>
      fetch(url, { method: 'POST', headers: { 'Content-Type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    const card = encrypt('1234', h.KEY, { context: `${callSid}:card` });
    const pin = encrypt('4321', h.KEY, { context: `${callSid}:pin` });

    const found = await post({ callSid, encryptedCardDigits: card, encryptedPinDigits: pin });
    assert.equal(found.status, 200);
    assert.match(found.headers.get('content-type'), /^application\/json/);
    assert.deepEqual(await found.json(), { account: 'AC12345678', balance: '12.55' });

    const other = encrypt('0000', h.KEY, { context: `${callSid}:pin` });
    assert.equal((await post({ callSid, encryptedCardDigits: card, encryptedPinDigits: other })).status, 404);
    // Swapped fields, another call, plaintext, not JSON: 400.
    for (const body of [
      { callSid, encryptedCardDigits: pin, encryptedPinDigits: card },
      { callSid: h.newCallSid(), encryptedCardDigits: card, encryptedPinDigits: pin },
      { callSid, encryptedCardDigits: '1234', encryptedPinDigits: '4321' },
      'not json',
    ]) {
      assert.equal((await post(body)).status, 400, JSON.stringify(body));
    }
    assert.equal((await post({ callSid }, 'text/plain')).status, 415);
    assert.equal((await fetch(url)).status, 405);
  });

  test('the log of whole demo calls holds no digits or secrets', async () => {
    const lines = await worker.waitForLogLines(1);
    assert.ok(lines.some((l) => l.outcome === 'demo-found'));
    assert.ok(lines.some((l) => l.outcome === 'found'));
    h.assertCleanLog(worker.output(), { digits: ['1234', '4321', '0000'], secrets: [h.KEY, h.TOKEN] });
  });
});
