'use strict';
// <Pay>-grade capture end to end in workerd (issue 16): a card limited by card_types and read
// back for the caller to confirm, a security code as long as the card makes it, an expiry, a
// field typed twice, `*` to cancel, masked cards in the hand-off, and the signed status events
// a flow's status_callback receives. Every webhook is signed by the twilio package; the stub
// application checks each submission with the npm package's verifySubmission and opens it with
// openSubmission; the status receiver checks every event with verifySubmission too. Status
// events are sent after the answer (waitUntil), so the tests poll, bounded, for their arrival.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { after, before, describe, test } = require('node:test');
const h = require('./harness');

const { openSubmission, verifySubmission } = h.sealingPackage();
const ROOT = path.join(__dirname, '..', '..');

// Published test numbers (Stripe's), and one of a brand the flow does not take.
const AMEX = '378282246310005';
const VISA = '4242424242424242';
const MASTERCARD = '5555555555554444';

const CARD_PROMPT = 'Please enter your card number, then press pound.';
const CVV_PROMPT = 'Please enter the security code.';
const EXPIRY_PROMPT = 'Please enter the expiry date, two digits for the month and two for the year.';
const ACCOUNT_PROMPT = 'Please enter your 8 digit account number.';
const CARD_TYPE = 'Sorry, we only take Visa and American Express cards here.';
const MISMATCH = 'Sorry, those two account numbers were different.';
const REPEAT = 'Please enter the account number once more.';
const CONFIRM_VISA = 'You entered a card ending in 4 2 4 2. Press 1 to confirm, or any other key to enter it again.';
const CONFIRM_AMEX = 'You entered a card ending in 0 0 0 5. Press 1 to confirm, or any other key to enter it again.';
const PAID = '<Response><Say>Thank you, your payment is on its way.</Say><Hangup/></Response>';
const RETURN_URL = 'https://app.example.com/paid?from=ivr';

/** The payment flow: a confirmed card of two brands, its security code, an expiry. */
function payFlow(then, statusUrl) {
  return {
    then,
    status_callback: statusUrl,
    messages: { card_type: CARD_TYPE },
    fields: [
      { name: 'card', kind: 'card-number', card_types: ['visa', 'amex'], confirm: true, prompt: CARD_PROMPT },
      { name: 'cvv', kind: 'security-code', card: 'card', prompt: CVV_PROMPT },
      { name: 'expiry', kind: 'expiry', prompt: EXPIRY_PROMPT },
    ],
  };
}

/** An account number typed twice. */
function accountFlow(then, statusUrl) {
  return {
    then,
    status_callback: statusUrl,
    messages: { mismatch: MISMATCH, repeat: REPEAT },
    fields: [{ name: 'account', kind: 'digits', length: 8, repeat: true, prompt: ACCOUNT_PROMPT }],
  };
}

/**
 * The application: every submission checked with the package's verifySubmission (a 401 when it
 * fails, recorded with `verified: false`), answered with PAID and X-Gather-Seal-Result: accepted.
 */
async function startApplication(secret = h.SIGNING_SECRET) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const request = { url: req.url, headers: req.headers, body, verified: false };
      requests.push(request);
      try {
        request.json = verifySubmission(body, req.headers['x-gather-seal-signature'], secret);
        request.verified = true;
      } catch (error) {
        request.error = error.message;
        res.writeHead(401, { 'Content-Type': 'text/plain' });
        res.end('bad signature');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/xml', 'X-Gather-Seal-Result': 'accepted' });
      res.end(PAID);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    requests,
    url: `http://127.0.0.1:${server.address().port}/payment`,
    of: (callSid) => requests.filter((r) => r.json?.callSid === callSid),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * The status receiver: records each event as it arrives (raw body and signature header) and
 * answers `mode`: 'ok' (204), 'error' (500), or 'silent' (never answers; the worker gives up).
 */
async function startStatusReceiver(mode = 'ok') {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json = null;
      try {
        json = JSON.parse(body);
      } catch {
        // recorded as it came; the test fails on it
      }
      requests.push({ method: req.method, url: req.url, headers: req.headers, body, json });
      if (mode === 'silent') return;
      res.writeHead(mode === 'error' ? 500 : 204);
      res.end();
    });
  });
  server.on('clientError', () => {});
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    requests,
    url: `http://127.0.0.1:${server.address().port}/status`,
    of: (callSid) => requests.filter((r) => r.json?.callSid === callSid),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Polls `probe` until it returns something truthy, for at most `timeoutMs`; returns the last value. */
