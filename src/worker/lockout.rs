//! Lockout across calls: the Durable Object class `Lockout` that keeps one counter, and the
//! worker's side that asks it.
//!
//! The worker carries out the engine's lockout effects here: [`take_try`], [`mark_hand_off`]
//! and [`give_back`]; which counter, when, and what an answer means are the engine's decisions
//! ([`crate::engine`]).
//!
//! One object per counter, named by [`crate::lockout::counter_name`] (a keyed hash: no phone
//! number or gathered value in the name or the storage). A Durable Object runs one request at
//! a time and its SQLite storage is strongly consistent, so parallel calls see one count;
//! Workers KV, eventually consistent, could not give that. The counting itself is
//! [`crate::lockout::Counter`], tested on the host; this file only stores its times, and the
//! calls that handed off.
//!
//! Written against the runtime's own types rather than the `worker` crate's `durable_object`
//! macro, whose request and response wrappers cost 12.7 KiB of the upload (gzip).

use wasm_bindgen::prelude::*;
use worker::js_sys::{self, Array, Reflect};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, AbortSignal, RequestInit, ResponseInit};
use worker::worker_sys::{DurableObjectNamespace, DurableObjectState, DurableObjectStorage};
use worker::Env;

use crate::engine::CounterAnswer;
use crate::lockout::{Counter, HandOffMark, Limits, Verdict};

/// The binding `wrangler.toml` gives the class.
pub const BINDING: &str = "LOCKOUT";

/// The Durable Object: `POST https://lockout/begin?failures=N&window_ms=M` answers `open` or
/// `locked`; `POST https://lockout/succeed?…` gives the newest try back and answers `ok`;
/// `POST https://lockout/handoff?call=<CallSid>` answers `first` the first time a call's flow
/// hands off and `replayed` after.
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
            .and_then(|op| match op {
                Op::Begin(limits) => self.count(true, limits),
                Op::Succeed(limits) => self.count(false, limits),
                Op::HandOff(call_sid) => self.mark(&call_sid),
            });
        let status = if answer.is_ok() { 200 } else { 500 };
        let init = ResponseInit::new();
        init.set_status(status);
        web_sys::Response::new_with_opt_str_and_init(answer.ok(), &init)
            .unwrap_or_else(|_| JsValue::NULL.unchecked_into())
    }
}

