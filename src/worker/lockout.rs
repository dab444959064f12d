//! Lockout across calls: the Durable Object class `Lockout` that keeps one counter, and the
//! worker's side that asks it.
//!
//! The route calls [`enter`] as a call comes in and [`settle`] when it ended well.
//!
//! One object per caller and flow, named by [`crate::lockout::counter_name`] (a keyed hash:
//! no phone number in the name or the storage). A Durable Object runs one request at a time
//! and its SQLite storage is strongly consistent, so parallel calls from one number see one
//! count; Workers KV, eventually consistent, could not give that. The counting itself is
//! [`crate::lockout::Counter`], tested on the host; this file only stores its times.
//!
//! Written against the runtime's own types rather than the `worker` crate's `durable_object`
//! macro, whose request and response wrappers cost 12.7 KiB of the upload (gzip).

use core::time::Duration;

use wasm_bindgen::prelude::*;
use worker::js_sys::{self, Array, Reflect};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, AbortSignal, RequestInit, ResponseInit};
use worker::worker_sys::{DurableObjectNamespace, DurableObjectState, DurableObjectStorage};
use worker::Env;

use crate::config::{Anonymous, Flow};
use crate::flow::GatherResult;
use crate::lockout::{Caller, Counter, Limits, Verdict};

/// The binding `wrangler.toml` gives the class.
pub const BINDING: &str = "LOCKOUT";
/// How long the worker waits for the counter before failing closed.
const TIMEOUT: Duration = Duration::from_secs(3);

/// The Durable Object: `POST https://lockout/begin?failures=N&window_ms=M` answers `open` or
/// `locked`; `POST https://lockout/succeed?…` gives the newest try back and answers `ok`.
#[wasm_bindgen]
pub struct Lockout {
    storage: DurableObjectStorage,
}

#[wasm_bindgen]
impl Lockout {
    #[wasm_bindgen(constructor)]
    pub fn new(state: DurableObjectState, _env: JsValue) -> Result<Lockout, JsValue> {
        Ok(Lockout {
            storage: state.storage()?,
        })
    }

    /// One request, start to end without awaiting, so its reads and writes are one atomic
    /// step of the object. Anything wrong is a 500, which the worker treats as unreachable.
    pub fn fetch(&self, req: web_sys::Request) -> web_sys::Response {
        let answer = parse_request(&req.url())
            .ok_or(JsValue::NULL)
            .and_then(|(op, limits)| self.count(op, limits));
        let status = if answer.is_ok() { 200 } else { 500 };
        let init = ResponseInit::new();
        init.set_status(status);
        web_sys::Response::new_with_opt_str_and_init(answer.ok(), &init)
            .unwrap_or_else(|_| JsValue::NULL.unchecked_into())
    }
}

impl Lockout {
    fn count(&self, op: Op, limits: Limits) -> Result<&'static str, JsValue> {
        let sql = self.storage.sql();
        sql.exec(
            "CREATE TABLE IF NOT EXISTS tries (at INTEGER NOT NULL)",
            Array::new(),
        )?;
        let rows = sql
            .exec("SELECT at FROM tries ORDER BY at", Array::new())?
            .to_array();
        let stored: Vec<u64> = rows
            .iter()
            .filter_map(|row| Reflect::get(&row, &JsValue::from_str("at")).ok()?.as_f64())
            .map(|at| at as u64)
            .collect();
        let mut counter = Counter {
            times: stored.clone(),
        };
        let now = js_sys::Date::now() as u64;
        let answer = match op {
            Op::Begin => match counter.begin(limits, now) {
                Verdict::Open => "open",
                Verdict::Locked => "locked",
            },
            Op::Succeed => {
                counter.succeed(limits, now);
                "ok"
            }
        };
        // Written back only when it changed (a locked caller's call usually changes nothing).
        if counter.times == stored {
            return Ok(answer);
        }
        sql.exec("DELETE FROM tries", Array::new())?;
        for at in &counter.times {
            let bindings = Array::of1(&JsValue::from_f64(*at as f64));
            sql.exec("INSERT INTO tries (at) VALUES (?)", bindings)?;
        }
        Ok(answer)
    }
}

#[derive(Clone, Copy)]
enum Op {
    Begin,
    Succeed,
}

