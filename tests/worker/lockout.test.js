'use strict';
// Lockout across calls, end to end in workerd: a flow with `limits` counts each caller's failed
// tries in the Lockout Durable Object (SQLite-backed, as wrangler.toml binds it). Calls are
// signed by the twilio package; the application is a stub that answers TwiML and says
// `X-Gather-Seal-Result: accepted` for the right card and PIN, `rejected` otherwise.

const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const h = require('./harness');

const WELCOME = '<Response><Say>Welcome back.</Say><Hangup/></Response>';
const WRONG = '<Response><Say>Those details do not match.</Say><Hangup/></Response>';
const LOCKED = 'Sorry, there have been too many attempts. Please try again later. Goodbye.';
const RIGHT = ['1234', '4321'];
const WRONG_PIN = ['1234', '0000'];

/** What the stub application says for each submission: the agent line for anything else. */
function application(request) {
  const { result } = request.json;
  if (result !== 'success') {
    return { status: 200, type: 'text/xml', body: `<Response><Say>${result}</Say><Dial>+15005550009</Dial></Response>` };
  }
  if (request.opened.card === '1234' && request.opened.pin === '4321') {
    return { status: 200, type: 'text/xml', body: WELCOME, headers: { 'X-Gather-Seal-Result': 'accepted' } };
  }
  return { status: 200, type: 'text/xml', body: WRONG, headers: { 'X-Gather-Seal-Result': 'rejected' } };
}

/** The worker with the articles' flow, handed to `answer`, with these `limits` and extras. */
function start(limits, extra = {}, { vars = {}, ...options } = {}) {
  return h.startWorkerWithBackend(application, vars, {
    flows: (backend) => ({ default: h.articlesFlow({ action: backend.url }, { ...(limits && { limits }), ...extra }) }),
    ...options,
  });
}

/** Plays a whole call from `from`; returns its last reply, log line and the submission. */
async function callFrom(env, from, typed) {
  const before = env.backend.requests.length;
  const played = await h.walkCall(env.worker, typed, { from });
  const lines = await h.logLinesOf(env.worker, played.callSid, played.steps.length);
  const reply = played.steps[played.steps.length - 1].reply;
  const submissions = env.backend.requests.slice(before).map((r) => r.json);
  assert.ok(submissions.length <= 1, 'one hand-off per call');
  return { played, reply, line: lines[lines.length - 1], submission: submissions[0], steps: played.steps.length };
}

/** Asserts a call was refused as it came in: no question, handed off with `result`. */
function assertRefused(call, result, outcome) {
  assert.equal(call.steps, 1, 'nothing was asked');
  assert.equal(h.gatherAction(call.reply.text), null);
  assert.equal(call.submission.result, result);
  assert.deepEqual(
    Object.keys(call.submission).filter((k) => k.startsWith('encrypted')),
    [],
    'no field is handed off',
  );
  assert.equal(call.line.outcome, outcome);
  assert.equal(call.line.result, result);
}

