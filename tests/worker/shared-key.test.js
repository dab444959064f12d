'use strict';
// Twilio's SharedKey signatures (Webhook Rules), end to end in workerd: a request carrying
// X-Twilio-Webhooks-Signature-Settings is checked with the algorithm it names under
// TWILIO_WEBHOOK_SHARED_KEY or any of TWILIO_WEBHOOK_SHARED_KEY_PREVIOUS, never under the auth
// token; a request without it, under the auth token with HMAC-SHA1 as before. Every signature is
// made by the official twilio package (getExpectedTwilioSignature with its algorithm argument).

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const twilio = require('twilio');
const h = require('./harness');

// Throwaway test secrets.
const SHARED_KEY = 'whsk_test_current_0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const PREVIOUS_KEYS = ['whsk_test_previous_one_00112233445566778899', 'whsk_test_previous_two_aabbccddeeff00112233'];
const SETTINGS = 'key=webhooks_sharedkey_0123456789abcdef,algorithm=HMAC_SHA256';
const SECRETS = [h.TOKEN, SHARED_KEY, ...PREVIOUS_KEYS];

/** The first webhook of a call, signed by the twilio package with `key` and `algorithm`. */
async function firstWebhook(worker, { key, algorithm, settings, callSid = h.newCallSid() }) {
  const url = worker.url('/gather');
  const params = h.callParams(callSid);
  const signature = twilio.getExpectedTwilioSignature(key, url, params, algorithm);
  const headers = settings === undefined ? {} : { 'X-Twilio-Webhooks-Signature-Settings': settings };
  return { callSid, reply: await h.signedPost(url, params, { signature, headers }) };
}

/** The log line of the request just made (the last one), once it is written. */
async function lastLogLine(worker, count) {
  const lines = await worker.waitForLogLines(count);
  return lines[lines.length - 1];
}

function assertAsked(worker, reply) {
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.type, 'text/xml');
  assert.equal(reply.text, h.expectedAsk({ action: worker.url('/gather?step=card&attempt=1'), prompts: [h.CARD_PROMPT] }));
}

function assertForbidden(reply) {
  assert.equal(reply.status, 403);
  assert.match(reply.type, /^text\/plain/);
  assert.equal(reply.text, 'Forbidden');
}

describe('a worker with a shared key and previous ones', () => {
  let both;
  let worker;

  before(async () => {
    both = await h.startWorkerWithBackend(() => ({ status: 200, json: { account: 'AC1', balance: '1' } }), {
      TWILIO_WEBHOOK_SHARED_KEY: SHARED_KEY,
      // Comma-separated, with spaces and an empty entry, as an operator may write it.
      TWILIO_WEBHOOK_SHARED_KEY_PREVIOUS: ` ${PREVIOUS_KEYS[0]} ,, ${PREVIOUS_KEYS[1]}`,
    });
    ({ worker } = both);
  });

  after(() => both?.close());

  test('an HMAC_SHA256 request under the shared key, with the settings header: answered', async () => {
    const before = worker.logLines().length;
    const { callSid, reply } = await firstWebhook(worker, { key: SHARED_KEY, algorithm: 'HMAC_SHA256', settings: SETTINGS });
    assertAsked(worker, reply);
    const line = await lastLogLine(worker, before + 1);
    assert.equal(line.outcome, 'asked');
    assert.equal(line.callSid, callSid);
  });

  test("the same request signed with the auth token's HMAC_SHA1, with the header: 403", async () => {
    const before = worker.logLines().length;
    const { reply } = await firstWebhook(worker, { key: h.TOKEN, algorithm: 'HMAC_SHA1', settings: SETTINGS });
    assertForbidden(reply);
    const line = await lastLogLine(worker, before + 1);
    assert.equal(line.outcome, 'bad-signature');
    assert.equal(line.callSid, null, 'an unverified CallSid is not logged');
    // Nor under HMAC_SHA256, nor with the header saying HMAC_SHA1.
    assertForbidden((await firstWebhook(worker, { key: h.TOKEN, algorithm: 'HMAC_SHA256', settings: SETTINGS })).reply);
    const sha1Settings = 'key=webhooks_sharedkey_0123456789abcdef,algorithm=HMAC_SHA1';
    assertForbidden((await firstWebhook(worker, { key: h.TOKEN, algorithm: 'HMAC_SHA1', settings: sha1Settings })).reply);
  });

  test('rotation: a request signed with either previous shared key is answered', async () => {
    for (const key of PREVIOUS_KEYS) {
      assertAsked(worker, (await firstWebhook(worker, { key, algorithm: 'HMAC_SHA256', settings: SETTINGS })).reply);
    }
    // A key that is none of them is not.
    const other = 'whsk_test_unknown_99887766554433221100';
    assertForbidden((await firstWebhook(worker, { key: other, algorithm: 'HMAC_SHA256', settings: SETTINGS })).reply);
  });

  test('HMAC_SHA1 named in the header (or no algorithm named) under the shared key: answered', async () => {
    for (const settings of ['key=webhooks_sharedkey_0123456789abcdef,algorithm=HMAC_SHA1', 'key=webhooks_sharedkey_0123456789abcdef']) {
      assertAsked(worker, (await firstWebhook(worker, { key: SHARED_KEY, algorithm: 'HMAC_SHA1', settings })).reply);
      // The algorithm named is the one checked.
      assertForbidden((await firstWebhook(worker, { key: SHARED_KEY, algorithm: 'HMAC_SHA256', settings })).reply);
    }
    const lower = 'key=webhooks_sharedkey_0123456789abcdef, algorithm = hmac_sha256';
    assertAsked(worker, (await firstWebhook(worker, { key: SHARED_KEY, algorithm: 'HMAC_SHA256', settings: lower })).reply);
  });

  test('an algorithm the worker does not support: 403 and unsupported-signature-algorithm', async () => {
    for (const algorithm of ['HMAC_SHA512', 'RSA_SHA256']) {
      const before = worker.logLines().length;
      const settings = `key=webhooks_sharedkey_0123456789abcdef,algorithm=${algorithm}`;
      // Signed as validly as the twilio package can sign (it has no such algorithm).
      const { reply } = await firstWebhook(worker, { key: SHARED_KEY, algorithm: 'HMAC_SHA256', settings });
      assertForbidden(reply);
      const line = await lastLogLine(worker, before + 1);
      assert.equal(line.outcome, 'unsupported-signature-algorithm');
      assert.equal(line.callSid, null);
    }
  });

  test('no settings header: the auth token, HMAC_SHA1, as before; a shared-key signature is refused', async () => {
    assertAsked(worker, (await firstWebhook(worker, { key: h.TOKEN, algorithm: 'HMAC_SHA1' })).reply);
    const before = worker.logLines().length;
    assertForbidden((await firstWebhook(worker, { key: SHARED_KEY, algorithm: 'HMAC_SHA256' })).reply);
    assert.equal((await lastLogLine(worker, before + 1)).outcome, 'bad-signature');
    assertForbidden((await firstWebhook(worker, { key: SHARED_KEY, algorithm: 'HMAC_SHA1' })).reply);
  });

  test('a whole call signed with the shared key: every step checks it', async () => {
    const callSid = h.newCallSid();
    const first = await firstWebhook(worker, { key: SHARED_KEY, algorithm: 'HMAC_SHA256', settings: SETTINGS, callSid });
    assertAsked(worker, first.reply);
    const url = worker.url('/gather?step=card&attempt=1');
    const params = { ...h.callParams(callSid), Digits: '4242' };
    const signature = twilio.getExpectedTwilioSignature(SHARED_KEY, url, params, 'HMAC_SHA256');
    const headers = { 'X-Twilio-Webhooks-Signature-Settings': SETTINGS };
    const before = worker.logLines().length;
    const second = await h.signedPost(url, params, { signature, headers });
    assert.equal(second.status, 200);
    assert.match(second.text, /<Gather /, 'the PIN is asked');
    const line = await lastLogLine(worker, before + 1);
    assert.deepEqual([line.outcome, line.callSid], ['sealed', callSid]);
  });

  test('no secret and no digits in the log', () => {
    h.assertCleanLog(worker.output(), { digits: ['4242'], secrets: SECRETS });
  });
});

