'use strict';
// GATHER_FLOWS end to end in workerd: several flows on one worker, each on its own path with
// its own fields, kinds, attempts, timeout, language, voice and sentences; the setting given
// as an object (a wrangler.toml table) or as JSON text; and every way it can be missing or
// malformed, which the caller hears as the default apology and the log names by its exact
// path, never repeating the value given. Requests are signed by the twilio package; reference
// TwiML is twilio's VoiceResponse; sealed values are opened with node:crypto.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const twilio = require('twilio');
const h = require('./harness');

const { VoiceResponse } = twilio.twiml;
const HEX = /^[0-9a-f]+$/;
const HEAD = ['callSid', 'accountSid', 'from', 'to', 'flow', 'result'];
const RELAYED = '<Response><Say>Thank you.</Say><Hangup/></Response>';

/** MMYY of a month `offset` months from the current one (UTC). */
function mmyy(offset) {
  const now = new Date();
  const months = now.getUTCFullYear() * 12 + now.getUTCMonth() + offset;
  const year = Math.floor(months / 12);
  const month = (months % 12) + 1;
  return `${String(month).padStart(2, '0')}${String(year % 100).padStart(2, '0')}`;
}
const FUTURE_EXPIRY = mmyy(13);
const PAST_EXPIRY = mmyy(-1);

const ACCOUNT_PROMPT = 'Please enter your account number, 6 to 10 digits, then press pound.';
const NUMBER_PROMPT = 'Please enter your card number, then press pound.';
const EXPIRY_PROMPT = 'Please enter the expiry date: two digits for the month, two for the year.';

/** The `login` flow: a digit range ended by #, a Luhn-checked card number, an expiry date. */
function loginFlow(action) {
  return {
    fields: [
      { name: 'account', kind: 'digits', min: 6, max: 10, prompt: ACCOUNT_PROMPT },
      { name: 'card', kind: 'card-number', prompt: NUMBER_PROMPT },
      { name: 'expiry', kind: 'expiry', prompt: EXPIRY_PROMPT },
    ],
    then: { action },
    attempts: 2,
    timeout: 7,
  };
}

const FR = {
  language: 'fr-FR',
  voice: 'Polly.Celine',
  prompt: 'Veuillez saisir votre code PIN à 4 chiffres.',
  retry: "Désolé, ce n'est pas valide.",
  goodbye: 'Désolé, nous n\'avons pas pu obtenir vos informations. Au revoir & à bientôt.',
  apology: 'Désolé, nous ne pouvons pas prendre votre appel pour le moment. Au revoir.',
  thanks: 'Merci. Votre compte est le {account} et votre solde est de {balance} "euros".',
};

/** The French flow: one PIN, every sentence in French, spoken by Céline. */
function frenchFlow(action) {
  return {
    fields: [{ name: 'pin', kind: 'digits', length: 4, prompt: FR.prompt }],
    then: { action },
    language: FR.language,
    voice: FR.voice,
    messages: { retry: FR.retry, goodbye: FR.goodbye, apology: FR.apology, thanks: FR.thanks },
  };
}

/** `<Say voice language>text</Say>` alone, as VoiceResponse writes it. */
function expectedSay(text, { voice, language }) {
  const response = new VoiceResponse();
  response.say({ voice, language }, text);
  return response.toString();
}

/** Plays a call and checks it went all the way (one webhook per entry, plus the first). */
async function call(worker, typed, path) {
  const played = await h.walkCall(worker, typed, { path });
  assert.equal(played.steps.length, typed.length + 1, 'the call stopped early');
  return { ...played, texts: played.steps.map((s) => s.reply.text), reply: played.steps[played.steps.length - 1].reply };
}

/**
 * A whole `login` call on `worker` whose action is `backend`: one bad entry at each field, then
 * a good one. Checks every TwiML step, the action URLs (on /gather/login), and the submission.
 */
