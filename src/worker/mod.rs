//! Edge glue: the Cloudflare Worker that serves the gather flow (feature `worker`).
//!
//! It only sequences: check the request's shape, verify Twilio's signature, parse, call
//! [`flow::advance`], forward the sealed values, answer. Every decision is made by the pure
//! core ([`flow`], [`backend`], [`crate::twilio`]), which is tested on the host.
//!
//! Routes:
//!
//! - `POST /gather`: the voice webhook and every `<Gather>` action after it. The call's state
//!   comes only from the action URL's query; `CallSid` and `Digits` only from the signed body.
//! - `POST /decrypt-gather`: the articles' demo backend, served only when
//!   `DEMO_BACKEND = "true"`.
//!
//! Every request writes exactly one JSON log line, `{"callSid","step","outcome","ms"}` (plus
//! `"setting"` and `"problem"` when a setting is missing or malformed). It never holds
//! digits, plaintext, ciphertext or a secret: the `CallSid` only once the signature is
//! verified, the step only as a configured field name, outcomes and problems as fixed words.

use core::convert::Infallible;
use core::time::Duration;
use std::borrow::Cow;

use worker::js_sys::{self, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{
    self, AbortSignal, Headers, RequestInit, RequestRedirect, ResponseInit, WorkerGlobalScope,
};
use worker::{console_log, event, Context, Date, Env};
use zeroize::{Zeroize, Zeroizing};

use crate::backend::{self, DemoAnswer};
use crate::flow::{self, Account, CallState, FlowConfig, Turn};
use crate::{verify_twilio_signature, Error, KeyRing, SettingError};

/// The largest request body read, in bytes. A Twilio webhook is well under 4 KiB.
const BODY_CAP: usize = 16 * 1024;
/// The largest backend answer read, in bytes.
const ANSWER_CAP: usize = 16 * 1024;
/// How long the backend has to answer before the caller hears the not-found goodbye.
const BACKEND_TIMEOUT: Duration = Duration::from_secs(5);

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
const XML: &str = "text/xml";

/// A small free-list allocator (coalescing, O(free blocks) per call) instead of dlmalloc: a
/// request makes a few dozen small allocations, and it is ~3 KiB gzip smaller.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

// The handler takes and returns the runtime's own Request and Response (not worker's wrappers,
// whose conversions and error formatting cost more upload size than this whole crate), and
// cannot fail: every outcome, including a broken request, is a `Reply`.
#[event(fetch)]
async fn fetch(
    req: web_sys::Request,
    env: Env,
    _ctx: Context,
) -> Result<web_sys::Response, Infallible> {
    let started = Date::now().as_millis();
    let mut log = LogLine::default();
    let url = req.url();
    let (origin, path_and_query) = split_url(&url);
    let path = path_and_query.split('?').next().unwrap_or("");
    let reply = match path {
        "/gather" => gather(&req, &env, origin, path_and_query, &mut log).await,
        "/decrypt-gather" if setting(&env, "DEMO_BACKEND").as_deref() == Some("true") => {
            decrypt_gather(&req, &env, &mut log).await
        }
        _ => log.refuse("unknown-path", Reply::plain(404, "Not Found")),
    };
    log.write(Date::now().as_millis().saturating_sub(started));
    Ok(reply.into_response())
}

/// `POST /gather`: one turn of the call.
async fn gather(
    req: &web_sys::Request,
    env: &Env,
    origin: &str,
    path_and_query: &str,
    log: &mut LogLine,
) -> Reply {
    let body = match read_body(req, FORM).await {
        Ok(body) => body,
        Err((outcome, reply)) => return log.refuse(outcome, reply),
    };
    let form = Form::parse(&body);

    // The signature is checked before anything else is read from the request.
    let (token, public_url) = match signing_settings(env) {
        Ok(settings) => settings,
        Err(setting) => return log.misconfigured(setting),
    };
    let base = public_url.as_deref().unwrap_or(origin);
    let signed_url = format!("{base}{path_and_query}");
    let signature = req.headers().get("X-Twilio-Signature").ok().flatten();
    let signed =
        signature.is_some_and(|s| verify_twilio_signature(&token, &signed_url, &form.pairs, &s));
    if !signed {
        return log.refuse("bad-signature", Reply::plain(403, "Forbidden"));
    }

    let call_sid = form.get("CallSid").unwrap_or("");
    if is_call_sid(call_sid) {
        log.call_sid = Some(call_sid.to_owned());
    }
    // Every setting is checked before the caller is asked anything, so a misconfigured
    // deployment apologises at once instead of after the caller typed their digits.
    let settings = flow_settings(env).and_then(|(config, ring)| {
        let backend_url = url_setting(env, "BACKEND_URL")?
            .ok_or_else(|| SettingError::new("BACKEND_URL", "is missing"))?;
        Ok((config, ring, backend_url))
    });
    let (config, ring, backend_url) = match settings {
        Ok(settings) => settings,
        Err(setting) => return log.misconfigured(setting),
    };
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let query: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
    let state = match CallState::from_query(&config, &query) {
        Ok(state) => state,
        Err(_) => return log.bad_request("bad-state"),
    };
    let step = state
        .as_ref()
        .and_then(|s| config.fields.get(s.field))
        .map_or("start", |f| f.name.as_str());
    log.step = Some(step.to_owned());
    let call_comes_in = state.is_none();

    let turn = match flow::advance(&config, &ring, call_sid, state, form.get("Digits")) {
        Ok(turn) => turn,
        Err(Error::MissingCallSid) => return log.bad_request("missing-call-sid"),
        Err(Error::BadCallState) => return log.bad_request("bad-state"),
        Err(_) => return log.apologise("seal-failed"),
    };
    let action_base = format!("{base}{path}");
    match &turn {
        Turn::Submit { sealed } => {
            let submission = backend::submission(call_sid, sealed);
            let (outcome, account) = ask_backend(&backend_url, &submission).await;
            log.outcome = outcome;
            Reply::twiml(200, flow::answer_twiml(account.as_ref()))
        }
        Turn::Ask { retry, .. } => {
            log.outcome = match (retry, call_comes_in) {
                (true, _) => "reprompted",
                (false, true) => "asked",
                (false, false) => "sealed",
            };
            ask_or_hang_up(&turn, &config, &action_base, log)
        }
        Turn::GiveUp => {
            log.outcome = "gave-up";
            ask_or_hang_up(&turn, &config, &action_base, log)
        }
    }
}

/// `POST /decrypt-gather`: the demo backend. Opens the values with the key ring and answers
/// for the demo caller.
async fn decrypt_gather(req: &web_sys::Request, env: &Env, log: &mut LogLine) -> Reply {
    let body = match read_body(req, JSON).await {
        Ok(body) => body,
        Err((outcome, reply)) => return log.refuse(outcome, reply),
    };
    let (config, ring) = match flow_settings(env) {
        Ok(settings) => settings,
        Err(setting) => {
            log.note_setting(setting, "misconfigured");
            return Reply::plain(503, "Service Unavailable");
        }
    };
    let object = core::str::from_utf8(&body).ok().and_then(json_object);
    let member = |name: &str| object.as_ref().and_then(|o| member_text(o, name, false));
    match backend::demo_answer(&config, &ring, member) {
        DemoAnswer::Found(json) => {
            log.outcome = "demo-found";
            Reply::json(200, json)
        }
        DemoAnswer::NotFound => {
            log.outcome = "demo-not-found";
            Reply::json(404, r#"{"error":"not found"}"#.into())
        }
        DemoAnswer::BadRequest => {
            log.outcome = "demo-bad-request";
            Reply::json(400, r#"{"error":"bad request"}"#.into())
        }
    }
}

/// The TwiML for an `Ask` or `GiveUp` turn.
fn ask_or_hang_up(turn: &Turn, config: &FlowConfig, action_base: &str, log: &mut LogLine) -> Reply {
    match turn.twiml(config, action_base) {
        Some(xml) => Reply::twiml(200, xml),
        None => log.apologise("no-twiml"),
    }
}

/// Posts the sealed values to the backend and reads its answer, giving up after
/// [`BACKEND_TIMEOUT`] (the request is then aborted). Returns the log outcome and the account
/// when the backend knows the caller.
async fn ask_backend(url: &str, submission: &str) -> (&'static str, Option<Account>) {
    let signal = AbortSignal::timeout_with_u32(BACKEND_TIMEOUT.as_millis() as u32);
    match post_json(url, submission, signal.clone()).await {
        Ok((200, body)) => match read_answer(&body) {
            Some(account) => ("found", Some(account)),
            None => ("backend-bad-answer", None),
        },
        Ok((404, _)) => ("not-found", None),
        Ok(_) => ("backend-error-status", None),
        Err(_) if signal.aborted() => ("backend-timeout", None),
        Err(_) => ("backend-unreachable", None),
    }
}

/// A backend's 200 answer, `{"account": …, "balance": …}`, parsed by the host's `JSON.parse`
/// and checked by [`backend::answer`].
fn read_answer(body: &str) -> Option<Account> {
    let object = json_object(body)?;
    backend::answer(&member_text(&object, "account", true)?, &member_text(&object, "balance", true)?)
}

/// Parses `text` with the host's `JSON.parse`: `None` unless it is a JSON object.
fn json_object(text: &str) -> Option<js_sys::Object> {
    let value = js_sys::JSON::parse(text).ok()?;
    (value.is_object() && !js_sys::Array::is_array(&value)).then(|| value.unchecked_into())
}

/// An own member of `object` as text: a string as it is and, when `numbers`, a finite number as
/// JavaScript prints it (`12.50` reads as `12.5`). Anything else is `None`.
fn member_text(object: &js_sys::Object, name: &str, numbers: bool) -> Option<String> {
    let key = JsValue::from_str(name);
    if !js_sys::Object::has_own(object, &key) {
        return None;
    }
    let value = js_sys::Reflect::get(object, &key).ok()?;
    if let Some(text) = value.as_string() {
        return Some(text);
    }
    value.as_f64().filter(|n| numbers && n.is_finite())?;
    let number: js_sys::Number = value.unchecked_into();
    number.to_string_with_radix(10).ok().map(String::from)
}

/// `fetch(url, {method: "POST", body, signal})`: the status, and the body text when it is 200
/// and at most [`ANSWER_CAP`] bytes (a longer one reads as empty, which no parser accepts).
async fn post_json(url: &str, body: &str, signal: AbortSignal) -> Result<(u16, String), JsValue> {
    let headers = Headers::new()?;
    headers.set("Content-Type", JSON)?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(body));
    init.set_signal(Some(&signal));
    // A redirect is an error, not a reason to send the sealed values somewhere else.
    init.set_redirect(RequestRedirect::Manual);
    let global: WorkerGlobalScope = js_sys::global().unchecked_into();
    let response: web_sys::Response = JsFuture::from(global.fetch_with_str_and_init(url, &init))
        .await?
        .unchecked_into();
    let status = response.status();
    if status != 200 {
        return Ok((status, String::new()));
    }
    let text = JsFuture::from(response.text()?).await?.as_string().unwrap_or_default();
    if text.len() > ANSWER_CAP {
        return Ok((status, String::new()));
    }
    Ok((status, text))
}

/// Checks method, content type and size, then reads the body. On refusal, the log outcome
/// and the 4xx to answer.
async fn read_body(
    req: &web_sys::Request,
    content_type: &str,
) -> Result<Zeroizing<Vec<u8>>, (&'static str, Reply)> {
    if req.method() != "POST" {
        let mut reply = Reply::plain(405, "Method Not Allowed");
        reply.allow_post = true;
        return Err(("wrong-method", reply));
    }
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let given = header("Content-Type").unwrap_or_default();
    let essence = given.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(content_type) {
        return Err((
            "wrong-content-type",
            Reply::plain(415, "Unsupported Media Type"),
        ));
    }
    let too_large = || ("too-large", Reply::plain(413, "Payload Too Large"));
    let declared = header("Content-Length").and_then(|n| n.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_CAP as u64) {
        return Err(too_large());
    }
    let unreadable = |_| ("unreadable-body", Reply::plain(400, "Bad Request"));
    let buffer = JsFuture::from(req.array_buffer().map_err(unreadable)?)
        .await
        .map_err(unreadable)?;
    let bytes = Uint8Array::new(&buffer);
    if bytes.length() as usize > BODY_CAP {
        return Err(too_large());
    }
    Ok(Zeroizing::new(bytes.to_vec()))
}

/// The POST parameters of a Twilio webhook, borrowed from the body where no decoding was
/// needed. Decoded copies (the digits among them, if escaped) are wiped on drop; the body
/// itself is wiped by its owner.
struct Form<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Form<'a> {
    fn parse(body: &'a [u8]) -> Form<'a> {
        Form {
            pairs: form_urlencoded::parse(body).collect(),
        }
    }

    /// The first value of `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }
}

impl Drop for Form<'_> {
    fn drop(&mut self) {
        for (_, value) in &mut self.pairs {
            if let Cow::Owned(value) = value {
                value.zeroize();
            }
        }
    }
}

/// A setting from `[vars]` or secrets: `None` when unset. Settings are text; a value that is
/// not (a number or boolean written without quotes in `wrangler.toml`) reads as empty, so the
/// setting is reported as malformed rather than guessed at.
fn setting(env: &Env, name: &str) -> Option<String> {
    let value = js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?;
    if value.is_undefined() || value.is_null() {
        return None;
    }
    Some(value.as_string().unwrap_or_default())
}

/// A setting that must be present and not blank.
fn required(env: &Env, name: &str) -> Result<Zeroizing<String>, SettingError> {
    match setting(env, name) {
        Some(value) if !value.trim().is_empty() => Ok(Zeroizing::new(value)),
        _ => Err(SettingError::new(name, "is missing")),
    }
}

/// An optional `http://` or `https://` URL setting, without a trailing slash.
fn url_setting(env: &Env, name: &str) -> Result<Option<String>, SettingError> {
    let Some(value) = setting(env, name).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let url = value.trim().trim_end_matches('/');
    let lower = url.to_ascii_lowercase();
    let host = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    if host.is_none_or(|h| h.is_empty() || h.contains(char::is_whitespace)) {
        return Err(SettingError::new(
            name,
            "must be an http:// or https:// URL",
        ));
    }
    Ok(Some(url.to_owned()))
}

/// What checking the signature needs: `TWILIO_AUTH_TOKEN` and the optional `PUBLIC_URL`.
fn signing_settings(env: &Env) -> Result<(Zeroizing<String>, Option<String>), SettingError> {
    Ok((
        required(env, "TWILIO_AUTH_TOKEN")?,
        url_setting(env, "PUBLIC_URL")?,
    ))
}

/// What running the flow needs: the flow itself and the key ring.
fn flow_settings(env: &Env) -> Result<(FlowConfig, KeyRing), SettingError> {
    let current = required(env, "AES_SECRET")?;
    let mut ring = KeyRing::from_settings(&current, "")
        .map_err(|_| SettingError::new("AES_SECRET", "must be 64 hex characters"))?;
    if let Some(previous) = setting(env, "AES_SECRET_PREVIOUS").map(Zeroizing::new) {
        ring = KeyRing::from_settings(&current, &previous).map_err(|_| {
            SettingError::new(
                "AES_SECRET_PREVIOUS",
                "must be comma-separated keys of 64 hex characters",
            )
        })?;
    }
    Ok((FlowConfig::from_settings(|name| setting(env, name))?, ring))
}

/// `"https://host:port/path?query"` → `("https://host:port", "/path?query")`.
fn split_url(url: &str) -> (&str, &str) {
    let url = url.split('#').next().unwrap_or(url);
    let authority = url
        .as_bytes()
        .windows(3)
        .position(|w| w == b"://")
        .map_or(0, |i| i + 3);
    let path = url
        .get(authority..)
        .and_then(|rest| rest.find(['/', '?']))
        .map(|i| authority + i);
    path.and_then(|i| url.split_at_checked(i))
        .unwrap_or((url, ""))
}

/// Whether a `CallSid` is safe to log (the same rule [`flow::advance`] applies).
fn is_call_sid(sid: &str) -> bool {
    !sid.is_empty() && sid.len() <= 64 && sid.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// An answer, built into a [`Response`] in one place.
struct Reply {
    status: u16,
    content_type: &'static str,
    body: String,
    allow_post: bool,
}

impl Reply {
    fn plain(status: u16, text: &str) -> Reply {
        Reply {
            status,
            content_type: TEXT,
            body: text.to_owned(),
            allow_post: false,
        }
    }

    fn twiml(status: u16, xml: String) -> Reply {
        Reply {
            status,
            content_type: XML,
            body: xml,
            allow_post: false,
        }
    }

    fn json(status: u16, json: String) -> Reply {
        Reply {
            status,
            content_type: JSON,
            body: json,
            allow_post: false,
        }
    }

    /// The runtime's Response. Building one fails only for a status or header the runtime
    /// refuses, and every status and header here is fixed; should it fail all the same, the
    /// fallback is a bare 500 (status only), which cannot.
    fn into_response(self) -> web_sys::Response {
        let build = || -> Result<web_sys::Response, JsValue> {
            let headers = Headers::new()?;
            headers.set("Content-Type", self.content_type)?;
            if self.allow_post {
                headers.set("Allow", "POST")?;
            }
            let init = ResponseInit::new();
            init.set_status(self.status);
            init.set_headers(&headers);
            web_sys::Response::new_with_opt_str_and_init(Some(&self.body), &init)
        };
        build().unwrap_or_else(|_| {
            let init = ResponseInit::new();
            init.set_status(500);
            web_sys::Response::new_with_opt_str_and_init(None, &init)
                .unwrap_or_else(|_| JsValue::UNDEFINED.unchecked_into())
        })
    }
}

/// The one log line of a request. Holds only a validated `CallSid`, a configured field name,
/// a fixed outcome word and a setting's name.
#[derive(Default)]
struct LogLine {
    call_sid: Option<String>,
    step: Option<String>,
    outcome: &'static str,
    setting: Option<SettingError>,
}

impl LogLine {
    /// A 4xx (or 404) with a plain body.
    fn refuse(&mut self, outcome: &'static str, reply: Reply) -> Reply {
        self.outcome = outcome;
        reply
    }

    /// A broken call: 400 with the apology, so a caller who somehow got here still hears why
    /// the call ends.
    fn bad_request(&mut self, outcome: &'static str) -> Reply {
        self.outcome = outcome;
        Reply::twiml(400, flow::goodbye_twiml(flow::APOLOGY))
    }

    /// The service cannot take the call: 200 with the apology, and the call ends.
    fn apologise(&mut self, outcome: &'static str) -> Reply {
        self.outcome = outcome;
        Reply::twiml(200, flow::goodbye_twiml(flow::APOLOGY))
    }

    /// A missing or malformed setting: the apology, and the setting's name in the log.
    fn misconfigured(&mut self, setting: SettingError) -> Reply {
        self.note_setting(setting, "misconfigured");
        self.apologise("misconfigured")
    }

    fn note_setting(&mut self, setting: SettingError, outcome: &'static str) {
        self.outcome = outcome;
        self.setting = Some(setting);
    }

    fn write(&self, ms: u64) {
        let mut line = String::with_capacity(160);
        line.push_str(r#"{"callSid":"#);
        push_json(&mut line, self.call_sid.as_deref());
        line.push_str(r#","step":"#);
        push_json(&mut line, self.step.as_deref());
        line.push_str(r#","outcome":"#);
        push_json(&mut line, Some(self.outcome));
        line.push_str(r#","ms":"#);
        line.push_str(&ms.to_string());
        if let Some(e) = &self.setting {
            line.push_str(r#","setting":"#);
            push_json(&mut line, Some(&e.setting));
            line.push_str(r#","problem":"#);
            push_json(&mut line, Some(e.problem));
        }
        line.push('}');
        console_log!("{line}");
    }
}

/// A JSON string (escaped as the backend submission is), or `null`.
fn push_json(line: &mut String, text: Option<&str>) {
    match text {
        Some(text) => backend::push_string(line, text),
        None => line.push_str("null"),
    }
}