describe('lockout across calls', () => {
  test('five rejected calls lock a caller out, while another caller still gets through', async () => {
    const env = await start({ failures: 5, window_minutes: 60 });
    try {
      const alice = '+15005550101';
      for (let i = 0; i < 5; i++) {
        const call = await callFrom(env, alice, WRONG_PIN);
        assert.equal(call.reply.text, WRONG, `call ${i + 1} reaches the application`);
        assert.equal(call.submission.result, 'success');
        assert.equal(call.line.outcome, 'rejected', 'the rejection is its own log outcome');
      }
      // The sixth call, even with the right PIN, is asked nothing.
      const locked = await callFrom(env, alice, RIGHT);
      assertRefused(locked, 'locked', 'locked');
      assert.match(locked.reply.text, /<Say>locked<\/Say><Dial>/, "the application's TwiML is relayed");

      const bob = await callFrom(env, '+15005550102', RIGHT);
      assert.equal(bob.reply.text, WELCOME);
      assert.equal(bob.line.outcome, 'handed-off');
      // The caller's number never reaches the log, in any form (an exact substring: inside
      // "+15005550101" it is no token).
      h.assertCleanLog(env.worker.output(), { digits: ['4321', '0000'], secrets: ['5005550101', '5005550102'] });
    } finally {
      await env.close();
    }
  });

  test('calls that end well give their try back', async () => {
    const env = await start({ failures: 2, window_minutes: 60 });
    try {
      for (let i = 0; i < 5; i++) {
        const call = await callFrom(env, '+15005550103', RIGHT);
        assert.equal(call.reply.text, WELCOME, `call ${i + 1}`);
      }
      // One failure, then successes: still one try left.
      await callFrom(env, '+15005550103', WRONG_PIN);
      assert.equal((await callFrom(env, '+15005550103', RIGHT)).reply.text, WELCOME);
      assert.equal((await callFrom(env, '+15005550103', RIGHT)).reply.text, WELCOME);
    } finally {
      await env.close();
    }
  });

  test('a call that runs out of tries counts as a failure', async () => {
    const env = await start({ failures: 2, window_minutes: 60 });
    try {
      const caller = '+15005550104';
      for (let i = 0; i < 2; i++) {
        const call = await callFrom(env, caller, ['', '', '']);
        assert.equal(call.submission.result, 'too-many-attempts');
      }
      assertRefused(await callFrom(env, caller, RIGHT), 'locked', 'locked');
    } finally {
      await env.close();
    }
  });

  test('parallel calls from one number share one count', async () => {
    const env = await start({ failures: 3, window_minutes: 60 });
    try {
      const from = '+15005550105';
      // Eight calls come in at once: each takes a try as it enters, so only three are asked.
      const entries = await Promise.all(
        Array.from({ length: 8 }, () => h.walkCall(env.worker, [], { from })),
      );
      const asked = entries.filter((e) => h.gatherAction(e.steps[0].reply.text) !== null);
      assert.equal(asked.length, 3);
      const locked = env.backend.requests.filter((r) => r.json.result === 'locked');
      assert.equal(locked.length, 5);
      // Another number is not affected.
      assert.equal((await callFrom(env, '+15005550106', RIGHT)).reply.text, WELCOME);
    } finally {
      await env.close();
    }
  });

  test('the window expires', async () => {
    // 0.02 minutes: 1.2 seconds.
    const env = await start({ failures: 1, window_minutes: 0.02 });
    try {
      const from = '+15005550107';
      assert.equal((await callFrom(env, from, WRONG_PIN)).line.outcome, 'rejected');
      assertRefused(await callFrom(env, from, RIGHT), 'locked', 'locked');
      await h.sleep(1400);
      assert.equal((await callFrom(env, from, RIGHT)).reply.text, WELCOME);
    } finally {
      await env.close();
    }
  });

  test('with no hand-off possible, a locked caller hears the locked message', async () => {
    const env = await start({ failures: 1, window_minutes: 60 });
    try {
      const from = '+15005550108';
      await callFrom(env, from, WRONG_PIN);
      env.backend.answer = () => ({ status: 500, body: 'down', type: 'text/plain' });
      const call = await callFrom(env, from, RIGHT);
      assert.equal(call.reply.text, h.expectedGoodbye(LOCKED));
      assert.equal(call.submission.result, 'locked');
    } finally {
      await env.close();
    }
  });

  test('a redirect flow hands a locked caller on with result=locked', async () => {
    const next = 'https://app.example.com/next';
    const env = await h.startWorkerWithBackend(application, {}, {
      flows: () => ({
        default: h.articlesFlow({ redirect: next }, { limits: { failures: 1, window_minutes: 60 } }),
      }),
    });
    try {
      const from = '+15005550109';
      const first = await h.walkCall(env.worker, ['', '', ''], { from });
      assert.match(first.steps.at(-1).reply.text, /result=too-many-attempts/);
      const second = await h.walkCall(env.worker, [], { from });
      assert.equal(second.steps.length, 1);
      assert.equal(second.steps[0].reply.text, h.expectedRedirect(`${next}?result=locked`));
    } finally {
      await env.close();
    }
  });

  test('withheld numbers are refused by default', async () => {
    const env = await start({ failures: 5, window_minutes: 60 });
    try {
      for (const from of ['anonymous', 'Restricted', '', '+266696687', '+8656696']) {
        const call = await callFrom(env, from, RIGHT);
        assertRefused(call, 'anonymous', 'anonymous-refused');
      }
      // A number is let in.
      assert.equal((await callFrom(env, '+15005550110', RIGHT)).reply.text, WELCOME);
    } finally {
      await env.close();
    }
  });

  test('anonymous = "shared" counts every withheld caller in one bucket', async () => {
    const env = await start({ failures: 2, window_minutes: 60 }, { anonymous: 'shared' });
    try {
      assert.equal((await callFrom(env, 'anonymous', RIGHT)).reply.text, WELCOME);
      assert.equal((await callFrom(env, 'anonymous', WRONG_PIN)).line.outcome, 'rejected');
      assert.equal((await callFrom(env, '+7378742833', WRONG_PIN)).line.outcome, 'rejected');
      // Any withheld caller is now locked out; callers with a number are not.
      assertRefused(await callFrom(env, 'restricted', RIGHT), 'locked', 'locked');
      assertRefused(await callFrom(env, '', RIGHT), 'locked', 'locked');
      assert.equal((await callFrom(env, '+15005550111', RIGHT)).reply.text, WELCOME);
    } finally {
      await env.close();
    }
  });

  test('an answer without X-Gather-Seal-Result keeps the try, and the log says unconfirmed', async () => {
    const env = await start({ failures: 2, window_minutes: 60 });
    try {
      const from = '+15005550115';
      // The application forgot the header: the right PIN, the caller welcomed, yet not confirmed.
      env.backend.answer = () => ({ status: 200, type: 'text/xml', body: WELCOME });
      for (let i = 0; i < 2; i++) {
        const call = await callFrom(env, from, RIGHT);
        assert.equal(call.reply.text, WELCOME, 'the caller hears the application');
        assert.equal(call.line.outcome, 'unconfirmed');
        assert.equal(call.line.result, 'success');
      }
      // Two unconfirmed calls are two failures.
      assertRefused(await callFrom(env, from, RIGHT), 'locked', 'locked');
      // Any other word counts the same.
      env.backend.answer = () => ({ status: 200, type: 'text/xml', body: WELCOME, headers: { 'X-Gather-Seal-Result': 'ok' } });
      assert.equal((await callFrom(env, '+15005550116', RIGHT)).line.outcome, 'unconfirmed');
    } finally {
      await env.close();
    }
  });

  test('a replayed last step hands off no second time and gives no try back', async () => {
    const env = await start({ failures: 2, window_minutes: 60 });
    try {
      const from = '+15005550117';
      const good = await callFrom(env, from, RIGHT);
      assert.equal(good.reply.text, WELCOME);
      assert.equal((await callFrom(env, from, WRONG_PIN)).line.outcome, 'rejected');
      // The captured last webhook of the good call, sent again exactly as Twilio signed it.
      const last = good.played.steps.at(-1);
      const before = env.backend.requests.length;
      for (let i = 0; i < 3; i++) {
        const replay = await h.signedPost(last.url, last.params);
        assert.equal(replay.status, 200);
        assert.equal(replay.text, h.expectedGoodbye(h.APOLOGY), 'the replay hears the apology');
      }
      assert.equal(env.backend.requests.length, before, 'nothing is posted again');
      const lines = await h.logLinesOf(env.worker, good.played.callSid, good.steps + 3);
      assert.deepEqual(lines.slice(-3).map((l) => l.outcome), ['replayed', 'replayed', 'replayed']);
      // Had a replay given a try back, one more wrong call would not lock the caller out.
      assert.equal((await callFrom(env, from, WRONG_PIN)).line.outcome, 'rejected');
      assertRefused(await callFrom(env, from, RIGHT), 'locked', 'locked');
    } finally {
      await env.close();
    }
  });

  test('a flow without limits never counts', async () => {
    const env = await start(undefined);
    try {
      for (let i = 0; i < 7; i++) {
        assert.equal((await callFrom(env, '+15005550112', WRONG_PIN)).line.outcome, 'handed-off');
      }
      assert.equal((await callFrom(env, 'anonymous', RIGHT)).reply.text, WELCOME);
    } finally {
      await env.close();
    }
  });
});

