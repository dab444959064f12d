'use strict';
// The package as npm users get it: a complete package.json whose "files" ship everything the
// code loads; resolution by name through the "exports" map (the entry point works, the internal
// wasm module cannot be imported directly), from CommonJS and from ES modules, and from the
// packed tarball; and TypeScript declarations for every runtime export.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createRequire } = require('node:module');
const { execFileSync, spawnSync } = require('node:child_process');
const { PKG_DIR, gs, reference, referenceKey } = require('./support');

const manifest = JSON.parse(fs.readFileSync(path.join(PKG_DIR, 'package.json'), 'utf8'));
const RUNTIME_EXPORTS = [
  'encrypt', 'decrypt', 'generateKey', 'sealFields', 'openFields', 'verifySubmission', 'openSubmission',
  'maskedCards', 'verifyStatusEvent', 'verifyRelayHandshake', 'validateRequest', 'validateRequestWithBody',
  'getSignatureAlgorithm',
];
// Everything a user's install holds; nothing else is shipped.
const SHIPPED = [
  'package.json', 'README.md', 'LICENSE', 'index.d.ts', 'index.d.cts',
  'index.js', 'index.cjs', 'deno.js', 'workerd.js', 'core.js', 'seal.js', 'twilio.js',
  'gather_seal_wasm_bg.js', 'gather_seal_wasm_bg.wasm',
];
// Reachable only through the exports map's "." (and ./package.json).
const INTERNAL = [
  'gather_seal_wasm_bg.wasm', 'gather_seal_wasm_bg.js', 'gather_seal_wasm_bg', 'core.js', 'seal.js',
  'twilio.js', 'index.js', 'index.cjs', 'workerd.js', 'deno.js', 'gather_seal_wasm.js',
];

let tmp; // a project with node_modules/gather-seal → pkg/
let requireFromProject;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gather-seal-user-'));
  fs.mkdirSync(path.join(tmp, 'node_modules'));
  fs.symlinkSync(PKG_DIR, path.join(tmp, 'node_modules', 'gather-seal'), 'dir');
  fs.writeFileSync(path.join(tmp, 'package.json'), '{ "name": "user-project", "private": true }\n');
  requireFromProject = createRequire(path.join(tmp, 'index.js'));
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the package exports exactly the documented functions', () => {
  assert.deepEqual(Object.keys(gs).sort(), [...RUNTIME_EXPORTS].sort());
  for (const name of RUNTIME_EXPORTS) assert.equal(typeof gs[name], 'function', name);
});

test('package.json is complete', () => {
  assert.equal(manifest.name, 'gather-seal');
  assert.match(manifest.version, /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/);
  assert.equal(typeof manifest.description, 'string');
  assert.ok(manifest.description.trim().length >= 10, 'description is a sentence');
  assert.equal(typeof manifest.license, 'string');
  assert.ok(manifest.license.trim().length > 0);
  assert.equal(typeof manifest.main, 'string');
  assert.equal(typeof manifest.types, 'string');
  assert.ok(Array.isArray(manifest.files) && manifest.files.length > 0, 'files is a non-empty list');
  assert.equal(typeof manifest.engines?.node, 'string');
  const minimum = /^>=\s*v?(\d+)/.exec(manifest.engines.node);
  assert.ok(minimum, `engines.node is a lower bound: ${manifest.engines.node}`);
  assert.ok(Number(minimum[1]) <= Number(process.versions.node.split('.')[0]),
    `this Node (${process.version}) satisfies engines.node ${manifest.engines.node}`);
  assert.ok(!manifest.dependencies || Object.keys(manifest.dependencies).length === 0,
    'the package needs nothing at run time');
});

