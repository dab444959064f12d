// The worker's entry module, in place of worker-build's default shim: scripts/build-worker.sh
// hands this file to worker-build as CUSTOM_SHIM, which binds the crate with wasm-bindgen's
// bundler target, writes this file beside the glue (build/worker/) and bundles both into
// build/worker/shim.mjs. Imports are therefore relative to build/worker/, not to this folder.
// It lives in src/worker/ because it is part of the worker's glue, and so that `wrangler dev`
// (watch_dir = "src") rebuilds when it changes.
//
// Why our own: worker-build's default entry builds a Proxy over a WorkerEntrypoint for every
// request, and wraps every call in further Proxies, to re-create the wasm instance after a trap.
// That costs about 0.015 ms of CPU per request (benches/README.md). Here the runtime calls a
// plain `fetch`, which calls the glue's `fetch` directly, and the same guarantee is kept with a
// flag checked once per request: after a trap (a Rust panic is a trap, with the release
// profile's panic = "abort"), the next request runs on a new instance.
//
// How a trap is noticed, any one is enough: the worker crate's panic hook sets
// globalThis.__worker_init_state.criticalError; a WebAssembly.RuntimeError thrown out of a
// call; one thrown in a microtask (where wasm-bindgen-futures polls the handler), which the
// runtime reports as an "error" event, or a rejected promise nobody awaited.
//
// Re-creating the instance is the glue's own work. wasm-bindgen emits its reinit machinery
// whenever the crate can ask for it (the worker crate does): `__wbg_reset_state` counts
// instances, drops the cached views of the old memory, instantiates the module anew and starts
// it; every call into wasm first checks whether a reset was asked for; objects (a Lockout) and
// closures made by an old instance refuse to run in the new one, and their finalizers no
// longer free memory in it. In the bundler target this shim is bound with, that function refers
// to three names it does not declare (`wasmModule`, `wasmInstance`, `__wbg_get_imports`); they
// are provided below as globals, and the reset is asked for through the glue's own
// `__wbindgen_reinit` import. wasm-bindgen is pinned exactly (Cargo.toml), and
// tests/worker/trap.test.js checks all this still holds.

import * as glue from "./index_bg.js";
import wasmModule from "./index.wasm";
$SNIPPET_JS_IMPORTS

// wasm-bindgen-futures runs the handler's tasks in a microtask it schedules with the global
// queueMicrotask when there is one, else with Promise.then. In workerd queueMicrotask is a call
// into C++, measurably dearer than Promise.then (0.010-0.027 ms per request, benches/README.md),
// for the same ordering: both run the tasks as a microtask. So the glue's import that reads
// globalThis.queueMicrotask for that check is answered "none". It is found by what it does
// (it returns its argument's queueMicrotask; the other import of that name calls the global).
const queueMicrotaskCheck = Object.keys(glue).find((name) => {
  if (!name.startsWith("__wbg_queueMicrotask_")) return false;
  const probe = { queueMicrotask: Symbol("probe") };
  try {
    return glue[name](probe) === probe.queueMicrotask;
  } catch {
    return false;
  }
});

const imports = {
  "./index_bg.js": queueMicrotaskCheck ? { ...glue, [queueMicrotaskCheck]: () => undefined } : glue,
  $SNIPPET_WASM_IMPORTS
};

const reinitName = Object.keys(glue).find((name) => name.startsWith("__wbg___wbindgen_reinit_"));
if (reinitName === undefined || typeof glue.__worker_init_state !== "function") {
  throw new Error("gather-seal: the wasm-bindgen glue has no reinit machinery; see src/worker/shim.mjs");
}
const scheduleReset = glue[reinitName];

globalThis.wasmModule = wasmModule;
globalThis.__wbg_get_imports = () => imports;
globalThis.wasmInstance = new WebAssembly.Instance(wasmModule, imports);
glue.__wbg_set_wasm(globalThis.wasmInstance.exports);
globalThis.wasmInstance.exports.__wbindgen_start();

// The worker crate's state object: its start function counts instances (instanceId), its panic
// hook sets criticalError.
const initState = globalThis.__worker_init_state;
let trapped = false;

function noteTrap(error) {
  if (error instanceof WebAssembly.RuntimeError) trapped = true;
}

/** Before each call into wasm: a new instance if the last one trapped. */
function ready() {
  if (trapped || initState.criticalError) {
    console.error("gather-seal: the wasm instance trapped; starting a new one");
    scheduleReset();
    // Any call into wasm carries the reset out first; this one is cheap and has no effect.
    glue.__worker_init_state();
    trapped = false;
    initState.criticalError = false;
  }
}

addEventListener("error", (event) => noteTrap(event.error));
addEventListener("unhandledrejection", (event) => noteTrap(event.reason));

export default {
  fetch(request, env, ctx) {
    ready();
    try {
      return glue.fetch(request, env, ctx);
    } catch (error) {
      noteTrap(error);
      throw error;
    }
  },
};

/**
 * The Lockout Durable Object (wrangler.toml binds it): the wasm class, made again from the same
 * arguments when the instance it lived in has been replaced.
 */
export class Lockout {
  constructor(state, env) {
    ready();
    this.args = [state, env];
    this.instanceId = initState.instanceId;
    this.inner = new glue.Lockout(state, env);
  }

  fetch(request) {
    ready();
    if (this.instanceId !== initState.instanceId) {
      this.inner = new glue.Lockout(...this.args);
      this.instanceId = initState.instanceId;
    }
    try {
      return this.inner.fetch(request);
    } catch (error) {
      noteTrap(error);
      throw error;
    }
  }
}
