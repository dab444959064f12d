'use strict';
// A few suites need a program from the machine: Deno and Bun (npm dev dependencies), Python 3
// with `cryptography` (scripts/setup.sh installs them). Where one is missing on a developer's
// machine, its tests are skipped, saying why. Under CI (the environment variable CI set to
// "true" or "1", as CI services set it) a missing program is a failure instead, with the same
// reason, so that a green CI run has run every test.

const IN_CI = ['true', '1'].includes(String(process.env.CI ?? '').toLowerCase());

/**
 * Options for a test (or describe) that needs something: `{ skip: missing }` when `missing` is
 * a reason (the thing is not here) and this is not CI, else `{}`. The test's first step must
 * be `assertPresent(missing)`, so that under CI it fails.
 */
function skipUnlessCi(missing) {
  return missing && !IN_CI ? { skip: missing } : {};
}

/** Throws `missing` (the reason something a test needs is not here), if it is a reason. */
function assertPresent(missing) {
  if (missing) {
    throw new Error(`${missing}; under CI=true that is a failure, not a skip: bash scripts/setup.sh installs it`);
  }
}

module.exports = { IN_CI, assertPresent, skipUnlessCi };