async function playLogin(worker, backend) {
  backend.requests.length = 0;
  backend.answer = () => ({ status: 200, body: RELAYED, type: 'text/xml' });
  const typed = ['12345', '246810', '4111111111111112', '4111111111111111', PAST_EXPIRY, FUTURE_EXPIRY];
  const played = await call(worker, typed, '/gather/login');
  const { callSid, texts } = played;
  const actions = texts.slice(0, -1).map(h.gatherAction);
  for (const action of actions) {
    const url = new URL(action);
    assert.equal(`${url.origin}${url.pathname}`, worker.url('/gather/login'), 'the action stays on the flow\'s path');
  }
  const queries = actions.map(h.queryOf);
  const shape = (q) => Object.keys(q).join(',');
  assert.deepEqual(queries.map(shape), [
    'step,attempt',
    'step,attempt',
    'step,attempt,account',
    'step,attempt,account',
    'step,attempt,account,card',
    'step,attempt,account,card',
  ]);
  assert.deepEqual(queries.map((q) => `${q.step}/${q.attempt}`), ['account/1', 'account/2', 'card/1', 'card/2', 'expiry/1', 'expiry/2']);

  const account = { numDigits: 10, finishOnKey: '#', timeout: 7 };
  const number = { numDigits: 19, finishOnKey: '#', timeout: 7 };
  const expiry = { numDigits: 4, timeout: 7 };
  assert.equal(texts[0], h.expectedAsk({ ...account, action: worker.url('/gather/login?step=account&attempt=1'), prompts: [ACCOUNT_PROMPT] }));
  assert.equal(
    texts[1],
    h.expectedAsk({
      ...account,
      action: worker.url('/gather/login?step=account&attempt=2'),
      prompts: ['Sorry, that was not 6 to 10 digits. Press pound when you are done.', ACCOUNT_PROMPT],
    }),
  );
  assert.equal(texts[2], h.expectedAsk({ ...number, action: actions[2], prompts: [NUMBER_PROMPT] }));
  assert.equal(
    texts[3],
    h.expectedAsk({ ...number, action: actions[3], prompts: ['Sorry, that was not a valid card number. Press pound when you are done.', NUMBER_PROMPT] }),
  );
  assert.equal(texts[4], h.expectedAsk({ ...expiry, action: actions[4], prompts: [EXPIRY_PROMPT] }));
  assert.equal(texts[5], h.expectedAsk({ ...expiry, action: actions[5], prompts: ['Sorry, that was not a valid expiry date.', EXPIRY_PROMPT] }));
  assert.equal(texts[6], RELAYED);

  // Each value is sealed under this call and its own field, and carried unchanged.
  assert.equal(queries[3].account, queries[2].account);
  assert.equal(queries[5].card, queries[4].card);
  assert.equal(h.openWithNodeCrypto(queries[2].account, h.KEY, `${callSid}:account`), '246810');
  assert.equal(h.openWithNodeCrypto(queries[4].card, h.KEY, `${callSid}:card`), '4111111111111111');
  assert.equal(h.openWithNodeCrypto(queries[4].card, h.KEY, `${callSid}:account`), null);

  assert.equal(backend.requests.length, 1);
  const [request] = backend.requests;
  assert.equal(request.signed, true);
  assert.deepEqual(Object.keys(request.json), [...HEAD, 'masked', 'encryptedAccountDigits', 'encryptedCardDigits', 'encryptedExpiryDigits']);
  // What the application may show of the card: its last four digits and brand, nothing more.
  assert.deepEqual(request.json.masked, { card: { last4: '1111', brand: 'visa' } });
  assert.equal(request.json.flow, 'login');
  assert.equal(request.json.result, 'success');
  assert.equal(request.json.encryptedAccountDigits, queries[2].account);
  assert.equal(request.json.encryptedCardDigits, queries[4].card);
  assert.match(request.json.encryptedExpiryDigits, HEX);
  assert.deepEqual(request.opened, { account: '246810', card: '4111111111111111', expiry: FUTURE_EXPIRY });
  assert.equal(h.openWithNodeCrypto(request.json.encryptedExpiryDigits, h.KEY, `${callSid}:card`), null);

  const lines = await h.logLinesOf(worker, callSid, 7);
  assert.deepEqual(lines.map((l) => l.flow), Array(7).fill('login'));
  assert.deepEqual(lines.map((l) => l.step), ['start', 'account', 'account', 'card', 'card', 'expiry', 'expiry']);
  assert.deepEqual(lines.map((l) => l.outcome), ['asked', 'reprompted', 'sealed', 'reprompted', 'sealed', 'reprompted', 'handed-off']);
  return played;
}

