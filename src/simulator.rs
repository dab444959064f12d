//! The local call simulator's pure side. The development build (feature `demo`) serves a page
//! at `GET /simulator` that plays Twilio's side of a call against the worker; its glue
//! (`src/worker/simulator.rs`) only reads requests and bindings and calls what is here:
//!
//! - [`flows_json`]: what the page may know of the flows (`GET /simulator/flows`): names,
//!   routes, language, timeout, attempts, how the call is handed on, and each field's name and
//!   kind; never a URL, a sentence or a secret;
//! - [`sign_request`]: the development-only signing step (`POST /simulator/sign`): the
//!   `X-Twilio-Signature` Twilio would put on a POST to one of the worker's own `/gather`
//!   routes, made with [`crate::twilio_signature`], so the page never holds the auth token;
//! - [`ByCall`], [`Handoff`], [`handoffs_json`], [`log_json`], [`SentNotice`],
//!   [`status_json`]: the small per-call records the page reads back (`GET /simulator/handoff`,
//!   `GET /simulator/log`, `GET /simulator/status`): what the demo backend received and
//!   answered, the worker's log lines, and the status events it sent;
//! - [`handset_url`], [`verify_code_json`]: the one-time code the local Verify stand-in
//!   (`scripts/verify-mock.js`) "sent" to the caller's phone (`GET /simulator/verify-code`),
//!   read from that stand-in only when `TWILIO_VERIFY_URL` is a loopback address;
//! - [`relays_json`], [`relay_of_query`], [`bridge_origin_ok`], [`relay_handshake`]: the relay
//!   mode's bridge (`GET /simulator/relay?relay=<name>`, a WebSocket): the relays a page may
//!   talk to, and the `/relay/<name>` handshake the worker opens on its own origin for the page,
//!   signed as ConversationRelay signs it (browsers cannot put `X-Twilio-Signature` on a
//!   WebSocket), so the session goes through the production handshake check;
//! - [`AppMessage`], [`relay_app_json`]: what a relayed application received, message by
//!   message (`GET /simulator/relay-app`), and the relay's own requests it sent.
//!
//! It is compiled for the host, where it is tested, and into the development worker only.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::config::{CountBy, Flows, Relays, SpeechRule, Then, DEFAULT_FLOW};

/// Calls a record store keeps; the oldest is dropped for a new one.
pub const MAX_CALLS: usize = 32;
/// Log lines kept per call (a call of the demo flows writes one to three a step).
pub const MAX_LOG_LINES: usize = 64;
/// Hand-offs kept per call (a call hands off once; a replayed last step may add one).
pub const MAX_HANDOFFS: usize = 4;
/// Status events kept per call (the pay flow's call sends about a dozen).
pub const MAX_NOTICES: usize = 64;
/// Messages kept per relayed call (a capture sends the application two or three; each thing
/// the caller says, one).
pub const MAX_APP_MESSAGES: usize = 64;
/// The longest message kept whole, in bytes; a longer one is kept cut to this (and says so).
pub const MAX_APP_MESSAGE_LEN: usize = 16 * 1024;

/// What the page knows of one flow.
#[derive(Serialize)]
struct FlowView<'a> {
    name: &'a str,
    /// The path of its webhook: `/gather` for `default`, else `/gather/<name>`.
    route: String,
    language: Option<&'a str>,
    /// Seconds `<Gather>` waits.
    timeout: u8,
    attempts: u8,
    /// `action` or `redirect`.
    then: &'static str,
    /// Its lockout across calls, when it has `limits`.
    limits: Option<LimitsView<'a>>,
    /// Whether it sends status events (it has a `status_callback`; the URL is not shown).
    events: bool,
    fields: Vec<FieldView<'a>>,
}

/// A flow's `limits`, as the page explains a lockout with them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LimitsView<'a> {
    /// Failed calls that lock a counter.
    failures: u32,
    /// How long a failed call counts, in whole minutes.
    window_minutes: u64,
    /// What is counted: `caller`, or a field's name.
    by: Vec<&'a str>,
}

#[derive(Serialize)]
struct FieldView<'a> {
    name: &'a str,
    kind: &'static str,
}

/// The webhook path of the flow `name`.
pub fn route_of(name: &str) -> String {
    if name == DEFAULT_FLOW {
        "/gather".to_owned()
    } else {
        format!("/gather/{name}")
    }
}

