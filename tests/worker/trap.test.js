'use strict';
// A trap does not take the worker down. With the release profile's panic = "abort", a Rust
// panic traps the wasm instance, and everything in it (the allocator, the executor's queue, a
// borrowed cell) may be left half-changed. The entry shim (src/worker/shim.mjs) notices and
// runs the next request on a new instance. The development build (feature "demo") has a route
// that panics on purpose, POST /__trap; here it is sent in the middle of calls that use
// everything the instance holds (the settings, the Lockout Durable Object, the demo backend
// reached through fetch), and the calls after it must be answered as before. The production
// build has no such route: it answers 404, and nothing `wrangler deploy` would upload names it.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const h = require('./harness');

const ROOT = path.join(__dirname, '..', '..');
const FOUND = 'Thank you. Your account number is AC12345678 and your balance is 12.55';

/** POST /__trap; the runtime's answer, or the error if the connection failed. */
async function trap(worker) {
  try {
    const response = await fetch(worker.url('/__trap'), { method: 'POST', signal: AbortSignal.timeout(20000) });
    return { status: response.status, text: await response.text() };
  } catch (error) {
    return { error };
  }
}

describe('the development build after a trap', () => {
  let worker;

  before(async () => {
    // The dev flow (card, PIN, limits counted in the Lockout object) handed to the demo backend
    // of the same worker, on a port chosen here.
    const port = await h.freePort();
    const vars = h.devVars();
    const flows = structuredClone(vars.GATHER_FLOWS);
    flows.default.then.action = `http://127.0.0.1:${port}/decrypt-gather`;
    worker = await h.startWorker(
      { GATHER_FLOWS: { default: flows.default }, AES_SECRET: h.KEY, TWILIO_AUTH_TOKEN: h.TOKEN, BACKEND_SIGNING_SECRET: h.SIGNING_SECRET },
      { port, build: 'build-dev' },
    );
  });

  after(async () => {
    await worker?.dispose();
  });

  const answered = async (digits = ['1234', '4321']) => {
    const { steps } = await h.walkCall(worker, digits);
    assert.equal(steps.length, 3, JSON.stringify(steps.map((s) => s.reply.status)));
    assert.ok(steps.every((s) => s.reply.status === 200), JSON.stringify(steps.map((s) => s.reply.status)));
    assert.match(steps[2].reply.text, new RegExp(`<Say>${FOUND}</Say>`));
  };

  test('POST /__trap fails, and the next signed call is answered on a new instance', async () => {
    // Before: the instance has its settings, a Lockout object and a hand-off behind it.
    await answered();

    const trapped = await trap(worker);
    assert.ok(trapped.error || trapped.status >= 500, `the trap was answered ${trapped.status}: ${trapped.text}`);
    assert.ok(!trapped.text?.includes('panic on purpose'), 'the panic message is not sent to the caller');

    await answered();
    assert.match(worker.output(), /starting a new one/, 'the shim says it replaced the instance');
  });

  test('trap after trap, and calls in between, with the Lockout object still counting', async () => {
    for (let i = 0; i < 3; i++) {
      await trap(worker);
      await answered();
    }
    // The lockout still counts (the object was made again in the new instance): the dev flow
    // locks a caller out after 5 failed calls, so 2 failed ones are still answered normally.
    const callSid = h.newCallSid();
    const { steps } = await h.walkCall(worker, ['1234', '0000'], { callSid });
    assert.equal(steps[2].reply.status, 200);
    assert.match(steps[2].reply.text, /not able to locate you/);
  });

  test('a trap while other calls are being answered leaves the calls after it working', async () => {
    const calls = Array.from({ length: 6 }, () => h.walkCall(worker, ['1234', '4321']).catch((error) => ({ error })));
    await trap(worker);
    await Promise.all(calls);
    // Whatever happened to the calls in flight, the ones after are answered.
    await answered();
    await answered();
  });
});

describe('the production build', () => {
  test('has no trap route: POST /__trap is 404 Not Found', async () => {
    const worker = await h.startWorker({
      ...h.devVars(),
      AES_SECRET: h.KEY,
      TWILIO_AUTH_TOKEN: h.TOKEN,
      BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
    });
    try {
      const reply = await fetch(worker.url('/__trap'), { method: 'POST' });
      assert.equal(reply.status, 404);
      assert.equal(await reply.text(), 'Not Found');
      // And the worker is still the same instance: nothing was replaced.
      assert.ok(!worker.output().includes('starting a new one'));
    } finally {
      await worker.dispose();
    }
  });

  test('nothing wrangler deploy --dry-run would upload names the trap route', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'gather-seal-dry-'));
    try {
      execFileSync(path.join(ROOT, 'node_modules', '.bin', 'wrangler'), ['deploy', '--dry-run', '--outdir', out], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, GATHER_SEAL_WORKER_BUILT: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const files = fs.readdirSync(out, { recursive: true }).filter((f) => fs.statSync(path.join(out, f)).isFile());
      assert.ok(files.some((f) => f.endsWith('.wasm')), `no .wasm among ${files.join(', ')}`);
      for (const file of files) {
        const bytes = fs.readFileSync(path.join(out, file));
        assert.ok(!bytes.includes('__trap'), `${file} names /__trap`);
        assert.ok(!bytes.includes('panic on purpose'), `${file} has the trap's panic`);
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