/** The first step of the default (articles) flow on `worker`. */
async function assertDefaultFlowAsks(worker) {
  for (const path of ['/gather', '/gather/default']) {
    const reply = await h.signedPost(worker.url(path), h.callParams(h.newCallSid()));
    assert.equal(reply.status, 200);
    assert.equal(reply.text, h.expectedAsk({ action: worker.url(`${path}?step=card&attempt=1`), prompts: [h.CARD_PROMPT] }));
  }
}

describe('two flows on one worker', () => {
  let both;
  let worker;
  let backend;

  before(async () => {
    both = await h.startWorkerWithBackend(() => ({ status: 200, body: RELAYED, type: 'text/xml' }), {}, {
      flows: (b) => ({ default: h.articlesFlow({ action: b.url }), login: loginFlow(b.url) }),
    });
    ({ worker, backend } = both);
  });

  after(() => both?.close());

  test('POST /gather (and /gather/default) serves the default flow', async () => {
    await assertDefaultFlowAsks(worker);
  });

  test('POST /gather/login serves login: its fields, kinds, timeout, on its own path', async () => {
    await playLogin(worker, backend);
  });

  test('the default flow hands off as flow default with its own fields', async () => {
    backend.requests.length = 0;
    const played = await call(worker, ['1234', '4321'], '/gather');
    assert.equal(played.reply.text, RELAYED);
    for (const text of played.texts.slice(0, -1)) assert.equal(new URL(h.gatherAction(text)).pathname, '/gather');
    assert.equal(backend.requests[0].json.flow, 'default');
    assert.deepEqual(Object.keys(backend.requests[0].json), [...HEAD, 'encryptedCardDigits', 'encryptedPinDigits']);
    assert.deepEqual(backend.requests[0].opened, { card: '1234', pin: '4321' });
  });

  test("login's attempts (2): a second bad entry ends the gather, with nothing gathered", async () => {
    backend.requests.length = 0;
    const played = await call(worker, ['12345', '12345678901'], '/gather/login');
    assert.equal(played.reply.text, RELAYED);
    assert.equal(backend.requests.length, 1);
    assert.deepEqual(Object.keys(backend.requests[0].json), HEAD);
    assert.equal(backend.requests[0].json.result, 'too-many-attempts');
    assert.equal(backend.requests[0].json.flow, 'login');
  });

  test('an expiry in the past, then month 13: too many attempts, with account and card', async () => {
    backend.requests.length = 0;
    const played = await call(worker, ['0123456789', '4111111111111111', PAST_EXPIRY, '1399'], '/gather/login');
    assert.equal(played.reply.text, RELAYED);
    const [request] = backend.requests;
    assert.equal(request.json.result, 'too-many-attempts');
    assert.deepEqual(request.opened, { account: '0123456789', card: '4111111111111111' });
  });

  test('an expiry in the current month is still valid', async () => {
    backend.requests.length = 0;
    const played = await call(worker, ['246810', '4111111111111111', mmyy(0)], '/gather/login');
    assert.equal(played.reply.text, RELAYED);
    assert.equal(backend.requests[0].json.result, 'success');
    assert.equal(backend.requests[0].opened.expiry, mmyy(0));
  });

  test("a value carried in one field's place does not open in another's: 400 and nothing handed off", async () => {
    backend.requests.length = 0;
    const played = await call(worker, ['246810'], '/gather/login');
    const sealedAccount = h.queryOf(h.gatherAction(played.reply.text)).account;
    const url = worker.url(`/gather/login?step=expiry&attempt=1&account=${sealedAccount}&card=${sealedAccount}`);
    const reply = await h.signedPost(url, { ...h.callParams(played.callSid), Digits: FUTURE_EXPIRY });
    assert.equal(reply.status, 400);
    assert.equal(reply.text, h.expectedGoodbye(h.APOLOGY));
    assert.equal(backend.requests.length, 0);
  });
});