describe('a worker without a shared key', () => {
  let both;
  let worker;

  before(async () => {
    both = await h.startWorkerWithBackend(() => ({ status: 200, json: { account: 'AC1', balance: '1' } }));
    ({ worker } = both);
  });

  after(() => both?.close());

  test('the settings header: 403 and no-shared-key, whatever the signature', async () => {
    for (const [key, algorithm] of [[SHARED_KEY, 'HMAC_SHA256'], [h.TOKEN, 'HMAC_SHA1']]) {
      const before = worker.logLines().length;
      const { reply } = await firstWebhook(worker, { key, algorithm, settings: SETTINGS });
      assertForbidden(reply);
      const line = await lastLogLine(worker, before + 1);
      assert.equal(line.outcome, 'no-shared-key');
      assert.equal(line.callSid, null);
    }
  });

  test('without the header the auth token still works', async () => {
    assertAsked(worker, (await firstWebhook(worker, { key: h.TOKEN, algorithm: 'HMAC_SHA1' })).reply);
    // An empty header is no header (as in the twilio package's middleware).
    assertAsked(worker, (await firstWebhook(worker, { key: h.TOKEN, algorithm: 'HMAC_SHA1', settings: '' })).reply);
  });

  test('no secret in the log', () => {
    h.assertCleanLog(worker.output(), { secrets: SECRETS });
  });
});

describe('a shared key set to a value published in .dev.vars.example', () => {
  // The example's auth token, pasted into the shared key settings by mistake.
  const published = /^TWILIO_AUTH_TOKEN=(\S+)$/m.exec(
    require('node:fs').readFileSync(require('node:path').join(__dirname, '..', '..', '.dev.vars.example'), 'utf8'),
  )[1];

  for (const setting of ['TWILIO_WEBHOOK_SHARED_KEY', 'TWILIO_WEBHOOK_SHARED_KEY_PREVIOUS']) {
    test(`the production build refuses ${setting}`, async () => {
      const both = await h.startWorkerWithBackend(() => ({ status: 200, json: {} }), {
        [setting]: setting.endsWith('PREVIOUS') ? `${SHARED_KEY}, ${published}` : published,
      });
      try {
        const { reply } = await firstWebhook(both.worker, { key: h.TOKEN, algorithm: 'HMAC_SHA1' });
        assert.equal(reply.text, h.expectedGoodbye(h.APOLOGY));
        const [line] = await both.worker.waitForLogLines(1);
        assert.deepEqual([line.outcome, line.setting], ['misconfigured', setting]);
        h.assertCleanLog(both.worker.output(), { secrets: [published, SHARED_KEY] });
      } finally {
        await both.close();
      }
    });
  }
});
