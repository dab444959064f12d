'use strict';
// A backend for the worker's `action` hand-off, on Node's http module alone: the articles' demo
// lookup (card 1234 with PIN 4321) written as a real backend would be.
//
// POST (any path), the worker's signed JSON submission:
//   200 text/xml  TwiML the worker relays to the call, with X-Gather-Seal-Result: accepted when
//                 the card and PIN were right, rejected otherwise (for a flow with `limits` the
//                 worker gives the caller's try back only on accepted)
//   401           no valid X-Gather-Seal-Signature (missing, wrong, or older than 300 s)
//   409           a replay: this callSid + flow was already handed off
//   400           the values are missing or do not open for this call
// Every answer says X-Gather-Seal-Result: accepted only for the right values, rejected for
// anything else (wrong values, a result other than success, unopenable, refused).
// Settings (environment): BACKEND_SIGNING_SECRET, the worker's; AES_SECRET and, during a
// rotation, AES_SECRET_PREVIOUS (comma-separated), the worker's keys. Nothing is logged, and no
// answer repeats what was sent.

const http = require('node:http');
const { verifySubmission, openSubmission } = require('gather-seal');

const MAX_BODY = 64 * 1024;
// A signature is accepted up to 300 s either side of its time, so a copy of a submission can
// come back as late as 600 s after the original: remember each one that long.
const REPLAY_WINDOW_MS = 600_000;

const FOUND = 'Thank you. Your account number is AC12345678 and your balance is 12.55';
const NOT_FOUND = 'We were not able to locate you in our system. Goodbye.';
const NO_DETAILS = 'Sorry, we could not get your details. Goodbye.';

// What the worker reads from the answer: with a flow's `limits`, only `accepted` gives the
// caller's try back; `rejected`, or no header at all, counts the call as a failed try.
const RESULT_HEADER = 'X-Gather-Seal-Result';
const ACCEPTED = { [RESULT_HEADER]: 'accepted' };
const REJECTED = { [RESULT_HEADER]: 'rejected' };

/** An http.Server (not yet listening) answering with the settings in `env`. */
function createServer(env = process.env) {
  const secret = env.BACKEND_SIGNING_SECRET;
  const keys = [env.AES_SECRET, ...(env.AES_SECRET_PREVIOUS || '').split(',')]
    .map((key) => (key || '').trim())
    .filter((key) => key.length > 0);
  if (typeof secret !== 'string' || secret.length < 32) {
    throw new Error('BACKEND_SIGNING_SECRET must be set, at least 32 characters (the worker\'s)');
  }
  if (!env.AES_SECRET || !keys.every((key) => /^[0-9a-fA-F]{64}$/.test(key))) {
    throw new Error('AES_SECRET (and AES_SECRET_PREVIOUS) must be keys of 64 hex characters');
  }
  const seen = firstSeen();

  return http.createServer(async (req, res) => {
    try {
      if (req.method !== 'POST') return send(res, 405);
      const body = await readBody(req);
      if (body === null) return send(res, 413);

      let submission;
      try {
        submission = verifySubmission(body, req.headers['x-gather-seal-signature'], secret);
      } catch {
        return send(res, 401);
      }
      const { callSid, flow, result } = submission;
      if (typeof callSid !== 'string' || typeof flow !== 'string') return send(res, 400);
      if (!seen(`${callSid}:${flow}`)) return send(res, 409);

      // The caller gave up, or a one-time code failed: nothing to look up.
      if (result !== 'success') return say(res, NO_DETAILS, true, REJECTED);
      let digits;
      try {
        // Strict: only a success opens (options.results), and both values must be there.
        digits = openSubmission(submission, keys, { fields: ['card', 'pin'] });
      } catch {
        return send(res, 400);
      }
      if (digits.card === '1234' && digits.pin === '4321') return say(res, FOUND, false, ACCEPTED);
      return say(res, NOT_FOUND, true, REJECTED);
    } catch {
      return send(res, 500);
    }
  });
}

/**
 * A check that says true the first time it sees an id within REPLAY_WINDOW_MS, false after.
 * It lives in this process's memory: with several processes, or across restarts, keep the ids
 * in a shared store instead (e.g. Redis `SET id 1 NX EX 600`).
 */
function firstSeen() {
  const seen = new Map(); // id → when, oldest first
  return (id) => {
    const now = Date.now();
    for (const [old, at] of seen) {
      if (now - at < REPLAY_WINDOW_MS) break;
      seen.delete(old);
    }
    if (seen.has(id)) return false;
    seen.set(id, now);
    return true;
  };
}

/** The body's bytes as received (the signature covers them exactly), or null past MAX_BODY. */
async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  }
  return size <= MAX_BODY ? Buffer.concat(chunks) : null;
}

/** An answer without TwiML; it always says rejected. */
function send(res, status) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...REJECTED });
  res.end(`${http.STATUS_CODES[status]}\n`);
}

/** TwiML that says one of the fixed sentences above (nothing from the request: no escaping). */
function say(res, sentence, hangUp, verdict) {
  res.writeHead(200, { 'Content-Type': 'text/xml', ...verdict });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Response><Say>${sentence}</Say>${hangUp ? '<Hangup/>' : ''}</Response>`);
}

module.exports = { createServer };

if (require.main === module) {
  const port = Number(process.env.PORT || 3000);
  createServer().listen(port, () => console.log(`node-backend: listening on port ${port}`));
}
