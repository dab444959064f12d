//! The submission an `action` receives, as JSON.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::json_key;
use crate::flow::GatherResult;
use crate::kinds::Masked;
use crate::status::MaskedJson;

/// What an `action` receives, as JSON: `callSid`, `accountSid`, `from`, `to`, `flow`,
/// `result`, `verified` and `masked` when there are any, then each gathered field's sealed
/// value under its [`json_key`].
#[derive(Clone, Copy, Debug)]
pub struct Submission<'a> {
    /// The call's `CallSid`; half of every value's context.
    pub call_sid: &'a str,
    /// The `AccountSid` Twilio posted.
    pub account_sid: &'a str,
    /// The caller (`From`).
    pub from: &'a str,
    /// The number called (`To`).
    pub to: &'a str,
    /// The flow's name.
    pub flow: &'a str,
    /// How the gather ended.
    pub result: GatherResult,
    /// (field name, sealed hex), in the flow's order.
    pub sealed: &'a [(String, String)],
    /// The `verify` fields whose code was approved: `"verified": [...]`, left out when none.
    pub verified: &'a [String],
    /// Each gathered `card-number` field's last four digits and brand:
    /// `"masked": {"card": {"last4": "4242", "brand": "visa"}}`, left out when none.
    pub masked: &'a [(String, Masked)],
}

impl Serialize for Submission<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("callSid", self.call_sid)?;
        map.serialize_entry("accountSid", self.account_sid)?;
        map.serialize_entry("from", self.from)?;
        map.serialize_entry("to", self.to)?;
        map.serialize_entry("flow", self.flow)?;
        map.serialize_entry("result", self.result.as_str())?;
        if !self.verified.is_empty() {
            map.serialize_entry("verified", self.verified)?;
        }
        if !self.masked.is_empty() {
            map.serialize_entry("masked", &MaskedFields(self.masked))?;
        }
        for (name, value) in self.sealed {
            map.serialize_entry(&json_key(name), value)?;
        }
        map.end()
    }
}

impl Submission<'_> {
    /// The JSON body.
    pub fn to_json(&self) -> String {
        // Only a map with non-string keys can fail to serialize, and every key here is a string.
        serde_json::to_string(self).unwrap_or_default()
    }
}

struct MaskedFields<'a>(&'a [(String, Masked)]);

impl Serialize for MaskedFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, masked) in self.0 {
            map.serialize_entry(name, &MaskedJson(masked))?;
        }
        map.end()
    }
}
