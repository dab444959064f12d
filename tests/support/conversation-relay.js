'use strict';
// A stand-in for Twilio's ConversationRelay, for tests of the worker's sealing relay
// (`GET /relay/<name>`): it opens the WebSocket as Twilio would, speaks the messages Twilio
// sends, and checks every message it is sent against the messages Twilio accepts.
//
// The message types and their fields are those of Twilio's "Getting and sending WebSocket
// messages" page, https://www.twilio.com/docs/voice/conversationrelay/websocket-messages (read
// 2026-12-04; also as
// https://docs-dev.vercel.app/docs/voice/conversationrelay/websocket-messages.md).
// Where a field's type is not spelled out, it is the type of the page's example value. Two
// things the page itself is not consistent about, decided here:
// - `durationUntilInterruptMs` is the number 460 in one copy of the page and the string "460"
//   in the other; this stand-in sends a number (as the Rust relay tests do) and accepts only
//   what it sends itself.
// - `interruptible` was a boolean and became "none" | "dtmf" | "speech" | "any" with booleans
//   still accepted (Twilio changelog, 2025-04-01); both are accepted.
//
// Usage (the X-Twilio-Signature header is the caller's to compute, e.g. with the `twilio`
// package: `getExpectedTwilioSignature(authToken, url, {})`):
//
//   const relay = await connect(url, { headers: { 'X-Twilio-Signature': sig } });
//   const prompt = await relay.nextMessage('text');
//   relay.press('1234#');
//   …
//   relay.assertClean();
//   await relay.close();

const crypto = require('node:crypto');
const WebSocket = require('ws');

// A field's kind: what a value must be.
const KINDS = {
  string: (v) => typeof v === 'string',
  boolean: (v) => typeof v === 'boolean',
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  'whole number': (v) => Number.isInteger(v) && v >= 0,
  'boolean or one of "none", "dtmf", "speech", "any"': (v) =>
    typeof v === 'boolean' || ['none', 'dtmf', 'speech', 'any'].includes(v),
  'object of strings': (v) =>
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    Object.values(v).every((s) => typeof s === 'string'),
};
const INTERRUPTIBLE = 'boolean or one of "none", "dtmf", "speech", "any"';

// Messages ConversationRelay sends the application: type → field → kind. A name ending in "?"
// is optional. `type` itself is implied.
const FROM_TWILIO = {
  setup: {
    sessionId: 'string',
    accountSid: 'string',
    parentCallSid: 'string',
    callSid: 'string',
    from: 'string',
    to: 'string',
    forwardedFrom: 'string',
    callType: 'string',
    callerName: 'string',
    direction: 'string',
    callStatus: 'string',
    customParameters: 'object of strings',
  },
  prompt: { voicePrompt: 'string', lang: 'string', last: 'boolean' },
  dtmf: { digit: 'string' },
  interrupt: { utteranceUntilInterrupt: 'string', durationUntilInterruptMs: 'number' },
  error: { description: 'string' },
};

// Messages the application may send ConversationRelay (the only ones a relay may send it).
const TO_TWILIO = {
  text: {
    token: 'string',
    last: 'boolean',
    'lang?': 'string',
    'interruptible?': INTERRUPTIBLE,
    'preemptible?': 'boolean',
  },
  play: {
    source: 'string',
    'loop?': 'whole number',
    'preemptible?': 'boolean',
    'interruptible?': INTERRUPTIBLE,
  },
  sendDigits: { digits: 'string' },
  language: { 'ttsLanguage?': 'string', 'transcriptionLanguage?': 'string' },
  end: { 'handoffData?': 'string' },
};

/**
 * What is wrong with `message` as one of `schemas` (FROM_TWILIO or TO_TWILIO): a list of
 * sentences, empty when it is a documented message with the documented fields.
 */
function problemsWith(schemas, message) {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    return ['not a JSON object'];
  }
  const fields = Object.hasOwn(schemas, message.type) ? schemas[message.type] : null;
  if (!fields) return [`unknown type ${JSON.stringify(message.type)}`];
  const problems = [];
  const known = new Set(['type']);
  for (const [spec, kind] of Object.entries(fields)) {
    const optional = spec.endsWith('?');
    const name = optional ? spec.slice(0, -1) : spec;
    known.add(name);
    if (!Object.hasOwn(message, name)) {
      if (!optional) problems.push(`${message.type}: missing "${name}"`);
    } else if (!KINDS[kind](message[name])) {
      const got = message[name] === null ? 'null' : typeof message[name];
      problems.push(`${message.type}: "${name}" must be a ${kind}, got ${got}`);
    }
  }
  for (const name of Object.keys(message)) {
    if (!known.has(name)) problems.push(`${message.type}: unknown field "${name}"`);
  }
  return problems;
}

