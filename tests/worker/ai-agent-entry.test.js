'use strict';
// An AI agent on ConversationRelay steps aside for a flow and the call comes back to a new
// agent session, end to end in workerd, with no relay: the application ends its session
// (`{"type":"end","handoffData":…}`), the <Connect action="…/gather/pay"> around its
// <ConversationRelay> makes Twilio POST that URL, the flow runs on its own signed webhooks, and
// the flow's `action` application answers TwiML that opens a new <Connect><ConversationRelay>
// session carrying only the outcome. Every Twilio request is signed by the twilio package,
// the submission is checked with node:crypto and opened with the npm package, the reference
// TwiML is twilio's VoiceResponse.
//
// What Twilio POSTs to <Connect action> when a ConversationRelay session ends: the standard
// voice request parameters (https://www.twilio.com/docs/voice/twiml/connect says the action
// request carries them plus parameters of the nested noun), and ConversationRelay's own, from
// https://www.twilio.com/docs/voice/twiml/connect/conversationrelay: SessionId, SessionStatus
// (`ended` when the application sent the end message, `completed` when the caller hung up,
// `failed` on an error), SessionDuration, and HandoffData, the end message's `handoffData`
// string as the application sent it.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { after, before, describe, test } = require('node:test');
const twilio = require('twilio');
const h = require('./harness');

const { VoiceResponse } = twilio.twiml;
const { openSubmission, verifySubmission } = h.sealingPackage();

/** The worker's cap on a webhook body (src/worker/http.rs, BODY_CAP). */
const BODY_CAP = 16 * 1024;
const AGENT_WS = 'wss://agent.example.com/ws';
const AGENT_ACTION = 'https://agent.example.com/conversation-ended';
/** What the agent's application puts in its end message: small, and no secret in it. */
const HANDOFF = JSON.stringify({ reason: 'payment', gatherSeal: 'start' });

/** Letters only, like h.newCallSid, so that no typed digit can hide in it. */
function newSessionId() {
  let sid = 'VX';
  for (const byte of crypto.randomBytes(32)) sid += 'abcdef'[byte % 6];
  return sid;
}

/**
 * The POST Twilio makes to <Connect action> when the session ends, exactly these parameters:
 * the standard ones of the call (as the harness sends every webhook) and the session's.
 * `HandoffData: null` leaves it out (a session that ended without an end message).
 */
function sessionEndParams(callSid, { SessionStatus = 'ended', HandoffData = HANDOFF, SessionId = newSessionId() } = {}) {
  const params = { ...h.callParams(callSid), SessionId, SessionStatus, SessionDuration: '47' };
  if (HandoffData !== null) params.HandoffData = HandoffData;
  return params;
}

/** The TwiML the `action` application answers: a new agent session told only the result. */
function reconnect(result) {
  const response = new VoiceResponse();
  response.connect({ action: AGENT_ACTION }).conversationRelay({ url: AGENT_WS }).parameter({ name: 'gatherSealResult', value: result });
  return response.toString();
}

/**
 * The call after the agent stepped aside: the session-end POST to `/gather/<flow>`, then one
 * <Gather> action per entry of `typed`, as Twilio makes them (the call's parameters and
 * `Digits`, no session parameters). Returns every step.
 */
async function enterFromAgent(worker, typed, { flow = 'pay', callSid = h.newCallSid(), ...session } = {}) {
  const entry = sessionEndParams(callSid, session);
  const steps = [{ url: worker.url(`/gather/${flow}`), params: entry }];
  steps[0].reply = await h.signedPost(steps[0].url, entry);
  for (const digits of typed) {
    const url = h.gatherAction(steps[steps.length - 1].reply.text);
    assert.ok(url, `no <Gather> to answer: ${steps[steps.length - 1].reply.text}`);
    const params = { ...h.callParams(callSid), Digits: digits };
    steps.push({ url, params, reply: await h.signedPost(url, params) });
  }
  return { callSid, entry, steps, reply: steps[steps.length - 1].reply };
}

