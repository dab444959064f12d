'use strict';
// A verify field, end to end: the built worker in workerd calls Twilio Verify through Prism,
// which checks every request against Twilio's own OpenAPI description of Verify v2 (method,
// path, service SID, HTTP Basic auth, required form fields) in front of a stub that decides
// approved or pending (verify-mock.js). Calls are signed by the twilio package.

const assert = require('node:assert/strict');
const { after, before, beforeEach, describe, test } = require('node:test');
const h = require('./harness');
const { startVerify, SERVICE_SID, API_KEY_SID, API_KEY_SECRET } = require('../../scripts/verify-mock');

const CODE = '864209';
const WRONG = '111111';
const FROM = '+15005550123';
const OTP_PROMPT = 'Enter the code we just sent you, then press pound.';
const CODE_RETRY = 'Sorry, that code was not right. Enter the code we sent you, then press pound.';
const WELCOME = '<Response><Say>Welcome back.</Say><Hangup/></Response>';

/** PIN, then the one-time code; `extra` on top of the flow. */
function otpFlow(then, extra = {}) {
  return {
    then,
    fields: [
      { name: 'pin', kind: 'digits', length: 4, prompt: h.PIN_PROMPT },
      { name: 'otp', kind: 'verify', channel: 'sms', prompt: OTP_PROMPT },
    ],
    ...extra,
  };
}

/** The application: welcome when the PIN is right and the code was verified. */
function application(request) {
  const { result, verified } = request.json;
  if (result === 'success' && request.opened.pin === '4321' && verified?.includes('otp')) {
    return { status: 200, type: 'text/xml', body: WELCOME };
  }
  return { status: 200, type: 'text/xml', body: `<Response><Say>${result}</Say><Hangup/></Response>` };
}