describe('a French flow: language, voice and messages', () => {
  let both;
  let worker;
  let backend;
  const speech = { language: FR.language, voice: FR.voice };

  before(async () => {
    both = await h.startWorkerWithBackend(() => ({ status: 404 }), {}, {
      flows: (b) => ({ default: h.articlesFlow({ action: b.url }), fr: frenchFlow(b.url) }),
    });
    ({ worker, backend } = both);
  });

  after(() => both?.close());

  test('<Gather language> and <Say voice language>, the retry sentence, and the thanks sentence', async () => {
    backend.answer = () => ({ status: 200, json: { account: 'AC12345678', balance: '12,55' } });
    const played = await call(worker, ['12', '9876'], '/gather/fr');
    assert.equal(
      played.texts[0],
      h.expectedAsk({ ...speech, action: worker.url('/gather/fr?step=pin&attempt=1'), prompts: [FR.prompt] }),
    );
    assert.equal(
      played.texts[1],
      h.expectedAsk({ ...speech, action: worker.url('/gather/fr?step=pin&attempt=2'), prompts: [FR.retry, FR.prompt] }),
    );
    assert.equal(
      played.reply.text,
      expectedSay('Merci. Votre compte est le AC12345678 et votre solde est de 12,55 "euros".', speech),
    );
    assert.equal(backend.requests[backend.requests.length - 1].opened.pin, '9876');
  });

  test('too many attempts and the application has nothing to add: the goodbye, escaped as VoiceResponse does', async () => {
    backend.answer = () => ({ status: 404 });
    const played = await call(worker, ['1', '', '12345'], '/gather/fr');
    assert.equal(played.reply.text, h.expectedGoodbye(FR.goodbye, speech));
    assert.match(played.reply.text, /Au revoir &amp; à bientôt/);
  });

  test('a successful gather the application cannot take: the apology', async () => {
    backend.answer = () => ({ status: 500 });
    const played = await call(worker, ['9876'], '/gather/fr');
    assert.equal(played.reply.text, h.expectedGoodbye(FR.apology, speech));
  });

  test("a broken call state: 400 with the flow's apology", async () => {
    const reply = await h.signedPost(worker.url('/gather/fr?step=nope&attempt=1'), { ...h.callParams(h.newCallSid()), Digits: '9876' });
    assert.equal(reply.status, 400);
    assert.equal(reply.text, h.expectedGoodbye(FR.apology, speech));
  });

  test('the other flow on the same worker keeps the defaults', async () => {
    backend.answer = () => ({ status: 500 });
    const played = await call(worker, ['1234', '4321'], '/gather');
    assert.equal(played.texts[0], h.expectedAsk({ action: worker.url('/gather?step=card&attempt=1'), prompts: [h.CARD_PROMPT] }));
    assert.equal(played.reply.text, h.expectedGoodbye(h.APOLOGY));
  });
});

describe('GATHER_FLOWS as JSON text', () => {
  let backend;
  let worker;

  before(async () => {
    backend = await h.startBackend(() => ({ status: 200, body: RELAYED, type: 'text/xml' }));
    const flows = { default: h.articlesFlow({ action: backend.url }), login: loginFlow(backend.url) };
    worker = await h.startWorker({
      // As pasted into the dashboard or .dev.vars: text, pretty-printed.
      GATHER_FLOWS: JSON.stringify(flows, null, 2),
      AES_SECRET: h.KEY,
      TWILIO_AUTH_TOKEN: h.TOKEN,
      BACKEND_SIGNING_SECRET: h.SIGNING_SECRET,
    });
  });

  after(async () => {
    await worker?.dispose();
    await backend?.close();
  });

  test('serves the default flow as the object does', async () => {
    await assertDefaultFlowAsks(worker);
  });

  test('serves login as the object does, step for step', async () => {
    await playLogin(worker, backend);
  });
});