impl Lockout {
    fn count(&self, begin: bool, limits: Limits) -> Result<&'static str, JsValue> {
        let sql = self.storage.sql();
        sql.exec(
            "CREATE TABLE IF NOT EXISTS tries (at INTEGER NOT NULL)",
            Array::new(),
        )?;
        let rows = sql
            .exec("SELECT at FROM tries ORDER BY at", Array::new())?
            .to_array();
        // Each row is an object `{ at }`: when the try was taken, in Unix milliseconds, which
        // must be a whole number the runtime holds exactly (as serde-wasm-bindgen read it).
        let at = JsValue::from_str("at");
        let stored: Vec<u64> = rows
            .iter()
            .map(|row| {
                let value = Reflect::get(&row, &at).ok()?;
                let n = value.as_f64()?;
                (js_sys::Number::is_safe_integer(&value) && n >= 0.0).then_some(n as u64)
            })
            .collect::<Option<_>>()
            .ok_or_else(|| JsValue::from_str("a tries row is not a number"))?;
        let mut counter = Counter {
            times: stored.clone(),
        };
        let now = js_sys::Date::now() as u64;
        let answer = match begin {
            true => match counter.begin(limits, now) {
                Verdict::Open => "open",
                Verdict::Locked => "locked",
            },
            false => {
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

    /// Marks a call's hand-off: one indexed row per call, kept for
    /// [`crate::lockout::HAND_OFF_MEMORY_MS`] (older rows, and any from the future, are
    /// dropped first), so a busy counter is not rewritten whole on every call.
    fn mark(&self, call_sid: &str) -> Result<&'static str, JsValue> {
        let sql = self.storage.sql();
        sql.exec(
            "CREATE TABLE IF NOT EXISTS handoffs (call TEXT PRIMARY KEY, at INTEGER NOT NULL)",
            Array::new(),
        )?;
        let now = js_sys::Date::now();
        let oldest = now - crate::lockout::HAND_OFF_MEMORY_MS as f64;
        let bounds = Array::of2(&JsValue::from_f64(oldest), &JsValue::from_f64(now));
        sql.exec("DELETE FROM handoffs WHERE at <= ? OR at > ?", bounds)?;
        let call = JsValue::from_str(call_sid);
        let seen = sql
            .exec("SELECT at FROM handoffs WHERE call = ?", Array::of1(&call))?
            .to_array()
            .length()
            > 0;
        if seen {
            return Ok("replayed");
        }
        let row = Array::of2(&call, &JsValue::from_f64(now));
        sql.exec("INSERT INTO handoffs (call, at) VALUES (?, ?)", row)?;
        Ok("first")
    }
}

/// What a request to the object asks.
enum Op {
    Begin(Limits),
    Succeed(Limits),
    HandOff(String),
}

fn counting_url(op: &str, limits: Limits) -> String {
    format!(
        "https://lockout/{op}?failures={}&window_ms={}",
        limits.failures, limits.window_ms
    )
}

fn parse_request(url: &str) -> Option<Op> {
    let rest = url.strip_prefix("https://lockout/")?;
    let (op, query) = rest.split_once('?')?;
    if op == "handoff" {
        let call_sid = query.strip_prefix("call=")?;
        return crate::flow::is_call_sid(call_sid).then(|| Op::HandOff(call_sid.to_owned()));
    }
    let mut failures = None;
    let mut window_ms = None;
    for pair in query.split('&') {
        match pair.split_once('=')? {
            ("failures", n) => failures = n.parse().ok(),
            ("window_ms", n) => window_ms = n.parse().ok(),
            _ => return None,
        }
    }
    let limits = Limits {
        failures: failures?,
        window_ms: window_ms?,
    };
    match op {
        "begin" => Some(Op::Begin(limits)),
        "succeed" => Some(Op::Succeed(limits)),
        _ => None,
    }
}

/// A call takes a try from the counter `counter` ([`crate::engine::Effect::TakeTry`]).
pub async fn take_try(env: &Env, counter: &str, limits: Limits, wait_ms: u32) -> CounterAnswer {
    match ask(env, counter, counting_url("begin", limits), wait_ms)
        .await
        .as_deref()
    {
        Ok("open") => CounterAnswer::Open,
        Ok("locked") => CounterAnswer::Locked,
        _ => CounterAnswer::Unavailable,
    }
}

/// Marks in the counter's object that the call hands off
/// ([`crate::engine::Effect::MarkHandOff`]); `None` when the object could not be reached.
pub async fn mark_hand_off(
    env: &Env,
    counter: &str,
    call_sid: &str,
    wait_ms: u32,
) -> Option<HandOffMark> {
    let url = format!("https://lockout/handoff?call={call_sid}");
    match ask(env, counter, url, wait_ms).await.as_deref() {
        Ok("first") => Some(HandOffMark::First),
        Ok("replayed") => Some(HandOffMark::Replayed),
        _ => None,
    }
}

/// Gives back the try the call took from each counter ([`crate::engine::Effect::GiveBack`]).
pub async fn give_back(env: &Env, counters: &[String], limits: Limits, wait_ms: u32) {
    for name in counters {
        // If this fails the try stays counted: the caller loses one, no one gains one.
        let _ = ask(env, name, counting_url("succeed", limits), wait_ms).await;
    }
}

/// Whether the binding is there (settings check it before a call is let in).
pub fn bound(env: &Env) -> bool {
    Reflect::get(env, &JsValue::from_str(BINDING)).is_ok_and(|b| b.is_object())
}

/// Asks the counter `name`, waiting at most `wait_ms` (then the answer is an error: the caller
/// fails closed).
async fn ask(env: &Env, name: &str, url: String, wait_ms: u32) -> Result<String, JsValue> {
    let namespace: DurableObjectNamespace =
        Reflect::get(env, &JsValue::from_str(BINDING))?.unchecked_into();
    let stub = namespace.get_by_name(name)?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_signal(Some(&AbortSignal::timeout_with_u32(wait_ms)));
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
