//! One relayed ConversationRelay session as a sans-IO state machine.
//!
//! The glue hands the session every message from Twilio ([`Session::from_twilio`]) and from
//! the application ([`Session::from_app`]), the end of a capture's wait for a key
//! ([`Session::timed_out`]) and the answer of each capture turn it ran
//! ([`Session::turn_done`]); the session says what to do ([`Out`]): send a message to Twilio
//! or to the application, run a turn of the capture's flow through the engine
//! ([`crate::engine::Transport::Relay`]), start or stop the wait for a key.
//!
//! Outside a capture every message passes unchanged, but for the caller's speech, redacted
//! when the relay says so, and the application's `gather-seal.*` messages, which are the
//! relay's. During a capture the caller's speech and keys never reach the application; the
//! application's `text` and `play` wait until the capture ends; its `end` cancels the capture.

use zeroize::Zeroizing;

use super::redact;
use crate::config::{Relay, SpeechRule};
use crate::engine::Answer;
use crate::flow::{Asking, CallState};
use crate::json::{self, Json};

/// The largest message passed either way, in bytes; a larger one is dropped (and counted).
pub const MAX_MESSAGE: usize = 64 * 1024;

/// What the glue does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Out {
    /// Send this text message to Twilio.
    ToTwilio(String),
    /// Send this text message to the application.
    ToApp(String),
    /// Run one turn of `flow` through the engine with `state` (`None`: the capture starts) and
    /// the caller's entry, then give the answer to [`Session::turn_done`].
    Turn {
        /// The flow's name.
        flow: String,
        /// Where the capture stands.
        state: Option<CallState>,
        /// What the caller typed (wiped on drop); `None` when the capture starts.
        digits: Option<Zeroizing<String>>,
    },
    /// Wait this many milliseconds for the next key, then call [`Session::timed_out`]
    /// (replacing any wait already running).
    Wait(u32),
    /// Stop waiting for a key.
    StopWaiting,
}

/// Who the call is, from Twilio's `setup` message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetupCall {
    /// `callSid`.
    pub call_sid: String,
    /// `accountSid`.
    pub account_sid: String,
    /// `from`: the caller.
    pub from: String,
    /// `to`: the number called.
    pub to: String,
}

/// A capture under way.
struct Capture {
    flow: String,
    /// The state the next turn starts from; `None` until the flow has asked its first field.
    state: Option<CallState>,
    /// How the entry being typed ends (`None` while a turn runs).
    asking: Option<Asking>,
    /// The keys typed so far.
    typed: Zeroizing<String>,
}

/// What the session's log line says: no digits, no transcript text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Each capture's flow and result word (or `cancelled-by-app`, `failed`, or `abandoned`
    /// when the session ended during it), in order.
    pub captures: Vec<(String, &'static str)>,
    /// Runs of digits redacted from the caller's speech.
    pub redactions: usize,
    /// Messages over [`MAX_MESSAGE`] dropped.
    pub dropped: usize,
}

/// One relayed session.
pub struct Session {
    relay: Relay,
    call: SetupCall,
    capture: Option<Capture>,
    /// The application's `text` and `play` messages held during a capture, in order.
    held: Vec<String>,
    tally: Tally,
}

impl Session {
    /// A session of `relay` (its flows, its speech rule).
    pub fn new(relay: Relay) -> Session {
        Session {
            relay,
            call: SetupCall::default(),
            capture: None,
            held: Vec::new(),
            tally: Tally::default(),
        }
    }

    /// Who the call is, once Twilio's `setup` arrived.
    pub fn call(&self) -> &SetupCall {
        &self.call
    }

    /// Whether a capture is under way.
    pub fn capturing(&self) -> bool {
        self.capture.is_some()
    }