describe('entering a flow from an AI agent, and back to a new agent session', () => {
  let both;
  let worker;
  let backend;

  before(async () => {
    both = await h.startWorkerWithBackend(
      (request) => ({ status: 200, body: reconnect(request.json.result), type: 'text/xml' }),
      {},
      { flows: (b) => ({ pay: h.articlesFlow({ action: b.url }) }) },
    );
    ({ worker, backend } = both);
  });

  after(() => both?.close());

  test("the session-end POST starts the flow: the TwiML is the flow's first <Gather>", async () => {
    const played = await enterFromAgent(worker, []);
    assert.deepEqual(Object.keys(played.entry).sort(), [
      'AccountSid', 'ApiVersion', 'CallSid', 'CallStatus', 'Called', 'Caller', 'Direction', 'From',
      'HandoffData', 'SessionDuration', 'SessionId', 'SessionStatus', 'To',
    ]);
    assert.equal(played.reply.status, 200);
    assert.equal(played.reply.type, 'text/xml');
    assert.equal(
      played.reply.text,
      h.expectedAsk({ action: worker.url('/gather/pay?step=card&attempt=1'), prompts: [h.CARD_PROMPT] }),
    );
    const [line] = await h.logLinesOf(worker, played.callSid, 1);
    assert.equal(line.outcome, 'asked');
    assert.equal(line.flow, 'pay');
    assert.equal(line.step, 'start');
  });

  test('the call goes through, the application gets the signed submission and its new session is relayed as it is', async () => {
    const typed = ['7391', '8264'];
    const before = backend.requests.length;
    const played = await enterFromAgent(worker, typed);
    assert.deepEqual(played.steps.map((s) => s.reply.status), [200, 200, 200]);

    // The application received one submission, signed, for this call and flow.
    assert.equal(backend.requests.length, before + 1);
    const request = backend.requests[backend.requests.length - 1];
    assert.equal(request.signed, true);
    const submission = verifySubmission(request.body, request.headers['x-gather-seal-signature'], h.SIGNING_SECRET);
    assert.equal(submission.callSid, played.callSid);
    assert.equal(submission.flow, 'pay');
    assert.equal(submission.result, 'success');
    assert.deepEqual(openSubmission(submission, h.KEY, { fields: ['card', 'pin'] }), { card: '7391', pin: '8264' });
    // Nothing of the agent's session reaches the application through the worker.
    assert.ok(!request.body.includes(played.entry.SessionId), 'the SessionId is in the submission');
    assert.ok(!request.body.includes('gatherSeal'), 'the HandoffData is in the submission');

    // Twilio gets the application's TwiML unchanged: a new session, told only the outcome.
    const expected = reconnect('success');
    assert.equal(
      expected,
      '<?xml version="1.0" encoding="UTF-8"?><Response><Connect action="https://agent.example.com/conversation-ended">' +
        '<ConversationRelay url="wss://agent.example.com/ws"><Parameter name="gatherSealResult" value="success"/>' +
        '</ConversationRelay></Connect></Response>',
    );
    assert.equal(played.reply.text, expected);
    assert.equal(played.reply.type, 'text/xml');
    for (const step of played.steps) h.assertNoPlaintext(step.reply.text, typed, 'TwiML to Twilio');

    const lines = await h.logLinesOf(worker, played.callSid, 3);
    assert.deepEqual(lines.map((l) => l.outcome), ['asked', 'sealed', 'handed-off']);
    assert.equal(lines[2].result, 'success');
  });

  test('SessionStatus "failed", without HandoffData: the flow starts all the same', async () => {
    const typed = ['7391', '8264'];
    const played = await enterFromAgent(worker, typed, { SessionStatus: 'failed', HandoffData: null });
    assert.ok(!('HandoffData' in played.entry));
    assert.equal(
      played.steps[0].reply.text,
      h.expectedAsk({ action: worker.url('/gather/pay?step=card&attempt=1'), prompts: [h.CARD_PROMPT] }),
    );
    assert.equal(played.reply.text, reconnect('success'));
  });

  test('a HandoffData that brings the body to the 16 KiB cap passes; one byte more is refused (too-large)', async () => {
    // HandoffData padded so that the form body is exactly `size` bytes as sent.
    const sized = (callSid, size) => {
      const padded = (pad) => sessionEndParams(callSid, { HandoffData: JSON.stringify({ reason: 'payment', pad }) });
      const base = new URLSearchParams(padded('')).toString().length;
      const params = padded('x'.repeat(size - base));
      assert.equal(new URLSearchParams(params).toString().length, size);
      return params;
    };

    const atCap = h.newCallSid();
    const passed = await h.signedPost(worker.url('/gather/pay'), sized(atCap, BODY_CAP));
    assert.equal(passed.status, 200);
    assert.equal(passed.text, h.expectedAsk({ action: worker.url('/gather/pay?step=card&attempt=1'), prompts: [h.CARD_PROMPT] }));
    assert.equal((await h.logLinesOf(worker, atCap, 1))[0].outcome, 'asked');

    const refusedBefore = worker.logLines().filter((l) => l.outcome === 'too-large').length;
    const over = h.newCallSid();
    const refused = await h.signedPost(worker.url('/gather/pay'), sized(over, BODY_CAP + 1));
    assert.equal(refused.status, 413);
    assert.ok(!refused.text.includes('<Response'), refused.text);
    const deadline = Date.now() + 3000;
    while (worker.logLines().filter((l) => l.outcome === 'too-large').length === refusedBefore && Date.now() < deadline) {
      await h.sleep(20);
    }
    assert.equal(worker.logLines().filter((l) => l.outcome === 'too-large').length, refusedBefore + 1);
    // Refused before the signature: the line does not name the call.
    assert.deepEqual(worker.logLines().filter((l) => l.callSid === over), []);
  });

  test("the log holds one line per request and nothing of the HandoffData, the session or the digits", async () => {
    const marker = `handoff-${crypto.randomBytes(8).toString('hex')}`;
    const typed = ['4826', '1953'];
    const played = await enterFromAgent(worker, typed, { HandoffData: JSON.stringify({ reason: 'payment', note: marker }) });
    assert.equal(played.reply.text, reconnect('success'));
    const lines = await h.logLinesOf(worker, played.callSid, 3);
    assert.equal(lines.length, 3);
    const output = worker.output();
    for (const text of [marker, 'gatherSeal', '"reason"', played.entry.SessionId, 'HandoffData', 'SessionStatus']) {
      assert.ok(!output.includes(text), `the log holds ${text}`);
    }
    const sealed = backend.requests.flatMap((r) =>
      Object.entries(r.json ?? {}).filter(([k]) => k.startsWith('encrypted')).map(([, v]) => v),
    );
    h.assertCleanLog(output, { digits: [...typed, '7391', '8264'], sealed, secrets: [h.KEY, h.TOKEN, h.SIGNING_SECRET] });
  });
});
