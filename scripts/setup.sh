#!/usr/bin/env bash
# Installs what the build and the tests need, from the package registries only, and only what
# is missing: the wasm32 target, the wasm-bindgen CLI at the exact version Cargo.toml pins,
# worker-build, the npm dev dependencies from package-lock.json (Deno and Bun among them), and
# Python 3 with `cryptography` (Debian's packages, or pip for a Python that is not Debian's).
# Safe to run again and again; quick when everything is there.
# Source it (`. scripts/setup.sh`) to get WASM_BINDGEN_BIN and WASM_OPT_BIN exported.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
say() { printf 'setup: %s\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown >&2
fi

bindgen_version=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' "$root/Cargo.toml")
[ -n "$bindgen_version" ] || { say "Cargo.toml must pin wasm-bindgen exactly"; exit 1; }
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_version" ]; then
  say "installing wasm-bindgen-cli $bindgen_version (a few minutes, once)"
  # Its own lock file names a crate version the registry no longer serves, so fall back to a
  # fresh resolution when the locked install cannot resolve.
  cargo install wasm-bindgen-cli --version "$bindgen_version" --locked >&2 ||
    cargo install wasm-bindgen-cli --version "$bindgen_version" >&2
fi

if ! worker-build --version 2>/dev/null | grep -Eq '(^| )0\.8\.'; then
  say "installing worker-build 0.8 (a few minutes, once)"
  cargo install worker-build@^0.8 --locked >&2
fi

# Deno and Bun are npm dev dependencies too (the deno and bun packages ship the binaries).
if [ ! -d "$root/node_modules/wrangler" ] || [ ! -d "$root/node_modules/deno" ] || [ ! -d "$root/node_modules/bun" ] ||
  [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  say "installing npm dev dependencies"
  (cd "$root" && npm ci --no-audit --no-fund >&2)
fi

# Debian's Chromium, for the pages tested in a real browser (tests/node/status-board.test.js,
# which fails under CI=true without it): /work/shared/TOOLCHAIN.md. Only reported on failure.
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  as_root=''
  [ "$(id -u)" = 0 ] || as_root='sudo -n'
  say "installing chromium (apt)"
  { $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2 ||
    { $as_root apt-get update -q >&2 &&
      $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2; }; } ||
    say "could not install chromium with apt"
fi

# Python 3 with `cryptography`, for the README's Python check (tests/worker/python.test.js,
# which fails under CI=true without them). Debian's python3-cryptography serves Debian's
# python3 (its pip refuses to install system-wide); any other python3 (pyenv, a venv) gets it
# from PyPI. A failure here is only reported: the test says what is missing.
if ! python3 -c 'import cryptography' >/dev/null 2>&1; then
  python=$(command -v python3 || true)
  if [ -z "$python" ] || [ "$(readlink -f "$python")" = "$(readlink -f /usr/bin/python3 2>/dev/null)" ]; then
    as_root=''
    [ "$(id -u)" = 0 ] || as_root='sudo -n'
    apt_install() { $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2; }
    say "installing python3 and python3-cryptography (apt)"
    # The package lists are refreshed only when the packages cannot be found without.
    apt_install python3 python3-cryptography ||
      { $as_root apt-get update -q >&2 && apt_install python3 python3-cryptography; } ||
      say "could not install python3-cryptography with apt"
  else
    say "installing cryptography for $python (pip)"
    "$python" -m pip install --quiet --disable-pip-version-check cryptography >&2 ||
      say "could not install cryptography with pip for $python"
  fi
fi

export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
export WRANGLER_SEND_METRICS=false
