'use strict';
// Whole calls through the built worker in workerd: every request signed by the twilio package,
// every TwiML step compared with what twilio's VoiceResponse writes, the application a stub
// that checks each submission's signature and opens what it receives with node:crypto, and the
// worker's log checked at the end.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const h = require('./harness');

const { decrypt } = h.sealingPackage();
const HEX = /^[0-9a-f]+$/;
const UNKNOWN_CALLER =
  '<?xml version="1.0" encoding="UTF-8"?><Response><Say>We were not able to locate you in our system. Goodbye.</Say><Hangup/></Response>';

describe('a call through the worker', () => {
  let worker;
  let backend;
  let requestsMade = 0;
  const typed = new Set();
  const sealedSeen = new Set();

  /**
   * The stub application: the articles' JSON for the known caller, its own TwiML for an
   * unknown one, and a 404 when the caller gave up (so the worker says the flow's goodbye).
   */
  function application(request) {
    if (request.json.result !== 'success') return { status: 404, body: 'nothing to add', type: 'text/plain' };
    const { card, pin } = request.opened;
    if (card === '1234' && pin === '4321') {
      return { status: 200, json: { account: 'AC99887766', balance: '42.10' } };
    }
    return { status: 200, type: 'text/xml', body: UNKNOWN_CALLER };
  }

  async function walk(digits, options) {
    digits.forEach((d) => typed.add(d));
    const call = await h.walkCall(worker, digits, options);
    requestsMade += call.steps.length;
    for (const step of call.steps) {
      const action = h.gatherAction(step.reply.text);
      if (action) Object.entries(h.queryOf(action)).forEach(([k, v]) => k !== 'step' && k !== 'attempt' && sealedSeen.add(v));
    }
    return call;
  }

  let both;
  before(async () => {
    both = await h.startWorkerWithBackend(application);
    ({ worker, backend } = both);
  });

  after(() => both?.close());

  test('the demo caller: card, PIN, and the application answers with the account', async () => {
    backend.requests.length = 0;
    const { callSid, steps } = await walk(['1234', '4321']);
    assert.equal(steps.length, 3);

    const [first, second, third] = steps.map((s) => s.reply);
    for (const reply of [first, second, third]) {
      assert.equal(reply.status, 200);
      assert.equal(reply.type, 'text/xml');
    }
    assert.equal(first.text, h.expectedAsk({ action: worker.url('/gather?step=card&attempt=1'), prompts: [h.CARD_PROMPT] }));

    // The PIN is asked for with the card carried sealed, bound to this call and field.
    const action = h.gatherAction(second.text);
    const url = new URL(action);
    assert.equal(`${url.origin}${url.pathname}`, worker.url('/gather'));
    assert.deepEqual([...url.searchParams.keys()], ['step', 'attempt', 'card']);
    assert.equal(url.searchParams.get('step'), 'pin');
    assert.equal(url.searchParams.get('attempt'), '1');
    const sealedCard = url.searchParams.get('card');
    assert.match(sealedCard, HEX);
    assert.equal(sealedCard.length, 2 * (12 + 4 + 16));
    assert.equal(decrypt(sealedCard, h.KEY, { context: `${callSid}:card` }), '1234');
    assert.throws(() => decrypt(sealedCard, h.KEY, { context: `${callSid}:pin` }));
    assert.equal(second.text, h.expectedAsk({ action, prompts: [h.PIN_PROMPT] }));

    assert.equal(third.text, h.expectedThanks('AC99887766', '42.10'));

    // The application got a signed submission of ciphertext only, which opens with the key
    // and the right contexts.
    assert.equal(backend.requests.length, 1);
    const [request] = backend.requests;
    assert.equal(request.method, 'POST');
    assert.match(request.headers['content-type'], /^application\/json/);
    assert.equal(request.signed, true, 'the submission is signed with the signing secret');
    const body = request.json;
    assert.deepEqual(Object.keys(body), [
      'callSid', 'accountSid', 'from', 'to', 'flow', 'result', 'encryptedCardDigits', 'encryptedPinDigits',
    ]);
    const params = h.callParams(callSid);
    assert.deepEqual(
      { callSid: body.callSid, accountSid: body.accountSid, from: body.from, to: body.to, flow: body.flow, result: body.result },
      { callSid, accountSid: params.AccountSid, from: params.From, to: params.To, flow: 'default', result: 'success' },
    );
    assert.equal(body.encryptedCardDigits, sealedCard, 'the card travels as it was sealed');
    assert.match(body.encryptedPinDigits, HEX);
    h.assertNoPlaintext(request.body, ['1234', '4321'], 'the submission');
    assert.deepEqual(request.opened, { card: '1234', pin: '4321' });
    assert.throws(() => decrypt(body.encryptedPinDigits, h.KEY, { context: `${callSid}:card` }));
    assert.throws(() => decrypt(body.encryptedPinDigits, h.KEY, { context: `${h.newCallSid()}:pin` }));
    sealedSeen.add(body.encryptedPinDigits);
  });

  test("wrong digits: the application's own TwiML goes to Twilio as it is", async () => {
    backend.requests.length = 0;
    const { steps } = await walk(['1234', '0000']);
    assert.equal(steps.length, 3);
    const last = steps[2].reply;
    assert.equal(last.status, 200);
    assert.equal(last.type, 'text/xml');
    assert.equal(last.text, UNKNOWN_CALLER);
    assert.equal(backend.requests.length, 1);
    assert.equal(backend.requests[0].opened.pin, '0000', 'the application opened the wrong PIN');
    sealedSeen.add(backend.requests[0].json.encryptedPinDigits);
  });

  test('bad input is asked for again; after the third bad try the application hears why', async () => {
    backend.requests.length = 0;
    const { steps } = await walk(['', '12', '12a4']);
    assert.deepEqual(steps.map((s) => s.reply.status), [200, 200, 200, 200]);
    assert.equal(
      steps[1].reply.text,
      h.expectedAsk({ action: worker.url('/gather?step=card&attempt=2'), prompts: [h.SORRY, h.CARD_PROMPT] }),
      'silence (empty Digits) is asked again',
    );
    assert.equal(
      steps[2].reply.text,
      h.expectedAsk({ action: worker.url('/gather?step=card&attempt=3'), prompts: [h.SORRY, h.CARD_PROMPT] }),
    );
    // The application hears the call gave up, with no value; it has nothing to add (404), so
    // the caller hears the flow's goodbye.
    assert.equal(steps[3].reply.text, h.expectedGoodbye(h.TOO_MANY));
    assert.equal(backend.requests.length, 1);
    const [request] = backend.requests;
    assert.equal(request.signed, true);
    assert.equal(request.json.result, 'too-many-attempts');
    assert.deepEqual(Object.keys(request.json), ['callSid', 'accountSid', 'from', 'to', 'flow', 'result']);
  });

  test('a bad try at the PIN is asked again and the call still goes through', async () => {
    backend.requests.length = 0;
    const { steps } = await walk(['1234', '43210', '4321']);
    assert.equal(steps.length, 4);
    const retry = steps[2].reply.text;
    const action = h.gatherAction(retry);
    assert.equal(h.queryOf(action).attempt, '2');
    assert.equal(h.queryOf(action).step, 'pin');
    assert.equal(retry, h.expectedAsk({ action, prompts: [h.SORRY, h.PIN_PROMPT] }));
    assert.equal(steps[3].reply.text, h.expectedThanks('AC99887766', '42.10'));
    assert.equal(backend.requests.length, 1);
  });

  test('no Digits parameter at all counts as a bad try', async () => {
    const callSid = h.newCallSid();
    const url = worker.url('/gather?step=card&attempt=1');
    const reply = await h.signedPost(url, h.callParams(callSid));
    requestsMade += 1;
    assert.equal(reply.status, 200);
    assert.equal(
      reply.text,
      h.expectedAsk({ action: worker.url('/gather?step=card&attempt=2'), prompts: [h.SORRY, h.CARD_PROMPT] }),
    );
  });

  test('the log has one line per request and never a digit, sealed value or secret', async () => {
    const lines = await worker.waitForLogLines(requestsMade);
    assert.equal(lines.length, requestsMade);
    h.assertCleanLog(worker.output(), {
      digits: [...typed],
      sealed: [...sealedSeen],
      secrets: [h.KEY, h.TOKEN, h.SIGNING_SECRET],
    });
    const outcomes = new Set(lines.map((l) => l.outcome));
    for (const outcome of ['asked', 'sealed', 'reprompted', 'handed-off', 'handed-off-account', 'app-error-status']) {
      assert.ok(outcomes.has(outcome), `no "${outcome}" line`);
    }
    for (const line of lines) {
      assert.match(line.callSid, /^CA[a-f]{32}$/);
      assert.equal(line.flow, 'default');
      assert.ok(['start', 'card', 'pin'].includes(line.step), line.step);
    }
    const results = lines.filter((l) => l.result).map((l) => l.result);
    assert.ok(results.includes('success') && results.includes('too-many-attempts'), results.join());
  });
});
