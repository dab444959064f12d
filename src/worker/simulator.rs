//! `/simulator`: the local call simulator, compiled only into the development build (feature
//! `demo`, which `scripts/dev.sh` and `[env.dev]` use), so the worker `wrangler deploy`
//! publishes neither serves nor contains it. Its logic is in [`crate::simulator`]; this is the
//! glue:
//!
//! - `GET /simulator` (and `/simulator/simulator.js`, `/simulator/simulator.css`): the page,
//!   plain files in `src/worker/simulator/` compiled in;
//! - `GET /simulator/flows`: what the page may know of `GATHER_FLOWS`;
//! - `POST /simulator/sign`: the `X-Twilio-Signature` for a POST to one of this worker's
//!   `/gather` routes, made with `TWILIO_AUTH_TOKEN`, which never reaches the page; the page
//!   then sends that POST itself, through the production route and its signature check;
//! - `GET /simulator/handoff?callSid=…`, `GET /simulator/log?callSid=…` and
//!   `GET /simulator/status?callSid=…`: what the demo backend received for a call, the worker's
//!   log lines of that call, and the status events it sent for it (as posted to the flow's
//!   `status_callback`, which still gets them), kept in this isolate's memory, a few dozen
//!   calls at most;
//! - `GET /simulator/verify-code?to=…`: the one-time code the local Verify stand-in sent to
//!   that number, read from the stand-in's handset (`scripts/verify-mock.js`) at
//!   `TWILIO_VERIFY_URL`, only when that URL is a loopback address (503 otherwise);
//! - `GET /simulator/relays`: the relays of `GATHER_RELAYS` (names and flows, no upstream);
//! - `GET /simulator/relay?relay=<name>` (a WebSocket): the relay mode's bridge. Browsers cannot
//!   put `X-Twilio-Signature` on a WebSocket, so the worker opens `/relay/<name>` on its own
//!   origin with the signature ConversationRelay would send (made with `TWILIO_AUTH_TOKEN`,
//!   which never reaches the page), through the production route and its handshake check, and
//!   carries messages both ways; only this worker's own pages (or no `Origin`) may open it;
//! - `GET /simulator/relay-app?callSid=…`: every message a relayed application received in that
//!   call (and the relay's requests it sent), as the relay route sent them.
//!
//! Its own requests write no log line: they are the page's plumbing, not calls.

use std::cell::RefCell;
use std::rc::Rc;

use worker::Env;

use worker::wasm_bindgen::closure::Closure;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, AbortSignal, RequestInit, WebSocket, WorkerGlobalScope};

use super::http::{read_body, Reply, JSON};
use super::log::LogLine;
use super::relay;
use super::settings;
use crate::simulator::{
    self, AppMessage, ByCall, Handoff, SentNotice, MAX_APP_MESSAGES, MAX_CALLS, MAX_HANDOFFS,
    MAX_LOG_LINES, MAX_NOTICES,
};
use crate::status::Notice;

const PAGE: &str = include_str!("simulator/index.html");
const SCRIPT: &str = include_str!("simulator/simulator.js");
const STYLE: &str = include_str!("simulator/simulator.css");

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JSON_UTF8: &str = "application/json; charset=utf-8";

/// The page loads its own script and stylesheet and talks to this worker only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

thread_local! {
    /// The worker's log lines, by call.
    static LOGS: RefCell<ByCall<String>> =
        const { RefCell::new(ByCall::new(MAX_CALLS, MAX_LOG_LINES)) };
    /// What the demo backend received and answered, by call.
    static HANDOFFS: RefCell<ByCall<Handoff>> =
        const { RefCell::new(ByCall::new(MAX_CALLS, MAX_HANDOFFS)) };
    /// The status events the worker sent, by call.
    static NOTICES: RefCell<ByCall<SentNotice>> =
        const { RefCell::new(ByCall::new(MAX_CALLS, MAX_NOTICES)) };
    /// What relayed applications received (and the relay's requests they sent), by call.
    static APP_MESSAGES: RefCell<ByCall<AppMessage>> =
        const { RefCell::new(ByCall::new(MAX_CALLS, MAX_APP_MESSAGES)) };
}