describe('a missing or malformed GATHER_FLOWS', () => {
  // A valid setting to break one piece of at a time; its apology is never heard, since a
  // broken setting cannot be trusted for its sentences either.
  function base() {
    return {
      default: h.articlesFlow({ redirect: 'https://app.example.com/after' }, { messages: { apology: 'Custom apology.' } }),
      login: loginFlow('https://app.example.com/gather-result'),
    };
  }
  const change = (edit) => () => {
    const flows = base();
    edit(flows);
    return flows;
  };

  const cases = [
    ['missing', () => undefined, 'GATHER_FLOWS', []],
    ['an unknown key in a flow', change((f) => (f.login.colour = 'LeakQ7blue')), 'GATHER_FLOWS.login.colour', ['leakq7']],
    ['a length out of range', change((f) => (f.default.fields[1].length = 73519)), 'GATHER_FLOWS.default.fields[1].length', ['73519']],
    ['min above max', change((f) => Object.assign(f.login.fields[0], { min: 9, max: 8 })), 'GATHER_FLOWS.login.fields[0].max', []],
    ['an unknown kind', change((f) => (f.login.fields[2].kind = 'LeakQ7')), 'GATHER_FLOWS.login.fields[2].kind', ['leakq7']],
    ['an http:// action elsewhere than loopback', change((f) => (f.login.then.action = 'http://leakq7.example.com/x')), 'GATHER_FLOWS.login.then.action', ['leakq7']],
    [
      'a fallback with redirect',
      change((f) => (f.default.then.fallback = 'https://leakq7.example.com/fallback')),
      'GATHER_FLOWS.default.then.fallback',
      ['leakq7'],
    ],
    ['an unknown message', change((f) => (f.default.messages.hello = 'LeakQ7')), 'GATHER_FLOWS.default.messages.hello', ['leakq7']],
    ['JSON text that does not parse', () => '{"login": {"fields": [LeakQ7', 'GATHER_FLOWS', ['leakq7']],
    ['JSON text with a bad value', () => JSON.stringify(change((f) => (f.login.attempts = 73519))()), 'GATHER_FLOWS.login.attempts', ['73519']],
  ];

  for (const [what, flows, setting, markers] of cases) {
    test(`${what}: the default apology, setting ${setting} in the log, the value nowhere`, async () => {
      const bindings = { AES_SECRET: h.KEY, TWILIO_AUTH_TOKEN: h.TOKEN, BACKEND_SIGNING_SECRET: h.SIGNING_SECRET };
      const value = flows();
      if (value !== undefined) bindings.GATHER_FLOWS = value;
      // Each marker really is in what was given, so its absence from the log means something.
      for (const marker of markers) assert.ok(JSON.stringify(value).toLowerCase().includes(marker));
      const worker = await h.startWorker(bindings);
      try {
        const callSid = h.newCallSid();
        for (const path of ['/gather', '/gather/login']) {
          const reply = await h.signedPost(worker.url(path), h.callParams(callSid));
          assert.equal(reply.status, 200);
          assert.equal(reply.type, 'text/xml');
          assert.equal(reply.text, h.expectedGoodbye(h.APOLOGY));
        }
        const lines = await h.logLinesOf(worker, callSid, 2);
        assert.equal(lines.length, 2);
        for (const line of lines) {
          assert.equal(line.outcome, 'misconfigured');
          assert.equal(line.setting, setting);
          assert.equal(typeof line.problem, 'string');
          assert.equal(line.flow, null);
        }
        const output = worker.output().toLowerCase();
        for (const marker of markers) assert.ok(!output.includes(marker), `the log repeats ${marker}`);
        h.assertCleanLog(worker.output(), { secrets: [h.KEY, h.TOKEN, h.SIGNING_SECRET] });
      } finally {
        await worker.dispose();
      }
    });
  }
});

