// The second JavaScript peer of benches/worker.js: the smallest worker a Twilio developer would
// write by hand for the same contract, as a floor for the fixed cost of a worker. It checks
// X-Twilio-Signature (HMAC-SHA1 over the URL and the sorted POST parameters), asks for each
// field of the flow with <Gather>, seals the digits at once with AES-256-GCM (WebCrypto, fresh
// nonce, context "<CallSid>:<field>", hex(nonce ‖ ciphertext ‖ tag)), carries the sealed values
// in the action URL and opens them for this call before going on, then redirects or POSTs the
// signed submission (t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>) and relays the answer.
// Keys are imported once per isolate. Left out, as such a developer would: the lockout, Twilio
// Verify, field kinds other than fixed-length digits, validating GATHER_FLOWS, checking the
// application's TwiML, PUBLIC_URL and the port variants of the signed URL, body size limits, the
// timeout on the hand-off, and the log line. Never deployed; only the benchmark runs it.

const enc = new TextEncoder();
const XML = '<?xml version="1.0" encoding="UTF-8"?>';
let keys = null;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const route = url.pathname.match(/^\/gather(?:\/([A-Za-z0-9_-]+))?$/);
    if (!route || request.method !== 'POST') return new Response('Not Found', { status: 404 });
    keys ??= importKeys(env);
    const { aes, twilio, backend } = await keys;

    const params = new URLSearchParams(await request.text());
    const data = [...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => k + v).join('');
    const signature = Uint8Array.from(atob(request.headers.get('X-Twilio-Signature') ?? ''), (c) => c.charCodeAt(0));
    if (!(await crypto.subtle.verify('HMAC', twilio, signature, enc.encode(request.url + data)))) {
      return new Response('Forbidden', { status: 403 });
    }

    const flows = typeof env.GATHER_FLOWS === 'string' ? JSON.parse(env.GATHER_FLOWS) : env.GATHER_FLOWS;
    const flow = flows[route[1] ?? 'default'];
    const callSid = params.get('CallSid');
    const step = url.searchParams.get('step');
    const at = step === null ? 0 : flow.fields.findIndex((f) => f.name === step);
    const attempt = Number(url.searchParams.get('attempt') ?? 1);
    const sealed = flow.fields.slice(0, at).map((f) => [f.name, url.searchParams.get(f.name)]);
    for (const [name, value] of sealed) {
      if (!(await open(aes, value, `${callSid}:${name}`))) return new Response('Bad Request', { status: 400 });
    }
    const base = url.origin + url.pathname;
    if (step === null) return ask(flow, base, 0, 1, sealed, false);

    const field = flow.fields[at];
    const digits = params.get('Digits') ?? '';
    let result = 'success';
    if (new RegExp(`^[0-9]{${field.length}}$`).test(digits)) {
      sealed.push([field.name, await seal(aes, digits, `${callSid}:${field.name}`)]);
      if (at + 1 < flow.fields.length) return ask(flow, base, at + 1, 1, sealed, false);
    } else if (attempt < (flow.attempts ?? 3)) {
      return ask(flow, base, at, attempt + 1, sealed, true);
    } else {
      result = 'too-many-attempts';
    }

    const named = sealed.map(([name, value]) => [`encrypted${name[0].toUpperCase()}${name.slice(1)}Digits`, value]);
    if (flow.then.redirect) {
      const target = `${flow.then.redirect}?result=${result}&${named.map(([k, v]) => `${k}=${v}`).join('&')}`;
      return twiml(`<Response><Redirect method="POST">${escape(target)}</Redirect></Response>`);
    }
    const body = JSON.stringify({
      callSid,
      accountSid: params.get('AccountSid'),
      from: params.get('From'),
      to: params.get('To'),
      flow: route[1] ?? 'default',
      result,
      ...Object.fromEntries(named),
    });
    const t = Math.floor(Date.now() / 1000);
    const mac = await crypto.subtle.sign('HMAC', backend, enc.encode(`${t}.${body}`));
    const answer = await fetch(flow.then.action, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Gather-Seal-Signature': `t=${t},v1=${hex(new Uint8Array(mac))}` },
      body,
    });
    return new Response(await answer.text(), { headers: { 'Content-Type': 'text/xml' } });
  },
};

function ask(flow, base, at, attempt, sealed, retry) {
  const field = flow.fields[at];
  const query = [['step', field.name], ['attempt', attempt], ...sealed].map(([k, v]) => `${k}=${v}`).join('&');
  const sorry = retry ? `<Say>Sorry, that was not ${field.length} digits.</Say>` : '';
  return twiml(
    `<Response><Gather input="dtmf" numDigits="${field.length}" timeout="${flow.timeout ?? 10}" method="POST" ` +
      `action="${escape(`${base}?${query}`)}" actionOnEmptyResult="true">${sorry}<Say>${escape(field.prompt)}</Say></Gather></Response>`,
  );
}

const twiml = (xml) => new Response(XML + xml, { headers: { 'Content-Type': 'text/xml' } });
const escape = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
const unhex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));

async function importKeys(env) {
  const hmac = (secret, hash) => crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash }, false, ['sign', 'verify']);
  return {
    aes: await crypto.subtle.importKey('raw', unhex(env.AES_SECRET), 'AES-GCM', false, ['encrypt', 'decrypt']),
    twilio: await hmac(env.TWILIO_AUTH_TOKEN, 'SHA-1'),
    backend: await hmac(env.BACKEND_SIGNING_SECRET, 'SHA-256'),
  };
}

async function seal(key, digits, context) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: enc.encode(context) }, key, enc.encode(digits));
  return hex(iv) + hex(new Uint8Array(data));
}

async function open(key, value, context) {
  const raw = unhex(value ?? '');
  try {
    await crypto.subtle.decrypt({ name: 'AES-GCM', iv: raw.subarray(0, 12), additionalData: enc.encode(context) }, key, raw.subarray(12));
    return true;
  } catch {
    return false;
  }
}