/// Whether `path` is one of the simulator's.
pub fn is_path(path: &str) -> bool {
    path == "/simulator" || path.starts_with("/simulator/")
}

/// Keeps a log line just written, under its call.
pub fn remember_log(call_sid: Option<&str>, line: &str) {
    if let Some(call_sid) = call_sid {
        LOGS.with(|logs| logs.borrow_mut().push(call_sid, line.to_owned()));
    }
}

/// Keeps what the demo backend received and answered, under its call.
pub fn remember_handoff(call_sid: &str, handoff: Handoff) {
    HANDOFFS.with(|handoffs| handoffs.borrow_mut().push(call_sid, handoff));
}

/// Keeps the status events of a turn, as they are about to be sent, under their call.
pub fn remember_notices(call_sid: Option<&str>, notices: &[Notice]) {
    let Some(call_sid) = call_sid else { return };
    NOTICES.with(|kept| {
        let mut kept = kept.borrow_mut();
        for notice in notices {
            let sent = SentNotice {
                body: notice.body.clone(),
                signature: notice.signature.clone(),
            };
            kept.push(call_sid, sent);
        }
    });
}

/// Keeps a message a relayed application received (`sent`: one of the relay's requests it
/// sent), under its call.
pub fn remember_app_message(call_sid: &str, text: &str, sent: bool) {
    let message = if sent {
        AppMessage::sent(text)
    } else {
        Some(AppMessage::received(text))
    };
    if let Some(message) = message {
        APP_MESSAGES.with(|kept| kept.borrow_mut().push(call_sid, message));
    }
}

/// Answers a request to one of the simulator's paths.
pub async fn serve(
    req: &worker::web_sys::Request,
    env: &Env,
    origin: &str,
    path_and_query: &str,
    log: &mut LogLine,
) -> Reply {
    log.silent = true;
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    if path == "/simulator/sign" {
        return sign(req, env, origin).await;
    }
    let method = req.method();
    if path == "/simulator/verify-code" && method == "GET" {
        return verify_code(env, query).await;
    }
    let answer = match path {
        "/simulator" | "/simulator/" => {
            let mut page = Reply::typed(200, HTML, PAGE.to_owned());
            page.header = Some(("Content-Security-Policy", CSP));
            page
        }
        "/simulator/simulator.js" => Reply::typed(200, JAVASCRIPT, SCRIPT.to_owned()),
        "/simulator/simulator.css" => Reply::typed(200, CSS, STYLE.to_owned()),
        "/simulator/flows" => flows(env),
        "/simulator/relays" => relays(env),
        "/simulator/relay-app" => match call_sid_of(query) {
            Some(sid) => APP_MESSAGES
                .with(|m| json(200, simulator::relay_app_json(&sid, m.borrow().get(&sid)))),
            None => no_call_sid(),
        },
        "/simulator/handoff" => match call_sid_of(query) {
            Some(sid) => {
                HANDOFFS.with(|h| json(200, simulator::handoffs_json(&sid, h.borrow().get(&sid))))
            }
            None => no_call_sid(),
        },
        "/simulator/log" => match call_sid_of(query) {
            Some(sid) => LOGS.with(|l| json(200, simulator::log_json(&sid, l.borrow().get(&sid)))),
            None => no_call_sid(),
        },
        "/simulator/status" => match call_sid_of(query) {
            Some(sid) => {
                NOTICES.with(|n| json(200, simulator::status_json(&sid, n.borrow().get(&sid))))
            }
            None => no_call_sid(),
        },
        // Only GET reaches here as a 405.
        "/simulator/verify-code" => Reply::plain(405, "Method Not Allowed"),
        _ => return Reply::plain(404, "Not Found"),
    };
    if method == "GET" || method == "HEAD" {
        answer
    } else {
        let mut refused = Reply::plain(405, "Method Not Allowed");
        refused.header = Some(("Allow", "GET"));
        refused
    }
}

fn json(status: u16, body: String) -> Reply {
    Reply::typed(status, JSON_UTF8, body)
}

/// `{"error": "…"}`, a fixed sentence or a setting's name and problem (never a value).
fn error(status: u16, message: &str) -> Reply {
    json(status, serde_json::json!({ "error": message }).to_string())
}

