//! The route `GET /relay/<name>`: the sealing ConversationRelay relay's transport. It checks
//! the handshake's signature and the settings, opens the application's WebSocket, then carries
//! messages between the two sockets through the session ([`crate::relay::session`]), running
//! each capture turn through the engine ([`crate::engine::Transport::Relay`]) and its effects
//! as the webhook route does. Every decision is the session's or the engine's.

use std::collections::VecDeque;
use std::rc::Rc;

use futures_channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures_util::future::{self, Either};
use futures_util::stream::StreamExt;
use worker::wasm_bindgen::closure::Closure;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::{spawn_local, JsFuture};
use worker::web_sys::{
    self, AbortSignal, Headers, MessageEvent, RequestInit, ResponseInit, WebSocket,
    WorkerGlobalScope,
};
use worker::{js_sys, Env};

use super::http::Reply;
use super::log::{LogLine, SessionLine};
use super::routes::run;
use super::settings::{self, CallSettings, Prepared};
use crate::config::Relay;
use crate::engine::{Call, Facts, Transport, Turn};
use crate::outcome::Outcome;
use crate::relay::session::{Out, Session};
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
            spawn_local(carry(server, upstream, relay, prepared, env, line));
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
fn switching(client: &WebSocket) -> Result<web_sys::Response, JsValue> {
    let init = ResponseInit::new();
    init.set_status(101);
    js_sys::Reflect::set(&init, &JsValue::from_str("webSocket"), client)?;
    web_sys::Response::new_with_opt_str_and_init(None, &init)
}

/// The runtime's `new WebSocketPair()`: (client, server), the server's end accepted.
fn pair() -> Result<(WebSocket, WebSocket), JsValue> {
    let class = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("WebSocketPair"))?;
    let class: js_sys::Function = class.unchecked_into();
    let pair = js_sys::Reflect::construct(&class, &js_sys::Array::new())?;
    let end = |i: u32| js_sys::Reflect::get_u32(&pair, i).map(JsCast::unchecked_into::<WebSocket>);
    let (client, server) = (end(0)?, end(1)?);
    accept(&server)?;
    Ok((client, server))
}

/// The runtime's `accept()` of a WebSocket it handed over.
fn accept(socket: &WebSocket) -> Result<(), JsValue> {
    let accept = js_sys::Reflect::get(socket, &JsValue::from_str("accept"))?;
    accept.unchecked_into::<js_sys::Function>().call0(socket)?;
    Ok(())
}

/// Opens the application's WebSocket at `upstream` with the relay's signature, within
/// `wait_ms`; `None` when it cannot be reached or does not upgrade.
async fn connect(upstream: &str, secret: &[u8], wait_ms: u32) -> Option<WebSocket> {
    // fetch() takes http(s) URLs and upgrades them with the Upgrade header.
    let (scheme, rest) = upstream.split_once("://")?;
    let http = match scheme.eq_ignore_ascii_case("ws") {
        true => format!("http://{rest}"),
        false => format!("https://{rest}"),
    };
    let now = (js_sys::Date::now() / 1000.0) as u64;
    let headers = Headers::new().ok()?;
    headers.set("Upgrade", "websocket").ok()?;
    headers
        .set(
            crate::handoff::SIGNATURE_HEADER,
            &sign_upstream(secret, now, upstream),
        )
        .ok()?;
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_headers(&headers);
    init.set_signal(Some(&AbortSignal::timeout_with_u32(wait_ms)));
    let global: WorkerGlobalScope = js_sys::global().unchecked_into();
    let response: web_sys::Response = JsFuture::from(global.fetch_with_str_and_init(&http, &init))
        .await
        .ok()?
        .unchecked_into();
    let socket = js_sys::Reflect::get(&response, &JsValue::from_str("webSocket")).ok()?;
    if response.status() != 101 || socket.is_null() || socket.is_undefined() {
        return None;
    }
    let socket = socket.unchecked_into::<WebSocket>();
    accept(&socket).ok()?;
    Some(socket)
}

/// What arrives while a session runs.
enum Input {
    /// A text message from Twilio (`None`: a binary one).
    Twilio(Option<String>),
    /// A text message from the application.
    App(Option<String>),
    /// Twilio's socket closed or failed.
    TwilioGone,
    /// The application's socket closed or failed.
    AppGone,
}

/// The listeners that feed a socket's events into one queue, removed on drop.
struct Listening {
    socket: WebSocket,
    message: Closure<dyn FnMut(MessageEvent)>,
    gone: Closure<dyn FnMut(JsValue)>,
}