/// `{"flows":[{"name","route","language","timeout","attempts","then","limits","events",
/// "fields":[{"name","kind"}]}]}` (`limits`: `{"failures","windowMinutes","by"}` or null;
/// `events`: whether status events are sent) for the flows a call can be played through: every flow with a `then` (a flow only a relay
/// runs has no webhook route), in the order configured. No URL, sentence or setting beyond
/// these: the page needs nothing else, and shows what it gets.
pub fn flows_json(flows: &Flows) -> String {
    let views: Vec<FlowView<'_>> = flows
        .iter()
        .filter_map(|flow| {
            let then = match flow.then {
                Then::Action { .. } => "action",
                Then::Redirect { .. } => "redirect",
                Then::Relay => return None,
            };
            Some(FlowView {
                name: &flow.name,
                route: route_of(&flow.name),
                language: flow.language.as_deref(),
                timeout: flow.timeout_secs,
                attempts: flow.attempts,
                then,
                limits: flow.limits.map(|limits| LimitsView {
                    failures: limits.failures,
                    window_minutes: limits.window_ms / 60_000,
                    by: flow
                        .count_by
                        .iter()
                        .map(|by| match by {
                            CountBy::Caller => "caller",
                            CountBy::Field(name) => name.as_str(),
                        })
                        .collect(),
                }),
                events: flow.status_callback.is_some(),
                fields: flow
                    .fields
                    .iter()
                    .map(|field| FieldView {
                        name: &field.name,
                        kind: field.kind.name(),
                    })
                    .collect(),
            })
        })
        .collect();
    #[derive(Serialize)]
    struct All<'a> {
        flows: Vec<FlowView<'a>>,
    }
    serde_json::to_string(&All { flows: views }).unwrap_or_default()
}

/// Whether the signing step signs a POST to `url` for a worker whose requests arrive at
/// `origin` (`http://127.0.0.1:8787`): the same origin, exactly, and the path one of the
/// worker's gather routes (`/gather` or `/gather/<name>`), with any query and no fragment.
/// Anything else (another host or port, `/decrypt-gather`, the simulator's own routes) is
/// refused, so the step cannot be used to sign requests for anything but the worker's webhook.
pub fn signable(url: &str, origin: &str) -> bool {
    if origin.is_empty() || url.contains('#') || url.chars().any(|c| c.is_control() || c == ' ') {
        return false;
    }
    let (url_origin, tail) = crate::url::split_origin(url);
    if url_origin != origin {
        return false;
    }
    let path = tail.split('?').next().unwrap_or("");
    match path.strip_prefix("/gather") {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('/')
            .is_some_and(|name| !name.is_empty() && !name.contains('/')),
        None => false,
    }
}

/// A signing request: the URL the page will POST to and the form parameters it will send.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignRequest {
    url: String,
    params: BTreeMap<String, String>,
}

/// Why the signing step refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignRefusal {
    /// Not `{"url": "…", "params": {"name": "value", …}}` with text values.
    NotARequest,
    /// The URL is not one of this worker's gather routes ([`signable`]).
    NotThisWorker,
}

impl SignRefusal {
    /// A fixed sentence for the page.
    pub fn as_str(self) -> &'static str {
        match self {
            SignRefusal::NotARequest => {
                "expected JSON {\"url\": \"…\", \"params\": {\"name\": \"value\"}} with text values"
            }
            SignRefusal::NotThisWorker => {
                "only a POST to this worker's own /gather routes is signed"
            }
        }
    }
}

/// `POST /simulator/sign`: `body` is `{"url", "params"}`; the answer is
/// `{"signature": "<base64>"}`, the `X-Twilio-Signature` Twilio would send with that POST,
/// made with `auth_token` as [`crate::twilio_signature`] makes it. The parameters (the typed
/// `Digits` among them) are wiped once signed.
pub fn sign_request(body: &[u8], origin: &str, auth_token: &str) -> Result<String, SignRefusal> {
    let mut request: SignRequest =
        serde_json::from_slice(body).map_err(|_| SignRefusal::NotARequest)?;
    let signed = if signable(&request.url, origin) {
        let pairs: Vec<(&str, &str)> = request
            .params
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        Ok(crate::twilio_signature(auth_token, &request.url, &pairs))
    } else {
        Err(SignRefusal::NotThisWorker)
    };
    for value in request.params.values_mut() {
        value.zeroize();
    }
    let signature = signed?;
    #[derive(Serialize)]
    struct Signed<'a> {
        signature: &'a str,
    }
    Ok(serde_json::to_string(&Signed {
        signature: &signature,
    })
    .unwrap_or_default())
}

