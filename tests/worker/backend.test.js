'use strict';
// The backend's answers as the caller hears them: 200 with an account, then every way it can
// fail (404, 500, a bad or oversized answer, down, too slow), which ends the call with the
// not-found goodbye. The worker gives the backend at most 5 s.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const h = require('./harness');

/** Plays a call to its last step with the demo digits and returns the last reply. */
async function lastReply(worker, digits = ['1234', '4321']) {
  const { steps } = await h.walkCall(worker, digits);
  assert.equal(steps.length, 3);
  return steps[2].reply;
}

describe("the backend's answers", () => {
  let worker;
  let backend;

  let both;
  before(async () => {
    both = await h.startWorkerWithBackend(() => ({ status: 404 }));
    ({ worker, backend } = both);
  });

  after(() => both?.close());

  test('200 with an account: the caller hears it, escaped as twilio escapes it', async () => {
    backend.answer = () => ({ status: 200, json: { account: 'AC<1> & "2"', balance: 12.5 } });
    const reply = await lastReply(worker);
    assert.equal(reply.status, 200);
    assert.equal(reply.text, h.expectedThanks('AC<1> & "2"', '12.5'));
  });

  for (const [why, answer] of [
    ['404', { status: 404, json: { error: 'not found' } }],
    ['500', { status: 500, body: 'Internal Server Error', type: 'text/plain' }],
    ['503', { status: 503 }],
    ['200 that is not JSON', { status: 200, body: '<html>', type: 'text/html' }],
    ['200 without a balance', { status: 200, json: { account: 'AC1' } }],
    ['200 with an empty account', { status: 200, json: { account: '', balance: '1' } }],
    ['200 with an account over 64 characters', { status: 200, json: { account: 'A'.repeat(65), balance: '1' } }],
    ['200 over 16 KiB', { status: 200, json: { account: 'AC1', balance: '1', padding: 'x'.repeat(17 * 1024) } }],
    ['a redirect', { status: 302, body: '' }],
  ]) {
    test(`${why}: the not-found goodbye and a hang-up`, async () => {
      backend.answer = () => answer;
      const reply = await lastReply(worker);
      assert.equal(reply.status, 200);
      assert.equal(reply.text, h.expectedGoodbye(h.NOT_FOUND));
    });
  }

  test('slower than 5 s: the not-found goodbye within about 6 s, and the request is aborted', async () => {
    backend.answer = () => ({ status: 200, json: { account: 'AC1', balance: '1' }, delayMs: 8000 });
    const { steps } = await h.walkCall(worker, ['1234']);
    const url = h.gatherAction(steps[1].reply.text);
    const callSid = steps[0].params.CallSid;
    const started = Date.now();
    const reply = await h.signedPost(url, { ...h.callParams(callSid), Digits: '4321' });
    const elapsed = Date.now() - started;
    assert.equal(reply.status, 200);
    assert.equal(reply.text, h.expectedGoodbye(h.NOT_FOUND));
    assert.ok(elapsed >= 4500 && elapsed < 6500, `answered after ${elapsed} ms`);
    const lines = await worker.waitForLogLines(1);
    const line = lines.filter((l) => l.callSid === callSid).pop();
    assert.equal(line.outcome, 'backend-timeout');
    assert.ok(line.ms >= 4500, `logged ${line.ms} ms`);
  });

  test('the log names what went wrong, and nothing else', async () => {
    const outcomes = new Set(worker.logLines().map((l) => l.outcome));
    for (const outcome of ['found', 'not-found', 'backend-error-status', 'backend-bad-answer', 'backend-timeout']) {
      assert.ok(outcomes.has(outcome), `no "${outcome}" line`);
    }
    h.assertCleanLog(worker.output(), { digits: ['1234', '4321'], secrets: [h.KEY, h.TOKEN] });
  });
});

describe('a backend that is down', () => {
  let worker;

  before(async () => {
    const port = await h.freePort();
    worker = await h.startWorker({
      ...h.wranglerVars(),
      DEMO_BACKEND: 'false',
      BACKEND_URL: `http://127.0.0.1:${port}/decrypt-gather`,
      AES_SECRET: h.KEY,
      TWILIO_AUTH_TOKEN: h.TOKEN,
    });
  });

  after(async () => {
    await worker?.dispose();
  });

  test('connection refused: the not-found goodbye and a hang-up', async () => {
    const started = Date.now();
    const reply = await lastReply(worker);
    assert.equal(reply.status, 200);
    assert.equal(reply.text, h.expectedGoodbye(h.NOT_FOUND));
    assert.ok(Date.now() - started < 5000);
    const lines = await worker.waitForLogLines(3);
    assert.equal(lines[lines.length - 1].outcome, 'backend-unreachable');
  });
});