fn no_call_sid() -> Reply {
    error(
        400,
        "expected ?callSid= with a call SID (letters and digits)",
    )
}

/// The `callSid` query parameter, when it is a well-formed SID.
fn call_sid_of(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "callSid")
        .map(|(_, sid)| sid.into_owned())
        .filter(|sid| crate::flow::is_call_sid(sid))
}

/// `GET /simulator/flows`, or 503 naming the setting that keeps the worker from taking calls.
fn flows(env: &Env) -> Reply {
    let prepared = settings::prepared(env);
    let problem = match (&prepared.signing, &prepared.call) {
        (Err(setting), _) | (Ok(_), Err(setting)) => setting,
        (Ok(_), Ok(call)) => return json(200, simulator::flows_json(&call.flows)),
    };
    error(503, &problem.to_string())
}

/// `GET /simulator/relays`, or 503 naming the setting that keeps the worker from taking calls.
fn relays(env: &Env) -> Reply {
    let prepared = settings::prepared(env);
    match &prepared.call {
        Ok(call) => json(200, simulator::relays_json(call.relays.as_ref())),
        Err(setting) => error(503, &setting.to_string()),
    }
}

/// `GET /simulator/relay?relay=<name>` with `Upgrade: websocket`: the 101 with the page's end
/// of the bridge, or a refusal. The relay's side is `/relay/<name>` on this worker's origin,
/// opened as ConversationRelay opens it, so the production route checks its signature.
pub async fn bridge(
    req: &web_sys::Request,
    env: &Env,
    origin: &str,
    query: &str,
) -> Result<web_sys::Response, Reply> {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let upgrade = header("Upgrade");
    if req.method() != "GET" || !upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Err(error(426, "the relay bridge is a WebSocket"));
    }
    if !simulator::bridge_origin_ok(header("Origin").as_deref(), origin) {
        return Err(error(
            403,
            "only this worker's own pages open the relay bridge",
        ));
    }
    let Some(name) = simulator::relay_of_query(query) else {
        return Err(error(400, "expected ?relay= with a relay's name"));
    };
    let prepared = settings::prepared(env);
    let (signing, call) = match (&prepared.signing, &prepared.call) {
        (Ok(signing), Ok(call)) => (signing, call),
        (Err(setting), _) | (Ok(_), Err(setting)) => return Err(error(503, &setting.to_string())),
    };
    if call.relays.as_ref().and_then(|r| r.get(&name)).is_none() {
        return Err(error(404, "GATHER_RELAYS has no relay of that name"));
    }
    let token = auth_token(env)?;
    let base = signing.public_url.as_deref().unwrap_or(origin);
    let Some((url, signature)) = simulator::relay_handshake(origin, base, &name, &token) else {
        return Err(error(
            400,
            "this worker's origin cannot be opened as a relay",
        ));
    };
    let relayed = match relay::upgrade(&url, ("X-Twilio-Signature", &signature), None).await {
        Ok(socket) => socket,
        Err(status) => {
            let why = format!("the relay route refused the handshake: HTTP {status}");
            return Err(error(502, &why));
        }
    };
    let Ok((client, server)) = relay::pair() else {
        let _ = relayed.close_with_code_and_reason(1011, "bridge failed");
        return Err(error(500, "the bridge could not be opened"));
    };
    Pipe::start(server, relayed);
    relay::switching(&client).map_err(|_| error(500, "the bridge could not be opened"))
}

/// The bridge: the page's socket and the relay route's, each message carried to the other
/// as it is, and either closing closes both.
struct Pipe {
    page: WebSocket,
    relay: WebSocket,
    /// Its listeners, dropped when it closes.
    callbacks: RefCell<Vec<Listener>>,
}