/// A small store of records by call SID, oldest call first: at most `max_calls` calls, each
/// with at most `max_each` records (its oldest dropped first). Only well-formed call SIDs
/// ([`crate::flow::is_call_sid`]) are filed.
#[derive(Debug)]
pub struct ByCall<T> {
    calls: VecDeque<(String, Vec<T>)>,
    max_calls: usize,
    max_each: usize,
}

impl<T> ByCall<T> {
    /// An empty store.
    pub const fn new(max_calls: usize, max_each: usize) -> ByCall<T> {
        ByCall {
            calls: VecDeque::new(),
            max_calls,
            max_each,
        }
    }

    /// Files `record` under `call_sid`; false (and nothing kept) for a malformed SID.
    pub fn push(&mut self, call_sid: &str, record: T) -> bool {
        if !crate::flow::is_call_sid(call_sid) || self.max_calls == 0 || self.max_each == 0 {
            return false;
        }
        let records = match self.calls.iter().position(|(sid, _)| sid == call_sid) {
            Some(i) => &mut self.calls[i].1,
            None => {
                while self.calls.len() >= self.max_calls {
                    self.calls.pop_front();
                }
                self.calls.push_back((call_sid.to_owned(), Vec::new()));
                match self.calls.back_mut() {
                    Some(call) => &mut call.1,
                    None => return false,
                }
            }
        };
        if records.len() >= self.max_each {
            records.remove(0);
        }
        records.push(record);
        true
    }

    /// The records of `call_sid`, oldest first (none for a call not seen or dropped).
    pub fn get(&self, call_sid: &str) -> &[T] {
        self.calls
            .iter()
            .find(|(sid, _)| sid == call_sid)
            .map_or(&[], |(_, records)| records.as_slice())
    }

    /// How many calls are kept.
    pub fn calls(&self) -> usize {
        self.calls.len()
    }
}

/// What the demo backend received for a call, what it made of it and what it answered.
#[derive(Debug)]
pub struct Handoff {
    /// The submission's body as received (JSON: the call's SIDs and numbers, the result, and
    /// sealed values only).
    pub submission: String,
    /// Its `X-Gather-Seal-Signature` header.
    pub signature: Option<String>,
    /// Whether that signature checked out.
    pub signature_valid: bool,
    /// The signature check's verdict in words: `valid`, or why it was refused.
    pub verdict: String,
    /// The values the backend opened, by field name: plaintext, as the application sees it
    /// (wiped when the record is dropped).
    pub opened: Vec<(String, Zeroizing<String>)>,
    /// The backend's HTTP status.
    pub status: u16,
    /// Its `X-Gather-Seal-Result`, when it sent one.
    pub result: Option<&'static str>,
    /// Its TwiML, for a 200.
    pub twiml: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HandoffView<'a> {
    submission: &'a str,
    signature: Option<&'a str>,
    signature_valid: bool,
    verdict: &'a str,
    opened: Vec<Opened<'a>>,
    status: u16,
    result: Option<&'a str>,
    twiml: Option<&'a str>,
}

#[derive(Serialize)]
struct Opened<'a> {
    name: &'a str,
    value: &'a str,
}

/// `GET /simulator/handoff`: `{"callSid", "handoffs": [{"submission", "signature",
/// "signatureValid", "verdict", "opened": [{"name", "value"}], "status", "result", "twiml"}]}`.
pub fn handoffs_json(call_sid: &str, handoffs: &[Handoff]) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct All<'a> {
        call_sid: &'a str,
        handoffs: Vec<HandoffView<'a>>,
    }
    let handoffs = handoffs
        .iter()
        .map(|h| HandoffView {
            submission: &h.submission,
            signature: h.signature.as_deref(),
            signature_valid: h.signature_valid,
            verdict: &h.verdict,
            opened: h
                .opened
                .iter()
                .map(|(name, value)| Opened {
                    name,
                    value: value.as_str(),
                })
                .collect(),
            status: h.status,
            result: h.result,
            twiml: h.twiml.as_deref(),
        })
        .collect();
    serde_json::to_string(&All { call_sid, handoffs }).unwrap_or_default()
}

/// `GET /simulator/log`: `{"callSid", "lines": ["<a log line as written>", …]}`.
pub fn log_json(call_sid: &str, lines: &[String]) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct All<'a> {
        call_sid: &'a str,
        lines: &'a [String],
    }
    serde_json::to_string(&All { call_sid, lines }).unwrap_or_default()
}

/// A status event the worker sent: its JSON body and `X-Gather-Seal-Signature`, as posted to
/// the flow's `status_callback`.
#[derive(Debug)]
pub struct SentNotice {
    /// The event's JSON ([`crate::status::Event::to_json`]): no digit beyond a card's last four.
    pub body: String,
    /// Its signature header.
    pub signature: String,
}