impl Listening {
    fn new(
        socket: &WebSocket,
        tx: &UnboundedSender<Input>,
        message: fn(Option<String>) -> Input,
        gone: Input,
    ) -> Listening {
        let (to_message, to_gone) = (tx.clone(), tx.clone());
        let message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let _ = to_message.unbounded_send(message(event.data().as_string()));
        });
        let mut gone = Some(gone);
        let gone = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Some(gone) = gone.take() {
                let _ = to_gone.unbounded_send(gone);
            }
        });
        let _ =
            socket.add_event_listener_with_callback("message", message.as_ref().unchecked_ref());
        for kind in ["close", "error"] {
            let _ = socket.add_event_listener_with_callback(kind, gone.as_ref().unchecked_ref());
        }
        Listening {
            socket: socket.clone(),
            message,
            gone,
        }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let socket = &self.socket;
        let _ = socket
            .remove_event_listener_with_callback("message", self.message.as_ref().unchecked_ref());
        for kind in ["close", "error"] {
            let _ = socket
                .remove_event_listener_with_callback(kind, self.gone.as_ref().unchecked_ref());
        }
    }
}

/// Carries a session's messages until either side closes, then writes its log line.
async fn carry(
    twilio: WebSocket,
    app: WebSocket,
    relay: Relay,
    prepared: Rc<Prepared>,
    env: Env,
    line: SessionLine,
) {
    let (tx, mut inputs): (UnboundedSender<Input>, UnboundedReceiver<Input>) = unbounded();
    let listening = (
        Listening::new(&twilio, &tx, Input::Twilio, Input::TwilioGone),
        Listening::new(&app, &tx, Input::App, Input::AppGone),
    );
    drop(tx);
    let mut session = Session::new(relay);
    let mut wait: Option<JsFuture> = None;
    let closed = loop {
        let next = match wait.as_mut() {
            Some(timer) => match future::select(inputs.next(), timer).await {
                Either::Left((next, _)) => next,
                Either::Right(_) => {
                    wait = None;
                    let out = session.timed_out();
                    carry_out(out, &mut session, &twilio, &app, &mut wait, &prepared, &env).await;
                    continue;
                }
            },
            None => inputs.next().await,
        };
        let out = match next {
            Some(Input::Twilio(Some(text))) => session.from_twilio(&text),
            Some(Input::App(Some(text))) => session.from_app(&text),
            Some(Input::Twilio(None) | Input::App(None)) => Vec::new(),
            Some(Input::TwilioGone) | None => break "twilio-closed",
            Some(Input::AppGone) => {
                // Mid-call: Twilio ends the session and goes on at its action URL.
                let _ = twilio.send_with_str(UPSTREAM_UNAVAILABLE);
                break "upstream-closed";
            }
        };
        carry_out(out, &mut session, &twilio, &app, &mut wait, &prepared, &env).await;
    };
    drop(listening);
    let _ = app.close_with_code_and_reason(1000, "session ended");
    let _ = twilio.close_with_code_and_reason(1000, "session ended");
    line.of(&session).closed(closed).write();
}

/// Carries out what the session said, a capture turn's answer included.
async fn carry_out(
    out: Vec<Out>,
    session: &mut Session,
    twilio: &WebSocket,
    app: &WebSocket,
    wait: &mut Option<JsFuture>,
    prepared: &Prepared,
    env: &Env,
) {
    let mut queue: VecDeque<Out> = out.into();
    while let Some(out) = queue.pop_front() {
        match out {
            Out::ToTwilio(text) => {
                let _ = twilio.send_with_str(&text);
            }
            Out::ToApp(text) => {
                let _ = app.send_with_str(&text);
            }
            Out::Wait(ms) => *wait = Some(timer(ms)),
            Out::StopWaiting => *wait = None,
            Out::Turn {
                flow,
                state,
                digits,
            } => {
                let Ok(settings) = &prepared.call else {
                    return;
                };
                let answer = turn(settings, session, &flow, state, digits.as_deref(), env).await;
                queue.extend(session.turn_done(answer));
            }
        }
    }
}

/// One capture turn through the engine, its effects carried out as on the webhook route.
async fn turn(
    settings: &CallSettings,
    session: &Session,
    flow: &str,
    state: Option<crate::flow::CallState>,
    digits: Option<&String>,
    env: &Env,
) -> crate::engine::Answer {
    let flows = Rc::clone(&settings.flows);
    let Some(flow) = flows.get(flow) else {
        return crate::engine::Answer::new(200, String::new(), Outcome::UnknownFlow, None);
    };
    let call = session.call();
    let facts = Facts {
        flow,
        ring: &settings.ring,
        counter_key: settings.counter_key.as_bytes(),
        verify: settings.verify.as_ref(),
        signing_secret: settings.signing_secret.as_ref().map(|s| s.as_bytes()),
        call: Call {
            call_sid: &call.call_sid,
            account_sid: &call.account_sid,
            from: &call.from,
            to: &call.to,
        },
        state,
        digits: digits.map(String::as_str),
        now_ms: js_sys::Date::now() as u64,
        transport: Transport::Relay,
    };
    run(
        Turn::new(facts),
        env,
        settings.verify.as_ref(),
        settings.waits,
    )
    .await
}

/// A promise that resolves after `ms` milliseconds (`setTimeout`).
fn timer(ms: u32) -> JsFuture {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let global: WorkerGlobalScope = js_sys::global().unchecked_into();
        let _ = global.set_timeout_with_callback_and_timeout_and_arguments_0(
            &resolve,
            i32::try_from(ms).unwrap_or(i32::MAX),
        );
    });
    JsFuture::from(promise)
}
