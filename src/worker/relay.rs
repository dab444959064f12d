//! The route `GET /relay/<name>`: the sealing ConversationRelay relay's transport. It checks
//! the handshake's signature and the settings, opens the application's WebSocket, then carries
//! messages between the two sockets through the session ([`crate::relay::session`]), running
//! each capture turn through the engine ([`crate::engine::Transport::Relay`]) and its effects
//! as the webhook route does. Every decision is the session's or the engine's.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use worker::wasm_bindgen::closure::Closure;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::{spawn_local, JsFuture};
use worker::web_sys::{
    self, AbortController, AbortSignal, Headers, RequestInit, ResponseInit, WebSocket,
    WorkerGlobalScope,
};
use worker::{js_sys, Env};

use super::http::Reply;
use super::log::{LogLine, SessionLine};
use super::routes::run;
use super::settings::{self, CallSettings, Prepared};
use crate::config::Relay;
use crate::engine::{Call, Transport, Turn};
use crate::outcome::Outcome;
use crate::relay::session::{Out, Session, SetupCall};
use crate::relay::{check_handshake, sign_upstream};
use crate::twilio::SIGNATURE_SETTINGS_HEADER;

/// What Twilio hears when the application cannot be reached: the session ends, and the call
/// goes on at the `<Connect action>` URL.
const UPSTREAM_UNAVAILABLE: &str =
    r#"{"type":"end","handoffData":"{\"gatherSeal\":\"upstream-unavailable\"}"}"#;

/// `/relay/<name>` → the relay's name. `None`: not a relay route.
pub fn relay_of_path(path: &str) -> Option<&str> {
    path.strip_prefix("/relay/")
        .filter(|name| !name.is_empty() && !name.contains('/'))
}

/// `GET /relay/<name>` with `Upgrade: websocket`: the 101 answer with Twilio's end of the
/// session, or a refusal. Nothing is opened upstream before the signature is checked.
pub async fn relay(
    req: &web_sys::Request,
    env: &Env,
    name: &str,
    origin: &str,
    path: &str,
    log: &mut LogLine,
) -> Result<web_sys::Response, Reply> {
    let upgrade = req.headers().get("Upgrade").ok().flatten();
    if req.method() != "GET" || !upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Err(log.refuse(Outcome::NotWebSocket, Reply::plain(426, "Upgrade Required")));
    }
    let prepared = settings::prepared(env);
    let signing = match &prepared.signing {
        Ok(signing) => signing,
        Err(setting) => return Err(log.unavailable(setting.clone())),
    };
    let base = signing.public_url.as_deref().unwrap_or(origin);
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let verdict = check_handshake(
        &signing.keys,
        header(SIGNATURE_SETTINGS_HEADER).as_deref(),
        header("X-Twilio-Signature").as_deref(),
        &format!("{base}{path}"),
    );
    if let Err(refusal) = verdict {
        return Err(log.refuse(refusal.outcome(), Reply::plain(403, "Forbidden")));
    }
    let settings = match &prepared.call {
        Ok(settings) => settings,
        Err(setting) => return Err(log.unavailable(setting.clone())),
    };
    let Some(relay) = settings.relays.as_ref().and_then(|r| r.get(name)) else {
        return Err(log.refuse(Outcome::UnknownRelay, Reply::plain(404, "Not Found")));
    };
    let Some(secret) = settings.signing_secret.as_ref() else {
        return Err(log.refuse(Outcome::NoSigningSecret, Reply::plain(503, "Unavailable")));
    };
    let wait_ms = settings.waits.application_ms;
    let upstream = connect(&relay.upstream, secret.as_bytes(), wait_ms).await;
    let Ok((client, server)) = pair() else {
        return Err(log.refuse(
            Outcome::SealFailed,
            Reply::plain(500, "Internal Server Error"),
        ));
    };
    // The session's own line is written when it ends; the handshake writes none.
    log.silent = true;
    let line = SessionLine::new(&relay.name);
    match upstream {
        Some(upstream) => {
            let relay = relay.clone();
            let env = env.clone();
            Live::start(server, upstream, relay, prepared, env, line);
        }
        None => {
            // Never a silent hang: Twilio ends the session and goes on at its action URL.
            let _ = server.send_with_str(UPSTREAM_UNAVAILABLE);
            let _ = server.close_with_code_and_reason(1000, "upstream unavailable");
            line.closed("upstream-unavailable").write();
        }
    }
    switching(&client).map_err(|_| Reply::plain(500, "Internal Server Error"))
}