describe('BACKEND_SIGNING_SECRET', () => {
  const redirects = {
    default: h.articlesFlow({ redirect: 'https://app.example.com/after' }),
    fr: { ...frenchFlow('https://unused.example.com/'), then: { redirect: 'https://app.example.com/fr' } },
  };
  const withAction = { ...redirects, login: loginFlow('https://app.example.com/gather-result') };

  async function firstStep(bindings, path = '/gather') {
    const worker = await h.startWorker({ AES_SECRET: h.KEY, TWILIO_AUTH_TOKEN: h.TOKEN, ...bindings });
    try {
      const callSid = h.newCallSid();
      const reply = await h.signedPost(worker.url(path), h.callParams(callSid));
      const [line] = await h.logLinesOf(worker, callSid, 1);
      return { reply, line, output: worker.output() };
    } finally {
      await worker.dispose();
    }
  }

  test('missing while a flow uses action: misconfigured, even on a flow that redirects', async () => {
    const { reply, line } = await firstStep({ GATHER_FLOWS: withAction });
    assert.equal(reply.status, 200);
    assert.equal(reply.text, h.expectedGoodbye(h.APOLOGY));
    assert.equal(line.outcome, 'misconfigured');
    assert.equal(line.setting, 'BACKEND_SIGNING_SECRET');
  });

  test('31 characters: misconfigured, and the value is not logged', async () => {
    const short = 'shortsecretLeakQ7abcdefghijklmn';
    assert.equal(short.length, 31);
    const { reply, line, output } = await firstStep({ GATHER_FLOWS: withAction, BACKEND_SIGNING_SECRET: short }, '/gather/login');
    assert.equal(reply.text, h.expectedGoodbye(h.APOLOGY));
    assert.equal(line.outcome, 'misconfigured');
    assert.equal(line.setting, 'BACKEND_SIGNING_SECRET');
    assert.ok(!output.includes('LeakQ7'), 'the secret is in the log');
  });

  test('32 characters: enough', async () => {
    const { reply, line } = await firstStep({ GATHER_FLOWS: withAction, BACKEND_SIGNING_SECRET: 'x'.repeat(32) }, '/gather/login');
    assert.equal(reply.status, 200);
    assert.equal(line.outcome, 'asked');
    assert.match(reply.text, /<Gather /);
  });

  test('not required when every flow redirects: whole calls go through', async () => {
    const worker = await h.startWorker({ GATHER_FLOWS: redirects, AES_SECRET: h.KEY, TWILIO_AUTH_TOKEN: h.TOKEN });
    try {
      const played = await call(worker, ['1234', '4321'], '/gather');
      assert.match(played.reply.text, /<Redirect method="POST">https:\/\/app\.example\.com\/after\?result=success&amp;encryptedCardDigits=[0-9a-f]+&amp;encryptedPinDigits=[0-9a-f]+<\/Redirect>/);
      const fr = await call(worker, ['9876'], '/gather/fr');
      const url = new URL(fr.reply.text.match(/<Redirect method="POST">([^<]*)<\/Redirect>/)[1].replace(/&amp;/g, '&'));
      assert.equal(`${url.origin}${url.pathname}`, 'https://app.example.com/fr');
      assert.equal(h.openWithNodeCrypto(url.searchParams.get('encryptedPinDigits'), h.KEY, `${fr.callSid}:pin`), '9876');
      const lines = await h.logLinesOf(worker, fr.callSid, 2);
      assert.deepEqual(lines.map((l) => l.outcome), ['asked', 'redirected']);
      assert.ok(!worker.logLines().some((l) => l.outcome === 'misconfigured'));
    } finally {
      await worker.dispose();
    }
  });
});

describe('paths that name no flow', () => {
  let worker;

  before(async () => {
    worker = await h.startWorker({
      GATHER_FLOWS: { default: h.articlesFlow({ redirect: 'https://app.example.com/after' }), fr: { ...frenchFlow('https://x.example.com/'), then: { redirect: 'https://app.example.com/fr' } } },
      AES_SECRET: h.KEY,
      TWILIO_AUTH_TOKEN: h.TOKEN,
    });
  });

  after(() => worker?.dispose());

  for (const path of ['/gather/nope', '/gather/FR', '/gather/nope?step=card&attempt=1']) {
    test(`${path}: 404 with the default apology (unknown-flow)`, async () => {
      const callSid = h.newCallSid();
      const reply = await h.signedPost(worker.url(path), h.callParams(callSid));
      assert.equal(reply.status, 404);
      assert.equal(reply.type, 'text/xml');
      assert.equal(reply.text, h.expectedGoodbye(h.APOLOGY));
      const [line] = await h.logLinesOf(worker, callSid, 1);
      assert.equal(line.outcome, 'unknown-flow');
      assert.equal(line.flow, null);
    });
  }

  for (const path of ['/gather/a/b', '/gather/', '/gather/fr/', '/gatherfr', '/gather-x']) {
    test(`${path}: 404 Not Found, plain`, async () => {
      const before = worker.logLines().length;
      const reply = await h.signedPost(worker.url(path), h.callParams(h.newCallSid()));
      assert.equal(reply.status, 404);
      assert.match(reply.type, /^text\/plain/);
      assert.equal(reply.text, 'Not Found');
      const lines = await worker.waitForLogLines(before + 1);
      assert.equal(lines[lines.length - 1].outcome, 'unknown-path');
    });
  }
});
