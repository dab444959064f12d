// Opens the PIN that gather-seal's worker handed back to a Studio flow, and checks it.
//
// The Studio flow (examples/studio/) sends the call to the worker with a TwiML Redirect widget;
// the worker gathers and seals the PIN and redirects the call back to the flow with `result`
// and `encryptedPinDigits`. A "Run Function" widget then calls this Function with those and
// the call's SID, and branches on `verified`. Only here, inside your own service, is the PIN
// ever in clear; it is not logged and not returned.
const crypto = require('crypto');
const { openSubmission } = require('gather-seal');

exports.handler = function (context, event, callback) {
  const keys = [context.AES_SECRET, ...(context.AES_SECRET_PREVIOUS || '').split(',').filter(Boolean)];
  if (event.result !== 'success') {
    // The caller ran out of tries (too-many-attempts): let the flow route them, to an agent say.
    return callback(null, { verified: false, reason: event.result || 'missing-result' });
  }
  let pin;
  try {
    // `result` goes in too: openSubmission opens only a success (its options.results), so the
    // PIN stays shut even if the check above is ever changed. With a `verify` field in the
    // worker's flow (say `otp`), also pass `verified: event.verified` (add
    // { "key": "verified", "value": "{{widgets.secure_pin.verified}}" } to the widget's
    // parameters) and `verified: ['otp']` in the options, so a failed code never opens.
    ({ pin } = openSubmission(
      { CallSid: event.CallSid, result: event.result, encryptedPinDigits: event.encryptedPinDigits },
      keys,
      { fields: ['pin'] },
    ));
  } catch (error) {
    // error.message starts with "gather-seal:" and holds no secret.
    return callback(null, { verified: false, reason: 'unopenable' });
  }
  return callback(null, { verified: sameText(pin, expectedPinFor(event.From)) });
};

// Your own lookup; the articles' demo caller has PIN 4321.
function expectedPinFor(caller) {
  return '4321';
}

// Compared in constant time, as a secret should be.
function sameText(given, expected) {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}