/// The 101 answer that hands `client` to Twilio.
pub(super) fn switching(client: &WebSocket) -> Result<web_sys::Response, JsValue> {
    let init = ResponseInit::new();
    init.set_status(101);
    js_sys::Reflect::set(&init, &JsValue::from_str("webSocket"), client)?;
    web_sys::Response::new_with_opt_str_and_init(None, &init)
}

/// The runtime's `new WebSocketPair()`: (client, server), the server's end accepted.
pub(super) fn pair() -> Result<(WebSocket, WebSocket), JsValue> {
    let class = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("WebSocketPair"))?;
    let class: js_sys::Function = class.unchecked_into();
    let pair = js_sys::Reflect::construct(&class, &js_sys::Array::new())?;
    let end = |i: u32| js_sys::Reflect::get_u32(&pair, i).map(JsCast::unchecked_into::<WebSocket>);
    let (client, server) = (end(0)?, end(1)?);
    accept(&server)?;
    Ok((client, server))
}

/// The runtime's `accept()` of a WebSocket it handed over.
pub(super) fn accept(socket: &WebSocket) -> Result<(), JsValue> {
    let accept = js_sys::Reflect::get(socket, &JsValue::from_str("accept"))?;
    accept.unchecked_into::<js_sys::Function>().call0(socket)?;
    Ok(())
}

/// Opens the application's WebSocket at `upstream` with the relay's signature, within
/// `wait_ms`; `None` when it cannot be reached or does not upgrade. The wait is for the
/// upgrade alone: a request's signal stays tied to the socket it returns (workerd closes the
/// socket when the signal aborts), so the timer is cleared once the answer is in rather than
/// given as `AbortSignal.timeout`, which ended every session `wait_ms` after it began.
async fn connect(upstream: &str, secret: &[u8], wait_ms: u32) -> Option<WebSocket> {
    let now = (js_sys::Date::now() / 1000.0) as u64;
    let signature = sign_upstream(secret, now, upstream);
    let controller = AbortController::new().ok()?;
    // `controller.abort()` as a JS function: no Rust closure to keep alive for the timer.
    let abort = js_sys::Reflect::get(&controller, &JsValue::from_str("abort")).ok()?;
    let abort = abort
        .unchecked_into::<js_sys::Function>()
        .bind0(&controller);
    let timer = global()
        .set_timeout_with_callback_and_timeout_and_arguments_0(
            &abort,
            i32::try_from(wait_ms).unwrap_or(i32::MAX),
        )
        .ok()?;
    let header = (crate::handoff::SIGNATURE_HEADER, signature.as_str());
    let socket = upgrade(upstream, header, Some(&controller.signal())).await;
    global().clear_timeout_with_handle(timer);
    socket.ok()
}

/// Opens the WebSocket at `url` (`ws://` or `wss://`, or the same spelled `http://` or
/// `https://`) with `header` on the upgrade request, and accepts it; the status answered
/// instead of 101 otherwise (0: no answer). `signal` bounds the request.
pub(super) async fn upgrade(
    url: &str,
    header: (&str, &str),
    signal: Option<&AbortSignal>,
) -> Result<WebSocket, u16> {
    // fetch() takes http(s) URLs and upgrades them with the Upgrade header.
    let (scheme, rest) = url.split_once("://").ok_or(0u16)?;
    let plain = scheme.eq_ignore_ascii_case("ws") || scheme.eq_ignore_ascii_case("http");
    let http = match plain {
        true => format!("http://{rest}"),
        false => format!("https://{rest}"),
    };
    let headers = Headers::new().map_err(|_| 0u16)?;
    headers.set("Upgrade", "websocket").map_err(|_| 0u16)?;
    headers.set(header.0, header.1).map_err(|_| 0u16)?;
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_headers(&headers);
    if let Some(signal) = signal {
        init.set_signal(Some(signal));
    }
    let answer = JsFuture::from(global().fetch_with_str_and_init(&http, &init))
        .await
        .map_err(|_| 0u16)?;
    let response: web_sys::Response = answer.unchecked_into();
    let socket =
        js_sys::Reflect::get(&response, &JsValue::from_str("webSocket")).map_err(|_| 0u16)?;
    if response.status() != 101 || socket.is_null() || socket.is_undefined() {
        return Err(response.status());
    }
    let socket = socket.unchecked_into::<WebSocket>();
    accept(&socket).map_err(|_| 0u16)?;
    Ok(socket)
}