describe('lockout by account (limits.by)', () => {
  const byCard = (by) => ({ failures: 5, window_minutes: 60, by });
  const numbers = (n) => Array.from({ length: n }, (_, i) => `+1500555020${i}`);

  test('five spoofed numbers against one card lock the card, not the next number', async () => {
    const env = await start(byCard(['caller', 'card']));
    try {
      for (const from of numbers(5)) {
        const call = await callFrom(env, from, WRONG_PIN);
        assert.equal(call.line.outcome, 'rejected', 'each fresh number guesses once');
      }
      // A sixth number typing the same card is stopped as soon as the card is gathered.
      const sixth = await callFrom(env, '+15005550299', RIGHT);
      assert.equal(sixth.steps, 2, 'asked the card, then handed off at once');
      assert.equal(sixth.submission.result, 'locked');
      assert.deepEqual(Object.keys(sixth.submission).filter((k) => k.startsWith('encrypted')), []);
      assert.equal(sixth.line.outcome, 'account-locked');
      assert.equal(sixth.line.result, 'locked');
      // Another card from that number goes through; the numbers themselves are not locked.
      const other = await h.walkCall(env.worker, ['5678', '4321'], { from: '+15005550299' });
      assert.equal(env.backend.requests.at(-1).json.result, 'success');
      assert.equal(other.steps.length, 3);
      // No caller's number (all begin +1500555…) reaches the log either.
      h.assertCleanLog(env.worker.output(), { digits: ['1234', '4321', '0000', '5678'], secrets: ['5005550'] });
    } finally {
      await env.close();
    }
  });

  test('without "caller", withheld numbers are let in and counted by the card alone', async () => {
    const env = await start({ failures: 2, window_minutes: 60, by: ['card'] });
    try {
      assert.equal((await callFrom(env, 'anonymous', RIGHT)).reply.text, WELCOME);
      assert.equal((await callFrom(env, 'anonymous', WRONG_PIN)).line.outcome, 'rejected');
      assert.equal((await callFrom(env, '+15005550210', WRONG_PIN)).line.outcome, 'rejected');
      const locked = await callFrom(env, '+15005550211', RIGHT);
      assert.equal(locked.line.outcome, 'account-locked');
      // The accepted call gave the card's try back: only the two rejections count.
      assert.equal(locked.submission.result, 'locked');
    } finally {
      await env.close();
    }
  });

  test('an accepted call gives back both the caller\'s try and the card\'s', async () => {
    const env = await start({ failures: 1, window_minutes: 60, by: ['caller', 'card'] });
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal((await callFrom(env, '+15005550212', RIGHT)).reply.text, WELCOME, `call ${i + 1}`);
      }
      // One rejection locks both the number and the card (failures = 1).
      assert.equal((await callFrom(env, '+15005550212', WRONG_PIN)).line.outcome, 'rejected');
      assertRefused(await callFrom(env, '+15005550212', RIGHT), 'locked', 'locked');
      assert.equal((await callFrom(env, '+15005550213', RIGHT)).line.outcome, 'account-locked');
    } finally {
      await env.close();
    }
  });
});

