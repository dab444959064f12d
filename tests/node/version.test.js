'use strict';
// The crate and the npm package are one release: Cargo.toml's [package] version and
// npm/package.json's version must be equal, and CHANGELOG.md must have a section for that
// version or an [Unreleased] one. No TOML library: only the [package] table's own `version`
// line is read, so a dependency's `version = "…"` can never be mistaken for it.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const read = (name) => fs.readFileSync(path.join(ROOT, name), 'utf8');

/** The `version = "…"` of Cargo.toml's `[package]` table, or null. */
function cargoVersion(text) {
  let table = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    const header = line.match(/^\[\s*([^\[\]]+?)\s*\]$/);
    if (header) {
      table = header[1];
      continue;
    }
    if (line.startsWith('[[')) {
      table = null;
      continue;
    }
    const version = line.match(/^version\s*=\s*"([^"]*)"$/);
    if (table === 'package' && version) return version[1];
  }
  return null;
}

test('cargoVersion reads only the [package] table', () => {
  const toml = [
    '[dependencies]',
    'serde = { version = "1.0.0" }',
    'version = "9.9.9"',
    '',
    '[package]',
    'name = "x"',
    'version = "1.2.3"   # the release',
    '',
    '[dev-dependencies.foo]',
    'version = "4.5.6"',
  ].join('\n');
  assert.equal(cargoVersion(toml), '1.2.3');
  assert.equal(cargoVersion('[package]\nname = "x"\n[lib]\nversion = "1.0.0"\n'), null);
});

test("Cargo.toml's and npm/package.json's versions are equal", () => {
  const crate = cargoVersion(read('Cargo.toml'));
  assert.ok(crate, 'Cargo.toml has a [package] version line');
  const npm = JSON.parse(read('npm/package.json')).version;
  assert.equal(typeof npm, 'string', 'npm/package.json has a version');
  assert.equal(npm, crate, `npm/package.json says ${npm}, Cargo.toml says ${crate}: release them together`);
});

test('CHANGELOG.md has a section for that version, or [Unreleased]', () => {
  const crate = cargoVersion(read('Cargo.toml'));
  const headings = [...read('CHANGELOG.md').matchAll(/^## \[([^\]]+)\]/gm)].map((m) => m[1]);
  assert.ok(
    headings.includes(crate) || headings.includes('Unreleased'),
    `CHANGELOG.md has no "## [${crate}]" and no "## [Unreleased]" section (it has: ${headings.join(', ')})`,
  );
});