/** Problems with a message sent to ConversationRelay (see problemsWith). */
const problemsToTwilio = (message) => problemsWith(TO_TWILIO, message);

/**
 * Messages received on one socket, and tests waiting for some of them. A message handed to one
 * `next` is not handed to another, so a test can take the messages it expects one by one,
 * whether they arrived before or after it asked.
 */
class MessageInbox {
  constructor(label) {
    this.label = label;
    /** Every message, in order of arrival. */
    this.all = [];
    this.taken = new Set();
    this.waiters = new Set();
    this.endedWith = null;
  }

  push(message) {
    this.all.push(message);
    for (const waiter of this.waiters) {
      if (this.taken.has(message)) break;
      waiter.offer(message);
    }
  }

  /** Rejects every waiter now and later ones that find nothing: the socket is gone. */
  end(why) {
    this.endedWith = why;
    for (const waiter of [...this.waiters]) waiter.fail(why);
  }

  /**
   * The first message not yet taken that `predicate` accepts (a function, or a type as a
   * string), waiting at most `timeoutMs`.
   */
  next(predicate, timeoutMs) {
    const matches = typeof predicate === 'string' ? (m) => m?.type === predicate : predicate;
    const wanted =
      typeof predicate === 'string' ? `type "${predicate}"` : String(predicate).slice(0, 120);
    return new Promise((resolve, reject) => {
      const waiter = {
        offer: (message) => {
          if (!matches(message)) return;
          this.taken.add(message);
          done();
          resolve(message);
        },
        fail: (why) => {
          done();
          reject(new Error(`${this.label}: ${why} before a message matching ${wanted}`));
        },
      };
      const timer = setTimeout(() => {
        done();
        const types = this.all.map((m) => m?.type ?? '(no type)').join(', ') || 'none';
        reject(
          new Error(
            `${this.label}: no message matching ${wanted} within ${timeoutMs} ms ` +
              `(received so far: ${types})`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      for (const message of this.all) {
        if (this.taken.has(message)) continue;
        waiter.offer(message);
        if (this.taken.has(message)) return;
      }
      if (this.endedWith) return waiter.fail(this.endedWith);
      this.waiters.add(waiter);
    });
  }
}

/** Letters only, so that no typed digit can hide in an id (see plaintext.js). */
function letterSid(prefix) {
  let sid = prefix;
  for (const byte of crypto.randomBytes(32)) sid += 'abcdef'[byte % 6];
  return sid;
}

/** A setup message as the page shows one, with `overrides` laid over it. */
function setupMessage(overrides = {}) {
  return {
    type: 'setup',
    sessionId: letterSid('VX'),
    accountSid: letterSid('AC'),
    parentCallSid: '',
    callSid: letterSid('CA'),
    from: '+15005550006',
    to: '+15005550001',
    forwardedFrom: '',
    callType: 'PSTN',
    callerName: '',
    direction: 'inbound',
    callStatus: 'IN-PROGRESS',
    customParameters: {},
    ...overrides,
  };
}

/** One ConversationRelay session, connected. Made by `connect`. */
class ConversationRelayStandIn {
  constructor(socket, setup) {
    this.socket = socket;
    /** The setup message sent, or null when `setup: false` was asked for. */
    this.setup = setup;
    this.inbox = new MessageInbox('ConversationRelay stand-in');
    /** Every message received, parsed (a frame that is not JSON is kept as `{ raw }`). */
    this.messages = this.inbox.all;
    /** Every way a received message broke the documented protocol, as sentences. */
    this.violations = [];
    /** Resolves with `{ code, reason }` when the socket has closed, whoever closed it. */
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        const info = { code, reason: reason.toString() };
        this.inbox.end(`connection closed (code ${code})`);
        resolve(info);
      });
    });
    socket.on('message', (data, isBinary) => this.#receive(data, isBinary));
  }

  #receive(data, isBinary) {
    const text = data.toString();
    if (isBinary) {
      this.violations.push(`a binary frame (${data.length} bytes): Twilio takes JSON text`);
      this.inbox.push({ raw: text });
      return;
    }
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      this.violations.push(`not JSON: ${text.slice(0, 200)}`);
      this.inbox.push({ raw: text });
      return;
    }
    for (const problem of problemsToTwilio(message)) {
      this.violations.push(`${problem} in ${text.slice(0, 200)}`);
    }
    this.inbox.push(message);
  }

  /** Sends a message Twilio would send; refuses (throws) one the page does not document. */
  #send(message) {
    const problems = problemsWith(FROM_TWILIO, message);
    if (problems.length) {
      throw new TypeError(`not a message ConversationRelay sends: ${problems.join('; ')}`);
    }
    this.socket.send(JSON.stringify(message));
  }

  /** The caller says `text`: a prompt message (a final transcript unless `last: false`). */
  say(text, { lang = 'en-US', last = true } = {}) {
    this.#send({ type: 'prompt', voicePrompt: text, lang, last });
  }

  /** The caller presses keys: one dtmf message per key, in order. */
  press(digits) {
    const keys = [...String(digits)];
    const bad = keys.find((key) => !/^[0-9*#A-D]$/.test(key));
    if (bad !== undefined) throw new TypeError(`"${bad}" is not a DTMF key`);
    for (const digit of keys) this.#send({ type: 'dtmf', digit });
  }

  /** The caller speaks over the text being played. */
  interrupt({ utteranceUntilInterrupt = 'Please enter', durationUntilInterruptMs = 460 } = {}) {
    this.#send({ type: 'interrupt', utteranceUntilInterrupt, durationUntilInterruptMs });
  }

  /** ConversationRelay reports an error, as it does for a message it cannot take. */
  error(description = 'Invalid message received') {
    this.#send({ type: 'error', description });
  }

  /** Sends anything, unchecked: for tests of what the relay does with a broken peer. */
  sendRaw(data) {
    this.socket.send(typeof data === 'string' ? data : JSON.stringify(data));
  }

  /** The next message received that `predicate` accepts (see MessageInbox.next). */
  nextMessage(predicate, timeoutMs = 5000) {
    return this.inbox.next(predicate, timeoutMs);
  }

  /** Throws, listing them, if any received message broke the documented protocol. */
  assertClean() {
    if (this.violations.length) {
      const count = this.violations.length;
      throw new Error(
        `ConversationRelay was sent undocumented messages (${count} problems):\n  ` +
          this.violations.join('\n  '),
      );
    }
  }

  /** Hangs up: closes the socket and resolves when it has closed. */
  close(code = 1000, reason = '') {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(code, reason);
    else if (this.socket.readyState === WebSocket.CONNECTING) this.socket.terminate();
    return this.closed;
  }
}

/**
 * Opens `url` as ConversationRelay would and, unless `setup: false`, sends the setup message
 * first. Options: `headers` (X-Twilio-Signature among them, computed by the caller), `setup`
 * (fields laid over the default setup message, or false), `timeoutMs` for the handshake.
 * Rejects if the upgrade is refused, with `status` and `body` on the error.
 */
function connect(url, { headers = {}, setup = {}, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers, handshakeTimeout: timeoutMs });
    socket.once('unexpected-response', (request, response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => {
        const error = new Error(`upgrade to ${url} refused: HTTP ${response.statusCode}`);
        Object.assign(error, { status: response.statusCode, body });
        reject(error);
        request.destroy();
      });
    });
    socket.once('error', reject);
    socket.once('open', () => {
      socket.off('error', reject);
      socket.on('error', () => {}); // a later error also closes; `closed` reports it
      const message = setup === false ? null : setupMessage(setup);
      const standIn = new ConversationRelayStandIn(socket, message);
      try {
        if (message) standIn.sendRaw(checked(message));
      } catch (error) {
        socket.terminate();
        return reject(error);
      }
      resolve(standIn);
    });
  });
}

function checked(setup) {
  const problems = problemsWith(FROM_TWILIO, setup);
  if (problems.length) throw new TypeError(`setup overrides: ${problems.join('; ')}`);
  return setup;
}

module.exports = {
  connect,
  setupMessage,
  problemsToTwilio,
  problemsFromTwilio: (message) => problemsWith(FROM_TWILIO, message),
  FROM_TWILIO,
  TO_TWILIO,
  MessageInbox,
};