describe('when the counter cannot be reached, the flow fails closed', () => {
  // Stand-in Durable Object classes in a second worker of the same runtime.
  const broken = {
    name: 'broken-lockout',
    modules: true,
    script: `
      export class Throws { fetch() { throw new Error('storage is down'); } }
      export class Hangs { fetch() { return new Promise(() => {}); } }
      export class Answers500 { fetch() { return new Response('no', { status: 500 }); } }
      export default { fetch() { return new Response('not here', { status: 404 }); } };
    `,
  };

  for (const [className, why] of [
    ['Throws', 'an object that throws'],
    ['Answers500', 'an object that answers an error'],
    ['Hangs', 'an object that never answers (given up after OUTBOUND_TIMEOUT_MS, 300 ms here)'],
  ]) {
    test(why, async () => {
      const env = await start(
        { failures: 5, window_minutes: 60 },
        {},
        { lockout: { className, scriptName: 'broken-lockout' }, workers: [broken], vars: { OUTBOUND_TIMEOUT_MS: '300' } },
      );
      try {
        const started = Date.now();
        const call = await callFrom(env, '+15005550113', RIGHT);
        assert.ok(Date.now() - started < 3000, `answered after ${Date.now() - started} ms`);
        assertRefused(call, 'unavailable', 'lockout-unavailable');
        assert.match(call.reply.text, /<Say>unavailable<\/Say>/);
      } finally {
        await env.close();
      }
    });
  }

  test('a flow with limits and no LOCKOUT binding is a settings error', async () => {
    const env = await start({ failures: 5, window_minutes: 60 }, {}, { lockout: null });
    try {
      const call = await callFrom(env, '+15005550114', RIGHT);
      assert.equal(call.reply.text, h.expectedGoodbye(h.APOLOGY));
      assert.equal(call.submission, undefined, 'nothing is handed off');
      assert.equal(call.line.outcome, 'misconfigured');
      assert.equal(call.line.setting, 'LOCKOUT');
    } finally {
      await env.close();
    }
  });
});
