// decrypt-gather: a stand-in for your own backend, the only place the digits are opened.
// Public, like an external service would be; a real backend also authenticates its caller.
//
// POST application/json {callSid, encryptedCardDigits, encryptedPinDigits}
//   200 {account, balance}  the demo caller (card 1234, PIN 4321)
//   404 {error}             anyone else
//   400 {error}             missing fields, or a value that does not open under the key ring
//                           and the call's context (wrong key, tampered, or from another call)
//   500 {error}             AES_SECRET or AES_SECRET_PREVIOUS is not set up right
// No answer and no log line ever contains the digits or the sealed values.

const { decrypt } = require('gather-seal');

const KEY = /^[0-9a-fA-F]{64}$/;
const CALL_SID = /^CA[0-9a-fA-F]{32}$/;

// Hard-coded demo data: the one caller this backend knows.
const DEMO_CARD = '1234';
const DEMO_PIN = '4321';
const DEMO_ACCOUNT = { account: 'AC12345678', balance: '12.55' };

exports.handler = function (context, event, callback) {
  const keys = keyRing(context);
  if (!keys) {
    console.error('decrypt-gather: AES_SECRET / AES_SECRET_PREVIOUS must be 64 hex characters each');
    return callback(null, json(500, { error: 'server misconfigured' }));
  }

  const { callSid, encryptedCardDigits, encryptedPinDigits } = event;
  if (
    typeof callSid !== 'string' || !CALL_SID.test(callSid) ||
    typeof encryptedCardDigits !== 'string' || typeof encryptedPinDigits !== 'string'
  ) {
    return callback(null, json(400, { error: 'expected callSid, encryptedCardDigits, encryptedPinDigits' }));
  }

  let card;
  let pin;
  try {
    card = decrypt(encryptedCardDigits, keys, { context: `${callSid}:card` });
    pin = decrypt(encryptedPinDigits, keys, { context: `${callSid}:pin` });
  } catch (error) {
    return callback(null, json(400, { error: 'sealed values do not open' }));
  }

  if (card === DEMO_CARD && pin === DEMO_PIN) {
    return callback(null, json(200, DEMO_ACCOUNT));
  }
  return callback(null, json(404, { error: 'not found' }));
};

// The current key first, then the older ones still accepted during a rotation.
function keyRing(context) {
  const current = (context.AES_SECRET || '').trim();
  const previous = (context.AES_SECRET_PREVIOUS || '')
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key.length > 0);
  const keys = [current, ...previous];
  return keys.every((key) => KEY.test(key)) ? keys : null;
}

function json(statusCode, body) {
  const response = new Twilio.Response();
  response.setStatusCode(statusCode);
  response.appendHeader('Content-Type', 'application/json');
  response.setBody(body);
  return response;
}
