// The call simulator (development build only): plays Twilio's side of a call as
// scripts/call.js does (the first POST with the call's parameters, then each <Gather>'s action
// with Digits, following <Redirect>s to this worker's /gather routes, until a hang-up or a
// hand-off), each request signed by the worker's POST /simulator/sign, and shows each step.
// Plain JavaScript, no framework; every value goes into the page as text, never as markup.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const MAX_STEPS = 30;
  // hex(nonce 12 ‖ ciphertext ‖ tag 16): at least 58 hex characters.
  const SEALED = /[0-9A-Fa-f]{58,}/g;
  // Entries shorter than this (a menu choice, a "1 to confirm") are not looked for: they
  // would be found in any small number (attempt=1).
  const CHECKED_LENGTH = 3;
  const DTMF = {
    1: [697, 1209], 2: [697, 1336], 3: [697, 1477],
    4: [770, 1209], 5: [770, 1336], 6: [770, 1477],
    7: [852, 1209], 8: [852, 1336], 9: [852, 1477],
    '*': [941, 1209], 0: [941, 1336], '#': [941, 1477],
  };

  let flows = [];
  let relays = [];
  let current = null;
  let audio = null;
  let captions = 0;

  // ── The plaintext check: the rules of tests/support/plaintext.js ──────────────────────────
  const ALNUM = /[A-Za-z0-9]/;
  const MACHINE_NUMBERS = [
    /((?:\/\/(?:[^/\s?#@]*@)?[^/\s?#:@]*|\blocalhost|(?<![0-9.])\d{1,3}(?:\.\d{1,3}){3}|\]):)(\d{1,5})(?![0-9])/g,
    /()((?<![0-9])(?:\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?)?|\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?)(?![0-9]))/g,
  ];

  function withoutMachineNumbers(text) {
    let out = text;
    for (const pattern of MACHINE_NUMBERS) {
      out = out.replace(pattern, (_, before, number) => before + number.replace(/[0-9]/g, 'n'));
    }
    return out;
  }

  function forms(typed) {
    const escaped = typed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const all = [escaped];
    const sep = '(?:, |[ ,-])';
    if (/^[0-9]{2,}$/.test(typed)) all.push(`(?<![0-9]${sep})${[...typed].join(sep)}(?!${sep}[0-9])`);
    return all.map((form) => new RegExp(form, 'g'));
  }

  /** Where `typed` occurs in `text` as a whole run (percent-escapes decoded), or null. */
  function findTyped(text, typed) {
    const decoded = text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
    const looked = withoutMachineNumbers(decoded);
    for (const form of forms(typed)) {
      for (const match of looked.matchAll(form)) {
        const before = looked[match.index - 1];
        const after = looked[match.index + match[0].length];
        const boundedBefore = before === undefined || !ALNUM.test(before) || !ALNUM.test(match[0][0]);
        const boundedAfter = after === undefined || !ALNUM.test(after) || !ALNUM.test(match[0].at(-1));
        if (boundedBefore && boundedAfter) return match[0];
      }
    }
    return null;
  }

  /** The runs of digits of the call's entries that the check looks for. */
  function checkedRuns(entries) {
    const runs = new Set();
    for (const entry of entries) {
      for (const run of entry.split(/[^0-9]+/)) if (run.length >= CHECKED_LENGTH) runs.add(run);
    }
    return [...runs];
  }

  // A card number's last four digits are what masked views show, and only there: a status
  // event's or submission's "last4", a redirect's <field>_last4, the read-back "ending in 4 2 4 2".
  const MASKED_VIEWS = [/"last4"\s*:\s*"[0-9]{4}"/g, /_last4=[0-9]{4}(?![0-9])/g, /ending in [0-9](?: [0-9]){3}(?![0-9])/g];
  /** The last four digits of each card number typed (an entry of 12 digits or more). */
  function cardLastFours(entries) {
    const fours = new Set();
    for (const entry of entries) {
      const digits = entry.replace(/[^0-9]/g, '');
      if (digits.length >= 12) fours.add(digits.slice(-4));
    }
    return [...fours];
  }

  /** `text` with its masked views blanked: where a card's last four may be. */
  function withoutMaskedViews(text) {
    return MASKED_VIEWS.reduce((out, pattern) => out.replace(pattern, (m) => m.replace(/[0-9]/g, 'n')), text);
  }

  /** `[where, text]` pairs checked for every run; a ✓ or ✗ paragraph saying what was found. */
  function checkParagraph(call, texts, what) {
    const runs = checkedRuns(call.entries);
    const fours = cardLastFours(call.entries);
    const found = [];
    for (const [where, text] of texts) {
      for (const run of runs) {
        const hit = findTyped(text, run);
        if (hit) found.push(`${where} holds the typed "${hit}"`);
      }
      const unmasked = withoutMaskedViews(text);
      for (const four of fours) {
        const hit = findTyped(unmasked, four);
        if (hit) found.push(`${where} holds a card's last four "${hit}" outside a masked view`);
      }
    }
    const p = el('p', { class: `check ${found.length ? 'fail' : 'pass'}` });
    if (found.length) {
      p.textContent = `✗ Typed digits found: ${found.join('; ')}.`;
    } else if (runs.length === 0) {
      p.textContent = `✓ Nothing typed yet to look for in ${what}.`;
    } else {
      const masked = fours.length ? `; a card's last four only in masked views (last4, _last4, the read-back)` : '';
      p.textContent = `✓ No typed entry (${runs.length} so far) in ${what}${masked}.`;
    }
    return { p, ok: found.length === 0 };
  }

  // ── Building the page: text only ─────────────────────────────────────────────────────────
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    for (const child of children) node.append(child);
    return node;
  }

  /** `text`, its sealed values (long hex) wrapped in <mark class="sealed">. */
  function marked(text) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(SEALED)) {
      fragment.append(text.slice(last, match.index));
      fragment.append(el('mark', { class: 'sealed', title: 'sealed value: AES-256-GCM ciphertext' }, match[0]));
      last = match.index + match[0].length;
    }
    fragment.append(text.slice(last));
    return fragment;
  }

  function table(rows, className, caption) {
    const body = el('tbody');
    for (const [name, value, rowClass] of rows) {
      const tr = el('tr', rowClass ? { class: rowClass } : {}, el('th', { scope: 'row' }, name), el('td', {}, marked(value)));
      body.append(tr);
    }
    // A figure's caption rather than the table's: a caption is as narrow as the table.
    const id = `caption-${++captions}`;
    return el('figure', {}, el('figcaption', { id }, caption), el('table', { class: className, 'aria-labelledby': id }, body));
  }

  function setState(state, message) {
    document.body.dataset.state = state;
    if (message !== undefined) $('status').textContent = message;
  }

  // ── Sound: DTMF tones and speech, both optional ──────────────────────────────────────────
  const muted = () => $('mute').checked;

  function tone(key) {
    if (muted() || !DTMF[key]) return;
    try {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return;
      audio = audio || new Context();
      if (audio.state === 'suspended') audio.resume().catch(() => {});
      const t = audio.currentTime;
      const gain = audio.createGain();
      gain.gain.setValueAtTime(0, t);
      gain.gain.linearRampToValueAtTime(0.1, t + 0.01);
      gain.gain.setValueAtTime(0.1, t + 0.12);
      gain.gain.linearRampToValueAtTime(0, t + 0.14);
      gain.connect(audio.destination);
      for (const frequency of DTMF[key]) {
        const oscillator = audio.createOscillator();
        oscillator.frequency.value = frequency;
        oscillator.connect(gain);
        oscillator.start(t);
        oscillator.stop(t + 0.15);
      }
    } catch {
      // No audio here: the key counts all the same.
    }
  }

  const canSpeak = () => 'speechSynthesis' in window && typeof window.SpeechSynthesisUtterance === 'function';

  function silence() {
    try {
      if (canSpeak()) window.speechSynthesis.cancel();
    } catch {
      // nothing to stop
    }
  }

  /** Speaks `sayings` ([{text, language}]) in order; `onQuiet` when done, failed or muted. */
  function speak(sayings, { onStart, onQuiet }) {
    if (muted() || sayings.length === 0 || !canSpeak()) return onQuiet();
    try {
      const synth = window.speechSynthesis;
      synth.cancel();
      const voices = synth.getVoices();
      sayings.forEach(({ text, language }, i) => {
        const utterance = new SpeechSynthesisUtterance(text);
        utterance.lang = language;
        const voice = voices.find((v) => v.lang === language) || voices.find((v) => v.lang.split('-')[0] === language.split('-')[0]);
        if (voice) utterance.voice = voice;
        if (i === 0) utterance.onstart = onStart;
        if (i === sayings.length - 1) {
          utterance.onend = onQuiet;
          utterance.onerror = onQuiet;
        }
        synth.speak(utterance);
      });
    } catch {
      onQuiet();
    }
  }

  // ── Talking to the worker ────────────────────────────────────────────────────────────────
  async function getJson(path) {
    const response = await fetch(path, { headers: { Accept: 'application/json' } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `${path} answered ${response.status}`);
    return body;
  }

  /** POSTs `params` to `url` as Twilio would, signed by the worker's development signing step. */
  async function twilioPost(url, params) {
    const response = await fetch('/simulator/sign', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ url, params }),
    });
    const signed = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(`the signing step refused: ${signed.error || response.status}`);
    const reply = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signed.signature },
      body: new URLSearchParams(params).toString(),
    });
    return { signature: signed.signature, status: reply.status, type: reply.headers.get('content-type') || '', body: await reply.text() };
  }

  // ── TwiML ────────────────────────────────────────────────────────────────────────────────
  function parseTwiml(text) {
    const doc = new DOMParser().parseFromString(text, 'text/xml');
    if (doc.getElementsByTagName('parsererror').length > 0) return null;
    return doc.documentElement && doc.documentElement.tagName === 'Response' ? doc : null;
  }

  const escapeXml = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const escapeAttribute = (text) => escapeXml(text).replace(/"/g, '&quot;');

  /** The TwiML, indented: one element a line, long attribute lists one attribute a line. */
  function prettyXml(text, doc) {
    if (!doc) return text;
    const lines = /^\s*<\?xml[^>]*\?>/.test(text) ? [text.match(/^\s*(<\?xml[^>]*\?>)/)[1]] : [];
    const walk = (node, depth) => {
      const pad = '  '.repeat(depth);
      const attributes = [...node.attributes].map((a) => `${a.name}="${escapeAttribute(a.value)}"`);
      const oneLine = attributes.map((a) => ` ${a}`).join('');
      const open = oneLine.length + node.tagName.length + pad.length > 90
        ? `<${node.tagName}\n${attributes.map((a) => `${pad}    ${a}`).join('\n')}`
        : `<${node.tagName}${oneLine}`;
      const children = [...node.childNodes].filter((n) => n.nodeType === 1 || (n.nodeType === 3 && n.nodeValue.trim()));
      if (children.length === 0) {
        lines.push(`${pad}${open}/>`);
      } else if (children.every((n) => n.nodeType === 3)) {
        lines.push(`${pad}${open}>${escapeXml(node.textContent.trim())}</${node.tagName}>`);
      } else {
        lines.push(`${pad}${open}>`);
        for (const child of children) {
          if (child.nodeType === 1) walk(child, depth + 1);
          else lines.push(`${pad}  ${escapeXml(child.nodeValue.trim())}`);
        }
        lines.push(`${pad}</${node.tagName}>`);
      }
    };
    walk(doc.documentElement, 0);
    return lines.join('\n');
  }

  // ── The call ─────────────────────────────────────────────────────────────────────────────
  function randomHex(bytes) {
    const values = crypto.getRandomValues(new Uint8Array(bytes));
    return [...values].map((b) => b.toString(16).padStart(2, '0')).join('');
  }

  function selectedFlow() {
    return flows.find((f) => f.name === $('flow').value);
  }

  function startCall() {
    if (current && !current.ended) return;
    if ($('flow').value.startsWith('relay:')) return startRelayCall($('flow').value.slice('relay:'.length));
    const flow = selectedFlow();
    if (!flow) return;
    const from = $('from').value.trim() || '+15005550001';
    const callSid = `CA${randomHex(16)}`;
    // What Twilio posts to a voice webhook (the subset scripts/call.js sends).
    const base = {
      AccountSid: `AC${'0'.repeat(32)}`,
      ApiVersion: '2010-04-01',
      CallSid: callSid,
      CallStatus: 'in-progress',
      Called: '+15005550006',
      Caller: from,
      Direction: 'inbound',
      From: from,
      To: '+15005550006',
    };
    current = { flow, callSid, from, base, steps: 0, entries: [], logSeen: 0, eventsSeen: 0, outcomes: [], gather: null, ended: false, allChecksPassed: true };
    $('timeline').replaceChildren();
    $('sms').hidden = true;
    $('sms-body').replaceChildren();
    $('handoff').hidden = true;
    $('handoff-body').replaceChildren();
    $('prompt').replaceChildren();
    $('entry').textContent = '';
    $('hangup').disabled = false;
    $('again').hidden = true;
    $('call').setAttribute('aria-disabled', 'true');
    document.body.dataset.flow = flow.name;
    showMode(false);
    request(current, new URL(flow.route, location.origin).href, { ...base });
  }

  function endCall(call, why) {
    if (call.ended) return;
    call.ended = true;
    if (call.gather) clearTimeout(call.gather.timer);
    call.gather = null;
    $('hangup').disabled = true;
    $('call').removeAttribute('aria-disabled');
    setState('ended', `Call over: ${why}.`);
    $('say-button').disabled = true;
    document.body.dataset.checks = call.allChecksPassed ? 'pass' : 'fail';
    $('again').hidden = false;
    $('again-from').textContent = call.from;
  }

  async function request(call, url, params) {
    if (call.ended) return;
    if (++call.steps > MAX_STEPS) return endCall(call, `stopped after ${MAX_STEPS} steps`);
    setState('waiting', `Step ${call.steps}: Twilio posts to the worker…`);
    const step = addStep(call, url, params);
    let reply;
    try {
      reply = await twilioPost(url, params);
    } catch (error) {
      step.append(el('p', { class: 'error' }, `The request failed: ${error.message}`));
      return endCall(call, 'the request failed');
    }
    if (call !== current || call.ended) return;
    const lines = await newLogLines(call);
    const doc = reply.status === 200 ? parseTwiml(reply.body) : null;
    showAnswer(call, step, url, reply, doc, lines);
    await showEvents(call, step);
    if (call.outcomes.includes('code-sent') && !call.codeShown) await showCode(call);
    if (reply.status !== 200 || !doc) return endCall(call, `the worker answered ${reply.status}`);
    runVerbs(call, [...doc.documentElement.children], 0, url);
  }

  async function newLogLines(call) {
    try {
      const { lines } = await getJson(`/simulator/log?callSid=${encodeURIComponent(call.callSid)}`);
      const fresh = lines.slice(call.logSeen);
      call.logSeen = lines.length;
      return fresh;
    } catch {
      return [];
    }
  }

  function addStep(call, url, params) {
    const typed = 'Digits' in params;
    const title = typed
      ? params.Digits === '' ? 'an empty entry (the <Gather> timed out)' : 'the caller\u2019s entry'
      : 'the call comes in';
    const rows = Object.entries(params).map(([name, value]) => [
      name,
      value,
      name === 'Digits' ? 'typed' : undefined,
    ]);
    const li = el('li', { class: 'step', 'data-step': String(call.steps) },
      el('h3', {}, `Step ${call.steps}: ${title}`),
      el('h4', {}, 'Twilio \u2192 worker'),
      el('p', {}, 'POST ', el('code', { class: 'url' }, marked(url))),
      table(rows, 'params', 'Form parameters (Digits is what the caller typed: Twilio sends it only to the worker)'));
    $('timeline').append(li);
    li.scrollIntoView({ block: 'nearest' });
    return li;
  }

  function showAnswer(call, li, url, reply, doc, lines) {
    li.append(el('p', { class: 'signature' }, 'X-Twilio-Signature: ', el('code', {}, reply.signature)));
    li.append(el('h4', {}, `Worker \u2192 Twilio: ${reply.status} ${reply.type}`));
    const twiml = el('pre', { class: 'twiml', tabindex: '0', 'aria-label': `TwiML of step ${call.steps}` }, marked(prettyXml(reply.body, doc)));
    li.append(twiml);
    li.append(el('h4', {}, `The worker's log (${lines.length} ${lines.length === 1 ? 'line' : 'lines'})`));
    const log = el('pre', { class: 'log', tabindex: '0', 'aria-label': `Log lines of step ${call.steps}` });
    log.textContent = lines.length ? lines.join('\n') : '(none for this call)';
    li.append(log);
    // A log line's "ms" is a duration the worker measured, not something typed.
    const logText = lines.join('\n').replace(/"ms":\d+/g, '"ms":0');
    for (const line of lines) {
      try {
        call.outcomes.push(JSON.parse(line).outcome);
      } catch {
        // not JSON: not counted
      }
    }
    const { p, ok } = checkParagraph(call, [['the URL', url], ['the TwiML', reply.body], ['the log', logText]], 'this step\u2019s URL, TwiML and log lines');
    if (!ok) call.allChecksPassed = false;
    li.append(p);
  }

  /** The status events the worker sent since the last look, each in `li`: body and signature. */
  async function showEvents(call, li) {
    if (!call.flow.events) return;
    let events = [];
    try {
      ({ events } = await getJson(`/simulator/status?callSid=${encodeURIComponent(call.callSid)}`));
    } catch {
      return;
    }
    const fresh = events.slice(call.eventsSeen);
    call.eventsSeen = events.length;
    if (fresh.length === 0) return;
    call.events = (call.events || []).concat(fresh);
    const list = el('ol', { class: 'events' });
    for (const { body, signature } of fresh) {
      let event = {};
      try {
        event = JSON.parse(body);
      } catch {
        // shown as sent
      }
      const label = [event.event, event.field, event.attempt ? `try ${event.attempt}` : null, event.error, event.result].filter(Boolean).join(' \u00b7 ');
      list.append(el('li', { class: 'event', 'data-event': event.event || '' },
        el('p', { class: 'event-name' }, label || 'event'),
        el('pre', { class: 'event-body', tabindex: '0', 'aria-label': `Status event: ${label}` }, marked(body)),
        el('p', { class: 'signature' }, 'X-Gather-Seal-Signature: ', el('code', {}, signature))));
    }
    li.append(el('h4', {}, `Worker \u2192 status_callback: ${fresh.length} status ${fresh.length === 1 ? 'event' : 'events'} (signed JSON, sent after the answer)`));
    li.append(list);
    const { p, ok } = checkParagraph(call, fresh.map(({ body }, i) => [`status event ${call.eventsSeen - fresh.length + i + 1}`, body]), 'these status events');
    if (!ok) call.allChecksPassed = false;
    li.append(p);
  }

  /** What the local Verify stand-in texted the caller: shown on the caller's side, to type. */
  async function showCode(call) {
    call.codeShown = true;
    const box = $('sms-body');
    try {
      const { code, channel, to } = await getJson(`/simulator/verify-code?to=${encodeURIComponent(call.from)}`);
      box.replaceChildren(
        el('p', {}, `${channel === 'sms' ? 'Text message' : `Message (${channel})`} to ${to}: your verification code is `, el('strong', { id: 'sms-code' }, code)),
        el('p', { class: 'hint' }, 'Sent by the local Verify stand-in (scripts/verify-mock.js), which shows it here for you to type; the real Verify sends it to the caller\u2019s phone, and the worker never sees it until the caller types it.'));
    } catch (error) {
      box.replaceChildren(el('p', {}, `The code cannot be shown: ${error.message}.`));
    }
    $('sms').hidden = false;
  }

  /** Carries out the verbs from `i` on, as Twilio would. */
  function runVerbs(call, verbs, i, url) {
    const sayings = [];
    const say = (node) => sayings.push({ text: node.textContent.trim(), language: node.getAttribute('language') || call.flow.language || 'en-US' });
    for (; i < verbs.length; i++) {
      const verb = verbs[i];
      switch (verb.tagName) {
        case 'Say':
          say(verb);
          break;
        case 'Pause':
          break;
        case 'Gather': {
          for (const child of verb.children) if (child.tagName === 'Say') say(child);
          return listen(call, verb, sayings, verbs, i + 1, url);
        }
        case 'Redirect': {
          hear(call, sayings);
          const target = new URL(verb.textContent.trim(), url).href;
          if (isOwnGather(target)) return request(call, target, { ...call.base });
          return handOffRedirect(call, target);
        }
        case 'Hangup':
          hear(call, sayings);
          return finish(call, 'hung up');
        default:
          hear(call, sayings);
          return finish(call, `<${verb.tagName}> is not simulated`);
      }
    }
    hear(call, sayings);
    return finish(call, 'nothing more to say: Twilio hangs up');
  }

  function isOwnGather(url) {
    const target = new URL(url);
    return target.origin === location.origin && /^\/gather(\/[^/]+)?$/.test(target.pathname);
  }

  /** Shows (and speaks) what the caller hears; `done` once it has been said. */
  function hear(call, sayings, hooks = {}) {
    const prompt = $('prompt');
    prompt.replaceChildren(...sayings.map(({ text, language }) => el('p', { lang: language }, text)));
    const step = $('timeline').lastElementChild;
    if (step && sayings.length) {
      step.append(el('h4', {}, 'The caller hears'));
      step.append(el('ul', { class: 'hears' }, ...sayings.map(({ text, language }) => el('li', { lang: language }, text))));
    }
    speak(sayings, { onStart: hooks.onStart || (() => {}), onQuiet: hooks.onQuiet || (() => {}) });
  }

  function listen(call, gather, sayings, verbs, next, url) {
    const attribute = (name) => gather.getAttribute(name);
    const numDigits = Number(attribute('numDigits')) || 0;
    const finishOnKey = gather.hasAttribute('finishOnKey') ? attribute('finishOnKey') : '#';
    const timeout = Number(attribute('timeout') || 5);
    call.gather = {
      action: new URL(attribute('action') || url, url).href,
      numDigits,
      finishOnKey,
      timeout,
      onEmpty: attribute('actionOnEmptyResult') === 'true',
      verbs,
      next,
      url,
      entry: '',
      timer: null,
    };
    $('entry').textContent = '';
    const ends = [numDigits ? `${numDigits} keys` : null, finishOnKey ? `${finishOnKey === '#' ? 'pound (#)' : finishOnKey}` : null]
      .filter(Boolean)
      .join(' or ');
    setState('gathering', `Step ${call.steps}: listening for keys${ends ? ` (the entry goes after ${ends})` : ''}; ${timeout} s of silence sends what was typed.`);
    const g = call.gather;
    arm(call);
    // Twilio's timeout starts once the prompt has been said: while it is spoken the timer waits
    // for the speech's end, or for as long as it should take should that never be reported.
    const speaking = sayings.reduce((n, s) => n + s.text.length, 0) / 12 + 2;
    hear(call, sayings, {
      onStart: () => call.gather === g && g.entry === '' && arm(call, g.timeout + speaking),
      onQuiet: () => call.gather === g && g.entry === '' && arm(call),
    });
  }

  function arm(call, seconds = call.gather.timeout) {
    const g = call.gather;
    clearTimeout(g.timer);
    g.timer = setTimeout(() => timedOut(call, g), seconds * 1000);
  }

  function timedOut(call, g) {
    if (call.gather !== g || call.ended) return;
    if (g.entry !== '' || g.onEmpty) return submit(call, g.entry, '');
    // No keys and no actionOnEmptyResult: Twilio goes on with the verbs after the <Gather>.
    call.gather = null;
    runVerbs(call, g.verbs, g.next, g.url);
  }

  function press(key) {
    tone(key);
    const button = document.querySelector(`.key[data-key="${key}"]`);
    if (button) {
      button.classList.add('pressed');
      setTimeout(() => button.classList.remove('pressed'), 150);
    }
    const call = current;
    if (call && call.relay) return relayPress(call, key);
    if (!call || call.ended || !call.gather) return;
    silence();
    const g = call.gather;
    if (g.finishOnKey && key === g.finishOnKey) return submit(call, g.entry, key);
    g.entry += key;
    $('entry').textContent = g.entry;
    if (g.numDigits && g.entry.length >= g.numDigits) return submit(call, g.entry, '');
    arm(call);
  }

  function submit(call, digits, finishedOnKey) {
    const g = call.gather;
    clearTimeout(g.timer);
    call.gather = null;
    if (digits !== '') call.entries.push(digits);
    $('entry').textContent = '';
    request(call, g.action, { ...call.base, Digits: digits, FinishedOnKey: finishedOnKey });
  }

  async function finish(call, why) {
    if (call.ended) return;
    setState('waiting', 'The call is ending…');
    await lateEvents(call);
    await showHandoff(call);
    endCall(call, why);
  }

  /** Status events sent after the last step was shown (they go after the answer). */
  async function lateEvents(call) {
    if (!call.flow.events) return;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const last = $('timeline').lastElementChild;
    if (last) await showEvents(call, last);
  }

  const BRANDS = { visa: 'Visa', mastercard: 'Mastercard', amex: 'American Express', discover: 'Discover', jcb: 'JCB', diners: 'Diners Club', unionpay: 'UnionPay' };

  /** "Visa ending 4242": a card as an application shows it, from its masked view. */
  function maskedCard(last4, brand) {
    return `${BRANDS[brand] || (brand ? brand : 'A card')} ending ${last4}`;
  }

  /** The cards the call's status events or redirect show masked: [[field, "Visa ending 4242"]]. */
  function maskedCards(call, redirectParams) {
    const cards = new Map();
    for (const { body } of call.events || []) {
      try {
        const event = JSON.parse(body);
        if (event.masked && event.field) cards.set(event.field, maskedCard(event.masked.last4, event.masked.brand));
      } catch {
        // not JSON
      }
    }
    for (const [name, value] of redirectParams || []) {
      const field = name.endsWith('_last4') ? name.slice(0, -'_last4'.length) : null;
      if (field && /^[0-9]{4}$/.test(value)) {
        const brand = (redirectParams.find(([n]) => n === `${field}_brand`) || [])[1];
        cards.set(field, maskedCard(value, brand));
      }
    }
    return [...cards];
  }

  function showMaskedCards(call, body, redirectParams) {
    const cards = maskedCards(call, redirectParams);
    if (cards.length === 0) return;
    body.append(el('h3', {}, 'The card as the application shows it'));
    for (const [field, text] of cards) {
      body.append(el('p', { class: 'masked-card', 'data-field': field }, el('strong', {}, text),
        ` (field ${field}: its last four and brand, the masked view the worker sends beside the sealed number; the full number stays sealed)`));
    }
  }

  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

  /** Who the flow's limits count: "this number and the card typed". */
  function countedBy(flow) {
    const by = (flow.limits && flow.limits.by) || [];
    const names = by.map((b) => (b === 'caller' ? 'the caller\u2019s number' : `the ${b} typed`));
    return names.length ? names.join(' and ') : 'the caller\u2019s number';
  }

  /** A plain sentence of how the call ended, from its result and the log's outcome words. */
  function explain(call, result, appResult) {
    const flow = call.flow;
    const limits = flow.limits;
    const window = limits ? `${plural(limits.failures, 'failed call', 'failed calls')} within ${plural(limits.windowMinutes, 'minute', 'minutes')}` : '';
    const counts = limits
      ? ` With this flow\u2019s limits it counts as a failed call against ${countedBy(flow)}: ${window} lock ${limits.by.length > 1 ? 'each of them' : 'it'} out.`
      : '';
    const tally = limits ? ` This page has played ${plural(failedFrom(call.from), 'failed call', 'failed calls')} from ${call.from} so far (the worker counts every call, from anywhere).` : '';
    switch (result) {
      case 'success':
        if (appResult === 'rejected') return `The values were gathered and sealed, and the application rejected them (X-Gather-Seal-Result: rejected).${counts}${tally}`;
        if (appResult === 'accepted') return limits ? `The application accepted the values: this call\u2019s tries are given back (they do not count toward a lockout).` : 'The application accepted the values.';
        return 'The values were gathered and sealed, and handed to the application.';
      case 'too-many-attempts':
        return `The call failed: the caller used up the ${plural(flow.attempts, 'try', 'tries')} a field allows (result too-many-attempts), so nothing was gathered for it.${counts}${tally}`;
      case 'locked':
        if (call.outcomes.includes('account-locked')) {
          return `A value typed is locked out: ${limits ? `it already has ${window}` : 'too many failed calls'}, so the worker stopped the call (result locked, log outcome account-locked) and the application was told so with no value.${tally}`;
        }
        return `This number is locked out: ${limits ? `${call.from} already has ${window}` : 'too many failed calls'}, so the worker refused the call before asking anything (result locked, log outcome locked); the application was told so with no value. It opens again once the oldest of those failures is ${limits ? plural(limits.windowMinutes, 'minute', 'minutes') : 'the window'} old.${tally}`;
      case 'verify-failed':
        return `The one-time code was wrong every time (result verify-failed).${counts}${tally}`;
      case 'verify-unavailable':
        return 'Twilio Verify could not be reached or refused to send a code (result verify-unavailable).';
      case 'cancelled':
        return 'The caller pressed * to cancel (result cancelled).';
      case 'anonymous':
        return 'The caller\u2019s number is withheld and this flow refuses withheld numbers (result anonymous).';
      case 'unavailable':
        return 'The lockout counter could not be reached, so the worker stopped the call (result unavailable).';
      default:
        return result ? `The call ended with result ${result}.` : '';
    }
  }

  // The calls this page played, by number: whether each failed (what the worker counts).
  const played = new Map();
  function failedFrom(from) {
    return (played.get(from) || []).filter(Boolean).length;
  }
  function tallyCall(call, result, appResult) {
    if (call.tallied) return;
    call.tallied = true;
    const failed = !(result === 'success' && appResult !== 'rejected');
    played.set(call.from, (played.get(call.from) || []).concat([failed]));
  }

  function showOutcome(call, body, result, appResult) {
    if (!result) return;
    tallyCall(call, result, appResult);
    const sentence = explain(call, result, appResult);
    if (!sentence) return;
    const good = result === 'success' && appResult !== 'rejected';
    body.prepend(el('p', { class: `outcome ${good ? 'pass' : 'fail'}`, 'data-result': result }, el('strong', {}, `Result: ${result}. `), sentence));
  }

  function handOffRedirect(call, target) {
    setState('waiting', 'The call is handed off…');
    const section = $('handoff');
    const parsed = new URL(target);
    const body = $('handoff-body');
    const rows = [...parsed.searchParams].map(([name, value]) => [name, value]);
    body.replaceChildren(
      el('p', {}, 'The worker answered with a <Redirect>: Twilio now POSTs the call to'),
      el('p', {}, el('code', { class: 'url' }, marked(`${parsed.origin}${parsed.pathname}`))),
      table(rows, 'params redirect', 'The query it carries: the result and the sealed values'),
    );
    const { p, ok } = checkParagraph(call, [['the redirect URL', target]], 'the URL the application receives');
    if (!ok) call.allChecksPassed = false;
    body.append(p);
    showOutcome(call, body, parsed.searchParams.get('result'), null);
    section.hidden = false;
    lateEvents(call).then(() => {
      showMaskedCards(call, body, rows);
      endCall(call, 'handed off with a <Redirect>');
    });
  }

  async function showHandoff(call) {
    if (call.flow.then !== 'action') return;
    let handoffs = [];
    try {
      ({ handoffs } = await getJson(`/simulator/handoff?callSid=${encodeURIComponent(call.callSid)}`));
    } catch {
      // shown as nothing received
    }
    const body = $('handoff-body');
    body.replaceChildren();
    if (handoffs.length === 0) {
      body.append(el('p', {}, 'The demo backend (POST /decrypt-gather) received nothing for this call: this flow\u2019s action is another application, or the call never got that far.'));
    }
    for (const handoff of handoffs) {
      let submission = handoff.submission;
      try {
        submission = JSON.stringify(JSON.parse(submission), null, 2);
      } catch {
        // shown as received
      }
      const opened = handoff.opened.map(({ name, value }) => [name, value]);
      body.append(
        el('h3', {}, 'The submission (POST /decrypt-gather, JSON)'),
        el('pre', { class: 'submission', tabindex: '0', 'aria-label': 'The submission as received' }, marked(submission)),
        el('p', { class: 'signature' }, 'X-Gather-Seal-Signature: ', el('code', {}, handoff.signature || '(none)')),
        el('p', { class: `verdict ${handoff.signatureValid ? 'pass' : 'fail'}` },
          handoff.signatureValid
            ? '✓ Signature valid: HMAC-SHA256 with BACKEND_SIGNING_SECRET, within 300 s.'
            : `✗ Signature refused: ${handoff.verdict}.`),
        opened.length
          ? table(opened, 'opened', 'The values the demo backend opened (plaintext: only the application sees them)')
          : el('p', { class: 'opened-none' }, 'It opened no value.'),
        el('h3', {}, `Its answer: ${handoff.status}${handoff.result ? `, X-Gather-Seal-Result: ${handoff.result}` : ''}`),
        handoff.twiml
          ? el('pre', { class: 'twiml answer', tabindex: '0', 'aria-label': 'The demo backend\u2019s TwiML' }, marked(prettyXml(handoff.twiml, parseTwiml(handoff.twiml))))
          : el('p', {}, '(no TwiML)'),
      );
      const { p, ok } = checkParagraph(call, [['the submission', handoff.submission]], 'the submission the application received');
      if (!ok) call.allChecksPassed = false;
      body.append(p);
    }
    const last = handoffs.at(-1);
    if (last) {
      let result = null;
      try {
        result = JSON.parse(last.submission).result;
      } catch {
        // no result to explain
      }
      showOutcome(call, body, result, last.result);
    }
    showMaskedCards(call, body, []);
    $('handoff').hidden = false;
  }

  function hangUp() {
    if (!current || current.ended) return;
    silence();
    if (current.relay) return relayEnd(current, 'you hung up');
    endCall(current, 'you hung up');
  }


  // ── The relay mode: the caller talks to an AI agent through the sealing relay ────────────
  // The page plays ConversationRelay's side of a session: a WebSocket to the worker's bridge
  // (GET /simulator/relay?relay=<name>), which opens /relay/<name> with the handshake signature
  // Twilio would send; then `setup`, `prompt` (what the caller says) and `dtmf` (each key) go
  // out, and `text`, `play`, `end` come back. Beside it, what the application received
  // (GET /simulator/relay-app), and the check that no typed or spoken digits are in it.

  /** Letters only, so that no digit can hide in an id the check looks at. */
  function letterId(prefix) {
    const bytes = new Uint8Array(32);
    crypto.getRandomValues(bytes);
    return prefix + [...bytes].map((b) => 'abcdef'[b % 6]).join('');
  }

  /** Shows the relay mode's panels, or the webhook mode's. */
  function showMode(relayMode) {
    document.body.dataset.mode = relayMode ? 'relay' : 'webhook';
    $('timeline').hidden = relayMode;
    $('timeline-hint').hidden = relayMode;
    $('app').hidden = !relayMode;
    $('say').hidden = !relayMode;
    $('typed-line').hidden = relayMode;
    // Its check counts among the page's checks only in the relay mode.
    if (!relayMode) $('app-check').className = '';
  }

  function converse(kind, text) {
    let list = $('prompt').querySelector('.conversation');
    if (!list) {
      list = el('ol', { class: 'conversation' });
      $('prompt').replaceChildren(list);
    }
    const who = { agent: 'You hear: ', caller: 'You say: ', keys: 'You press: ', ended: '' }[kind];
    const li = el('li', { class: kind }, who ? el('strong', {}, who) : '', text);
    list.append(li);
    li.scrollIntoView({ block: 'nearest' });
    return li;
  }

  function startRelayCall(name) {
    const relay = relays.find((r) => r.name === name);
    if (!relay) return;
    const from = $('from').value.trim() || '+15005550001';
    const callSid = `CA${randomHex(16)}`;
    const call = {
      relay, flow: { name: `relay:${name}` }, callSid, from, entries: [], entry: '', spoken: '',
      seen: 0, ended: false, allChecksPassed: true, socket: null, poll: null,
    };
    current = call;
    showMode(true);
    $('handoff').hidden = true;
    $('sms').hidden = true;
    $('prompt').replaceChildren();
    $('app-messages').replaceChildren();
    $('app-check').className = 'check pass';
    $('app-check').textContent = '✓ Nothing received yet.';
    $('hangup').disabled = false;
    $('again').hidden = true;
    $('call').setAttribute('aria-disabled', 'true');
    document.body.dataset.flow = call.flow.name;
    setState('waiting', `Connecting to the relay ${name} through the worker\u2019s bridge…`);
    const url = new URL(`/simulator/relay?relay=${encodeURIComponent(name)}`, location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let socket;
    try {
      socket = new WebSocket(url.href);
    } catch (error) {
      return endCall(call, `the bridge could not be opened: ${error.message}`);
    }
    call.socket = socket;
    socket.addEventListener('open', () => {
      if (call.ended) return socket.close(1000);
      // What ConversationRelay sends first (tests/support/conversation-relay.js checks it).
      socket.send(JSON.stringify({
        type: 'setup', sessionId: letterId('VX'), accountSid: letterId('AC'), parentCallSid: '', callSid,
        from, to: '+15005550006', forwardedFrom: '', callType: 'PSTN', callerName: '', direction: 'inbound',
        callStatus: 'RINGING', customParameters: {},
      }));
      $('say-button').disabled = false;
      setState('connected', `Connected to the agent (relay ${name}): type what the caller says, or press keys.`);
      call.poll = setInterval(() => pollApp(call), 400);
    });
    socket.addEventListener('message', (event) => relayMessage(call, event.data));
    socket.addEventListener('close', (event) => {
      if (call.ended) return;
      const why = socket.readyState === WebSocket.CLOSED && call.poll === null
        ? 'the bridge refused the session (is the agent running?)'
        : `the session closed (code ${event.code})`;
      relayEnd(call, why);
    });
  }

  /** The caller's entry under way ends: when the agent or the relay speaks, at # or *. */
  function closeEntry(call) {
    const digits = call.entry.replace(/[^0-9]/g, '');
    if (digits !== '') call.entries.push(digits);
    call.entry = '';
  }

  function relayPress(call, key) {
    if (call.ended || !call.socket || call.socket.readyState !== WebSocket.OPEN) return;
    silence();
    call.socket.send(JSON.stringify({ type: 'dtmf', digit: key }));
    call.entry += key;
    const last = $('prompt').querySelector('.conversation li:last-child');
    if (last && last.classList.contains('keys') && last.dataset.open === 'true') {
      last.lastChild.textContent += key;
    } else {
      converse('keys', key).dataset.open = 'true';
    }
    if (key === '#' || key === '*') {
      closeEntry(call);
      const open = $('prompt').querySelector('.conversation li.keys[data-open="true"]');
      if (open) open.dataset.open = 'false';
    }
  }

  /** The long runs of digits in what the caller said (what the relay redacts): each as said
   * run together, and each group of three digits or more in it. */
  function spokenRuns(text) {
    const runs = [];
    for (const match of text.matchAll(/[0-9](?:[ ,.-]*[0-9])*/g)) {
      const digits = match[0].replace(/[^0-9]/g, '');
      if (digits.length < 6) continue;
      runs.push(digits);
      for (const group of match[0].split(/[^0-9]+/)) if (group.length >= CHECKED_LENGTH) runs.push(group);
    }
    return runs;
  }

  function relaySay() {
    const call = current;
    const text = $('speech').value.trim();
    if (!call || !call.relay || call.ended || !text || !call.socket || call.socket.readyState !== WebSocket.OPEN) return;
    closeEntry(call);
    for (const li of $('prompt').querySelectorAll('.conversation li.keys[data-open="true"]')) li.dataset.open = 'false';
    silence();
    call.socket.send(JSON.stringify({ type: 'prompt', voicePrompt: text, lang: 'en-US', last: true }));
    call.entries.push(...spokenRuns(text));
    converse('caller', text);
    $('speech').value = '';
  }

  function relayMessage(call, data) {
    if (call.ended || typeof data !== 'string') return;
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    switch (message && message.type) {
      case 'text':
        closeEntry(call);
        for (const li of $('prompt').querySelectorAll('.conversation li.keys[data-open="true"]')) li.dataset.open = 'false';
        call.spoken += String(message.token);
        if (message.last === true) {
          const said = call.spoken;
          call.spoken = '';
          converse('agent', said);
          speak([{ text: said, language: message.lang || 'en-US' }], { onStart() {}, onQuiet() {} });
        }
        break;
      case 'play':
        converse('agent', `(audio: ${message.source})`);
        break;
      case 'sendDigits':
        converse('agent', `(tones: ${message.digits})`);
        break;
      case 'end':
        converse('ended', `The session ends${message.handoffData ? `; handoffData: ${message.handoffData}` : ''}.`);
        relayEnd(call, 'the application ended the session');
        break;
      default:
        break;
    }
  }

  async function relayEnd(call, why) {
    if (call.ended) return;
    closeEntry(call);
    if (call.poll !== null) clearInterval(call.poll);
    call.poll = null;
    if (call.socket && call.socket.readyState <= WebSocket.OPEN) call.socket.close(1000, 'caller hung up');
    setState('waiting', 'The call is ending…');
    // What the application received last (the relay's final messages).
    await new Promise((resolve) => setTimeout(resolve, 300));
    await pollApp(call);
    endCall(call, why);
  }

  /** `text` with "[redacted]" and sealed values marked. */
  function markedApp(text) {
    const fragment = document.createDocumentFragment();
    const parts = text.split('[redacted]');
    parts.forEach((part, i) => {
      if (i > 0) fragment.append(el('mark', { class: 'redacted', title: 'a run of digits the relay took out' }, '[redacted]'));
      fragment.append(marked(part));
    });
    return fragment;
  }

  const pretty = (value) => JSON.stringify(value, null, 2);

  /** Shows one message the application received (or sent); the texts the check reads in it. */
  function showAppMessage(call, { direction, text, cut }, n) {
    let message = null;
    try {
      message = JSON.parse(text);
    } catch {
      // shown as sent
    }
    const type = message && typeof message.type === 'string' ? message.type : '(not JSON)';
    const arrow = direction === 'from-app' ? 'application \u2192 relay' : 'relay \u2192 application';
    const li = el('li', { class: 'app-message', 'data-type': type, 'data-direction': direction },
      el('h3', {}, `${arrow}: ${type}`));
    const checked = [];
    if (type === 'prompt') {
      li.append(el('p', { class: 'voice-prompt' }, 'The caller said: \u201c', markedApp(String(message.voicePrompt)), '\u201d'));
      li.append(el('pre', { class: 'app-text', tabindex: '0' }, markedApp(pretty(message))));
      checked.push([`message ${n} (prompt)`, text]);
    } else if (type === 'gather-seal.result' && typeof message.body === 'string') {
      let body = message.body;
      try {
        body = pretty(JSON.parse(message.body));
      } catch {
        // shown as sent
      }
      li.append(el('p', {}, 'The capture\u2019s signed result; its body (the submission a webhook application would receive):'));
      li.append(el('pre', { class: 'app-text result-body', tabindex: '0' }, markedApp(body)));
      li.append(el('p', { class: 'signature' }, 'signature: ', el('code', {}, String(message.signature))));
      // The body's own "last4" is a masked view; checked as the JSON it is, not escaped in the message.
      checked.push([`message ${n} (result body)`, message.body], [`message ${n} (result)`, JSON.stringify({ ...message, body: '' })]);
    } else {
      li.append(el('pre', { class: 'app-text', tabindex: '0' }, markedApp(message ? pretty(message) : text)));
      checked.push([`message ${n} (${type})`, text]);
    }
    if (cut) li.append(el('p', { class: 'hint' }, '(cut: the page keeps the first 16 KiB of a message)'));
    $('app-messages').append(li);
    return checked;
  }

  async function pollApp(call) {
    let messages;
    try {
      ({ messages } = await getJson(`/simulator/relay-app?callSid=${encodeURIComponent(call.callSid)}`));
    } catch {
      return;
    }
    if (call !== current) return;
    call.texts = call.texts || [];
    for (const message of messages.slice(call.seen)) {
      call.texts.push(...showAppMessage(call, message, ++call.seen));
    }
    // Every entry typed and every long run said so far, looked for in everything received.
    const { p, ok } = checkParagraph(call, call.texts, 'anything the application received');
    $('app-check').className = p.className;
    $('app-check').textContent = p.textContent;
    call.allChecksPassed = ok;
  }

  // ── Wiring ───────────────────────────────────────────────────────────────────────────────
  async function load() {
    if (!canSpeak()) $('mute').title = 'This browser has no speech synthesis: prompts are shown only.';
    try {
      ({ flows } = await getJson('/simulator/flows'));
    } catch (error) {
      setState('broken', `The worker cannot take calls: ${error.message}.`);
      return;
    }
    const select = $('flow');
    for (const flow of flows) {
      const fields = flow.fields.map((f) => `${f.name} (${f.kind})`).join(', ');
      const language = flow.language ? `, ${flow.language}` : '';
      select.append(el('option', { value: flow.name }, `${flow.name}: ${fields}; ${flow.then}${language}`));
    }
    try {
      ({ relays } = await getJson('/simulator/relays'));
    } catch {
      relays = [];
    }
    for (const relay of relays) {
      select.append(el('option', { value: `relay:${relay.name}` },
        `AI agent (relay ${relay.name}): ConversationRelay; flows ${relay.flows.join(', ')}; speech ${relay.speech}`));
    }
    if (flows.some((f) => f.name === 'default')) select.value = 'default';
    setState('idle', flows.length || relays.length ? 'Choose a flow and a caller number, then Call.' : 'GATHER_FLOWS has no flow a call can reach.');
  }

  $('dial').addEventListener('submit', (event) => {
    event.preventDefault();
    startCall();
  });
  $('hangup').addEventListener('click', hangUp);
  // Call again: the same flow and the same caller number (what a lockout counts).
  $('again').addEventListener('click', () => {
    if (current && !current.ended) return;
    if (current) {
      $('from').value = current.from;
      $('flow').value = current.flow.name;
    }
    startCall();
  });
  $('mute').addEventListener('change', () => muted() && silence());
  $('flow').addEventListener('change', () => {
    $('say').hidden = !$('flow').value.startsWith('relay:');
  });
  $('say').addEventListener('submit', (event) => {
    event.preventDefault();
    relaySay();
  });
  $('keypad').addEventListener('click', (event) => {
    const button = event.target.closest('.key');
    if (button) press(button.dataset.key);
  });
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.tagName === 'INPUT' || target.tagName === 'SELECT' || target.tagName === 'TEXTAREA')) return;
    if (!Object.hasOwn(DTMF, event.key)) return;
    event.preventDefault();
    press(event.key);
  });
  // The plaintext check, for the tests and the curious: whether `texts` pass it for a call
  // whose entries were `entries`.
  window.gatherSealSimulator = Object.freeze({
    passes: (entries, texts) => texts.map((text) => checkParagraph({ entries }, [['the text', text]], 'the text').ok),
  });
  load();
})();