async function eventually(probe, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value || Date.now() > deadline) return value;
    await h.sleep(20);
  }
}

/** A call's status events once `count` have arrived (or after the poll's bound). */
async function statusOf(receiver, callSid, count) {
  await eventually(() => receiver.of(callSid).length >= count);
  return receiver.of(callSid);
}

/** (event, field, error, attempt) of each status event, the way the expectations are written. */
function timeline(events) {
  return events.map(({ json }) => [json.event, json.field, json.error, json.attempt]);
}

/** Entries in a fixed order, for comparing two lists as sets. */
function unordered(entries) {
  return entries.map((entry) => JSON.stringify(entry)).sort();
}

/**
 * Plays a call like h.walkCall, but after each webhook waits until the status receiver holds
 * `counts[i]` events of the call in all (counts[0] after the first webhook), so that the events
 * of one webhook have all arrived before the next webhook is sent.
 */
async function walkInStep(worker, route, typed, receiver, counts) {
  const callSid = h.newCallSid();
  const played = [];
  let url = worker.url(route);
  let params = h.callParams(callSid);
  const queue = [...typed];
  for (let i = 0; i < 20; i++) {
    const reply = await h.signedPost(url, params);
    played.push({ url, params, reply });
    const have = await statusOf(receiver, callSid, counts[i]);
    assert.equal(have.length, counts[i], `status events after webhook ${i + 1}`);
    const action = h.gatherAction(reply.text);
    if (reply.status !== 200 || !action || queue.length === 0) break;
    url = action;
    params = { ...h.callParams(callSid), Digits: queue.shift() };
  }
  return { callSid, steps: played };
}