fn request_url(op: Op, limits: Limits) -> String {
    let op = match op {
        Op::Begin => "begin",
        Op::Succeed => "succeed",
    };
    format!(
        "https://lockout/{op}?failures={}&window_ms={}",
        limits.failures, limits.window_ms
    )
}

fn parse_request(url: &str) -> Option<(Op, Limits)> {
    let rest = url.strip_prefix("https://lockout/")?;
    let (op, query) = rest.split_once('?')?;
    let op = match op {
        "begin" => Op::Begin,
        "succeed" => Op::Succeed,
        _ => return None,
    };
    let mut failures = None;
    let mut window_ms = None;
    for pair in query.split('&') {
        match pair.split_once('=')? {
            ("failures", n) => failures = n.parse().ok(),
            ("window_ms", n) => window_ms = n.parse().ok(),
            _ => return None,
        }
    }
    Some((
        op,
        Limits {
            failures: failures?,
            window_ms: window_ms?,
        },
    ))
}

/// What the worker learns from a caller's counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Open,
    Locked,
    /// The object could not be reached, answered something else, or took too long.
    Unavailable,
}

/// A call entering a flow with `limits` takes a try from its caller's counter. `Some` when it
/// may not go on: the result to hand off at once, and the log's word for it.
pub async fn enter(env: &Env, flow: &Flow, from: &str) -> Option<(GatherResult, &'static str)> {
    let limits = flow.limits?;
    let Some(name) = counter_name(env, flow, from) else {
        return Some((GatherResult::Anonymous, "anonymous-refused"));
    };
    match begin(env, &name, limits).await {
        Answer::Open => None,
        Answer::Locked => Some((GatherResult::Locked, "locked")),
        Answer::Unavailable => Some((GatherResult::Unavailable, "lockout-unavailable")),
    }
}

/// A call that ended well gives its try back.
pub async fn settle(env: &Env, flow: &Flow, from: &str, limits: Limits) {
    if let Some(name) = counter_name(env, flow, from) {
        // If this fails the try stays counted: the caller loses one, no one gains one.
        let _ = succeed(env, &name, limits).await;
    }
}

/// The counter of this caller in this flow; `None` for a withheld number the flow refuses.
fn counter_name(env: &Env, flow: &Flow, from: &str) -> Option<String> {
    let caller = match crate::lockout::caller(from) {
        Caller::Known(number) => Some(number),
        Caller::Withheld if flow.anonymous == Anonymous::Shared => None,
        Caller::Withheld => return None,
    };
    let key = super::settings::counter_key(env);
    Some(crate::lockout::counter_name(
        key.as_bytes(),
        &flow.name,
        caller,
    ))
}

/// Whether the binding is there (settings check it before a call is let in).
pub fn bound(env: &Env) -> bool {
    Reflect::get(env, &JsValue::from_str(BINDING)).is_ok_and(|b| b.is_object())
}

/// A call entering a flow takes a try from the counter `name`.
async fn begin(env: &Env, name: &str, limits: Limits) -> Answer {
    match ask(env, name, request_url(Op::Begin, limits))
        .await
        .as_deref()
    {
        Ok("open") => Answer::Open,
        Ok("locked") => Answer::Locked,
        _ => Answer::Unavailable,
    }
}

/// Gives the newest try of the counter `name` back; `true` when the object said so.
async fn succeed(env: &Env, name: &str, limits: Limits) -> bool {
    ask(env, name, request_url(Op::Succeed, limits))
        .await
        .as_deref()
        == Ok("ok")
}

async fn ask(env: &Env, name: &str, url: String) -> Result<String, JsValue> {
    let namespace: DurableObjectNamespace =
        Reflect::get(env, &JsValue::from_str(BINDING))?.unchecked_into();
    let stub = namespace.get_by_name(name)?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_signal(Some(&AbortSignal::timeout_with_u32(
        TIMEOUT.as_millis() as u32
    )));
    let request = web_sys::Request::new_with_str_and_init(&url, &init)?;
    let response: web_sys::Response = JsFuture::from(stub.fetch_with_request(&request)?)
        .await?
        .unchecked_into();
    if !response.ok() {
        return Err(JsValue::from_f64(f64::from(response.status())));
    }
    JsFuture::from(response.text()?)
        .await?
        .as_string()
        .ok_or_else(|| js_sys::Error::new("not text").into())
}
