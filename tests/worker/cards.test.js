'use strict';
// Card and bank fields end to end in workerd: a card-number field limited by card_types, a
// security code whose length follows the card's brand, and a US routing number, configured both
// as a wrangler.toml table (read with serde-wasm-bindgen) and as JSON text. Calls are signed by
// the twilio package; the stub application opens what it receives with node:crypto.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const h = require('./harness');

const AMEX = '378282246310005'; // Stripe's published test numbers
const VISA = '4242424242424242';
const DISCOVER = '6011111111111117'; // Luhn-valid, of a brand the flow does not take

function payFlow(then) {
  return {
    then,
    fields: [
      { name: 'card', kind: 'card-number', card_types: ['visa', 'mastercard', 'amex'], prompt: 'Card number, then pound.' },
      { name: 'cvv', kind: 'security-code', card: 'card', prompt: 'Security code.' },
    ],
  };
}

function bankFlow(then) {
  return {
    then,
    fields: [{ name: 'routing', kind: 'routing-number', prompt: 'Routing number.' }],
  };
}

/** The numDigits and finishOnKey of the <Gather> in `xml`. */
function gatherShape(xml) {
  const gather = xml.match(/<Gather\b[^>]*>/)?.[0] ?? '';
  return {
    numDigits: gather.match(/numDigits="(\d+)"/)?.[1],
    finishOnKey: gather.match(/finishOnKey="([^"]*)"/)?.[1],
  };
}

for (const [form, encode] of [
  ['a wrangler.toml table', (flows) => flows],
  ['JSON text', (flows) => JSON.stringify(flows)],
]) {
  describe(`card and bank fields, GATHER_FLOWS as ${form}`, () => {
    let both;

    before(async () => {
      both = await h.startWorkerWithBackend(
        () => ({ status: 200, type: 'text/xml', body: '<Response/>', headers: { 'X-Gather-Seal-Result': 'accepted' } }),
        {},
        { flows: (backend) => encode({ pay: payFlow({ action: backend.url }), bank: bankFlow({ action: backend.url }) }) },
      );
    });

    after(() => both?.close());

    async function pay(typed) {
      const before = both.backend.requests.length;
      const played = await h.walkCall(both.worker, typed, { path: '/gather/pay' });
      return { played, submission: both.backend.requests.slice(before)[0] };
    }

    test('an American Express card is followed by a 4-digit security code', async () => {
      const { played, submission } = await pay([AMEX, '1234']);
      assert.deepEqual(gatherShape(played.steps[1].reply.text), { numDigits: '4', finishOnKey: undefined });
      assert.equal(submission.json.result, 'success');
      assert.deepEqual(submission.opened, { card: AMEX, cvv: '1234' });
    });

    test('a Visa card is followed by a 3-digit security code; 4 digits are asked again', async () => {
      const { played, submission } = await pay([VISA, '1234', '123']);
      assert.deepEqual(gatherShape(played.steps[1].reply.text), { numDigits: '3', finishOnKey: undefined });
      assert.match(played.steps[2].reply.text, /<Say>Security code\.<\/Say>/, 'the code is asked again');
      assert.deepEqual(submission.opened, { card: VISA, cvv: '123' });
    });

    test('a valid card of a brand the flow does not take is asked again', async () => {
      const { played, submission } = await pay([DISCOVER, VISA, '123']);
      const again = played.steps[1].reply.text;
      assert.equal(h.queryOf(h.gatherAction(again)).step, 'card', 'the card is asked again');
      assert.equal(h.queryOf(h.gatherAction(again)).attempt, '2');
      assert.deepEqual(submission.opened, { card: VISA, cvv: '123' });
      h.assertCleanLog(both.worker.output(), { digits: [DISCOVER, VISA, AMEX, '1234', '123'] });
    });

    test('a routing number must pass the ABA checksum', async () => {
      const before = both.backend.requests.length;
      const played = await h.walkCall(both.worker, ['011000016', '011000015'], { path: '/gather/bank' });
      assert.equal(h.queryOf(h.gatherAction(played.steps[1].reply.text)).attempt, '2');
      const [submission] = both.backend.requests.slice(before);
      assert.deepEqual(submission.opened, { routing: '011000015' });
    });
  });
}