    /// What the log line says.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// A message from Twilio.
    pub fn from_twilio(&mut self, text: &str) -> Vec<Out> {
        if text.len() > MAX_MESSAGE {
            self.tally.dropped += 1;
            return Vec::new();
        }
        let Some(message) = json::parse(text) else {
            return self.pass_to_app(text);
        };
        match message.get("type").and_then(Json::text) {
            Some("setup") => {
                let field = |key: &str| {
                    message
                        .get(key)
                        .and_then(Json::text)
                        .unwrap_or("")
                        .to_owned()
                };
                self.call = SetupCall {
                    call_sid: field("callSid"),
                    account_sid: field("accountSid"),
                    from: field("from"),
                    to: field("to"),
                };
                self.pass_to_app(text)
            }
            Some("dtmf") if self.capture.is_some() => {
                let digit = message.get("digit").and_then(Json::text).unwrap_or("");
                self.key(digit)
            }
            // The caller's speech during a capture is nobody's business.
            Some("prompt") if self.capture.is_some() => Vec::new(),
            Some("prompt") if self.relay.speech == SpeechRule::Redact => {
                vec![Out::ToApp(self.redacted(message, text))]
            }
            _ => self.pass_to_app(text),
        }
    }

    /// A message from the application.
    pub fn from_app(&mut self, text: &str) -> Vec<Out> {
        if text.len() > MAX_MESSAGE {
            self.tally.dropped += 1;
            return Vec::new();
        }
        let message = json::parse(text);
        let kind = message
            .as_ref()
            .and_then(|m| m.get("type"))
            .and_then(Json::text);
        match (kind, self.capture.is_some()) {
            (Some("gather-seal.start"), false) => {
                let flow = message
                    .as_ref()
                    .and_then(|m| m.get("flow"))
                    .and_then(Json::text)
                    .filter(|name| self.relay.flows.iter().any(|f| f == name));
                match flow {
                    Some(flow) => {
                        self.capture = Some(Capture {
                            flow: flow.to_owned(),
                            state: None,
                            asking: None,
                            typed: Zeroizing::new(String::new()),
                        });
                        vec![Out::Turn {
                            flow: flow.to_owned(),
                            state: None,
                            digits: None,
                        }]
                    }
                    None => vec![Out::ToApp(error("unknown-flow"))],
                }
            }
            (Some("gather-seal.start"), true) => vec![Out::ToApp(error("busy"))],
            // Any other message of the relay's own kind is the relay's, and not known.
            (Some(kind), _) if kind.starts_with("gather-seal.") => {
                vec![Out::ToApp(error("unknown-message"))]
            }
            (Some("text" | "play"), true) => {
                self.held.push(text.to_owned());
                Vec::new()
            }
            (Some("end"), true) => {
                let flow = self.capture.take().map(|c| c.flow).unwrap_or_default();
                self.tally.captures.push((flow, "cancelled-by-app"));
                self.held.clear();
                vec![Out::StopWaiting, Out::ToTwilio(text.to_owned())]
            }
            _ => vec![Out::ToTwilio(text.to_owned())],
        }
    }

    /// No key for the flow's `timeout`: the entry ends with what was typed (nothing is a
    /// timeout, as on a webhook).
    pub fn timed_out(&mut self) -> Vec<Out> {
        match &self.capture {
            Some(Capture {
                asking: Some(_), ..
            }) => self.entry_done(),
            _ => Vec::new(),
        }
    }

    /// The session is over (a socket closed): a capture still under way is tallied as
    /// `abandoned`, so that the log line shows it; what the application had held is dropped.
    /// Nothing is said to anyone: the sockets are closing.
    pub fn ended(&mut self) {
        if let Some(capture) = self.capture.take() {
            self.tally.captures.push((capture.flow, "abandoned"));
        }
        self.held.clear();
    }

