// encrypted-gather: the voice webhook of the phone number. Protected: on Twilio only requests
// that carry a valid X-Twilio-Signature reach it (the `.protected.js` suffix sets that on deploy;
// the function's URL is still /encrypted-gather).
//
// The call runs in three steps, each one a request from Twilio:
//   card    ask for the last 4 digits of the payment card
//   pin     seal the card digits, ask for the 4-digit PIN; the sealed card digits ride along in
//           the next action URL, so only ciphertext ever sits in Twilio's request logs
//   lookup  seal the PIN, send both sealed values to the backend, read out what it answers
//
// Digits are sealed the moment they arrive and are never logged: console output from a Function
// is kept in Twilio's debugger.

const { encrypt } = require('gather-seal');

const FOUR_DIGITS = /^[0-9]{4}$/;
const CALL_SID = /^CA[0-9a-fA-F]{32}$/;
const SEALED = /^[0-9a-fA-F]+$/;
const BACKEND_TIMEOUT_MS = 5000;

const SAY_CARD = 'Please enter the last 4 digits of your payment card number.';
const SAY_PIN = 'Please enter your 4 digit PIN.';
const SAY_NOT_FOUR = 'Sorry, that was not 4 digits.';
const SAY_NO_INPUT = 'We did not receive any input. Goodbye.';
const SAY_NOT_FOUND = 'We were not able to locate you in our system. Goodbye.';
const SAY_UNAVAILABLE = 'Sorry, we cannot check your details right now. Please call again later.';

exports.handler = async function (context, event, callback) {
  const twiml = new Twilio.twiml.VoiceResponse();
  const callSid = typeof event.CallSid === 'string' ? event.CallSid : '';
  if (!CALL_SID.test(callSid)) {
    twiml.hangup();
    return callback(null, twiml);
  }

  const digits = typeof event.Digits === 'string' ? event.Digits : '';
  const sealedCard = typeof event.encryptedCardDigits === 'string' ? event.encryptedCardDigits : '';

  try {
    switch (event.step) {
      case 'pin':
        if (!FOUR_DIGITS.test(digits)) {
          twiml.say(SAY_NOT_FOUR);
          gatherCard(twiml);
          break;
        }
        gatherPin(twiml, encrypt(digits, context.AES_SECRET, { context: `${callSid}:card` }));
        break;

      case 'lookup':
        if (!SEALED.test(sealedCard)) {
          // The sealed card digits are missing or mangled: start the call over.
          gatherCard(twiml);
          break;
        }
        if (!FOUR_DIGITS.test(digits)) {
          twiml.say(SAY_NOT_FOUR);
          gatherPin(twiml, sealedCard);
          break;
        }
        await lookUpCaller(twiml, context, {
          callSid,
          encryptedCardDigits: sealedCard,
          encryptedPinDigits: encrypt(digits, context.AES_SECRET, { context: `${callSid}:pin` }),
        });
        break;

      default:
        gatherCard(twiml);
    }
  } catch (error) {
    // gather-seal's messages never contain the input; still, name only the step and the kind.
    console.error(`encrypted-gather: step "${stepName(event.step)}" failed (${error.name})`);
    const fallback = new Twilio.twiml.VoiceResponse();
    fallback.say(SAY_UNAVAILABLE);
    fallback.hangup();
    return callback(null, fallback);
  }

  return callback(null, twiml);
};

function gatherCard(twiml) {
  gatherFourDigits(twiml, { step: 'pin' }, SAY_CARD);
}

function gatherPin(twiml, encryptedCardDigits) {
  gatherFourDigits(twiml, { step: 'lookup', encryptedCardDigits }, SAY_PIN);
}

function gatherFourDigits(twiml, query, prompt) {
  const gather = twiml.gather({
    // Relative to this function's URL, so the same code runs under twilio-run and on Twilio.
    action: `encrypted-gather?${new URLSearchParams(query)}`,
    method: 'POST',
    input: 'dtmf',
    numDigits: 4,
    timeout: 10,
  });
  gather.say(prompt);
  // Reached only when the caller entered nothing before the timeout.
  twiml.say(SAY_NO_INPUT);
  twiml.hangup();
}

async function lookUpCaller(twiml, context, sealed) {
  let response;
  try {
    response = await fetch(backendUrl(context), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(sealed),
      signal: AbortSignal.timeout(BACKEND_TIMEOUT_MS),
    });
  } catch (error) {
    console.error(`encrypted-gather: backend unreachable (${error.name})`);
    twiml.say(SAY_UNAVAILABLE);
    twiml.hangup();
    return;
  }

  const answer = response.ok ? await response.json().catch(() => null) : null;
  if (answer && typeof answer.account === 'string' && typeof answer.balance === 'string') {
    twiml.say(
      `Thank you. Your account number is ${answer.account} and your balance is ${answer.balance}.`,
    );
    twiml.hangup();
  } else if (response.status === 404) {
    twiml.say(SAY_NOT_FOUND);
    twiml.hangup();
  } else {
    console.error(`encrypted-gather: backend answered ${response.status}`);
    twiml.say(SAY_UNAVAILABLE);
    twiml.hangup();
  }
}

// The demo backend is decrypt-gather on this same service; BACKEND_URL points elsewhere.
// Locally twilio-run sets DOMAIN_NAME to localhost:<port>, which speaks plain HTTP.
function backendUrl(context) {
  if (context.BACKEND_URL) return context.BACKEND_URL;
  const local = /^(localhost|127\.0\.0\.1)(:[0-9]+)?$/.test(context.DOMAIN_NAME);
  return `${local ? 'http' : 'https'}://${context.DOMAIN_NAME}/decrypt-gather`;
}

function stepName(step) {
  return ['pin', 'lookup'].includes(step) ? step : 'card';
}
