'use strict';
// examples/node-backend behind the built worker in workerd, as a user deploys them together:
// a flow with `limits` hands its signed submissions to the example exactly as shipped (copied
// beside a snapshot of pkg/ and installed with npm, so its require('gather-seal') resolves as a
// user's would). Calls are signed by the twilio package. The example must say
// X-Gather-Seal-Result on every answer, or lockout never counts a wrong PIN.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const h = require('./harness');

const ROOT = path.join(__dirname, '..', '..');
const FOUND = 'Thank you. Your account number is AC12345678 and your balance is 12.55';
const NOT_FOUND = 'We were not able to locate you in our system. Goodbye.';

describe('examples/node-backend behind a flow with limits', () => {
  let tmp;
  let server;
  let worker;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gather-seal-example-backend-'));
    fs.cpSync(path.join(ROOT, 'pkg'), path.join(tmp, 'pkg'), { recursive: true });
    const example = path.join(tmp, 'examples', 'node-backend');
    fs.cpSync(path.join(ROOT, 'examples', 'node-backend'), example, {
      recursive: true,
      filter: (from) => path.basename(from) !== 'node_modules',
    });
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefer-offline'], {
      cwd: example, stdio: 'pipe', timeout: 90_000,
    });
    const { createServer } = require(path.join(example, 'server.js'));
    server = createServer({ BACKEND_SIGNING_SECRET: h.SIGNING_SECRET, AES_SECRET: h.KEY });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const action = `http://127.0.0.1:${server.address().port}/gather-result`;
    worker = await h.startWorker({
      GATHER_FLOWS: {
        default: h.articlesFlow({ action }, { limits: { failures: 5, window_minutes: 60 } }),
        card: h.articlesFlow({ action }, { limits: { failures: 5, window_minutes: 60, by: ['caller', 'card'] } }),
      },
      AES_SECRET: h.KEY,
      TWILIO_AUTH_TOKEN: h.TOKEN,
      BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
    });
  }, { timeout: 120_000 });

  after(async () => {
    await worker?.dispose();
    if (server) await new Promise((resolve) => server.close(resolve));
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** One whole call; its last reply and last log line. */
  async function call(typed, { from, route = '/gather' }) {
    const played = await h.walkCall(worker, typed, { from, path: route });
    const lines = await h.logLinesOf(worker, played.callSid, played.steps.length);
    return { reply: played.steps.at(-1).reply.text, line: lines.at(-1), steps: played.steps.length };
  }

  test('five wrong PINs lock the caller out; the right PIN gives its try back', async () => {
    const from = '+15005550301';
    // The right card and PIN, twice: each call is accepted and gives its try back.
    for (let i = 0; i < 2; i++) {
      const right = await call(['1234', '4321'], { from });
      assert.ok(right.reply.includes(`<Say>${FOUND}</Say>`), 'the example found the caller');
      assert.equal(right.line.outcome, 'handed-off', 'the example said accepted');
    }
    for (let i = 0; i < 5; i++) {
      const wrong = await call(['1234', '0000'], { from });
      assert.ok(wrong.reply.includes(`<Say>${NOT_FOUND}</Say>`), `call ${i + 1} reaches the example`);
      assert.equal(wrong.line.outcome, 'rejected', 'the example said rejected');
    }
    const locked = await call(['1234', '4321'], { from });
    assert.equal(locked.steps, 1, 'the sixth call is asked nothing');
    assert.equal(locked.line.outcome, 'locked');
    assert.equal(locked.line.result, 'locked');
    h.assertCleanLog(worker.output(), { digits: ['4321', '0000'], secrets: ['5005550301'] });
  });

  test('five spoofed numbers against one card lock the card', async () => {
    for (let i = 0; i < 5; i++) {
      const wrong = await call(['1234', '0000'], { from: `+1500555031${i}`, route: '/gather/card' });
      assert.equal(wrong.line.outcome, 'rejected');
    }
    const sixth = await call(['1234', '4321'], { from: '+15005550319', route: '/gather/card' });
    assert.equal(sixth.steps, 2, 'handed off as soon as the card is gathered');
    assert.equal(sixth.line.outcome, 'account-locked');
  });
});
