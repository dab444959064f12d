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

    pub fn write(&mut self, ms: u64) {
        self.ms = ms;
        if let Ok(line) = serde_json::to_string(self) {
            console_log!("{line}");
        }
    }
}
