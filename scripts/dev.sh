#!/usr/bin/env bash
# The first command: builds the worker and serves it locally with `wrangler dev` (the real
# workerd runtime) on the demo defaults from wrangler.toml (the worker's own demo backend at
# /decrypt-gather) and the throwaway dev secrets in .dev.vars, copied from .dev.vars.example
# when missing. Then, from another terminal, walk a whole signed call through it:
#
#   node scripts/call.js 1234 4321
#
# PORT=8788 bash scripts/dev.sh serves on another port (BACKEND_URL follows it). Further
# arguments go to `wrangler dev`. Ctrl-C stops it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/setup.sh"
cd "$root"
say() { printf 'dev: %s\n' "$*" >&2; }

if [ ! -f .dev.vars ]; then
  cp .dev.vars.example .dev.vars
  say "created .dev.vars from .dev.vars.example (throwaway development secrets)"
fi

bash scripts/build-worker.sh

port=${PORT:-8787}
args=(--ip 127.0.0.1 --port "$port")
if [ "$port" != 8787 ]; then
  args+=(--var "BACKEND_URL:http://127.0.0.1:$port/decrypt-gather")
fi
say "serving http://127.0.0.1:$port/gather; walk a call with: node scripts/call.js 1234 4321"
[ "$port" = 8787 ] || say "(and --url http://127.0.0.1:$port/gather)"
exec npx --no-install wrangler dev "${args[@]}" "$@"
