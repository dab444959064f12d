'use strict';
// Card capture's hand-off (issue 16) on the receiving side: maskedCards reads what may be shown
// of each card from an action submission's `masked` or a redirect's `<field>_last4` and
// `<field>_brand`; openSubmission ignores both and opens only sealed values; a `cancelled`
// result opens only when options.results names it; verifyStatusEvent checks a
// status_callback event's signature and shape. Submissions and events are built here from the
// worker's format (src/handoff/, src/status.rs), sealed and signed with node:crypto.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { gs, reference, referenceKey, remember, expectSealError } = require('./support');

const SECRET = remember(crypto.randomBytes(32).toString('hex'));
const KEY = referenceKey();
const CALL_SID = remember(`CA${crypto.randomBytes(16).toString('hex')}`);
// When the worker took the webhook (Unix milliseconds): every status event carries it as `at`.
const AT = 1764892800123;

// The brands as the worker writes them (kinds::Brand::as_str), written out.
const BRANDS = ['visa', 'mastercard', 'amex', 'discover', 'diners-club', 'jcb', 'maestro', 'unionpay'];

const MASKED = /^gather-seal: masked: /;
const PARAMS = /^gather-seal: (?:<field>_last4 and <field>_brand parameters: |every <field>_last4 and <field>_brand parameter |a <field>_brand parameter )/;
const LAST4 = /last4 must be exactly 4 digits \(0-9\)$/;
const BRAND = /brand must be one of the brands the worker names$/;

/** An action submission with a card (sealed, and masked as the worker masks it; masked: null for none) and a PIN. */
function cardSubmission({ result = 'success', masked = { card: { last4: '4242', brand: 'visa' } } } = {}) {
  const out = { callSid: CALL_SID, accountSid: `AC${'0'.repeat(32)}`, from: '+15551230001',
    to: '+15551230002', flow: 'pay', result };
  if (masked !== null) out.masked = masked;
  out.encryptedCardDigits = reference.seal('4242424242424242', KEY, `${CALL_SID}:card`);
  out.encryptedPinDigits = reference.seal('4321', KEY, `${CALL_SID}:pin`);
  return out;
}

/** A Twilio Function's `event` after the worker's redirect (query and Twilio's POST). */
function redirectEvent(extra = { card_last4: '4242', card_brand: 'visa' }) {
  return {
    CallSid: CALL_SID, AccountSid: `AC${'0'.repeat(32)}`, From: '+15551230001', Digits: '1',
    result: 'success', ...extra,
    encryptedCardDigits: reference.seal('4242424242424242', KEY, `${CALL_SID}:card`),
  };
}

// ---- maskedCards ----

test('maskedCards reads an action submission\'s masked, checked as it came over the wire', () => {
  const value = cardSubmission({ masked: { card: { last4: '4242', brand: 'visa' }, card2: { last4: '0005' } } });
  const body = JSON.stringify(value);
  const submission = gs.verifySubmission(body, reference.sign(body, SECRET), SECRET);
  assert.deepEqual(gs.maskedCards(submission), { card: { last4: '4242', brand: 'visa' }, card2: { last4: '0005' } });
  // A brand left out stays left out, not undefined.
  assert.deepEqual(Object.keys(gs.maskedCards(submission).card2), ['last4']);
  // No key is needed, and nothing is opened.
  assert.equal(gs.maskedCards.length, 1);
});

test('maskedCards reads a redirect\'s <field>_last4 and <field>_brand', () => {
  assert.deepEqual(gs.maskedCards(redirectEvent()), { card: { last4: '4242', brand: 'visa' } });
  // Field names with underscores, brands left out, several cards; other parameters ignored.
  const event = redirectEvent({ last_four_last4: '1881', card_two_last4: '0004', card_two_brand: 'diners-club' });
  assert.deepEqual(gs.maskedCards(event), {
    last_four: { last4: '1881' },
    card_two: { last4: '0004', brand: 'diners-club' },
  });
});

test('every brand the worker names is accepted', () => {
  for (const brand of BRANDS) {
    assert.deepEqual(gs.maskedCards({ masked: { card: { last4: '1111', brand } } }), { card: { last4: '1111', brand } });
    assert.deepEqual(gs.maskedCards({ card_last4: '1111', card_brand: brand }), { card: { last4: '1111', brand } });
  }
});

