//! Edge glue: the Cloudflare Worker that serves the gather flows (feature `worker`).
//!
//! It only carries out: check the request's shape, verify Twilio's signature, read the
//! settings, then drive the engine's turn ([`crate::engine`]) by performing each effect it asks
//! for (a lockout counter, Twilio Verify, the application) and writing its answer and log line.
//! Every decision is made by the pure core, which is tested on the host.
//!
//! - [`routes`]: `POST /gather` (the `default` flow) and `POST /gather/<flow>`, the voice
//!   webhook and every `<Gather>` action after it;
//! - `demo`, `simulator`: `POST /decrypt-gather` (the demo backend), `/simulator` (the call
//!   simulator page) and `POST /__trap` (a panic on purpose, so a test can check the next
//!   request still works), only in the local development build (feature `demo`);
//! - [`settings`]: bindings, and the flows parsed once per isolate;
//! - [`outbound`]: the signed POST to a flow's `then.action`, and Twilio Verify's requests;
//! - [`lockout`]: the `Lockout` Durable Object that counts failed tries across calls, and the
//!   worker's side of it;
//! - [`http`]: bodies within limits, form parameters, responses;
//! - [`log`]: the one JSON log line per request.

#[cfg(feature = "demo")]
mod demo;
mod http;
mod lockout;
mod log;
mod outbound;
mod relay;
mod routes;
mod settings;

use core::convert::Infallible;

use worker::{event, js_sys, web_sys, Context, Env};

use self::http::{split_url, Reply};
use self::log::LogLine;
use crate::outcome::Outcome;

/// A small free-list allocator (coalescing, O(free blocks) per call) instead of dlmalloc: a
/// request makes a few dozen small allocations, and it is ~3 KiB gzip smaller.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

// The handler takes and returns the runtime's own Request and Response (not worker's wrappers,
// whose conversions and error formatting cost upload size), and cannot fail: every outcome,
// including a broken request, is a `Reply`.
#[event(fetch)]
async fn fetch(
    req: web_sys::Request,
    env: Env,
    ctx: Context,
) -> Result<web_sys::Response, Infallible> {
    let started = js_sys::Date::now();
    let mut log = LogLine::new();
    let url = req.url();
    let (origin, path_and_query) = split_url(&url);
    let path = path_and_query.split('?').next().unwrap_or("");
    let reply = if let Some(flow) = routes::flow_of_path(path) {
        routes::gather(&req, &env, &ctx, flow, origin, path_and_query, &mut log).await
    } else if let Some(name) = relay::relay_of_path(path) {
        match relay::relay(&req, &env, name, origin, path, &mut log).await {
            Ok(switching) => {
                log.write(0);
                return Ok(switching);
            }
            Err(reply) => reply,
        }
    } else if cfg!(feature = "demo") && (path == "/decrypt-gather" || is_simulator(path)) {
        match demo_backend(&req, &env, &mut log).await {
            Ok(switching) => return Ok(switching),
            Err(reply) => reply,
        }
    } else if cfg!(feature = "demo") && path == "/__trap" && req.method() == "POST" {
        trap(&mut log)
    } else {
        log.refuse(Outcome::UnknownPath, Reply::plain(404, "Not Found"))
    };
    log.write((js_sys::Date::now() - started).max(0.0) as u64);
    Ok(reply.into_response())
}

/// `POST /__trap` in the development build: a panic, which with the release profile's
/// `panic = "abort"` traps the wasm instance. `tests/worker/trap.test.js` sends it, then a signed
/// call, to check that the entry shim (`src/worker/shim.mjs`) starts a new instance and the
/// call is answered. Not compiled into the production build.
#[cfg(feature = "demo")]
#[allow(clippy::panic)]
fn trap(_: &mut LogLine) -> Reply {
    panic!("POST /__trap: a panic on purpose (development build only)")
}

#[cfg(not(feature = "demo"))]
fn trap(log: &mut LogLine) -> Reply {
    log.refuse(Outcome::UnknownPath, Reply::plain(404, "Not Found"))
}

#[cfg(feature = "demo")]
async fn demo_backend(req: &web_sys::Request, env: &Env, log: &mut LogLine) -> Routed {
    development_route(req, env, log).await
}

#[cfg(not(feature = "demo"))]
async fn demo_backend(_: &web_sys::Request, _: &Env, log: &mut LogLine) -> Routed {
    Err(log.refuse(Outcome::UnknownPath, Reply::plain(404, "Not Found")))
}

/// What a development route answers: the 101 of a WebSocket (the call simulator's relay
/// bridge), or a reply.
type Routed = Result<web_sys::Response, Reply>;

// What follows is the development build's alone (feature `demo`).

#[cfg(feature = "demo")]
mod simulator;

/// The development build's own routes: the demo backend (`POST /decrypt-gather`) and the call
/// simulator (`/simulator`, `/simulator/…`): a reply, or the 101 of the simulator's relay
/// bridge (`/simulator/relay`).
#[cfg(feature = "demo")]
async fn development_route(req: &web_sys::Request, env: &Env, log: &mut LogLine) -> Routed {
    let url = req.url();
    let (origin, path_and_query) = split_url(&url);
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    if path == "/decrypt-gather" {
        Err(demo::decrypt_gather(req, env, log).await)
    } else if path == "/simulator/relay" {
        // Its requests write no log line: the relay route writes the session's.
        log.silent = true;
        simulator::bridge(req, env, origin, query).await
    } else {
        Err(simulator::serve(req, env, origin, path_and_query, log).await)
    }
}

/// Whether `path` is the call simulator's: never in the production build.
#[cfg(feature = "demo")]
fn is_simulator(path: &str) -> bool {
    simulator::is_path(path)
}

#[cfg(not(feature = "demo"))]
fn is_simulator(_: &str) -> bool {
    false
}
