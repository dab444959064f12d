'use strict';
// The rule of plaintext.js, case by case: what it must find, and what it must not (hex, ports,
// longer numbers, log stamps). Every "must not" case holds the typed text as a substring, so a
// naive `includes()` fails this file; the last test checks that it would.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { test } = require('node:test');
const { assertNoPlaintext, assertNoPlaintextInMessages, findTyped } = require('./plaintext');

// [text, typed, why]: typed appears in text as a token.
const FOUND = [
  ['1234', '1234', 'the whole text'],
  ['Digits=1234', '1234', 'a form parameter'],
  ['CallSid=CAab&Digits=1234&From=%2B1500', '1234', 'a form parameter between others'],
  ['pin 1234.', '1234', 'a sentence'],
  ['{"pin":"1234"}', '1234', 'a JSON string'],
  ['{"pin":1234}', '1234', 'a JSON number'],
  ['https://example.com/gather/1234?step=pin', '1234', 'a URL path segment'],
  ['https://example.com/gather?pin=1234#x', '1234', 'a query value'],
  ['<Say>Your PIN is 1234</Say>', '1234', 'TwiML'],
  ['<Say>Your PIN is 1 2 3 4</Say>', '1234', 'spelled out with spaces, as <Say> reads it'],
  ['<Say>1, 2, 3, 4</Say>', '1234', 'spelled out with commas'],
  ['1-2-3-4', '1234', 'spelled out with hyphens'],
  ['Digits%3D1234', '1234', 'percent-encoded around it'],
  ['pin%201234', '1234', 'after an encoded space, which looks like a digit run until decoded'],
  ['%31%32%33%34', '1234', 'each digit percent-encoded'],
  ['pin:1234', '1234', 'after a word and a colon: not a host, so not a port'],
  ['-1234-', '1234', 'between hyphens'],
  ['1234#', '1234', 'followed by the finish key'],
  ['Digits=1234%23', '1234#', 'with the finish key typed, encoded'],
  ['x 0000 y', '0000', 'zeros'],
  ['"5005550101"', '5005550101', 'a long entry'],
  ['at 12:34 today', '34', 'a clock without seconds is not a log stamp'],
  ['attempt=73&x', '73', 'a short entry as a whole value'],
];

// [text, typed, why]: typed is in text as a substring, but not as a token.
const NOT_FOUND = [
  ['a1234f', '1234', 'inside hex'],
  ['"encryptedPinDigits":"1234abcdef0123"', '1234', 'at the start of hex'],
  ['"encryptedPinDigits":"abcdef01231234"', '1234', 'at the end of hex'],
  ['912345', '1234', 'inside a longer number'],
  ['+15005551234', '1234', 'at the end of a phone number'],
  ['http://127.0.0.1:41234/gather', '1234', 'inside a port'],
  ['http://127.0.0.1:51234/gather', '51234', 'a port equal to the entry'],
  ['http://localhost:4321/', '4321', 'a port after localhost'],
  ['listening on 127.0.0.1:4321', '4321', 'a port after an IPv4 address, no scheme'],
  ['https://gather.example.com:4321/x', '4321', 'a port after a host name'],
  ['http://[::1]:4321/', '4321', 'a port after an IPv6 address'],
  ['"url":"http:\\/\\/127.0.0.1:4321\\/x"', '4321', 'a port in a JSON-escaped URL'],
  ['[18:12:34.123] POST /gather', '123', 'the fraction of a log stamp'],
  ['2026-12-04T18:12:34Z request', '34', 'a second in an ISO stamp'],
  ['2026-12-04 started', '2026', 'a date'],
  ['took 1234ms', '1234', 'glued to a unit'],
  ['CA1234', '1234', 'glued to a prefix'],
  ['12345', '1234', 'a longer entry is another entry'],
];

// [text, typed, why]: spelled-out look-alikes that are not the entry (no substring trap).
const NOT_SPELLED = [
  ['1 2 3 45', '1234', 'spelled, but followed by another digit'],
  ['1-2-3-4-5', '1234', 'spelled, but the spelling goes on'],
  ['0, 1, 2, 3, 4', '1234', 'spelled, but the spelling started earlier'],
  ['127.0.0.1', '001', 'dots are not spelling'],
  ['a1 2 3 4', '1234', 'glued to a word'],
];

test('finds the typed text as a token, however it is written', () => {
  for (const [text, typed, why] of FOUND) {
    assert.ok(findTyped(text, typed), `${why}: "${typed}" not found in ${text}`);
    assert.throws(() => assertNoPlaintext(text, [typed], 'the body'), /^AssertionError.*the body holds the typed/, why);
  }
});