test('the exports map: types first, Workers and Deno by condition, require and import for the rest', () => {
  const dot = manifest.exports?.['.'];
  assert.deepEqual(Object.keys(dot), ['types', 'workerd', 'worker', 'deno', 'require', 'default'],
    'conditions in the order they must be matched');
  assert.deepEqual(dot.types, { require: './index.d.cts', default: './index.d.ts' });
  assert.equal(dot.workerd, './workerd.js');
  assert.equal(dot.worker, './workerd.js');
  assert.equal(dot.deno, './deno.js');
  assert.equal(manifest.type, 'module', '.js files are ES modules, index.cjs is CommonJS');
  // main/types serve tools that do not read "exports": the CommonJS build and its types.
  assert.equal(path.resolve(PKG_DIR, dot.require), path.resolve(PKG_DIR, manifest.main));
  assert.equal(path.resolve(PKG_DIR, dot.types.require), path.resolve(PKG_DIR, manifest.types));
  for (const target of [dot.types.require, dot.types.default, dot.workerd, dot.deno, dot.require, dot.default]) {
    assert.ok(fs.statSync(path.join(PKG_DIR, target)).isFile(), target);
  }
  assert.deepEqual(Object.keys(manifest.exports), ['.', './package.json']);
});

test('the two declaration files are the same text (one API for require and import)', () => {
  assert.equal(fs.readFileSync(path.join(PKG_DIR, 'index.d.cts'), 'utf8'),
    fs.readFileSync(path.join(PKG_DIR, 'index.d.ts'), 'utf8'));
});

// Regression (fixed): package.json listed "LICENSE" in "files" while the repository had none
// and scripts/build-node.sh copies it with `cp LICENSE pkg/ 2>/dev/null || true`, so pkg/ has
// none and the published package claims "MIT" without the licence text. Expected: pkg/LICENSE
// exists. Actual: missing.
test('every file listed in "files" exists in pkg/', () => {
  const missing = manifest.files.filter((f) => !fs.existsSync(path.join(PKG_DIR, f)));
  assert.deepEqual(missing, []);
});

test('"files" ships every file of pkg/, including the wasm the code loads', () => {
  assert.deepEqual([...manifest.files, 'package.json'].sort(), [...SHIPPED].sort());
  assert.deepEqual(fs.readdirSync(PKG_DIR).sort(), [...SHIPPED].sort(), 'pkg/ holds exactly what ships');
});

