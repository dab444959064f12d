#!/usr/bin/env bash
# Installs what the build needs, from the package registries only, and only what is missing:
# the wasm32 target, the wasm-bindgen CLI at the exact version Cargo.toml pins, worker-build,
# and the npm dev dependencies from package-lock.json. Safe to run again and again.
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

if [ ! -d "$root/node_modules/wrangler" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  say "installing npm dev dependencies"
  (cd "$root" && npm ci --no-audit --no-fund >&2)
fi

export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
export WRANGLER_SEND_METRICS=false