/// A listener of the bridge: the event, whether on the page's socket, the callback.
type Listener = (&'static str, bool, Closure<dyn FnMut(JsValue)>);

impl Pipe {
    fn start(page: WebSocket, relay: WebSocket) {
        let pipe = Rc::new(Pipe {
            page,
            relay,
            callbacks: RefCell::new(Vec::new()),
        });
        for from_page in [true, false] {
            let carry = Rc::clone(&pipe);
            pipe.listen("message", from_page, move |event| {
                if let Some(text) = relay::message_text(&event) {
                    let _ = carry.socket(!from_page).send_with_str(&text);
                }
            });
            for kind in ["close", "error"] {
                let end = Rc::clone(&pipe);
                pipe.listen(kind, from_page, move |_| end.close());
            }
        }
    }

    fn socket(&self, page: bool) -> &WebSocket {
        if page {
            &self.page
        } else {
            &self.relay
        }
    }

    fn listen(&self, kind: &'static str, page: bool, handler: impl FnMut(JsValue) + 'static) {
        let closure = Closure::<dyn FnMut(JsValue)>::new(handler);
        let _ = self
            .socket(page)
            .add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref());
        self.callbacks.borrow_mut().push((kind, page, closure));
    }

    /// Closes both ends once, and drops the listeners (which hold the pipe).
    fn close(&self) {
        let callbacks = self.callbacks.take();
        if callbacks.is_empty() {
            return;
        }
        for (kind, page, closure) in &callbacks {
            let _ = self
                .socket(*page)
                .remove_event_listener_with_callback(kind, closure.as_ref().unchecked_ref());
        }
        let _ = self.page.close_with_code_and_reason(1000, "session ended");
        let _ = self.relay.close_with_code_and_reason(1000, "session ended");
        drop(callbacks);
    }
}

/// The worker's `TWILIO_AUTH_TOKEN` (wiped on drop), which the simulator signs with as Twilio
/// would; the 503 to answer when it is not set.
fn auth_token(env: &Env) -> Result<zeroize::Zeroizing<String>, Reply> {
    settings::text(env, "TWILIO_AUTH_TOKEN")
        .filter(|t| !t.trim().is_empty())
        .map(zeroize::Zeroizing::new)
        .ok_or_else(|| error(503, "setting TWILIO_AUTH_TOKEN: is missing"))
}

/// `POST /simulator/sign`.
async fn sign(req: &worker::web_sys::Request, env: &Env, origin: &str) -> Reply {
    let body = match read_body(req, JSON).await {
        Ok(body) => body,
        Err((_, reply)) => return reply,
    };
    let token = match auth_token(env) {
        Ok(token) => token,
        Err(missing) => return missing,
    };
    match simulator::sign_request(&body, origin, &token) {
        Ok(signed) => json(200, signed),
        Err(refusal) => error(400, refusal.as_str()),
    }
}

/// `GET /simulator/verify-code?to=…`: the latest code the local Verify stand-in sent to `to`,
/// `{"to", "channel", "code"}`; 404 when it sent none; 503 when `TWILIO_VERIFY_URL` is not a
/// loopback stand-in (the real Verify texts the caller, and nothing reads that back) or the
/// stand-in does not answer.
async fn verify_code(env: &Env, query: &str) -> Reply {
    let to = form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "to")
        .map(|(_, to)| to.into_owned())
        .unwrap_or_default();
    if to.trim().is_empty() {
        return error(400, "expected ?to= with the caller's number");
    }
    let verify_url = settings::text(env, "TWILIO_VERIFY_URL").unwrap_or_default();
    let Some(url) = simulator::handset_url(&verify_url, &to) else {
        return error(
            503,
            "only a local Verify stand-in (TWILIO_VERIFY_URL on 127.0.0.1) shows the code it sent",
        );
    };
    let Some(answer) = get_text(&url, 2000).await else {
        return error(503, "the local Verify stand-in did not answer");
    };
    match simulator::verify_code_json(&to, &answer) {
        Some(code) => json(200, code),
        None => error(404, "the local Verify stand-in sent no code to this number"),
    }
}

/// GETs `url` within `wait_ms`: its body when it answered 200.
async fn get_text(url: &str, wait_ms: u32) -> Option<String> {
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_signal(Some(&AbortSignal::timeout_with_u32(wait_ms)));
    let global: WorkerGlobalScope = worker::js_sys::global().unchecked_into();
    let response: worker::web_sys::Response =
        JsFuture::from(global.fetch_with_str_and_init(url, &init))
            .await
            .ok()?
            .unchecked_into();
    if response.status() != 200 {
        return None;
    }
    JsFuture::from(response.text().ok()?)
        .await
        .ok()?
        .as_string()
}