/// One relayed session: its two sockets, its state, and the listeners that feed it. Every
/// event is handed to the session as it arrives, and what the session says is carried out at
/// once; a capture turn runs as a task of its own, and the session takes its answer whenever it
/// comes (keys and messages that arrive meanwhile are the session's to handle).
struct Live {
    twilio: WebSocket,
    app: WebSocket,
    prepared: Rc<Prepared>,
    env: Env,
    session: RefCell<Session>,
    /// The log line, until the session ends (`None` after).
    line: RefCell<Option<SessionLine>>,
    /// The wait for the next key under way (`setTimeout`'s handle).
    timer: Cell<Option<i32>>,
    /// The sockets' listeners and the timer's callback. They hold the session, so ending it
    /// removes and drops them (a callback dropped while it runs is freed when it returns).
    callbacks: RefCell<Vec<Callback>>,
}

/// A callback and the event it listens to: `kind` on Twilio's socket or the application's, or
/// none (the timer's).
struct Callback {
    kind: Option<&'static str>,
    twilio: bool,
    closure: Closure<dyn FnMut(JsValue)>,
}

/// What a callback does with the session and its argument.
type Handler = fn(&Rc<Live>, JsValue);

impl Live {
    /// Starts carrying a session between `twilio` and `app`.
    fn start(
        twilio: WebSocket,
        app: WebSocket,
        relay: Relay,
        prepared: Rc<Prepared>,
        env: Env,
        line: SessionLine,
    ) {
        let live = Rc::new(Live {
            twilio,
            app,
            prepared,
            env,
            session: RefCell::new(Session::new(relay)),
            line: RefCell::new(Some(line)),
            timer: Cell::new(None),
            callbacks: RefCell::new(Vec::new()),
        });
        let from_twilio: Handler = |live, event| {
            if let Some(text) = message_text(&event) {
                let out = live.session.borrow_mut().from_twilio(&text);
                live.carry_out(out);
            }
        };
        let from_app: Handler = |live, event| {
            if let Some(text) = message_text(&event) {
                let out = live.session.borrow_mut().from_app(&text);
                #[cfg(feature = "demo")]
                live.remember(&text, true);
                live.carry_out(out);
            }
        };
        let twilio_gone: Handler = |live, _| live.end("twilio-closed");
        let app_gone: Handler = |live, _| {
            // Mid-call: Twilio ends the session and goes on at its action URL.
            if live.running() {
                let _ = live.twilio.send_with_str(UPSTREAM_UNAVAILABLE);
            }
            live.end("upstream-closed");
        };
        let timed_out: Handler = |live, _| {
            live.timer.set(None);
            let out = live.session.borrow_mut().timed_out();
            live.carry_out(out);
        };
        live.listen(None, false, timed_out);
        live.listen(Some("message"), true, from_twilio);
        live.listen(Some("message"), false, from_app);
        for kind in ["close", "error"] {
            live.listen(Some(kind), true, twilio_gone);
            live.listen(Some(kind), false, app_gone);
        }
    }