test('ignores hex, ports, longer numbers and log stamps', () => {
  for (const [text, typed, why] of [...NOT_FOUND, ...NOT_SPELLED]) {
    assert.equal(findTyped(text, typed), null, `${why}: "${typed}" found in ${text}`);
    assertNoPlaintext(text, [typed], why);
  }
});

test('a token next to a masked number is still found, and a port does not make a neighbour one', () => {
  assert.ok(findTyped('http://127.0.0.1:41234/gather?Digits=1234', '1234'));
  assert.ok(findTyped('[18:12:34.567] Digits=1234', '1234'));
  assert.equal(findTyped('http://127.0.0.1:4123/4', '1234'), null);
});

test('the failure message names the text, the entry and where it was found', () => {
  assert.throws(
    () => assertNoPlaintext(`{"a":"${'x'.repeat(300)}","pin":"4321"}`, ['', '1234', '4321'], 'the submission'),
    (error) => {
      assert.match(error.message, /^the submission holds the typed "4321" \(as "4321"\): …x+","pin":"4321"}…$/);
      return true;
    },
  );
});

test('sealed values never hold the typed digits as a token (10 000 random ones)', () => {
  let substring = 0;
  for (let i = 0; i < 10_000; i++) {
    const hex = crypto.randomBytes(32).toString('hex');
    const port = 32768 + crypto.randomInt(28232);
    const body = `{"url":"http://127.0.0.1:${port}/x","encryptedPinDigits":"${hex}"}`;
    for (const typed of ['1234', '4321', '0000', '73']) {
      if (body.includes(typed)) substring += 1;
      assert.equal(findTyped(body, typed), null, `"${typed}" found in ${body}`);
    }
    // The same body with the digits leaked beside the sealed value: always found.
    assert.ok(findTyped(`${body.slice(0, -1)},"pin":"4321"}`, '4321'));
  }
  assert.ok(substring > 0, 'a naive substring check would have reported some of these');
});

test('refuses what is not text, or nothing to look for', () => {
  assert.throws(() => findTyped(undefined, '1234'), TypeError);
  assert.throws(() => findTyped('1234', ''), TypeError);
  assert.throws(() => findTyped('1234', 1234), TypeError);
});

test('the cases mean something: a naive includes() gets every "must not" case wrong', () => {
  for (const [text, typed, why] of NOT_FOUND) {
    assert.ok(text.includes(typed), `${why}: not a trap for a substring check`);
  }
});

test('WebSocket messages: found in a member or in a JSON text a member carries, not in its hex', () => {
  const hex = 'a1234f'.repeat(8);
  const body = JSON.stringify({ callSid: 'CAabc', encryptedPinDigits: hex, masked: { card: { last4: '4242' } } });
  const clean = [
    { type: 'setup', callSid: 'CAabc', from: '+15005551234' },
    { type: 'gather-seal.result', body, signature: 't=1765432100,v1=ab1234cd' },
    { type: 'end', handoffData: '{"gatherSeal":"upstream-unavailable"}' },
  ];
  assertNoPlaintextInMessages(clean, ['1234', '4242424242424242']);
  const leaks = [
    [{ type: 'dtmf', digit: '1234' }, 'message 0 (dtmf)'],
    [{ type: 'prompt', voicePrompt: 'it is 1 2 3 4', lang: 'en-US', last: true }, 'message 0 (prompt)'],
    [{ type: 'x', n: 1234 }, 'message 0 (x)'],
    [{ type: 'gather-seal.result', body: JSON.stringify({ pin: '1234' }) }, 'message 0 (gather-seal.result)'],
    [{ type: 'end', handoffData: JSON.stringify({ nested: JSON.stringify({ pin: '1234' }) }) }, 'message 0 (end)'],
    // Escaped in the message's JSON as \n1234, where the n would hide it.
    [{ type: 'text', token: 'line\n1234', last: true }, 'message 0 (text).token'],
    [{ type: 'x', body: JSON.stringify({ note: 'a\n1234' }) }, 'message 0 (x).body (JSON text).note'],
  ];
  for (const [message, where] of leaks) {
    assert.throws(
      () => assertNoPlaintextInMessages([message], ['1234'], 'the application'),
      (error) => error.message.startsWith(`the application, ${where},`),
      JSON.stringify(message),
    );
  }
  // The last four of a card are not the card.
  assertNoPlaintextInMessages([{ masked: { last4: '4242' } }], ['4242424242424242']);
});