/// `GET /simulator/status`: `{"callSid", "events": [{"body", "signature"}]}`, in the order sent.
pub fn status_json(call_sid: &str, sent: &[SentNotice]) -> String {
    #[derive(Serialize)]
    struct View<'a> {
        body: &'a str,
        signature: &'a str,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct All<'a> {
        call_sid: &'a str,
        events: Vec<View<'a>>,
    }
    let events = sent
        .iter()
        .map(|n| View {
            body: &n.body,
            signature: &n.signature,
        })
        .collect();
    serde_json::to_string(&All { call_sid, events }).unwrap_or_default()
}

/// Where the local Verify stand-in shows the codes it sent to `to`:
/// `<TWILIO_VERIFY_URL>/handset/messages?To=<to>`, only when `verify_url` is `http://` or
/// `https://` on a loopback host (the stand-in `scripts/dev.sh` starts). `None` for any other
/// URL (the real Verify texts the code to the caller's phone, and nothing can read it back),
/// and for a `to` that is empty or longer than a phone number or client identity may be.
pub fn handset_url(verify_url: &str, to: &str) -> Option<String> {
    let base = verify_url.trim().trim_end_matches('/');
    let parts = crate::url::Parts::parse(base)?;
    let scheme_ok =
        parts.scheme.eq_ignore_ascii_case("http") || parts.scheme.eq_ignore_ascii_case("https");
    if !scheme_ok
        || !parts.userinfo.is_empty()
        || !crate::url::is_loopback(parts.host.trim_start_matches('[').trim_end_matches(']'))
        || base.contains(['?', '#'])
        || to.trim().is_empty()
        || to.len() > 128
        || to.chars().any(char::is_control)
    {
        return None;
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("To", to.trim())
        .finish();
    Some(format!("{base}/handset/messages?{query}"))
}

/// What the stand-in's handset answers: the messages it sent, oldest first.
#[derive(Deserialize)]
struct Handset {
    messages: Vec<Message>,
}

#[derive(Deserialize)]
struct Message {
    to: String,
    channel: String,
    code: String,
}

/// `GET /simulator/verify-code`: from the stand-in's answer (`{"messages": [{"to", "channel",
/// "code", …}]}`), the latest code sent to `to`, as `{"to", "channel", "code"}`; `None` when it
/// sent none, or the answer is not that shape (a code is 4 to 10 digits, a channel a word).
pub fn verify_code_json(to: &str, handset: &str) -> Option<String> {
    let handset: Handset = serde_json::from_str(handset).ok()?;
    let latest = handset.messages.iter().rev().find(|m| m.to == to.trim())?;
    let code_ok =
        (4..=10).contains(&latest.code.len()) && latest.code.bytes().all(|b| b.is_ascii_digit());
    let channel_ok = !latest.channel.is_empty()
        && latest.channel.len() <= 16
        && latest.channel.bytes().all(|b| b.is_ascii_lowercase());
    if !code_ok || !channel_ok {
        return None;
    }
    #[derive(Serialize)]
    struct Code<'a> {
        to: &'a str,
        channel: &'a str,
        code: &'a str,
    }
    serde_json::to_string(&Code {
        to: &latest.to,
        channel: &latest.channel,
        code: &latest.code,
    })
    .ok()
}

/// `GET /simulator/relays`: `{"relays": [{"name", "flows": ["…"], "speech": "redact"|"pass"}]}`,
/// the relays of `GATHER_RELAYS` in the order configured (none when it is not set). Never the
/// upstream URL: the page talks to the relay, not to the application.
pub fn relays_json(relays: Option<&Relays>) -> String {
    #[derive(Serialize)]
    struct View<'a> {
        name: &'a str,
        flows: &'a [String],
        speech: &'static str,
    }
    #[derive(Serialize)]
    struct All<'a> {
        relays: Vec<View<'a>>,
    }
    let relays = relays
        .into_iter()
        .flat_map(Relays::iter)
        .map(|relay| View {
            name: &relay.name,
            flows: &relay.flows,
            speech: match relay.speech {
                SpeechRule::Redact => "redact",
                SpeechRule::Pass => "pass",
            },
        })
        .collect();
    serde_json::to_string(&All { relays }).unwrap_or_default()
}

/// The `relay` query parameter of `GET /simulator/relay?relay=<name>`, when it can be a relay's
/// name (as `GATHER_RELAYS` names them: 1 to 64 of a-z, 0-9, `-` and `_`).
pub fn relay_of_query(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "relay")
        .map(|(_, relay)| relay.into_owned())
        .filter(|relay| crate::config::is_flow_name(relay))
}

