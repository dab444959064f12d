'use strict';
// examples/studio as committed: the worker flow in gather-flows.toml, run in workerd, hands the
// call back to the Studio flow's return URL with exactly the parameters that flow.json's
// widgets read, and the TwiML Redirect widget points at that flow's route.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const TOML = require('smol-toml');
const h = require('./harness');

const STUDIO = path.join(__dirname, '..', '..', 'examples', 'studio');

function studioFlows() {
  const config = TOML.parse(fs.readFileSync(path.join(STUDIO, 'gather-flows.toml'), 'utf8'));
  return JSON.parse(JSON.stringify(config.vars.GATHER_FLOWS));
}

function studioDefinition() {
  return JSON.parse(fs.readFileSync(path.join(STUDIO, 'flow.json'), 'utf8'));
}

describe('the Studio example', () => {
  let worker;
  const flows = studioFlows();
  const [name] = Object.keys(flows);
  const returnUrl = flows[name].then.redirect;

  before(async () => {
    worker = await h.startWorker({ GATHER_FLOWS: flows, AES_SECRET: h.KEY, TWILIO_AUTH_TOKEN: h.TOKEN });
  });

  after(async () => {
    await worker?.dispose();
  });

  test("flow.json sends the call to that flow's route, and reads what the worker hands back", () => {
    const definition = studioDefinition();
    const widget = (type) => definition.states.find((s) => s.type === type);
    const redirect = widget('add-twiml-redirect');
    assert.equal(new URL(redirect.properties.url).pathname, `/gather/${name}`);
    assert.equal(redirect.properties.method, 'POST');
    const returned = redirect.transitions.find((t) => t.event === 'return');
    const run = definition.states.find((s) => s.name === returned.next);
    assert.equal(run.type, 'run-function');
    const parameters = Object.fromEntries(run.properties.parameters.map((p) => [p.key, p.value]));
    assert.deepEqual(parameters, {
      CallSid: '{{trigger.call.CallSid}}',
      From: '{{trigger.call.From}}',
      result: `{{widgets.${redirect.name}.result}}`,
      encryptedPinDigits: `{{widgets.${redirect.name}.encryptedPinDigits}}`,
    });
    assert.match(returnUrl, /^https:\/\/webhooks\.twilio\.com\/v1\/Accounts\/AC\w+\/Flows\/FW\w+\?FlowEvent=return$/);
  });

  test('a PIN: the call returns to the flow with result and the sealed PIN', async () => {
    const { callSid, steps } = await h.walkCall(worker, ['4321'], { path: `/gather/${name}` });
    assert.equal(steps.length, 2);
    const xml = steps[1].reply.text;
    const target = /<Redirect method="POST">([^<]*)<\/Redirect>/.exec(xml)[1].replace(/&amp;/g, '&');
    const url = new URL(target);
    assert.equal(`${url.origin}${url.pathname}?FlowEvent=return`, returnUrl);
    assert.deepEqual([...url.searchParams.keys()], ['FlowEvent', 'result', 'encryptedPinDigits']);
    assert.equal(url.searchParams.get('result'), 'success');
    const sealed = url.searchParams.get('encryptedPinDigits');
    assert.equal(h.openWithNodeCrypto(sealed, h.KEY, `${callSid}:pin`), '4321');
    assert.equal(xml, h.expectedRedirect(target));
  });

  test('no valid PIN: the call returns with too-many-attempts and no value', async () => {
    const { steps } = await h.walkCall(worker, ['1', '2', '3'], { path: `/gather/${name}` });
    const last = steps.at(-1).reply.text;
    assert.equal(last, h.expectedRedirect(`${returnUrl}&result=too-many-attempts`));
  });
});