test('no cards: {} from a submission without masked and from a redirect without card parameters', () => {
  assert.deepEqual(gs.maskedCards(cardSubmission({ masked: null })), {});
  assert.deepEqual(gs.maskedCards(redirectEvent({})), {});
  assert.deepEqual(gs.maskedCards({ masked: {} }), {});
});

test('last4 must be exactly 4 ASCII digits, in either form', () => {
  const bad = ['424', '42424', '', '42 2', '4a42', ' 4242', '4242\n', '٤٢٤٢', '４２４２', '+424', '4.24'];
  for (const last4 of bad) {
    expectSealError(gs.maskedCards, [{ masked: { card: { last4, brand: 'visa' } } }], new RegExp(MASKED.source + LAST4.source));
    expectSealError(gs.maskedCards, [{ card_last4: last4 }], LAST4);
  }
  for (const last4 of [4242, null, ['4242'], { 0: '4242' }, true]) {
    expectSealError(gs.maskedCards, [{ masked: { card: { last4 } } }], LAST4);
  }
  expectSealError(gs.maskedCards, [{ masked: { card: { brand: 'visa' } } }], LAST4); // missing
});

test('a brand must be one of the list, in either form', () => {
  for (const brand of ['Visa', 'VISA', 'american-express', 'mc', 'rupay', '', ' visa', 'visa ', null, 1, ['visa'], {}]) {
    expectSealError(gs.maskedCards, [{ masked: { card: { last4: '4242', brand } } }], BRAND);
    if (typeof brand === 'string') expectSealError(gs.maskedCards, [{ card_last4: '4242', card_brand: brand }], BRAND);
  }
  // Names of the prototype are not brands.
  for (const brand of ['constructor', 'toString', '__proto__', 'length']) {
    expectSealError(gs.maskedCards, [{ masked: { card: { last4: '4242', brand } } }], BRAND);
  }
});

