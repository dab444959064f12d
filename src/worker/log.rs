//! The one JSON log line each request writes:
//! `{"callSid","flow","step","outcome","result","ms"}`, plus `"setting"` and `"problem"` when a
//! setting is missing or malformed.
//!
//! It never holds digits, plaintext, ciphertext or a secret: the `CallSid` only once the
//! signature is verified and only when it is a well-formed SID, the flow and step only as
//! configured names, outcomes and problems as fixed words, a setting as its name or path.

use serde::Serialize;
use worker::console_log;

use super::http::Reply;
use crate::engine;
use crate::outcome::Outcome;
use crate::SettingError;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    pub call_sid: Option<String>,
    pub flow: Option<String>,
    pub step: Option<String>,
    #[serde(serialize_with = "outcome_word")]
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'static str>,
    pub ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<&'static str>,
    /// Set when the request's line is not written: a relayed session writes its own when it
    /// ends ([`SessionLine`]).
    #[serde(skip)]
    pub silent: bool,
}

/// The outcome as its word (the enum is the only place the words are spelled).
fn outcome_word<S: serde::Serializer>(outcome: &Outcome, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(outcome.as_str())
}

impl LogLine {
    /// A new line; its outcome is set by whatever answers the request.
    pub fn new() -> LogLine {
        LogLine {
            call_sid: None,
            flow: None,
            step: None,
            outcome: Outcome::UnknownPath,
            result: None,
            ms: 0,
            setting: None,
            problem: None,
            silent: false,
        }
    }

    /// A 4xx (or 404) with a plain body.
    pub fn refuse(&mut self, outcome: Outcome, reply: Reply) -> Reply {
        self.outcome = outcome;
        reply
    }

    /// TwiML with this status and outcome: a turn's answer, or a call broken before one.
    pub fn answer(&mut self, status: u16, outcome: Outcome, twiml: String) -> Reply {
        self.outcome = outcome;
        Reply::twiml(status, twiml)
    }

    /// A missing or malformed setting: the default apology (the flow's own may be what is
    /// broken), and the setting's name in the log.
    pub fn misconfigured(&mut self, setting: SettingError) -> Reply {
        self.note_setting(setting);
        self.answer(200, Outcome::Misconfigured, engine::apology_twiml(None))
    }

    pub fn note_setting(&mut self, setting: SettingError) {
        self.problem = Some(setting.problem);
        self.setting = Some(setting.setting);
    }

    /// The line of a status event that was not taken: written on its own, after the request's
    /// own line, by the task that sent it.
    pub fn status_failed(call_sid: Option<String>, flow: Option<String>) -> LogLine {
        LogLine {
            call_sid,
            flow,
            outcome: Outcome::StatusCallbackFailed,
            ..LogLine::new()
        }
    }

    /// A missing or malformed setting where there is no call to apologise to (a relay's
    /// handshake): 503, and the setting's name in the log.
    pub fn unavailable(&mut self, setting: SettingError) -> Reply {
        self.note_setting(setting);
        self.refuse(
            Outcome::Misconfigured,
            Reply::plain(503, "Service Unavailable"),
        )
    }

    pub fn write(&mut self, ms: u64) {
        if self.silent {
            return;
        }
        self.ms = ms;
        if let Ok(line) = serde_json::to_string(self).map(|line| kept(self, line)) {
            console_log!("{line}");
        }
    }
}

/// A relayed session's one line, written when it ends:
/// `{"outcome":"relay-session","relay","callSid","captures":[{"flow","result"}],"redactions",
/// "dropped","closed","ms"}`. No digits and no transcript text: names, result words, counts and
/// a fixed word for why it closed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionLine {
    #[serde(serialize_with = "outcome_word")]
    outcome: Outcome,
    relay: String,
    call_sid: Option<String>,
    captures: Vec<Capture>,
    redactions: usize,
    dropped: usize,
    closed: &'static str,
    ms: u64,
    #[serde(skip)]
    started: f64,
}

#[derive(Serialize)]
struct Capture {
    flow: String,
    result: &'static str,
}

impl SessionLine {
    /// The line of a session of `relay` starting now.
    pub fn new(relay: &str) -> SessionLine {
        SessionLine {
            outcome: Outcome::RelaySession,
            relay: relay.to_owned(),
            call_sid: None,
            captures: Vec::new(),
            redactions: 0,
            dropped: 0,
            closed: "",
            ms: 0,
            started: worker::js_sys::Date::now(),
        }
    }

    /// What `session` came to.
    pub fn of(mut self, session: &crate::relay::session::Session) -> SessionLine {
        let call_sid = &session.call().call_sid;
        self.call_sid = crate::flow::is_call_sid(call_sid).then(|| call_sid.clone());
        let tally = session.tally();
        self.captures = tally
            .captures
            .iter()
            .map(|(flow, result)| Capture {
                flow: flow.clone(),
                result,
            })
            .collect();
        self.redactions = tally.redactions;
        self.dropped = tally.dropped;
        self
    }

    /// Why it closed.
    pub fn closed(mut self, why: &'static str) -> SessionLine {
        self.closed = why;
        self
    }

    pub fn write(mut self) {
        self.ms = (worker::js_sys::Date::now() - self.started).max(0.0) as u64;
        if let Ok(line) = serde_json::to_string(&self) {
            console_log!("{line}");
        }
    }
}

// The development build's alone (feature `demo`), for the call simulator.

/// The development build keeps each call's log lines for the simulator page
/// (`super::simulator`); the production build keeps nothing.
#[cfg(feature = "demo")]
fn kept(line: &LogLine, text: String) -> String {
    super::simulator::remember_log(line.call_sid.as_deref(), &text);
    text
}

#[cfg(not(feature = "demo"))]
fn kept(_: &LogLine, text: String) -> String {
    text
}
