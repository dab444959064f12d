#!/usr/bin/env bash
# The first command: builds the worker and serves it locally with `wrangler dev` (the real
# workerd runtime) on the local demo, wrangler.toml's [env.dev]: the development build (with the
# demo backend at /decrypt-gather), the articles' card-and-PIN flow handed to that backend, a French flow ending in a
# <Redirect>, and the throwaway dev secrets in .dev.vars (copied from .dev.vars.example when
# missing). Then, from another terminal, walk a whole signed call through it:
#
#   node scripts/call.js --flow default 1234 4321
#
# Further arguments go to `wrangler dev`. Ctrl-C stops it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/setup.sh"
cd "$root"
say() { printf 'dev: %s\n' "$*" >&2; }

if [ ! -f .dev.vars ]; then
  cp .dev.vars.example .dev.vars
  say "created .dev.vars from .dev.vars.example (throwaway development secrets)"
elif ! grep -q '^BACKEND_SIGNING_SECRET=' .dev.vars; then
  say "warning: .dev.vars has no BACKEND_SIGNING_SECRET (see .dev.vars.example): calls will hear the apology"
fi

bash scripts/build-worker.sh --demo

# The demo flow's action is http://127.0.0.1:8787/decrypt-gather, so the port is fixed.
say "serving http://127.0.0.1:8787/gather; walk a call with: node scripts/call.js --flow default 1234 4321"
exec npx --no-install wrangler dev --env dev --ip 127.0.0.1 --port 8787 "$@"
