#!/usr/bin/env bash
# The first command: builds the worker and serves it locally with `wrangler dev` (the real
# workerd runtime) on the local demo, wrangler.toml's [env.dev]: the development build (with the
# demo backend at /decrypt-gather), the articles' card-and-PIN flow handed to that backend (with
# limits: five failed calls lock a number out), a French flow ending in a <Redirect>, a flow
# "otp" that adds a one-time code from Twilio Verify, a card payment "pay" whose every step
# goes to a status_callback, and the throwaway dev secrets in .dev.vars (copied from
# .dev.vars.example when missing). It also starts the local Verify stand-in
# (scripts/verify-mock.js on 127.0.0.1:4010, code 123456), when examples/status-board/ is
# there, the status board that receives the pay flow's events (127.0.0.1:8788, page at /), and,
# when examples/ai-agent/ is there, the AI agent behind the sealing relay /relay/agent
# (127.0.0.1:8789, with the dev secrets). Then, from another terminal, walk a whole signed call
# through it, or play a ConversationRelay session with the agent:
#
#   node scripts/call.js --flow default 1234 4321
#   node scripts/call.js --flow otp 1234 4321 123456#
#   node scripts/call.js --flow pay 4242424242424242# 1 123 1228 1
#   node scripts/call.js --calls 6 1234 0000          a caller locked out
#   node scripts/relay-call.js "I want to pay my bill" 4242424242424242# 123 1228
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
else
  for name in BACKEND_SIGNING_SECRET TWILIO_API_KEY_SID TWILIO_API_KEY_SECRET; do
    grep -q "^$name=" .dev.vars ||
      say "warning: .dev.vars has no $name (see .dev.vars.example): calls will hear the apology"
  done
fi

bash scripts/build-worker.sh --demo

# The otp flow's Verify is the local stand-in (TWILIO_VERIFY_URL in [env.dev.vars]).
node scripts/verify-mock.js --port 4010 --code 123456 &
mock=$!
# The pay flow's status_callback is http://127.0.0.1:8788/status ([env.dev.vars]): the example
# status board, when it is there. Without it the worker only logs status-callback-failed.
board=
if [ -f examples/status-board/server.js ]; then
  # It runs on the npm package (pkg/, linked by `file:`): built and installed once.
  if [ ! -e examples/status-board/node_modules/gather-seal ]; then
    [ -f pkg/package.json ] || bash scripts/build-node.sh >&2
    say "installing the status board's dependencies (npm install in examples/status-board)"
    (cd examples/status-board && npm install --no-audit --no-fund --loglevel=error >&2)
  fi
  # The board may check each event's signature: it gets the dev signing secret the worker signs with.
  PORT=8788 BACKEND_SIGNING_SECRET="$(sed -n 's/^BACKEND_SIGNING_SECRET=//p' .dev.vars)" \
    node examples/status-board/server.js &
  board=$!
  say "status board: http://127.0.0.1:8788/ (the pay flow's events)"
fi
# The relay "agent" dials ws://127.0.0.1:8789/agent ([env.dev.vars.GATHER_RELAYS]): the example
# AI agent, when it is there. Without it every relayed session ends at once (upstream-unavailable).
agent=
if [ -f examples/ai-agent/server.js ]; then
  # Installed once, like the board (ws, and the npm package from pkg/).
  if [ ! -e examples/ai-agent/node_modules/gather-seal ] || [ ! -e examples/ai-agent/node_modules/ws ]; then
    [ -f pkg/package.json ] || bash scripts/build-node.sh >&2
    say "installing the AI agent's dependencies (npm install in examples/ai-agent)"
    (cd examples/ai-agent && npm install --no-audit --no-fund --loglevel=error >&2)
  fi
  # It checks the relay's handshake and opens the sealed result with the worker's dev secrets.
  PORT=8789 BACKEND_SIGNING_SECRET="$(sed -n 's/^BACKEND_SIGNING_SECRET=//p' .dev.vars)" \
    AES_SECRET="$(sed -n 's/^AES_SECRET=//p' .dev.vars)" \
    AES_SECRET_PREVIOUS="$(sed -n 's/^AES_SECRET_PREVIOUS=//p' .dev.vars)" \
    node examples/ai-agent/server.js &
  agent=$!
  say "AI agent: ws://127.0.0.1:8789/agent behind ws://127.0.0.1:8787/relay/agent; play a session with:"
  say "  node scripts/relay-call.js \"I want to pay my bill\" 4242424242424242# 123 1228"
fi
trap 'kill "$mock" $board $agent 2>/dev/null || true' EXIT

# The demo flow's action is http://127.0.0.1:8787/decrypt-gather, so the port is fixed.
say "serving http://127.0.0.1:8787/gather; walk a call with: node scripts/call.js --flow default 1234 4321"
say "or play one in the browser: http://127.0.0.1:8787/simulator (the call simulator, development build only):"
say "  flows default (call again to see a lockout), otp (the code shows on the page), pay (status events, Visa ending 4242)"
npx --no-install wrangler dev --env dev --ip 127.0.0.1 --port 8787 "$@"
