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
use crate::config::APOLOGY;
use crate::flow::{self, GatherResult};
use crate::twilio::twiml::Speech;
use crate::SettingError;

#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    pub call_sid: Option<String>,
    pub flow: Option<String>,
    pub step: Option<String>,
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'static str>,
    pub ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<&'static str>,
}

impl LogLine {
    /// A 4xx (or 404) with a plain body.
    pub fn refuse(&mut self, outcome: &'static str, reply: Reply) -> Reply {
        self.outcome = outcome;
        reply
    }

    /// A broken call: a 4xx with the apology, so a caller who somehow got here still hears why
    /// the call ends.
    pub fn broken_call(
        &mut self,
        status: u16,
        outcome: &'static str,
        speech: &Speech<'_>,
        apology: &str,
    ) -> Reply {
        self.outcome = outcome;
        Reply::twiml(status, flow::goodbye_twiml(speech, apology))
    }

    /// A missing or malformed setting: the default apology (the flow's own may be what is
    /// broken), and the setting's name in the log.
    pub fn misconfigured(&mut self, setting: SettingError) -> Reply {
        self.note_setting(setting);
        self.outcome = "misconfigured";
        Reply::twiml(200, flow::goodbye_twiml(&Speech::default(), APOLOGY))
    }

    pub fn note_setting(&mut self, setting: SettingError) {
        self.problem = Some(setting.problem);
        self.setting = Some(setting.setting);
    }

    pub fn hand_off(&mut self, outcome: &'static str, result: GatherResult) {
        self.outcome = outcome;
        self.result = Some(result.as_str());
    }

    pub fn write(&mut self, ms: u64) {
        self.ms = ms;
        if let Ok(line) = serde_json::to_string(self) {
            console_log!("{line}");
        }
    }
}