/** The `<Redirect>` URL of a TwiML document (entities decoded), or null. */
function redirectUrl(xml) {
  const match = xml.match(/<Redirect\b[^>]*>([^<]*)<\/Redirect>/);
  return match ? match[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&') : null;
}

/** The worker's log lines of a call with this outcome, once there are `count` (or after the bound). */
async function logOutcomes(worker, callSid, outcome, count, timeoutMs = 10000) {
  const of = () => worker.logLines().filter((l) => l.callSid === callSid && l.outcome === outcome);
  await eventually(() => of().length >= count, timeoutMs);
  return of();
}

const CARD_ASK = { numDigits: 19, finishOnKey: '#' };

describe('capture: confirm, repeat, cancel, masked cards and status events (production build)', () => {
  let worker;
  let app;
  let status;

  before(async () => {
    app = await startApplication();
    status = await startStatusReceiver('ok');
    worker = await h.startWorker({
      GATHER_FLOWS: {
        pay: payFlow({ action: app.url }, status.url),
        account: accountFlow({ action: app.url }, status.url),
        back: payFlow({ redirect: RETURN_URL }, status.url),
      },
      AES_SECRET: h.KEY,
      TWILIO_AUTH_TOKEN: h.TOKEN,
      BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
    });
  });

  after(async () => {
    await worker?.dispose();
    await app?.close();
    await status?.close();
  });

  /** Plays `typed` on /gather/<flow> and checks the call went all the way. */
  async function play(flow, typed) {
    const played = await h.walkCall(worker, typed, { path: `/gather/${flow}` });
    assert.equal(played.steps.length, typed.length + 1, 'the call stopped early');
    return { ...played, last: played.steps.at(-1).reply };
  }

  for (const [brand, card, code, masked, confirm] of [
    ['an American Express card with a 4-digit code', AMEX, '7373', { last4: '0005', brand: 'amex' }, CONFIRM_AMEX],
    ['a Visa card with a 3-digit code', VISA, '737', { last4: '4242', brand: 'visa' }, CONFIRM_VISA],
  ]) {
    test(`${brand}: confirmed with 1, handed on masked and sealed`, async () => {
      const played = await play('pay', [card, '1', code, '1228']);
      const [first, read, asked, expiry] = played.steps.map((s) => s.reply.text);
      assert.equal(first, h.expectedAsk({ action: worker.url('/gather/pay?step=card&attempt=1'), ...CARD_ASK, prompts: [CARD_PROMPT] }));
      // The entry read back, one key to keep it; the card waits sealed for this step only.
      const confirmAction = h.gatherAction(read);
      assert.deepEqual(Object.keys(h.queryOf(confirmAction)), ['step', 'attempt', 'pending-confirm']);
      assert.equal(read, h.expectedAsk({ action: confirmAction, numDigits: 1, prompts: [confirm] }));
      assert.equal(asked, h.expectedAsk({ action: h.gatherAction(asked), numDigits: code.length, prompts: [CVV_PROMPT] }));
      assert.equal(expiry, h.expectedAsk({ action: h.gatherAction(expiry), numDigits: 4, prompts: [EXPIRY_PROMPT] }));
      assert.equal(played.last.text, PAID);

      const [submission] = app.of(played.callSid);
      assert.equal(submission.verified, true);
      assert.deepEqual(Object.keys(submission.json), [
        'callSid', 'accountSid', 'from', 'to', 'flow', 'result', 'masked',
        'encryptedCardDigits', 'encryptedCvvDigits', 'encryptedExpiryDigits',
      ]);
      assert.equal(submission.json.result, 'success');
      assert.deepEqual(submission.json.masked, { card: masked });
      assert.deepEqual(openSubmission(submission.json, h.KEY, { fields: ['card', 'cvv', 'expiry'] }), {
        card,
        cvv: code,
        expiry: '1228',
      });
      h.assertNoPlaintext(submission.body, [card, code, '1228'], 'the submission');
      for (const step of played.steps) h.assertNoPlaintext(step.reply.text, [card, code, '1228'], 'the TwiML');
    });
  }

  test('a valid card of a brand the field does not take hears messages.card_type and is asked again', async () => {
    const played = await play('pay', [MASTERCARD, VISA, '1', '737', '1228']);
    const again = played.steps[1].reply.text;
    const action = h.gatherAction(again);
    assert.deepEqual(h.queryOf(action), { step: 'card', attempt: '2' });
    assert.equal(again, h.expectedAsk({ action, ...CARD_ASK, prompts: [CARD_TYPE, CARD_PROMPT] }));
    assert.equal(played.steps[2].reply.text, h.expectedAsk({ action: h.gatherAction(played.steps[2].reply.text), numDigits: 1, prompts: [CONFIRM_VISA] }));
    const [submission] = app.of(played.callSid);
    assert.deepEqual(submission.json.masked, { card: { last4: '4242', brand: 'visa' } });
    assert.deepEqual(openSubmission(submission.json, h.KEY), { card: VISA, cvv: '737', expiry: '1228' });
  });

  test('confirm: 2 asks for the card again with attempt 2, then 1 keeps the second entry', async () => {
    const played = await play('pay', [VISA, '2', AMEX, '1', '7373', '1228']);
    const again = played.steps[2].reply.text;
    const action = h.gatherAction(again);
    assert.deepEqual(h.queryOf(action), { step: 'card', attempt: '2' }, 'nothing pending is carried on');
    assert.equal(again, h.expectedAsk({ action, ...CARD_ASK, prompts: [CARD_PROMPT] }));
    const read = played.steps[3].reply.text;
    assert.equal(h.queryOf(h.gatherAction(read)).attempt, '2');
    assert.equal(read, h.expectedAsk({ action: h.gatherAction(read), numDigits: 1, prompts: [CONFIRM_AMEX] }));
    const [submission] = app.of(played.callSid);
    assert.deepEqual(submission.json.masked, { card: { last4: '0005', brand: 'amex' } });
    assert.deepEqual(openSubmission(submission.json, h.KEY), { card: AMEX, cvv: '7373', expiry: '1228' });
  });

  test('repeat: a second entry that differs hears messages.mismatch and uses a try; a matching one goes on', async () => {
    const played = await walkInStep(
      worker, '/gather/account', ['12345678', '12345679', '12345678', '12345678'], status, [1, 1, 3, 3, 5],
    );
    assert.equal(played.steps.length, 5);
    const [first, repeat, mismatch, repeatAgain] = played.steps.map((s) => s.reply.text);
    assert.equal(first, h.expectedAsk({ action: worker.url('/gather/account?step=account&attempt=1'), numDigits: 8, prompts: [ACCOUNT_PROMPT] }));
    const repeatAction = h.gatherAction(repeat);
    assert.deepEqual(Object.keys(h.queryOf(repeatAction)), ['step', 'attempt', 'pending-repeat']);
    assert.equal(repeat, h.expectedAsk({ action: repeatAction, numDigits: 8, prompts: [REPEAT] }));
    const mismatchAction = h.gatherAction(mismatch);
    assert.deepEqual(h.queryOf(mismatchAction), { step: 'account', attempt: '2' });
    assert.equal(mismatch, h.expectedAsk({ action: mismatchAction, numDigits: 8, prompts: [MISMATCH, ACCOUNT_PROMPT] }));
    assert.equal(repeatAgain, h.expectedAsk({ action: h.gatherAction(repeatAgain), numDigits: 8, prompts: [REPEAT] }));
    assert.equal(played.steps[4].reply.text, PAID);

    const [submission] = app.of(played.callSid);
    assert.equal(submission.verified, true);
    assert.equal(submission.json.masked, undefined, 'no card, no masked');
    assert.deepEqual(openSubmission(submission.json, h.KEY), { account: '12345678' });
    assert.deepEqual(timeline(status.of(played.callSid)), [
      ['asked', 'account', null, 1],
      ['invalid', 'account', 'mismatch', 1],
      ['asked', 'account', null, 2],
      ['accepted', 'account', null, 2],
      ['handed-off', null, null, 0],
    ]);
    for (const step of played.steps) h.assertNoPlaintext(step.reply.text, ['12345678', '12345679'], 'the TwiML');
  });

  test('* at the security code: the application receives result "cancelled" with the card', async () => {
    const played = await walkInStep(worker, '/gather/pay', [VISA, '1', '*'], status, [1, 2, 4, 6]);
    assert.equal(played.steps.length, 4);
    assert.equal(played.steps.at(-1).reply.text, PAID);
    const [submission] = app.of(played.callSid);
    assert.equal(submission.verified, true);
    assert.deepEqual(Object.keys(submission.json), [
      'callSid', 'accountSid', 'from', 'to', 'flow', 'result', 'masked', 'encryptedCardDigits',
    ]);
    assert.equal(submission.json.result, 'cancelled');
    assert.deepEqual(submission.json.masked, { card: { last4: '4242', brand: 'visa' } });
    assert.throws(() => openSubmission(submission.json, h.KEY), /result is not accepted/, 'only success opens by default');
    assert.deepEqual(openSubmission(submission.json, h.KEY, { results: ['cancelled'] }), { card: VISA });
    const events = status.of(played.callSid);
    assert.deepEqual(timeline(events), [
      ['asked', 'card', null, 1],
      ['accepted', 'card', null, 1],
      ['confirmed', 'card', null, 1],
      ['asked', 'cvv', null, 1],
      ['cancelled', 'cvv', null, 1],
      ['handed-off', null, null, 0],
    ]);
    assert.equal(events.at(-1).json.result, 'cancelled');
  });

  test('* at the card, before anything was kept: cancelled with no field', async () => {
    const played = await play('pay', ['*']);
    const [submission] = app.of(played.callSid);
    assert.deepEqual(Object.keys(submission.json), ['callSid', 'accountSid', 'from', 'to', 'flow', 'result']);
    assert.equal(submission.json.result, 'cancelled');
  });

  test('a redirect flow: card_last4 and card_brand in the <Redirect> URL beside the sealed values', async () => {
    const played = await play('back', [AMEX, '1', '7373', '1228']);
    assert.equal(played.last.text, h.expectedRedirect(redirectUrl(played.last.text)));
    const url = new URL(redirectUrl(played.last.text));
    assert.equal(`${url.origin}${url.pathname}`, 'https://app.example.com/paid');
    const query = Object.fromEntries(url.searchParams);
    assert.deepEqual(Object.keys(query), [
      'from', 'result', 'card_last4', 'card_brand', 'encryptedCardDigits', 'encryptedCvvDigits', 'encryptedExpiryDigits',
    ]);
    assert.deepEqual(
      { from: query.from, result: query.result, card_last4: query.card_last4, card_brand: query.card_brand },
      { from: 'ivr', result: 'success', card_last4: '0005', card_brand: 'amex' },
    );
    // As a Twilio Function would open it: the query arrives in `event`, with Twilio's CallSid.
    assert.deepEqual(openSubmission({ CallSid: played.callSid, ...query }, h.KEY), { card: AMEX, cvv: '7373', expiry: '1228' });
    h.assertNoPlaintext(played.last.text, [AMEX, '7373', '1228'], 'the redirect');
    assert.equal(app.of(played.callSid).length, 0, 'nothing is POSTed to the application');
  });

  test('the status stream of one whole call: signed, in order, and no digit beyond the last four', async () => {
    const typed = [MASTERCARD, VISA, '2', VISA, '1', '', '737', '0120', '1228'];
    // The status events each webhook adds (in all, after it), so they can be checked in order.
    const played = await walkInStep(worker, '/gather/pay', typed, status, [1, 3, 4, 5, 6, 8, 10, 12, 14, 16]);
    assert.equal(played.steps.length, typed.length + 1);
    assert.equal(played.steps.at(-1).reply.text, PAID);
    const events = status.of(played.callSid);
    assert.deepEqual(timeline(events), [
      ['asked', 'card', null, 1],
      ['invalid', 'card', 'card-type', 1],
      ['asked', 'card', null, 2],
      ['accepted', 'card', null, 2],
      ['asked', 'card', null, 3], // 2: not confirmed, asked again
      ['accepted', 'card', null, 3],
      ['confirmed', 'card', null, 3],
      ['asked', 'cvv', null, 1],
      ['invalid', 'cvv', 'timeout', 1],
      ['asked', 'cvv', null, 2],
      ['accepted', 'cvv', null, 2],
      ['asked', 'expiry', null, 1],
      ['invalid', 'expiry', 'expired', 1],
      ['asked', 'expiry', null, 2],
      ['accepted', 'expiry', null, 2],
      ['handed-off', null, null, 0],
    ]);
    const visa = { last4: '4242', brand: 'visa' };
    for (const [i, { json }] of events.entries()) {
      const card = json.field === 'card' && ['accepted', 'confirmed'].includes(json.event);
      const handedOff = json.event === 'handed-off';
      const expected = {
        callSid: played.callSid,
        flow: 'pay',
        field: json.field,
        event: json.event,
        error: json.error,
        attempt: json.attempt,
        at: json.at,
        ...(card && { masked: visa }),
        ...(handedOff && { result: 'success' }),
      };
      assert.deepEqual(json, expected, `event ${i + 1}`);
      assert.deepEqual(Object.keys(json), Object.keys(expected), `event ${i + 1}: members in order`);
      // When the worker took the webhook, in Unix milliseconds: recent, and never going back
      // within the call, so a receiver can put events from a slow delivery back in order.
      assert.ok(Number.isSafeInteger(json.at) && Math.abs(Date.now() - json.at) < 120_000, `event ${i + 1}: at`);
      if (i > 0) assert.ok(json.at >= events[i - 1].json.at, `event ${i + 1}: at after the one before`);
    }
    for (const request of events) {
      assert.equal(request.method, 'POST');
      assert.equal(request.url, '/status');
      assert.match(request.headers['content-type'], /^application\/json/);
      assert.deepEqual(verifySubmission(request.body, request.headers['x-gather-seal-signature'], h.SIGNING_SECRET), request.json);
      assert.throws(() => verifySubmission(request.body, request.headers['x-gather-seal-signature'], 'another-secret-of-at-least-32-characters'));
      // Nothing typed but the accepted card's last four: not the refused card's either.
      h.assertNoPlaintext(request.body, [MASTERCARD, VISA, '4444', '737', '0120', '1228'], 'a status event');
    }
  });
});

describe('capture: a status receiver that fails does not hold up the call', () => {
  for (const [what, mode, waitMs] of [
    ['answers 500', 'error', 300],
    ['never answers', 'silent', 2000],
  ]) {
    test(`a receiver that ${what}: the call goes through, and the log says status-callback-failed per event`, async () => {
      const app = await startApplication();
      const status = await startStatusReceiver(mode);
      const worker = await h.startWorker({
        GATHER_FLOWS: { pay: payFlow({ action: app.url }, status.url) },
        AES_SECRET: h.KEY,
        TWILIO_AUTH_TOKEN: h.TOKEN,
        BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
        OUTBOUND_TIMEOUT_MS: String(waitMs),
      });
      try {
        const started = Date.now();
        const played = await h.walkCall(worker, [VISA, '1', '737', '1228'], { path: '/gather/pay' });
        const took = Date.now() - started;
        assert.equal(played.steps.length, 5);
        // Answered before the events are sent: a wait for even one of them would show here.
        if (mode === 'silent') assert.ok(took < waitMs, `the call took ${took} ms`);
        assert.equal(played.steps.at(-1).reply.text, PAID);
        const [submission] = app.of(played.callSid);
        assert.deepEqual(openSubmission(submission.json, h.KEY), { card: VISA, cvv: '737', expiry: '1228' });
        // asked card; accepted card; confirmed card, asked cvv; accepted cvv, asked expiry;
        // accepted expiry, handed-off: 8 events, each sent, none taken.
        const events = await statusOf(status, played.callSid, 8);
        assert.equal(events.length, 8);
        const failed = await logOutcomes(worker, played.callSid, 'status-callback-failed', 8);
        assert.equal(failed.length, 8);
        for (const line of failed) assert.equal(line.flow, 'pay');
        // The webhooks' own lines are as without a receiver.
        const lines = worker.logLines().filter((l) => l.callSid === played.callSid && l.outcome !== 'status-callback-failed');
        assert.deepEqual(lines.map((l) => l.outcome), ['asked', 'sealed', 'sealed', 'sealed', 'handed-off']);
        h.assertCleanLog(worker.output(), { digits: [VISA, '737', '1228'], secrets: [h.KEY, h.TOKEN, h.SIGNING_SECRET] });
      } finally {
        await worker.dispose();
        await app.close();
        await status.close();
      }
    });
  }
});

/** NAME=value pairs of .dev.vars.example: the local demo's published secrets. */
function devSecrets() {
  const text = fs.readFileSync(path.join(ROOT, '.dev.vars.example'), 'utf8');
  return Object.fromEntries([...text.matchAll(/^([A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2].trim()]));
}

describe('the local demo: the pay flow of [env.dev], walked by scripts/call.js', () => {
  let worker;
  let status;
  const secrets = devSecrets();

  before(async () => {
    status = await startStatusReceiver('ok');
    // [env.dev.vars] as committed, with the status receiver at a free port instead of 8788.
    const vars = h.devVars();
    const flows = structuredClone(vars.GATHER_FLOWS);
    flows.pay.status_callback = status.url;
    worker = await h.startWorker(
      {
        ...vars,
        GATHER_FLOWS: flows,
        AES_SECRET: secrets.AES_SECRET,
        TWILIO_AUTH_TOKEN: secrets.TWILIO_AUTH_TOKEN,
        BACKEND_SIGNING_SECRET: secrets.BACKEND_SIGNING_SECRET,
        TWILIO_API_KEY_SID: secrets.TWILIO_API_KEY_SID,
        TWILIO_API_KEY_SECRET: secrets.TWILIO_API_KEY_SECRET,
      },
      { build: 'build-dev' },
    );
  });

  after(async () => {
    await worker?.dispose();
    await status?.close();
  });

  test('[env.dev] has a pay flow: a confirmed card of three brands, its code, a confirmed expiry, status to 8788', () => {
    const pay = h.devVars().GATHER_FLOWS.pay;
    assert.equal(pay.status_callback, 'http://127.0.0.1:8788/status');
    assert.deepEqual(pay.then, { redirect: 'http://127.0.0.1:8787/after-gather' });
    assert.deepEqual(
      pay.fields.map((f) => [f.name, f.kind, f.card_types ?? f.card ?? null, f.confirm ?? false]),
      [
        ['card', 'card-number', ['visa', 'mastercard', 'amex'], true],
        ['cvv', 'security-code', 'card', false],
        ['expiry', 'expiry', null, true],
      ],
    );
  });

  function run(args) {
    return new Promise((resolve) => {
      const child = spawn(
        process.execPath,
        [path.join(ROOT, 'scripts', 'call.js'), '--base', worker.origin, '--token', secrets.TWILIO_AUTH_TOKEN, ...args],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('exit', (code) => resolve({ code, out }));
    });
  }

  test('node scripts/call.js --flow pay 4242424242424242# 1 123 1228 1: read back, confirmed, redirected masked', async () => {
    const callSid = h.newCallSid();
    const paid = await run(['--flow', 'pay', '--call-sid', callSid, `${VISA}#`, '1', '123', '1228', '1']);
    assert.equal(paid.code, 0, paid.out);
    assert.match(paid.out, new RegExp(`caller hears: "${CONFIRM_VISA}"`));
    assert.match(paid.out, /caller hears: "You entered an expiry date of month 12, 2028\. Press 1 to confirm, or any other key to enter it again\."/);
    assert.match(paid.out, /Handed off: Twilio would now POST to http:\/\/127\.0\.0\.1:8787\/after-gather/);
    assert.match(paid.out, /result = success/);
    assert.match(paid.out, /card_last4 = 4242/);
    assert.match(paid.out, /card_brand = visa/);
    const sealed = Object.fromEntries(
      [...paid.out.matchAll(/^ {3}(encrypted\w+Digits) = ([0-9a-f]+)$/gm)].map((m) => [m[1], m[2]]),
    );
    assert.deepEqual(Object.keys(sealed), ['encryptedCardDigits', 'encryptedCvvDigits', 'encryptedExpiryDigits']);
    assert.deepEqual(openSubmission({ CallSid: callSid, result: 'success', ...sealed }, secrets.AES_SECRET), {
      card: VISA,
      cvv: '123',
      expiry: '1228',
    });

    // The status receiver got the call, signed with the dev BACKEND_SIGNING_SECRET. call.js
    // does not wait for the events of one webhook before sending the next, and each webhook's
    // events are sent on their own, so only their set is checked here (the order is, above).
    const events = await statusOf(status, callSid, 9);
    assert.deepEqual(unordered(timeline(events)), unordered([
      ['asked', 'card', null, 1],
      ['accepted', 'card', null, 1],
      ['confirmed', 'card', null, 1],
      ['asked', 'cvv', null, 1],
      ['accepted', 'cvv', null, 1],
      ['asked', 'expiry', null, 1],
      ['accepted', 'expiry', null, 1],
      ['confirmed', 'expiry', null, 1],
      ['handed-off', null, null, 0],
    ]));
    for (const request of events) {
      assert.deepEqual(verifySubmission(request.body, request.headers['x-gather-seal-signature'], secrets.BACKEND_SIGNING_SECRET), request.json);
      h.assertNoPlaintext(request.body, [VISA, '123', '1228'], 'a status event');
    }
  });

  test('node scripts/call.js --flow pay 4242424242424242# 1 *: cancelled at the security code', async () => {
    const cancelled = await run(['--flow', 'pay', `${VISA}#`, '1', '*']);
    assert.equal(cancelled.code, 0, cancelled.out);
    assert.match(cancelled.out, /step 4: POST \S+ with Digits="\*"/);
    assert.match(cancelled.out, /result = cancelled/);
    assert.match(cancelled.out, /card_last4 = 4242/);
    assert.match(cancelled.out, /encryptedCardDigits = [0-9a-f]+/);
    assert.doesNotMatch(cancelled.out, /encryptedCvvDigits/);
  });

  test('scripts/call.js refuses what no phone can type: an unquoted * the shell turned into file names', async () => {
    const expanded = await run(['--flow', 'pay', `${VISA}#`, '1', 'Cargo.lock']);
    assert.equal(expanded.code, 2, expanded.out);
    assert.match(expanded.out, /"Cargo\.lock" is not keys of a phone \(0-9, \* and #\); quote a '\*'/);
    assert.doesNotMatch(expanded.out, /Calling/);
  });
});