/// Whether a bridge request's `Origin` header lets it through: absent (not a browser), or
/// exactly this worker's `origin`. A page of another site cannot open the bridge (WebSockets
/// are not held to CORS, so the check is the bridge's own).
pub fn bridge_origin_ok(origin_header: Option<&str>, origin: &str) -> bool {
    origin_header.is_none_or(|header| !origin.is_empty() && header == origin)
}

/// The handshake the bridge opens for the relay `name`: the URL to open on the worker's own
/// `origin` (`http://127.0.0.1:8787/relay/agent`) and the `X-Twilio-Signature` ConversationRelay
/// would send with it, made with `auth_token` by [`crate::twilio_signature`] over the `wss://`
/// URL Twilio is given (`ws://` for an `http://` base), with no parameters. `base` is what the
/// relay route checks the signature against: `PUBLIC_URL` when set, else `origin`. `None` for a
/// name [`relay_of_query`] would not give, or a base or origin not `http://`/`https://`.
pub fn relay_handshake(
    origin: &str,
    base: &str,
    name: &str,
    auth_token: &str,
) -> Option<(String, String)> {
    let name_ok = crate::config::is_flow_name(name);
    let (_, origin_rest) = web_origin(origin)?;
    let (plain, base_rest) = web_origin(base.trim_end_matches('/'))?;
    if !name_ok {
        return None;
    }
    let signed = format!(
        "{}://{base_rest}/relay/{name}",
        if plain { "ws" } else { "wss" }
    );
    let none: [(&str, &str); 0] = [];
    let signature = crate::twilio_signature(auth_token, &signed, &none);
    let scheme = origin.split_once("://").map_or("http", |(s, _)| s);
    Some((format!("{scheme}://{origin_rest}/relay/{name}"), signature))
}

/// An `http://` or `https://` origin's (whether it is plain `http`, what follows `://`).
fn web_origin(url: &str) -> Option<(bool, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let http = scheme.eq_ignore_ascii_case("http");
    let secure = scheme.eq_ignore_ascii_case("https");
    let rest_ok = !rest.is_empty() && !rest.contains(['/', '?', '#', ' ']);
    (rest_ok && (http || secure)).then_some((http, rest))
}

/// One message of a relayed session, as the application's end of it saw it.
#[derive(Debug, PartialEq, Eq)]
pub struct AppMessage {
    /// Whether the application sent it (one of the relay's own requests, `gather-seal.start`)
    /// rather than received it.
    pub sent: bool,
    /// The message as sent, up to [`MAX_APP_MESSAGE_LEN`] bytes.
    pub text: String,
    /// Whether it was longer, and cut.
    pub cut: bool,
}

impl AppMessage {
    /// A message the relay sent the application.
    pub fn received(text: &str) -> AppMessage {
        AppMessage::kept(false, text)
    }

    /// A message the application sent the relay, when it is one of the relay's own requests
    /// (`{"type": "gather-seal.…"}`); its `text` and `play` are what the caller hears, and the
    /// page shows them there.
    pub fn sent(text: &str) -> Option<AppMessage> {
        #[derive(Deserialize)]
        struct Typed<'a> {
            #[serde(rename = "type", borrow)]
            kind: Option<std::borrow::Cow<'a, str>>,
        }
        let typed: Typed<'_> = serde_json::from_str(text).ok()?;
        typed
            .kind
            .filter(|kind| kind.starts_with("gather-seal."))
            .map(|_| AppMessage::kept(true, text))
    }

    fn kept(sent: bool, text: &str) -> AppMessage {
        let mut end = text.len().min(MAX_APP_MESSAGE_LEN);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        AppMessage {
            sent,
            text: text[..end].to_owned(),
            cut: end < text.len(),
        }
    }
}

/// `GET /simulator/relay-app`: `{"callSid", "messages": [{"direction": "to-app"|"from-app",
/// "text", "cut"}]}`, in the order they went.
pub fn relay_app_json(call_sid: &str, messages: &[AppMessage]) -> String {
    #[derive(Serialize)]
    struct View<'a> {
        direction: &'static str,
        text: &'a str,
        cut: bool,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct All<'a> {
        call_sid: &'a str,
        messages: Vec<View<'a>>,
    }
    let messages = messages
        .iter()
        .map(|m| View {
            direction: if m.sent { "from-app" } else { "to-app" },
            text: &m.text,
            cut: m.cut,
        })
        .collect();
    serde_json::to_string(&All { call_sid, messages }).unwrap_or_default()
}