test('masked must be an object of cards, each an object of last4 and brand alone', () => {
  for (const masked of [null, [], [{ last4: '4242' }], '4242', 4242, true]) {
    expectSealError(gs.maskedCards, [{ masked }], /^gather-seal: submission's masked must be an object of entries by field name$/);
  }
  for (const card of [null, '4242', ['4242'], 4242, new Map([['last4', '4242']])]) {
    expectSealError(gs.maskedCards, [{ masked: { card } }], /^gather-seal: masked: an entry must be an object of last4 and brand$/);
  }
  // More than the worker sends is refused, not dropped: a pan or a CVV has no place here.
  for (const extra of [{ pan: '4242424242424242' }, { cvv: '123' }, { Last4: '4242' }, { expiry: '1230' }]) {
    expectSealError(gs.maskedCards, [{ masked: { card: { last4: '4242', ...extra } } }],
      /^gather-seal: masked: an entry must hold only last4 and brand$/);
  }
  // A status event's masked ({ last4, brand }, not by field) is not a submission's.
  expectSealError(gs.maskedCards, [{ masked: { last4: '4242', brand: 'visa' } }], /^gather-seal: masked: an entry must be an object/);
});

test('names must be field names: __proto__ and other prototype keys are refused or stay own fields', () => {
  const names = ['__proto__', 'Card', 'card-1', '1card', '_card', 'card_', 'card__two', '', 'step', 'attempt',
    'a'.repeat(33), 'hasOwnProperty', 'toString', 'carte\u0301'];
  for (const name of names) {
    // JSON.parse makes an own "__proto__" member, as a parsed body would hold it.
    const json = JSON.parse(`{"masked":{${JSON.stringify(name)}:{"last4":"4242"}}}`);
    expectSealError(gs.maskedCards, [json], /^gather-seal: masked: every name must be a field name/);
    const params = JSON.parse(`{${JSON.stringify(`${name}_last4`)}:"4242"}`);
    expectSealError(gs.maskedCards, [params], /^gather-seal: every <field>_last4 and <field>_brand parameter must name a field/);
  }
  // "constructor" is a valid field name: it comes back as an own field, and no prototype changes.
  const parsed = JSON.parse('{"masked":{"constructor":{"last4":"4242"}}}');
  const cards = gs.maskedCards(parsed);
  assert.ok(Object.hasOwn(cards, 'constructor'));
  assert.deepEqual(cards.constructor, { last4: '4242' });
  assert.equal(Object.getPrototypeOf(cards), Object.prototype);
  assert.equal({}.last4, undefined);
  assert.deepEqual(gs.maskedCards({ constructor_last4: '4242' }).constructor, { last4: '4242' });
  // A masked object with a null prototype, or inherited members, reads its own members only.
  const inherited = Object.create({ card: { last4: '1111' } });
  inherited.pin_card = { last4: '2222' };
  assert.deepEqual(gs.maskedCards({ masked: inherited }), { pin_card: { last4: '2222' } });
  assert.deepEqual(gs.maskedCards({ masked: Object.assign(Object.create(null), { card: { last4: '3333' } }) }),
    { card: { last4: '3333' } });
});

test('redirect parameters: a brand without last4, repeated or non-string values, both forms at once', () => {
  expectSealError(gs.maskedCards, [{ card_brand: 'visa' }], /^gather-seal: a <field>_brand parameter has no <field>_last4 beside it$/);
  expectSealError(gs.maskedCards, [{ card_last4: '4242', pin_brand: 'visa' }], /has no <field>_last4 beside it$/);
  for (const value of [['4242', '1111'], 4242, null, undefined, { 0: '4242' }]) {
    expectSealError(gs.maskedCards, [{ card_last4: value }], /^gather-seal: every <field>_last4 and <field>_brand parameter must be one string$/);
  }
  expectSealError(gs.maskedCards, [{ card_last4: '4242', card_brand: ['visa', 'amex'] }], /must be one string$/);
  expectSealError(gs.maskedCards, [{ masked: { card: { last4: '4242' } }, card_last4: '4242' }],
    /^gather-seal: submission has both masked and <field>_last4 or <field>_brand parameters$/);
});

test('maskedCards wants a plain object (a TypeError otherwise)', () => {
  for (const value of [undefined, null, '{"masked":{}}', [], new Map(), 1]) {
    const message = expectSealError(gs.maskedCards, [value], /^gather-seal: submission must be a plain object$/);
    assert.ok(message);
    assert.throws(() => gs.maskedCards(value), TypeError);
  }
});

// ---- openSubmission beside masked cards ----

test('openSubmission ignores masked and <field>_last4/_brand: they are never sealed values', () => {
  const submission = cardSubmission({ masked: { card: { last4: '4242', brand: 'visa' }, pin: { last4: '4321' } } });
  assert.deepEqual(gs.openSubmission(submission, KEY), { card: '4242424242424242', pin: '4321' });
  // A field named masked would be encryptedMaskedDigits; `masked` itself is not one.
  assert.ok(!Object.hasOwn(gs.openSubmission(submission, KEY), 'masked'));
  const event = redirectEvent({ card_last4: '4242', card_brand: 'visa', pin_last4: 'not-hex', masked: 'zz' });
  assert.deepEqual(gs.openSubmission(event, KEY), { card: '4242424242424242' });
  // A malformed masked does not stop the values opening (maskedCards is the one that checks it).
  assert.deepEqual(gs.openSubmission(cardSubmission({ masked: { card: { last4: 'x' } } }), KEY, { fields: ['card'] }).card,
    '4242424242424242');
  // options.fields names fields by their sealed value: a masked card alone is not there.
  const onlyMasked = cardSubmission();
  delete onlyMasked.encryptedCardDigits;
  expectSealError(gs.openSubmission, [onlyMasked, KEY, { fields: ['card'] }], /has no encryptedCardDigits/);
  expectSealError(gs.openSubmission, [{ ...redirectEvent(), encryptedCardDigits: undefined }, KEY, { fields: ['card'] }],
    /^gather-seal: encryptedCardDigits must be a string$/);
});

test('a cancelled gather opens only when options.results names it, with the fields before *', () => {
  const cancelled = cardSubmission({ result: 'cancelled' });
  delete cancelled.encryptedPinDigits; // the caller pressed * at the PIN
  expectSealError(gs.openSubmission, [cancelled, KEY], /^gather-seal: submission's result is not accepted \(see options.results\)$/);
  expectSealError(gs.openSubmission, [cancelled, KEY, { results: ['success', 'too-many-attempts'] }], /is not accepted/);
  assert.deepEqual(gs.openSubmission(cancelled, KEY, { results: ['success', 'cancelled'] }), { card: '4242424242424242' });
  expectSealError(gs.openSubmission, [cancelled, KEY, { results: ['cancelled'], fields: ['card', 'pin'] }],
    /has no encryptedPinDigits, which options.fields requires/);
  // In a redirect too (result=cancelled in the query).
  const event = redirectEvent({ result: 'cancelled', card_last4: '4242' });
  assert.deepEqual(gs.openSubmission(event, KEY, { results: ['cancelled'] }), { card: '4242424242424242' });
  assert.deepEqual(gs.maskedCards(event), { card: { last4: '4242' } });
});

// ---- verifyStatusEvent ----

const EVENT_ERROR = /^gather-seal: status event(?: |'s masked: )/;

/** An event body as the worker writes it (status::Body), members in its order. */
function statusEvent(event, extra = {}) {
  return { callSid: CALL_SID, flow: 'pay', field: 'card', event, error: null, attempt: 1, at: AT, ...extra };
}

function signedEvent(value, { secret = SECRET, t } = {}) {
  const body = typeof value === 'string' ? value : JSON.stringify(value);
  return [body, reference.sign(body, secret, t)];
}

test('the example stream of one call is accepted, each event as it was sent', () => {
  const stream = [
    statusEvent('asked'),
    statusEvent('accepted', { masked: { last4: '4242', brand: 'visa' } }),
    statusEvent('confirmed', { masked: { last4: '4242', brand: 'visa' } }),
    statusEvent('asked', { field: 'cvv' }),
    statusEvent('invalid', { field: 'cvv', error: 'invalid' }),
    statusEvent('asked', { field: 'cvv', attempt: 2 }),
    statusEvent('accepted', { field: 'cvv', attempt: 2 }),
    statusEvent('invalid', { field: 'expiry', error: 'expired', attempt: 1 }),
    statusEvent('accepted', { field: 'card', masked: { last4: '0005' } }), // no brand
    statusEvent('cancelled', { field: 'pin', attempt: 3 }),
    statusEvent('handed-off', { field: null, attempt: 0, result: 'success' }),
  ];
  for (const value of stream) {
    const [body, header] = signedEvent(value);
    assert.deepEqual(gs.verifyStatusEvent(body, header, SECRET), value);
    assert.deepEqual(gs.verifyStatusEvent(Buffer.from(body), header, [SECRET]), value);
    // verifySubmission checks the same signature and gives the same body.
    assert.deepEqual(gs.verifySubmission(body, header, SECRET), value);
  }
  for (const error of ['timeout', 'invalid', 'card-type', 'expired', 'mismatch']) {
    assert.equal(gs.verifyStatusEvent(...signedEvent(statusEvent('invalid', { error })), SECRET).error, error);
  }
  for (const result of ['success', 'too-many-attempts', 'cancelled', 'locked', 'anonymous', 'unavailable',
    'verify-failed', 'verify-unavailable']) {
    const value = statusEvent('handed-off', { field: null, attempt: 0, result });
    assert.deepEqual(gs.verifyStatusEvent(...signedEvent(value), SECRET), value);
  }
});

test('a status event\'s signature is checked as a submission\'s', () => {
  const [body, header] = signedEvent(statusEvent('asked'));
  expectSealError(gs.verifyStatusEvent, [body, header, remember(crypto.randomBytes(32).toString('hex'))],
    /^gather-seal: submission signature is malformed or does not match$/);
  expectSealError(gs.verifyStatusEvent, [body.replace('"asked"', '"invalid"'), header, SECRET], /does not match$/);
  expectSealError(gs.verifyStatusEvent, [body, undefined, SECRET], /has no X-Gather-Seal-Signature header$/);
  const [old, oldHeader] = signedEvent(statusEvent('asked'), { t: Math.floor(Date.now() / 1000) - 301 });
  expectSealError(gs.verifyStatusEvent, [old, oldHeader, SECRET], /too old or too far in the future$/);
  assert.ok(gs.verifyStatusEvent(old, oldHeader, SECRET, { toleranceSeconds: 400 }));
  expectSealError(gs.verifyStatusEvent, [...signedEvent('[]'), SECRET], /^gather-seal: submission body is not a JSON object$/);
});

test('members other than the event\'s are left out of what comes back', () => {
  const value = { ...statusEvent('asked'), digits: '4242424242424242', note: 'x' };
  assert.deepEqual(gs.verifyStatusEvent(...signedEvent(value), SECRET), statusEvent('asked'));
  const parsed = gs.verifyStatusEvent(...signedEvent('{"__proto__":{"x":1},"callSid":"CA1","flow":"pay","field":"card","event":"asked","error":null,"attempt":1,"at":1764892800123}'), SECRET);
  assert.deepEqual(Object.keys(parsed), ['callSid', 'flow', 'field', 'event', 'error', 'attempt', 'at']);
  assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
});

test('a status event of the wrong shape is refused, naming the rule', () => {
  const handedOff = statusEvent('handed-off', { field: null, attempt: 0, result: 'success' });
  const cases = [
    [{ ...statusEvent('asked'), callSid: 'CA-1' }, /has no valid callSid$/],
    [{ ...statusEvent('asked'), callSid: undefined }, /has no valid callSid$/],
    [{ ...statusEvent('asked'), flow: 'Pay' }, /has no valid flow name$/],
    [{ ...statusEvent('asked'), flow: 7 }, /has no valid flow name$/],
    [statusEvent('typed'), /is not one of the event words$/],
    [statusEvent('Asked'), /is not one of the event words$/],
    [statusEvent('handed_off'), /is not one of the event words$/],
    [{ ...statusEvent('asked'), event: undefined }, /is not one of the event words$/],
    [statusEvent('asked', { field: null }), /field must be a field name/],
    [statusEvent('asked', { field: '__proto__' }), /field must be a field name/],
    [statusEvent('asked', { field: 'Card' }), /field must be a field name/],
    [{ ...handedOff, field: 'card' }, /field must be a field name \(null only on handed-off\)$/],
    [statusEvent('invalid'), /error must be one of the error words on invalid, and null otherwise$/],
    [statusEvent('invalid', { error: 'wrong' }), /error must be one of/],
    [statusEvent('asked', { error: 'timeout' }), /error must be one of/],
    [{ ...statusEvent('asked'), error: undefined }, /error must be one of/],
    ...[1.5, -1, 256, '1', null, undefined, Number.MAX_SAFE_INTEGER].map((attempt) =>
      [statusEvent('asked', { attempt }), /attempt must be a whole number from 0 to 255$/]),
    ...[1.5, -1, '1764892800123', null, undefined, 2 ** 53].map((at) =>
      [statusEvent('asked', { at }), /at must be a time in Unix milliseconds$/]),
    [statusEvent('asked', { masked: { last4: '4242' } }), /masked comes only with accepted or confirmed$/],
    [statusEvent('accepted', { masked: { last4: '424' } }), /^gather-seal: status event's masked: last4 must be exactly 4 digits/],
    [statusEvent('accepted', { masked: { last4: '4242', brand: 'Visa' } }), /status event's masked: brand must be one of/],
    [statusEvent('accepted', { masked: { card: { last4: '4242' } } }), /status event's masked: an entry must hold only last4 and brand$/],
    [statusEvent('accepted', { masked: null }), /status event's masked: an entry must be an object/],
    [{ ...handedOff, result: undefined }, /result comes with handed-off, and only there$/],
    [statusEvent('asked', { result: 'success' }), /result comes with handed-off, and only there$/],
    [{ ...handedOff, result: 'done' }, /result is not one of the result words$/],
    [{ ...handedOff, result: null }, /result is not one of the result words$/],
  ];
  for (const [value, rule] of cases) {
    const body = JSON.stringify(value);
    const message = expectSealError(gs.verifyStatusEvent, [body, reference.sign(body, SECRET), SECRET], EVENT_ERROR);
    assert.match(message, rule, body);
  }
});

test('verifyStatusEvent\'s arguments are verifySubmission\'s', () => {
  const [body, header] = signedEvent(statusEvent('asked'));
  expectSealError(gs.verifyStatusEvent, [body, header, 'short'], /^gather-seal: secrets must be a signing secret/);
  expectSealError(gs.verifyStatusEvent, [{ body }, header, SECRET], /^gather-seal: rawBody must be/);
  expectSealError(gs.verifyStatusEvent, [body, header, SECRET, { now: 'now' }], /^gather-seal: options.now must be/);
  assert.equal(gs.verifyStatusEvent.length, 4);
});