    /// Calls `handler` on `kind` events of Twilio's socket or the application's (`None`: the
    /// timer's callback, always the first).
    fn listen(self: &Rc<Live>, kind: Option<&'static str>, twilio: bool, handler: Handler) {
        let live = Rc::clone(self);
        let closure = Closure::<dyn FnMut(JsValue)>::new(move |event| handler(&live, event));
        if let Some(kind) = kind {
            let _ = self
                .socket(twilio)
                .add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref());
        }
        self.callbacks.borrow_mut().push(Callback {
            kind,
            twilio,
            closure,
        });
    }

    fn socket(&self, twilio: bool) -> &WebSocket {
        if twilio {
            &self.twilio
        } else {
            &self.app
        }
    }

    /// Whether the session is still running.
    fn running(&self) -> bool {
        self.line.borrow().is_some()
    }

    /// Carries out what the session said.
    fn carry_out(self: &Rc<Live>, out: Vec<Out>) {
        if !self.running() {
            return;
        }
        for out in out {
            match out {
                Out::ToTwilio(text) => {
                    let _ = self.twilio.send_with_str(&text);
                }
                Out::ToApp(text) => {
                    #[cfg(feature = "demo")]
                    self.remember(&text, false);
                    let _ = self.app.send_with_str(&text);
                }
                Out::Wait(ms) => {
                    self.stop_waiting();
                    let callbacks = self.callbacks.borrow();
                    let Some(timer) = callbacks.first() else {
                        continue;
                    };
                    let handle = global().set_timeout_with_callback_and_timeout_and_arguments_0(
                        timer.closure.as_ref().unchecked_ref(),
                        i32::try_from(ms).unwrap_or(i32::MAX),
                    );
                    self.timer.set(handle.ok());
                }
                Out::StopWaiting => self.stop_waiting(),
                Out::Turn {
                    flow,
                    state,
                    digits,
                } => {
                    let live = Rc::clone(self);
                    spawn_local(async move {
                        let Ok(settings) = &live.prepared.call else {
                            return;
                        };
                        let call = live.session.borrow().call().clone();
                        let answer =
                            turn(settings, &call, &flow, state, digits.as_deref(), &live.env).await;
                        let out = live.session.borrow_mut().turn_done(answer);
                        live.carry_out(out);
                    });
                }
            }
        }
    }

    fn stop_waiting(&self) {
        if let Some(handle) = self.timer.take() {
            global().clear_timeout_with_handle(handle);
        }
    }

    /// Ends the session once: the wait and the listeners go, both sockets close, and the log
    /// line is written.
    fn end(self: &Rc<Live>, why: &'static str) {
        let Some(line) = self.line.take() else {
            return;
        };
        self.stop_waiting();
        for callback in self.callbacks.take() {
            if let Some(kind) = callback.kind {
                let _ = self
                    .socket(callback.twilio)
                    .remove_event_listener_with_callback(
                        kind,
                        callback.closure.as_ref().unchecked_ref(),
                    );
            }
        }
        let _ = self.app.close_with_code_and_reason(1000, "session ended");
        let _ = self
            .twilio
            .close_with_code_and_reason(1000, "session ended");
        let mut session = self.session.borrow_mut();
        session.ended();
        line.of(&session).closed(why).write();
    }
}

/// A message event's text (`None`: a binary message).
pub(super) fn message_text(event: &JsValue) -> Option<String> {
    js_sys::Reflect::get(event, &JsValue::from_str("data"))
        .ok()?
        .as_string()
}

fn global() -> WorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// One capture turn through the engine, its effects carried out as on the webhook route.
async fn turn(
    settings: &CallSettings,
    call: &SetupCall,
    flow: &str,
    state: Option<crate::flow::CallState>,
    digits: Option<&String>,
    env: &Env,
) -> crate::engine::Answer {
    let flows = Rc::clone(&settings.flows);
    let Some(flow) = flows.get(flow) else {
        return crate::engine::Answer::new(200, String::new(), Outcome::UnknownFlow, None);
    };
    let call = Call {
        call_sid: &call.call_sid,
        account_sid: &call.account_sid,
        from: &call.from,
        to: &call.to,
    };
    let facts = settings.facts(
        flow,
        call,
        state,
        digits.map(String::as_str),
        Transport::Relay,
    );
    run(
        Turn::new(facts),
        env,
        settings.verify.as_ref(),
        settings.waits,
    )
    .await
}

/// The development build's call simulator shows what the application received, and the
/// relay's own requests it sent (`gather-seal.start`): each kept under the session's call.
#[cfg(feature = "demo")]
impl Live {
    fn remember(&self, text: &str, from_app: bool) {
        let call_sid = self.session.borrow().call().call_sid.clone();
        super::simulator::remember_app_message(&call_sid, text, from_app);
    }
}