describe('a verify field, against Twilio Verify as its OpenAPI description says', () => {
  let verify;
  before(async () => {
    verify = await startVerify({ code: CODE });
  });
  after(() => verify?.close());
  beforeEach(async () => {
    verify.mode = 'ok';
    await verify.reset();
  });

  /**
   * The worker with these flows and the Verify settings pointing at Prism (`vars` on top;
   * a setting given as `null` is left out).
   */
  function start({ flow = otpFlow, vars = {}, ...extra } = {}) {
    const settings = {
      TWILIO_API_KEY_SID: API_KEY_SID,
      TWILIO_API_KEY_SECRET: API_KEY_SECRET,
      TWILIO_VERIFY_SERVICE_SID: SERVICE_SID,
      TWILIO_VERIFY_URL: verify.url,
      ...vars,
    };
    return h.startWorkerWithBackend(
      application,
      Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== null)),
      { flows: (backend) => ({ default: flow({ action: backend.url }, extra) }) },
    );
  }

  /** Plays a call; its steps, last reply, log lines and what the application received. */
  async function call(env, typed, from = FROM) {
    const before = env.backend.requests.length;
    const played = await h.walkCall(env.worker, typed, { from });
    const lines = await h.logLinesOf(env.worker, played.callSid, played.steps.length);
    const submissions = env.backend.requests.slice(before).map((r) => r.json);
    return { ...played, lines, reply: played.steps.at(-1).reply, submission: submissions.at(-1) };
  }

  /** The code is nowhere but in the VerificationCheck bodies: not in a URL, log or submission. */
  function assertCodeKept(env, played, codes) {
    for (const step of played.steps) {
      h.assertNoPlaintext(step.url, codes, 'a webhook URL');
      h.assertNoPlaintext(step.reply.text, codes, 'TwiML');
    }
    for (const r of env.backend.requests) h.assertNoPlaintext(r.body, codes, "the application's submission");
    h.assertCleanLog(env.worker.output(), { digits: codes, secrets: [API_KEY_SECRET] });
  }

  test('the code is sent, typed and approved: the hand-off lists it as verified', async () => {
    const env = await start();
    try {
      const played = await call(env, ['4321', CODE]);
      assert.equal(played.steps.length, 3);
      // The code is asked for as a code: up to 10 digits ended by #.
      const ask = played.steps[1].reply.text;
      assert.equal(
        ask,
        h.expectedAsk({ action: h.gatherAction(ask), numDigits: 10, finishOnKey: '#', prompts: [OTP_PROMPT] }),
      );
      assert.equal(played.reply.text, WELCOME);
      const { submission } = played;
      assert.equal(submission.result, 'success');
      assert.deepEqual(submission.verified, ['otp']);
      assert.deepEqual(Object.keys(submission).filter((k) => k.startsWith('encrypted')), ['encryptedPinDigits']);
      // What reached Verify, after Prism checked it against the description.
      await verify.settle();
      assert.deepEqual(verify.violations, []);
      assert.deepEqual(
        verify.requests.map((r) => [r.operation, r.serviceSid, r.form]),
        [
          ['verification', SERVICE_SID, { To: FROM, Channel: 'sms' }],
          ['check', SERVICE_SID, { To: FROM, Code: CODE }],
        ],
      );
      for (const r of verify.requests) assert.deepEqual(r.auth, { username: API_KEY_SID, password: API_KEY_SECRET });
      assert.deepEqual(played.lines.map((l) => l.outcome), ['asked', 'code-sent', 'handed-off']);
      assertCodeKept(env, played, [CODE]);
    } finally {
      await env.close();
    }
  });

  test('a wrong code, then the right one: asked again, the code not sent twice', async () => {
    const env = await start();
    try {
      const played = await call(env, ['4321', WRONG, CODE]);
      assert.equal(played.steps.length, 4);
      const again = played.steps[2].reply.text;
      assert.equal(again, h.expectedAsk({ action: h.gatherAction(again), numDigits: 10, finishOnKey: '#', prompts: [CODE_RETRY, OTP_PROMPT] }));
      assert.equal(played.reply.text, WELCOME);
      assert.deepEqual(played.submission.verified, ['otp']);
      assert.deepEqual(verify.requests.map((r) => r.operation), ['verification', 'check', 'check']);
      assert.deepEqual(played.lines.map((l) => l.outcome), ['asked', 'code-sent', 'code-denied', 'handed-off']);
      assertCodeKept(env, played, [CODE, WRONG]);
    } finally {
      await env.close();
    }
  });

  test('a wrong code every time: verify-failed, and it counts toward the lockout', async () => {
    const env = await start({ limits: { failures: 1, window_minutes: 60 } });
    try {
      const played = await call(env, ['4321', WRONG, '222222', '33333']);
      assert.equal(played.submission.result, 'verify-failed');
      assert.equal(played.submission.verified, undefined);
      assert.deepEqual(Object.keys(played.submission).filter((k) => k.startsWith('encrypted')), ['encryptedPinDigits']);
      assert.equal(played.lines.at(-1).result, 'verify-failed');
      // A malformed entry (3 digits) is a wrong try that Verify is not even asked about.
      const fewer = await call(env, ['4321', '123'], '+15005550124');
      assert.equal(verify.requests.filter((r) => r.form.To === '+15005550124' && r.operation === 'check').length, 0);
      assert.match(fewer.reply.text, new RegExp(CODE_RETRY));
      // The failed call locked its caller out.
      const next = await call(env, ['4321', CODE]);
      assert.equal(next.steps.length, 1);
      assert.equal(next.submission.result, 'locked');
      assertCodeKept(env, played, [WRONG, '222222']);
    } finally {
      await env.close();
    }
  });

  test('Verify down when sending: verify-unavailable at once, the PIN handed on', async () => {
    const env = await start();
    try {
      verify.mode = 'down';
      const played = await call(env, ['4321', CODE]);
      assert.equal(played.steps.length, 2, 'the code is not asked for');
      assert.equal(played.submission.result, 'verify-unavailable');
      assert.deepEqual(Object.keys(played.submission).filter((k) => k.startsWith('encrypted')), ['encryptedPinDigits']);
      assert.equal(played.lines.at(-1).result, 'verify-unavailable');
    } finally {
      await env.close();
    }
  });

  test('Verify down when checking: verify-unavailable', async () => {
    const env = await start();
    try {
      const first = await h.walkCall(env.worker, ['4321'], { from: FROM });
      verify.mode = 'hangup';
      const action = h.gatherAction(first.steps.at(-1).reply.text);
      const reply = await h.signedPost(action, { ...h.callParams(first.callSid), From: FROM, Digits: CODE });
      assert.equal(env.backend.requests.at(-1).json.result, 'verify-unavailable');
      assert.equal(reply.status, 200);
    } finally {
      await env.close();
    }
  });

  test('Verify slower than the wait: verify-unavailable, not a hung call', async () => {
    // Verify gets 400 ms (OUTBOUND_TIMEOUT_MS) instead of 5 s.
    const env = await start({ vars: { OUTBOUND_TIMEOUT_MS: 400 } });
    try {
      verify.mode = 'slow';
      const started = Date.now();
      const played = await call(env, ['4321', CODE]);
      const took = Date.now() - started;
      assert.equal(played.submission.result, 'verify-unavailable');
      assert.ok(took >= 350 && took < 4000, `gave up after ${took} ms`);
    } finally {
      await env.close();
    }
  });

  test('a withheld number gets no code: verify-unavailable without asking Verify', async () => {
    const env = await start();
    try {
      const played = await call(env, ['4321', CODE], 'anonymous');
      assert.equal(played.submission.result, 'verify-unavailable');
      assert.equal(verify.requests.length, 0);
    } finally {
      await env.close();
    }
  });

  test('channel call asks Verify for a voice call', async () => {
    const flow = (then) => {
      const f = otpFlow(then);
      f.fields[1].channel = 'call';
      return f;
    };
    const env = await start({ flow });
    try {
      const played = await call(env, ['4321', CODE]);
      assert.equal(played.reply.text, WELCOME);
      assert.equal(verify.requests[0].form.Channel, 'call');
    } finally {
      await env.close();
    }
  });

  test('a forged "verified" field in the action URL stops the call', async () => {
    const env = await start();
    try {
      const first = await h.walkCall(env.worker, ['4321'], { from: FROM });
      // The otp step: the URL carries the sealed PIN. Pretend the code step passed by adding a
      // sealed value of this call (the PIN's, which opens) as otp, at the otp step and at the
      // PIN's. (A marker sealed over anything but "verified" is refused too: tests/flow.rs.)
      const action = h.gatherAction(first.steps.at(-1).reply.text);
      assert.match(action, /step=otp/);
      const pin = new URL(action).searchParams.get('pin');
      const params = { ...h.callParams(first.callSid), From: FROM, Digits: CODE };
      verify.mode = 'hangup';
      for (const forged of [`${action}&otp=${pin}`, action.replace('step=otp', 'step=pin') + `&otp=${pin}`]) {
        const reply = await h.signedPost(forged, params);
        assert.equal(reply.status, 400, forged);
      }
      assert.equal(env.backend.requests.length, 0, 'nothing was handed off');
    } finally {
      await env.close();
    }
  });

  for (const [name, vars, setting] of [
    ['no API key SID', { TWILIO_API_KEY_SID: null }, 'TWILIO_API_KEY_SID'],
    ['no API key secret', { TWILIO_API_KEY_SECRET: null }, 'TWILIO_API_KEY_SECRET'],
    ['no Verify service', { TWILIO_VERIFY_SERVICE_SID: null }, 'TWILIO_VERIFY_SERVICE_SID'],
    ['an account SID as the service', { TWILIO_VERIFY_SERVICE_SID: `AC${'0'.repeat(32)}` }, 'TWILIO_VERIFY_SERVICE_SID'],
    ['an http:// Verify URL elsewhere', { TWILIO_VERIFY_URL: 'http://verify.example.com' }, 'TWILIO_VERIFY_URL'],
  ]) {
    test(`${name} is a settings error, named in the log`, async () => {
      const env = await start({ vars });
      try {
        const played = await call(env, ['4321', CODE]);
        assert.equal(played.steps.length, 1);
        assert.equal(played.reply.text, h.expectedGoodbye(h.APOLOGY));
        assert.equal(played.lines[0].outcome, 'misconfigured');
        assert.equal(played.lines[0].setting, setting);
      } finally {
        await env.close();
      }
    });
  }
});