    /// The engine's answer to a capture turn ([`Out::Turn`]).
    pub fn turn_done(&mut self, answer: Answer) -> Vec<Out> {
        let Some(capture) = self.capture.as_mut() else {
            return Vec::new();
        };
        if let Some((asking, state)) = answer.asking {
            let token = text_token(&asking.sentences.join(" "), asking.language.as_deref());
            let wait = u32::from(asking.timeout_secs) * 1000;
            capture.state = Some(state);
            capture.asking = Some(asking);
            capture.typed = Zeroizing::new(String::new());
            return vec![Out::ToTwilio(token), Out::Wait(wait)];
        }
        let flow = self.capture.take().map(|c| c.flow).unwrap_or_default();
        let mut out = vec![Out::StopWaiting];
        match answer.handed {
            Some(handed) => {
                let word = answer.result.map_or("failed", |r| r.as_str());
                self.tally.captures.push((flow, word));
                let result = ResultMessage {
                    kind: "gather-seal.result",
                    body: &handed.body,
                    signature: &handed.signature,
                };
                out.push(Out::ToApp(
                    serde_json::to_string(&result).unwrap_or_default(),
                ));
            }
            None => {
                self.tally.captures.push((flow, "failed"));
                out.push(Out::ToApp(error("capture-failed")));
            }
        }
        // What the application said during the capture, now, in order.
        out.extend(self.held.drain(..).map(Out::ToTwilio));
        out
    }

    /// A key pressed during a capture: the entry ends at the kind's length, at `#`, or at once
    /// at `*` (which cancels the flow).
    fn key(&mut self, digit: &str) -> Vec<Out> {
        let Some(Capture {
            asking: Some(asking),
            typed,
            ..
        }) = self.capture.as_mut()
        else {
            // Keys while a turn runs are not part of any entry.
            return Vec::new();
        };
        match digit {
            "#" => return self.entry_done(),
            "*" => {
                typed.push('*');
                return self.entry_done();
            }
            d if d.len() == 1 && d.as_bytes()[0].is_ascii_digit() => typed.push_str(d),
            _ => return Vec::new(),
        }
        if typed.len() >= usize::from(asking.num_digits) {
            return self.entry_done();
        }
        let wait = u32::from(asking.timeout_secs) * 1000;
        vec![Out::Wait(wait)]
    }

    /// The entry is complete: the capture's next turn.
    fn entry_done(&mut self) -> Vec<Out> {
        let Some(capture) = self.capture.as_mut() else {
            return Vec::new();
        };
        capture.asking = None;
        let digits = core::mem::replace(&mut capture.typed, Zeroizing::new(String::new()));
        vec![
            Out::StopWaiting,
            Out::Turn {
                flow: capture.flow.clone(),
                state: capture.state.clone(),
                digits: Some(digits),
            },
        ]
    }

    /// Twilio's message for the application: as it came, or with its speech redacted.
    fn pass_to_app(&self, text: &str) -> Vec<Out> {
        vec![Out::ToApp(text.to_owned())]
    }

    /// A `prompt` with each run of digits in its `voicePrompt` redacted; the message as it came
    /// when there was none.
    fn redacted(&mut self, mut message: Json, text: &str) -> String {
        let Json::Table(members) = &mut message else {
            return text.to_owned();
        };
        let mut changed = 0;
        for (key, value) in members.iter_mut() {
            if let (true, Json::Text(speech)) = (key == "voicePrompt", &mut *value) {
                let (clean, runs) = redact(speech);
                if runs > 0 {
                    *speech = clean;
                    changed += runs;
                }
            }
        }
        if changed == 0 {
            return text.to_owned();
        }
        self.tally.redactions += changed;
        serde_json::to_string(&message).unwrap_or_default()
    }
}

/// A sentence for the caller: `{"type":"text","token":…,"last":true}`, with `lang` when the flow
/// sets a language.
fn text_token(token: &str, lang: Option<&str>) -> String {
    let message = TextToken {
        kind: "text",
        token,
        last: true,
        lang,
    };
    serde_json::to_string(&message).unwrap_or_default()
}

/// `{"type":"gather-seal.error","reason":…}`.
fn error(reason: &str) -> String {
    let message = ErrorMessage {
        kind: "gather-seal.error",
        reason,
    };
    serde_json::to_string(&message).unwrap_or_default()
}

#[derive(serde::Serialize)]
struct TextToken<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    token: &'a str,
    last: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct ErrorMessage<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    reason: &'a str,
}

#[derive(serde::Serialize)]
struct ResultMessage<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    body: &'a str,
    signature: &'a str,
}
