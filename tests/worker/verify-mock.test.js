'use strict';
// The Twilio Verify stand-in (verify-mock.js) is real: Prism checks each request against
// Twilio's OpenAPI description of Verify v2 and refuses what breaks it before the stub sees
// it; the stub's answers have the shape the description gives; the failure modes fail; and
// close() leaves nothing behind. Plain fetch from Node, no worker involved.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const { after, before, beforeEach, describe, test } = require('node:test');
const { startVerify, SPEC, SERVICE_SID, ACCOUNT_SID, API_KEY_SID, API_KEY_SECRET } = require('../../scripts/verify-mock');

const spec = JSON.parse(fs.readFileSync(SPEC, 'utf8'));
const BASIC = `Basic ${Buffer.from(`${API_KEY_SID}:${API_KEY_SECRET}`).toString('base64')}`;
const TO = '+15551234567';

/** POSTs form fields to `${base}/v2/Services/${serviceSid}/${resource}`. */
async function post(base, resource, fields, { auth = BASIC, serviceSid = SERVICE_SID, type, body, signal } = {}) {
  const headers = { 'Content-Type': type ?? 'application/x-www-form-urlencoded' };
  if (auth !== null) headers.Authorization = auth;
  const response = await fetch(`${base}/v2/Services/${serviceSid}/${resource}`, {
    method: 'POST',
    headers,
    body: body ?? new URLSearchParams(fields).toString(),
    signal: signal ?? AbortSignal.timeout(10000),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, type: response.headers.get('content-type'), text, json };
}

/** An answer Prism made up itself (RFC 7807 problem with Prism's error type). */
function assertPrismProblem(reply, status, type) {
  assert.equal(reply.status, status, reply.text);
  assert.match(reply.type, /^application\/problem\+json/);
  assert.equal(reply.json.type, `https://stoplight.io/prism/errors#${type}`);
}

// The response schema of an operation, from the description itself.
function responseSchema(pathName, status) {
  const ref = spec.paths[pathName].post.responses[status].content['application/json'].schema.$ref;
  return resolve(ref);
}

function resolve(ref) {
  return ref.replace(/^#\//, '').split('/').reduce((node, key) => node[key], spec);
}

/**
 * Checks a body against one of the description's (flat) resource schemas: every documented
 * member present and nothing else, types with `nullable`, patterns, lengths, enums and the
 * date-time and uri formats. Prism 5.14.2 skips the body check of a new verification (see
 * verify-mock.js), so this test does it.
 */
function assertMatchesSchema(body, schema) {
  assert.deepEqual(Object.keys(body).sort(), Object.keys(schema.properties).sort(), 'the documented members, no others');
  for (const [name, raw] of Object.entries(schema.properties)) {
    const prop = raw.$ref ? resolve(raw.$ref) : raw;
    const value = body[name];
    const where = `${name}=${JSON.stringify(value)}`;
    if (value === null) {
      assert.ok(prop.nullable, `${where}: not nullable`);
      continue;
    }
    if (prop.type === 'array') assert.ok(Array.isArray(value), where);
    else if (prop.type) assert.equal(typeof value, prop.type, where);
    if (prop.pattern) assert.match(value, new RegExp(prop.pattern), where);
    if (prop.minLength) assert.ok(value.length >= prop.minLength, where);
    if (prop.maxLength) assert.ok(value.length <= prop.maxLength, where);
    if (prop.enum) assert.ok(prop.enum.includes(value), `${where}: not one of ${prop.enum}`);
    if (prop.format === 'date-time') assert.match(value, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, where);
    if (prop.format === 'uri') assert.doesNotThrow(() => new URL(value), where);
  }
}

/** Whether something accepts TCP connections on the URL's port. */
function accepts(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('Twilio Verify stand-in: Prism in front of a stub', () => {
  let verify;

  before(async () => {
    verify = await startVerify({ code: '123456' });
    console.log(`Prism ready after ${verify.startupMs} ms`);
  });

  after(async () => {
    await verify?.close();
  });

  beforeEach(async () => {
    verify.mode = 'ok';
    await verify.reset();
  });

  test('the description holds the operations the worker calls, with what they require', () => {
    const create = spec.paths['/v2/Services/{ServiceSid}/Verifications'].post;
    const check = spec.paths['/v2/Services/{ServiceSid}/VerificationCheck'].post;
    const form = (op) => op.requestBody.content['application/x-www-form-urlencoded'].schema;
    assert.deepEqual(form(create).required, ['To', 'Channel']);
    assert.equal(form(check).required, undefined, 'nothing is required for a check, not even Code');
    for (const op of [create, check]) {
      assert.deepEqual(op.security, [{ accountSid_authToken: [] }]);
      assert.equal(op.parameters[0].schema.pattern, '^VA[0-9a-fA-F]{32}$');
    }
    assert.deepEqual(spec.components.securitySchemes.accountSid_authToken, { scheme: 'basic', type: 'http' });
  });

  test('a correct verification request gets 201, status pending, and reaches the stub', async () => {
    const reply = await post(verify.url, 'Verifications', { To: TO, Channel: 'sms' });
    assert.equal(reply.status, 201, reply.text);
    assert.equal(reply.json.status, 'pending');
    assert.equal(reply.json.valid, false);
    assert.equal(reply.json.to, TO);
    assert.equal(reply.json.channel, 'sms');
    assert.equal(reply.json.service_sid, SERVICE_SID);
    assert.equal(reply.json.account_sid, ACCOUNT_SID);
    assertMatchesSchema(reply.json, responseSchema('/v2/Services/{ServiceSid}/Verifications', '201'));

    assert.equal(verify.requests.length, 1);
    const [seen] = verify.requests;
    assert.equal(seen.method, 'POST');
    assert.equal(seen.path, `/v2/Services/${SERVICE_SID}/Verifications`);
    assert.equal(seen.operation, 'verification');
    assert.equal(seen.headers.authorization, BASIC);
    assert.deepEqual(seen.auth, { username: API_KEY_SID, password: API_KEY_SECRET });
    assert.deepEqual(seen.form, { To: TO, Channel: 'sms' });
    assert.equal(seen.status, 201);
    await verify.settle();
    assert.deepEqual(verify.violations, []);
  });

  test('a voice call verification works the same way', async () => {
    const reply = await post(verify.url, 'Verifications', { To: TO, Channel: 'call' });
    assert.equal(reply.status, 201, reply.text);
    assert.equal(reply.json.channel, 'call');
    assert.deepEqual(verify.requests.map((r) => r.form.Channel), ['call']);
  });

  test('without the Authorization header Prism answers 401 and the stub sees nothing', async () => {
    const reply = await post(verify.url, 'Verifications', { To: TO, Channel: 'sms' }, { auth: null });
    assertPrismProblem(reply, 401, 'UNAUTHORIZED');
    assert.deepEqual(verify.requests, []);
    const [violation] = await verify.waitForViolations(1);
    assert.equal(violation.path, `/v2/Services/${SERVICE_SID}/Verifications`);
    assert.match(violation.message, /UNAUTHORIZED/);

    // The stub alone would have accepted it: the refusal is Prism's.
    const direct = await post(verify.stubUrl, 'Verifications', { To: TO, Channel: 'sms' }, { auth: null });
    assert.equal(direct.status, 201);
  });

  test('Prism checks the form of Basic credentials, not their value', async () => {
    for (const auth of ['Bearer abc', `Basic ${Buffer.from('no-colon').toString('base64')}`]) {
      const reply = await post(verify.url, 'Verifications', { To: TO, Channel: 'sms' }, { auth });
      assertPrismProblem(reply, 401, 'UNAUTHORIZED');
    }
    assert.deepEqual(verify.requests, []);
    const other = `Basic ${Buffer.from(`SK${'f'.repeat(32)}:wrong`).toString('base64')}`;
    const reply = await post(verify.url, 'Verifications', { To: TO, Channel: 'sms' }, { auth: other });
    assert.equal(reply.status, 201, 'any well-formed Basic credentials pass Prism');
  });

  test('the stub can insist on the right credentials (Twilio error 20003)', async (t) => {
    verify.credentials = { username: API_KEY_SID, password: API_KEY_SECRET };
    t.after(() => (verify.credentials = null));
    const other = `Basic ${Buffer.from(`${API_KEY_SID}:wrong`).toString('base64')}`;
    const reply = await post(verify.url, 'Verifications', { To: TO, Channel: 'sms' }, { auth: other });
    assert.equal(reply.status, 401);
    assert.equal(reply.json.code, 20003);
    assert.equal((await post(verify.url, 'Verifications', { To: TO, Channel: 'sms' })).status, 201);
  });

  test('a verification without a required field is refused by Prism (422), the stub sees nothing', async () => {
    for (const [fields, missing] of [
      [{ Channel: 'sms' }, 'To'],
      [{ To: TO }, 'Channel'],
    ]) {
      const reply = await post(verify.url, 'Verifications', fields);
      assertPrismProblem(reply, 422, 'UNPROCESSABLE_ENTITY');
      assert.deepEqual(
        reply.json.validation.map((v) => v.message),
        [`Request body must have required property '${missing}'`],
      );
    }
    assert.deepEqual(verify.requests, []);
    assert.equal((await verify.waitForViolations(2)).length, 2);

    const direct = await post(verify.stubUrl, 'Verifications', { To: TO });
    assert.equal(direct.status, 400, 'the stub alone answers (Twilio 60200), it does not refuse like Prism');
  });

  test('a service SID other than VA + 32 hex digits is refused by Prism (422)', async () => {
    for (const serviceSid of ['VA123', `XY${'0'.repeat(32)}`, `VA${'g'.repeat(32)}`]) {
      const reply = await post(verify.url, 'Verifications', { To: TO, Channel: 'sms' }, { serviceSid });
      assertPrismProblem(reply, 422, 'UNPROCESSABLE_ENTITY');
      assert.ok(reply.json.validation.some((v) => v.code === 'pattern'), reply.text);
    }
    const upper = `VA${'ABCDEF0123'.repeat(3)}AB`;
    assert.equal((await post(verify.url, 'Verifications', { To: TO, Channel: 'sms' }, { serviceSid: upper })).status, 201);
    assert.deepEqual(verify.requests.map((r) => r.serviceSid), [upper]);
  });

  test('a JSON body is refused by Prism: the API takes form fields', async () => {
    const reply = await post(verify.url, 'Verifications', null, {
      type: 'application/json',
      body: JSON.stringify({ To: TO, Channel: 'sms' }),
    });
    assertPrismProblem(reply, 422, 'UNPROCESSABLE_ENTITY');
    assert.match(reply.json.validation[0].message, /application\/x-www-form-urlencoded/);
    assert.deepEqual(verify.requests, []);
  });

  test('an unknown path is refused by Prism (404)', async () => {
    const reply = await post(verify.url, 'Verification', { To: TO, Channel: 'sms' });
    assertPrismProblem(reply, 404, 'NO_PATH_MATCHED_ERROR');
    assert.deepEqual(verify.requests, []);
  });

  test('a check with the right code is approved, with a wrong code it stays pending', async () => {
    const created = await post(verify.url, 'Verifications', { To: TO, Channel: 'sms' });
    assert.equal(created.status, 201, created.text);

    const right = await post(verify.url, 'VerificationCheck', { To: TO, Code: '123456' });
    assert.equal(right.status, 200, right.text);
    assert.equal(right.json.status, 'approved');
    assert.equal(right.json.valid, true);
    assert.equal(right.json.sid, created.json.sid, 'the verification that was created');
    assertMatchesSchema(right.json, responseSchema('/v2/Services/{ServiceSid}/VerificationCheck', '200'));

    const wrong = await post(verify.url, 'VerificationCheck', { To: TO, Code: '654321' });
    assert.equal(wrong.status, 200, wrong.text);
    assert.equal(wrong.json.status, 'pending');
    assert.equal(wrong.json.valid, false);
    assertMatchesSchema(wrong.json, responseSchema('/v2/Services/{ServiceSid}/VerificationCheck', '200'));

    assert.deepEqual(
      verify.requests.map((r) => [r.operation, r.form]),
      [
        ['verification', { To: TO, Channel: 'sms' }],
        ['check', { To: TO, Code: '123456' }],
        ['check', { To: TO, Code: '654321' }],
      ],
    );
    await verify.settle();
    assert.deepEqual(verify.violations, []);
  });

  test('a check without Authorization is refused by Prism too', async () => {
    const reply = await post(verify.url, 'VerificationCheck', { To: TO, Code: '123456' }, { auth: null });
    assertPrismProblem(reply, 401, 'UNAUTHORIZED');
    assert.deepEqual(verify.requests, []);
  });

  test('Prism checks the check answer against the description: a bad one becomes a 500', async (t) => {
    verify.answer = (request) => request.operation === 'check' && { status: 200, json: { valid: 'yes' } };
    t.after(() => (verify.answer = null));
    const reply = await post(verify.url, 'VerificationCheck', { To: TO, Code: '123456' });
    assertPrismProblem(reply, 500, 'VIOLATIONS');
    assert.match(JSON.stringify(reply.json.validation), /valid must be boolean/);
    assert.equal(verify.requests.length, 1, 'it did reach the stub');
  });

  test("mode 'down': the stub answers 503 (Twilio's error shape), passed on by Prism", async () => {
    verify.mode = 'down';
    const reply = await post(verify.url, 'Verifications', { To: TO, Channel: 'sms' });
    assert.equal(reply.status, 503, reply.text);
    assert.equal(reply.json.code, 20503);
    const check = await post(verify.url, 'VerificationCheck', { To: TO, Code: '123456' });
    assert.equal(check.status, 503);
    assert.equal(verify.requests.length, 2);
    await verify.settle();
    const flagged = verify.violations;
    assert.equal(flagged.length, 2, JSON.stringify(flagged));
    assert.ok(flagged.every((v) => v.severity === 'warning' && /status code/.test(v.message)), JSON.stringify(flagged));
  });

  test("mode 'hangup': the stub drops the connection, Prism answers 500", async () => {
    verify.mode = 'hangup';
    const reply = await post(verify.url, 'Verifications', { To: TO, Channel: 'sms' });
    assert.equal(reply.status, 500, reply.text);
    assert.equal(reply.json.type, 'FetchError');
    assert.equal(verify.requests.length, 1);
  });
});

describe('Twilio Verify stand-in: slow, then closed', () => {
  test("mode 'slow' does not answer within 3 s; close() then ends Prism and the stub", async () => {
    const verify = await startVerify({ mode: 'slow' });
    let closed = false;
    try {
      const started = Date.now();
      await assert.rejects(
        post(verify.url, 'Verifications', { To: TO, Channel: 'sms' }, { signal: AbortSignal.timeout(3000) }),
        (error) => error.name === 'TimeoutError',
      );
      assert.ok(Date.now() - started >= 2900);
      assert.equal(verify.requests.length, 1, 'it reached the stub, which is still waiting');

      assert.ok(await accepts(verify.url));
      assert.ok(await accepts(verify.stubUrl));
      const closing = Date.now();
      await verify.close();
      closed = true;
      assert.ok(Date.now() - closing < 5000, 'close() does not wait for the slow answer');
      assert.equal(await accepts(verify.url), false, 'Prism no longer listens');
      assert.equal(await accepts(verify.stubUrl), false, 'the stub no longer listens');
      assert.throws(() => process.kill(verify.pid, 0), { code: 'ESRCH' }, 'the Prism process is gone');
      assert.throws(() => process.kill(-verify.pid, 0), { code: 'ESRCH' }, 'its process group is empty');
      await verify.close(); // again: nothing to do
    } finally {
      if (!closed) await verify.close();
    }
  });
});
