'use strict';
// The README's Python check, run as printed there, against a real submission of the built
// worker: it must accept what the worker signs, open each value, and refuse a tampered body, a
// wrong secret, a stale time, more than 8 v1 entries, a result other than success (unless
// named) and a required verify field that did not pass. Needs python3 with `cryptography`
// (scripts/setup.sh installs them): skipped, with a message, where they are missing, and failed
// under CI=true.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const h = require('./harness');
const { assertPresent, skipUnlessCi } = require('../support/ci');

const README = path.join(__dirname, '..', '..', 'README.md');

/** The ```python block that follows the python-check marker in README.md. */
function readmeSnippet() {
  const text = fs.readFileSync(README, 'utf8');
  const match = text.match(/<!-- python-check[^>]*-->\s*```python\n([\s\S]*?)```/);
  assert.ok(match, 'README.md has a python-check block');
  return match[1];
}

// Reads {body, header, secrets, key, fields[, results][, verified]} on stdin; prints the opened
// fields, or the error.
const DRIVER = `
import json, sys
case = json.load(sys.stdin)
try:
    submission = verify_submission(case["body"].encode(), case["header"], case["secrets"])
    options = {name: tuple(case[name]) for name in ("results", "verified") if name in case}
    print(json.dumps(open_submission(submission, case["key"], case["fields"], **options)))
except Exception as error:
    print(json.dumps({"error": type(error).__name__ + ": " + str(error)}))
`;

/** {body, header}: the worker's submission with `changes` made, signed now as the worker signs. */
function resigned(body, changes) {
  const changed = JSON.stringify({ ...JSON.parse(body), ...changes });
  const t = Math.floor(Date.now() / 1000);
  const crypto = require('node:crypto');
  const v1 = crypto.createHmac('sha256', h.SIGNING_SECRET).update(`${t}.${changed}`).digest('hex');
  return { body: changed, header: `t=${t},v1=${v1}` };
}

/** Why python3 with `cryptography` cannot run here, or null when it can. */
function pythonMissing() {
  const probe = spawnSync('python3', ['-c', 'import cryptography'], { encoding: 'utf8' });
  if (probe.error) return `python3 is not installed here (${probe.error.code})`;
  if (probe.status !== 0) return "python3 is here but cannot import Python's cryptography package";
  return null;
}

const interpreter = 'python3';
const missing = pythonMissing();

describe("the README's Python check", skipUnlessCi(missing), () => {
  let both;
  let submission;

  before(async () => {
    assertPresent(missing);
    both = await h.startWorkerWithBackend(() => ({ status: 200, type: 'text/xml', body: '<Response/>' }));
    await h.walkCall(both.worker, ['1234', '4321']);
    const [request] = both.backend.requests;
    submission = { body: request.body, header: request.headers['x-gather-seal-signature'] };
  });

  after(() => both?.close());

  function run(changes) {
    const input = JSON.stringify({
      ...submission,
      secrets: [h.SIGNING_SECRET],
      key: h.KEY,
      fields: ['card', 'pin'],
      ...changes,
    });
    const result = spawnSync(interpreter, ['-c', readmeSnippet() + DRIVER], { input, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout);
  }

  test('accepts what the worker signed and opens each field with its context', () => {
    assert.deepEqual(run({}), { card: '1234', pin: '4321' });
    assert.deepEqual(run({ secrets: ['an-older-secret-still-accepted-0000000', h.SIGNING_SECRET] }), { card: '1234', pin: '4321' });
  });

  test('refuses a tampered body, another secret, a missing or stale signature', () => {
    const tampered = submission.body.replace('"flow":"default"', '"flow":"other"');
    assert.notEqual(tampered, submission.body);
    assert.match(run({ body: tampered }).error, /bad signature/);
    assert.match(run({ secrets: ['not-the-signing-secret-0123456789abcdef'] }).error, /bad signature/);
    assert.match(run({ header: '' }).error, /bad signature/);
    const t = Number(/t=(\d+)/.exec(submission.header)[1]) - 3600;
    const crypto = require('node:crypto');
    const v1 = crypto.createHmac('sha256', h.SIGNING_SECRET).update(`${t}.${submission.body}`).digest('hex');
    assert.match(run({ header: `t=${t},v1=${v1}` }).error, /stale signature/);
  });

  test('a header with more than 8 v1 entries is refused, the right one among them', () => {
    const [t, right] = [/t=(\d+)/.exec(submission.header)[1], /v1=([0-9a-f]+)/.exec(submission.header)[1]];
    const header = (count) => `t=${t},${[...Array(count - 1).fill(`v1=${'0'.repeat(64)}`), `v1=${right}`].join(',')}`;
    assert.deepEqual(run({ header: header(8) }), { card: '1234', pin: '4321' });
    assert.match(run({ header: header(9) }).error, /bad signature/);
  });

  test('only a success opens, unless the results accepted name the result', () => {
    for (const result of ['verify-failed', 'too-many-attempts', 'locked']) {
      const changed = resigned(submission.body, { result });
      assert.match(run(changed).error, /result not accepted/, result);
      assert.match(run({ ...changed, results: ['success'] }).error, /result not accepted/, result);
      assert.deepEqual(run({ ...changed, results: ['success', result] }), { card: '1234', pin: '4321' }, result);
    }
    const { result, ...rest } = JSON.parse(submission.body);
    assert.equal(result, 'success');
    const body = JSON.stringify(rest);
    const crypto = require('node:crypto');
    const t = Math.floor(Date.now() / 1000);
    const v1 = crypto.createHmac('sha256', h.SIGNING_SECRET).update(`${t}.${body}`).digest('hex');
    assert.match(run({ body, header: `t=${t},v1=${v1}` }).error, /result not accepted/, 'no result');
  });

  test('a required verify field must be listed as verified', () => {
    assert.match(run({ verified: ['otp'] }).error, /verify field did not pass/);
    assert.deepEqual(run({ ...resigned(submission.body, { verified: ['otp'] }), verified: ['otp'] }), { card: '1234', pin: '4321' });
    assert.deepEqual(run({ ...resigned(submission.body, { verified: 'otp,otp2' }), verified: ['otp2'] }), { card: '1234', pin: '4321' });
    for (const verified of [['otp2'], 'otp2', 42, { otp: true }]) {
      assert.match(run({ ...resigned(submission.body, { verified }), verified: ['otp'] }).error, /verify field did not pass/,
        JSON.stringify(verified));
    }
    // A failed code: refused by default, and still refused when the result is named.
    const failed = resigned(submission.body, { result: 'verify-failed' });
    assert.match(run({ ...failed, results: ['success', 'verify-failed'], verified: ['otp'] }).error, /verify field did not pass/);
  });

  test('a value opened under the wrong field does not open', () => {
    const swapped = JSON.parse(submission.body);
    [swapped.encryptedCardDigits, swapped.encryptedPinDigits] = [swapped.encryptedPinDigits, swapped.encryptedCardDigits];
    const body = JSON.stringify(swapped);
    const t = Math.floor(Date.now() / 1000);
    const crypto = require('node:crypto');
    const v1 = crypto.createHmac('sha256', h.SIGNING_SECRET).update(`${t}.${body}`).digest('hex');
    assert.match(run({ body, header: `t=${t},v1=${v1}` }).error, /InvalidTag/);
  });
});
