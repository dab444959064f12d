'use strict';
// The README's Python check, run as printed there, against a real submission of the built
// worker: it must accept what the worker signs, open each value, and refuse a tampered body, a
// wrong secret and a stale time. Skipped, with a message, where Python's `cryptography` is
// not installed.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const h = require('./harness');

const README = path.join(__dirname, '..', '..', 'README.md');

/** The ```python block that follows the python-check marker in README.md. */
function readmeSnippet() {
  const text = fs.readFileSync(README, 'utf8');
  const match = text.match(/<!-- python-check[^>]*-->\s*```python\n([\s\S]*?)```/);
  assert.ok(match, 'README.md has a python-check block');
  return match[1];
}

// Reads {body, header, secrets, key, fields} on stdin; prints the opened fields, or the error.
const DRIVER = `
import json, sys
case = json.load(sys.stdin)
try:
    submission = verify_submission(case["body"].encode(), case["header"], case["secrets"])
    print(json.dumps({f: open_field(submission, f, case["key"]) for f in case["fields"]}))
except Exception as error:
    print(json.dumps({"error": type(error).__name__ + ": " + str(error)}))
`;

function python() {
  const probe = spawnSync('python3', ['-c', 'import cryptography'], { encoding: 'utf8' });
  return probe.status === 0 ? 'python3' : null;
}

const interpreter = python();

describe("the README's Python check", { skip: interpreter ? false : 'python3 with cryptography is not installed here' }, () => {
  let both;
  let submission;

  before(async () => {
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
