'use strict';
// validateRequest and validateRequestWithBody with arguments of the wrong type: a gather-seal
// TypeError that echoes nothing (the token above all), before anything reaches WebAssembly.
// Whatever a request can carry (any header, URL, parameter or body text) gives a verdict instead.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const twilio = require('twilio');
const { gs, expectSealError, remember } = require('./support');

const TOKEN = remember('0123456789abcdef0123456789abcdef');
const URL_ = 'https://example.com/voice?step=pin';
const PARAMS = { CallSid: 'CA1234567890ABCDE', Digits: '4821' };
const SIGNATURE = twilio.getExpectedTwilioSignature(TOKEN, URL_, PARAMS);
const JSON_URL = `https://example.com/status?bodySHA256=${twilio.getExpectedBodyHash('{}')}`;
const JSON_SIGNATURE = twilio.getExpectedTwilioSignature(TOKEN, JSON_URL, {});

test('the arguments as documented give the verdict', () => {
  assert.equal(gs.validateRequest(TOKEN, SIGNATURE, URL_, PARAMS), true);
  assert.equal(gs.validateRequestWithBody(TOKEN, JSON_SIGNATURE, JSON_URL, '{}'), true);
  assert.equal(gs.validateRequestWithBody(TOKEN, JSON_SIGNATURE, JSON_URL, Buffer.from('{}')), true);
});

test('an empty or missing auth token throws: anyone can sign with an empty key', () => {
  for (const token of ['', undefined, null, 12345, Buffer.from(TOKEN), [TOKEN]]) {
    expectSealError(gs.validateRequest, [token, SIGNATURE, URL_, PARAMS], /^gather-seal: authToken must be a non-empty string$/);
    expectSealError(gs.validateRequestWithBody, [token, JSON_SIGNATURE, JSON_URL, '{}'], /^gather-seal: authToken/);
  }
});

test('a signature that is not a string throws; a missing one is false', () => {
  for (const signature of [42, ['a'], {}, Buffer.from(SIGNATURE)]) {
    expectSealError(gs.validateRequest, [TOKEN, signature, URL_, PARAMS], /^gather-seal: signature must be a string$/);
  }
  for (const signature of [undefined, null, '']) {
    assert.equal(gs.validateRequest(TOKEN, signature, URL_, PARAMS), false);
    assert.equal(gs.validateRequestWithBody(TOKEN, signature, JSON_URL, '{}'), false);
  }
});

test('a URL that is not a string throws', () => {
  for (const url of [undefined, null, new URL(URL_), 1]) {
    expectSealError(gs.validateRequest, [TOKEN, SIGNATURE, url, PARAMS], /^gather-seal: url must be a string$/);
    expectSealError(gs.validateRequestWithBody, [TOKEN, JSON_SIGNATURE, url, '{}'], /^gather-seal: url must be a string$/);
  }
});

test('params must be a plain object (or none); its values are read as text, as twilio reads them', () => {
  for (const params of [new URLSearchParams(PARAMS), new Map(Object.entries(PARAMS)), [PARAMS], 'Digits=4821', 7]) {
    expectSealError(gs.validateRequest, [TOKEN, SIGNATURE, URL_, params], /^gather-seal: params must be a plain object/);
  }
  const signedEmpty = twilio.getExpectedTwilioSignature(TOKEN, URL_, {});
  assert.equal(gs.validateRequest(TOKEN, signedEmpty, URL_), true);
  assert.equal(gs.validateRequest(TOKEN, signedEmpty, URL_, null), true);
  assert.equal(gs.validateRequest(TOKEN, signedEmpty, URL_, Object.create(null)), true);
  // Numbers and nested values, as a body parser may make them: the same text as twilio's.
  const odd = { n: 5, b: true, nested: { a: 1 }, list: [2, '1', 2] };
  assert.equal(gs.validateRequest(TOKEN, twilio.getExpectedTwilioSignature(TOKEN, URL_, odd), URL_, odd), true);
  expectSealError(gs.validateRequest, [TOKEN, SIGNATURE, URL_, { Digits: Symbol('x') }],
    /^gather-seal: params must map names to strings/);
});

test('a body that is not the raw text or bytes throws, parsed JSON included', () => {
  for (const body of [{}, JSON.parse('{}'), 42, null, undefined, new ArrayBuffer(2), [123, 125]]) {
    expectSealError(gs.validateRequestWithBody, [TOKEN, JSON_SIGNATURE, JSON_URL, body], /^gather-seal: body must be the body as received/);
  }
});

test('anything a request can carry gives a verdict, never an error', () => {
  const strange = ['', ' ', '%', '?', '#', 'not a url', 'https://', 'https://[::1', 'https://h:99999/', '\uD800', '\0',
    'x'.repeat(10_000), SIGNATURE.slice(0, 27), `${SIGNATURE}=`, 'A'.repeat(27) + '='];
  for (const text of strange) {
    for (const verdict of [
      gs.validateRequest(TOKEN, text, URL_, PARAMS),
      gs.validateRequest(TOKEN, SIGNATURE, text, PARAMS),
      gs.validateRequest(TOKEN, SIGNATURE, URL_, { [text]: text, Digits: [text, text] }),
      gs.validateRequestWithBody(TOKEN, text, JSON_URL, '{}'),
      gs.validateRequestWithBody(TOKEN, JSON_SIGNATURE, text, '{}'),
      gs.validateRequestWithBody(TOKEN, JSON_SIGNATURE, JSON_URL, text),
    ]) {
      assert.equal(typeof verdict, 'boolean');
    }
  }
});

test('the algorithm and the settings header: a name or nothing, else a TypeError', () => {
  const signed256 = twilio.getExpectedTwilioSignature(TOKEN, URL_, PARAMS, 'HMAC_SHA256');
  for (const algorithm of [undefined, null, '', 'HMAC_SHA1', 'hmac_sha1']) {
    assert.equal(gs.validateRequest(TOKEN, SIGNATURE, URL_, PARAMS, algorithm), true, String(algorithm));
  }
  assert.equal(gs.validateRequest(TOKEN, signed256, URL_, PARAMS, 'HMAC_SHA256'), true);
  assert.equal(gs.validateRequest(TOKEN, signed256, URL_, PARAMS, 'HMAC_SHA512'), false);
  for (const algorithm of [256, true, {}, ['HMAC_SHA256'], new String('HMAC_SHA256'), Symbol('x')]) {
    expectSealError(gs.validateRequest, [TOKEN, SIGNATURE, URL_, PARAMS, algorithm], /^gather-seal: algorithm must be a string$/);
    expectSealError(gs.validateRequestWithBody, [TOKEN, JSON_SIGNATURE, JSON_URL, '{}', algorithm],
      /^gather-seal: algorithm must be a string$/);
  }
  for (const header of [1, {}, ['algorithm=HMAC_SHA256'], Symbol('x')]) {
    expectSealError(gs.getSignatureAlgorithm, [header], /^gather-seal: header must be a string$/);
  }
  assert.equal(gs.getSignatureAlgorithm(undefined), 'HMAC_SHA1');
  assert.equal(gs.getSignatureAlgorithm(null), 'HMAC_SHA1');
});