test('npm pack ships exactly what a user needs; installed from the tarball it works both ways', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gather-seal-pack-'));
  try {
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
      cwd: PKG_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [{ filename, files }] = JSON.parse(out);
    assert.deepEqual(files.map((f) => f.path).sort(), [...SHIPPED].sort());
    const installed = path.join(dir, 'node_modules', 'gather-seal');
    fs.mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', path.join(dir, path.basename(filename)), '-C', installed,
      '--strip-components=1']);
    const packed = createRequire(path.join(dir, 'index.js'))('gather-seal');
    assert.notEqual(packed, gs, 'a separate copy was loaded');
    const key = referenceKey();
    assert.equal(reference.open(packed.encrypt('4821', key), key), '4821');
    assert.equal(packed.decrypt(gs.encrypt('4821', key), key), '4821');
    const imported = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', `
      import { encrypt, decrypt } from 'gather-seal';
      process.stdout.write(JSON.stringify(decrypt(encrypt('4821', '${key}'), '${key}')));
    `], { cwd: dir, encoding: 'utf8' }));
    assert.equal(imported, '4821');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('npm publish --dry-run is clean: no warning but the login a dry run cannot have', () => {
  const run = spawnSync('npm', ['publish', '--dry-run', '--offline'], { cwd: PKG_DIR, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^\+ gather-seal@\d+\.\d+\.\d+/m);
  const warnings = run.stderr.split('\n').filter((line) => /\bwarn\b/i.test(line))
    .filter((line) => !/requires you to be logged in/.test(line))
    .filter((line) => !/Unknown (user|global|project) config/.test(line)); // this machine's npmrc, not the package
  assert.deepEqual(warnings, []);
});

test('require("gather-seal") from a project resolves through package.json to the entry point', () => {
  const resolved = requireFromProject.resolve('gather-seal');
  assert.equal(fs.realpathSync(resolved), fs.realpathSync(path.join(PKG_DIR, manifest.main)));
  const fromProject = requireFromProject('gather-seal');
  assert.deepEqual(Object.keys(fromProject).sort(), [...RUNTIME_EXPORTS].sort());
  const key = referenceKey();
  assert.equal(reference.open(fromProject.encrypt('4821', key, { context: 'CA1' }), key, 'CA1'), '4821');
});

test('the package\'s own modules and its wasm cannot be required by a deep path', () => {
  for (const internal of INTERNAL) {
    assert.throws(() => requireFromProject(`gather-seal/${internal}`),
      (e) => e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED', internal);
    assert.throws(() => requireFromProject.resolve(`gather-seal/${internal}`),
      (e) => e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED', internal);
  }
});

test('from an ES module: the ES build (not the CommonJS one), named imports, no deep imports', () => {
  const script = `
    import { encrypt, decrypt, generateKey, sealFields, openFields, verifySubmission, openSubmission,
      validateRequest, validateRequestWithBody, getSignatureAlgorithm } from 'gather-seal';
    import * as all from 'gather-seal';
    const key = generateKey();
    const out = {
      resolved: import.meta.resolve('gather-seal'),
      roundTrip: decrypt(encrypt('4821', key, { context: 'c' }), [key], { context: 'c' }),
      fields: openFields(sealFields({ pin: '4821' }, key), key),
      others: [verifySubmission, openSubmission, validateRequest, validateRequestWithBody, getSignatureAlgorithm]
        .map((f) => typeof f),
      names: Object.keys(all).sort(),
      deep: [],
    };
    for (const internal of ${JSON.stringify(INTERNAL)}) {
      try { await import('gather-seal/' + internal); out.deep.push(internal + ' imported'); }
      catch (e) { out.deep.push(e.code); }
    }
    process.stdout.write(JSON.stringify(out));
  `;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: tmp, encoding: 'utf8',
  }));
  assert.equal(fs.realpathSync(new URL(out.resolved)), fs.realpathSync(path.join(PKG_DIR, 'index.js')));
  assert.equal(out.roundTrip, '4821');
  assert.deepEqual(out.fields, { pin: '4821' });
  assert.deepEqual(out.others, ['function', 'function', 'function', 'function', 'function']);
  assert.deepEqual(out.names, [...RUNTIME_EXPORTS].sort(), 'no default export, nothing internal');
  assert.deepEqual(out.deep, INTERNAL.map(() => 'ERR_PACKAGE_PATH_NOT_EXPORTED'));
});

test('index.d.ts declares every runtime export, and nothing that does not exist', () => {
  const dts = fs.readFileSync(path.join(PKG_DIR, manifest.types), 'utf8');
  const declared = declaredValues(dts);
  assert.deepEqual([...declared.keys()].sort(), [...RUNTIME_EXPORTS].sort());
  assert.doesNotMatch(dts, /export\s+default|export\s*=/, 'no default export is declared');
});

test('index.d.ts signatures match the functions: parameters, optional options, return types', () => {
  const dts = fs.readFileSync(path.join(PKG_DIR, manifest.types), 'utf8');
  const declared = declaredValues(dts);
  const expected = {
    encrypt: { params: ['plainText', 'keyHex', 'options?'], returns: 'string' },
    decrypt: { params: ['cipherHex', 'keys', 'options?'], returns: 'string' },
    generateKey: { params: [], returns: 'string' },
    sealFields: { params: ['object', 'keyHex', 'options?'] },
    openFields: { params: ['object', 'keys', 'options?'] },
    verifySubmission: {
      params: ['rawBody', 'signatureHeader', 'secrets', 'options?'], returns: 'Submission',
    },
    openSubmission: { params: ['submission', 'keys', 'options?'], returns: 'Record<string, string>' },
    maskedCards: { params: ['submission'], returns: 'Record<string, MaskedCard>' },
    verifyStatusEvent: {
      params: ['rawBody', 'signatureHeader', 'secrets', 'options?'], returns: 'StatusEvent',
    },
    verifyRelayHandshake: { params: ['url', 'signatureHeader', 'secrets', 'options?'], returns: 'true' },
    validateRequest: { params: ['authToken', 'signature', 'url', 'params?', 'algorithm?'], returns: 'boolean' },
    validateRequestWithBody: {
      params: ['authToken', 'signature', 'url', 'body', 'algorithm?'], returns: 'boolean',
    },
    getSignatureAlgorithm: { params: ['header'], returns: 'SignatureAlgorithm' },
  };
  for (const [name, want] of Object.entries(expected)) {
    const got = declared.get(name);
    assert.ok(got, `${name} is declared`);
    const params = got.params.map((p) => p.name);
    assert.equal(params.length, want.params.length, `${name}: ${params}`);
    assert.equal(gs[name].length, want.params.length, `${name}.length matches the declaration`);
    want.params.forEach((w, i) => assert.equal(params[i].endsWith('?'), w.endsWith('?'),
      `${name}: parameter ${i + 1} optional as expected`));
    if (want.returns) assert.equal(got.returns, want.returns, `${name} returns ${want.returns}`);
  }
  // Strings where strings go; the key position of decrypt/openFields also takes an array.
  assert.match(declared.get('encrypt').params[0].type, /^string$/);
  assert.match(declared.get('encrypt').params[1].type, /^string$/);
  assert.match(declared.get('sealFields').params[1].type, /^string$/);
  for (const name of ['decrypt', 'openFields']) {
    const type = resolveAlias(dts, declared.get(name).params[1].type);
    assert.match(type, /\bstring\b/, `${name} keys take a string`);
    assert.match(type, /(?:string\[\]|Array<string>)/, `${name} keys take an array of strings`);
  }
  // The options type has an optional string context.
  const code = withoutComments(dts);
  const optionsType = declared.get('encrypt').params[2].type;
  const body = new RegExp(`interface\\s+${optionsType}\\s*\\{([^}]*)\\}`).exec(code) ??
    new RegExp(`type\\s+${optionsType}\\s*=\\s*\\{([^}]*)\\}`).exec(code);
  assert.ok(body, `${optionsType} is declared`);
  assert.match(body[1], /^\s*(?:readonly\s+)?context\?\s*:\s*string\s*;?\s*$/);
});

/** The value exports of a .d.ts: name → { params: [{ name, type }], returns }. */
function declaredValues(dts) {
  const text = withoutComments(dts);
  const out = new Map();
  const head = /export\s+(?:declare\s+)?(function|const|let|var|class)\s+([A-Za-z_$][\w$]*)/g;
  for (let m; (m = head.exec(text));) {
    const [, kind, name] = m;
    if (kind !== 'function') {
      out.set(name, { params: [], returns: undefined });
      continue;
    }
    let i = head.lastIndex;
    if (text[i] === '<') i = skipBalanced(text, i, '<', '>');
    assert.equal(text[i], '(', `${name}: a parameter list follows`);
    const close = skipBalanced(text, i, '(', ')');
    const params = splitTopLevel(text.slice(i + 1, close - 1)).map((p) => {
      const [pname, ...type] = p.split(':');
      return { name: pname.trim(), type: type.join(':').trim() };
    });
    const returns = /^\s*:\s*([^;{]+)/.exec(text.slice(close))?.[1].trim();
    out.set(name, { params, returns });
  }
  return out;
}

function withoutComments(dts) {
  return dts.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
}

function skipBalanced(text, i, open, close) {
  let depth = 0;
  for (; i < text.length; i++) {
    if (text[i] === open) depth++;
    else if (text[i] === close && --depth === 0) return i + 1;
  }
  throw new Error(`unbalanced ${open}${close}`);
}

function splitTopLevel(list) {
  const parts = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if ('(<{['.includes(c)) depth++;
    else if (')>}]'.includes(c) && list[i - 1] !== '=') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(list.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(list.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

function resolveAlias(dts, type) {
  const alias = new RegExp(`type\\s+${type}\\s*=\\s*([^;]+);`).exec(withoutComments(dts));
  return alias ? alias[1] : type;
}
