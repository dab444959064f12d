//! The flows a worker serves: the `GATHER_FLOWS` setting, deserialized into typed structs and
//! validated once.
//!
//! `GATHER_FLOWS` maps a flow's name to its description. In `wrangler.toml` it is a table
//! (`[vars.GATHER_FLOWS.login]`), which reaches the worker as an object; from the dashboard,
//! `.dev.vars` or `--var` it is the same thing as a JSON string. Either way it is read here from
//! JSON text ([`Flows::from_json`]), so the host tests exercise exactly what the worker runs.
//!
//! Every problem is reported as a [`SettingError`] naming the path at fault
//! (`GATHER_FLOWS.login.fields[1].length`) and a fixed sentence: never the value that was
//! given, which may be anything a person pasted.

use core::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::SettingError;

/// The setting's name, and the first segment of every path reported.
pub const SETTING: &str = "GATHER_FLOWS";

/// The flow `POST /gather` serves.
pub const DEFAULT_FLOW: &str = "default";

/// Tries per field unless a flow says otherwise.
pub const DEFAULT_ATTEMPTS: u8 = 3;
/// Seconds `<Gather>` waits unless a flow says otherwise.
pub const DEFAULT_TIMEOUT: u8 = 10;

/// The longest sentence a flow may give the caller (Twilio's `<Say>` takes 4,096 characters).
const MAX_SAY: usize = 4000;
/// The problem with a flow's name (never the name itself: it may be anything pasted).
const BAD_FLOW_NAME: &str = "flow names must be 1 to 64 of a-z, 0-9, - and _";
/// Query parameter names the call state itself uses, so no field may take them.
const RESERVED: [&str; 2] = ["step", "attempt"];

/// Every flow, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flows {
    flows: Vec<Flow>,
}

/// One flow: the fields to gather, in order, and where the call goes after them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    /// Its name, as in `POST /gather/<name>`.
    pub name: String,
    /// The fields, asked in this order.
    pub fields: Vec<Field>,
    /// Where the sealed values go after the last field (or after the caller gave up).
    pub then: Then,
    /// Tries per field, 1 to 9.
    pub attempts: u8,
    /// Seconds `<Gather>` waits for the caller, 1 to 60.
    pub timeout_secs: u8,
    /// `language` of every `<Say>` and `<Gather>` (e.g. `fr-FR`).
    pub language: Option<String>,
    /// `voice` of every `<Say>` (e.g. `Polly.Celine`).
    pub voice: Option<String>,
    /// The sentences the caller can hear besides the prompts.
    pub messages: Messages,
}

/// One value the caller is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// a-z, 0-9 and `_`: the seal context's second half and the submission's
    /// `encrypted<Name>Digits` key.
    pub name: String,
    /// What the caller hears.
    pub prompt: String,
    /// What counts as a valid entry.
    pub kind: Kind,
}

/// What a field accepts; each kind's check is in [`crate::kinds`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// Exactly this many digits.
    Digits(u8),
    /// From `min` to `max` digits, ended by `#`.
    DigitRange {
        /// The fewest digits.
        min: u8,
        /// The most digits.
        max: u8,
    },
    /// A payment card number: 12 to 19 digits ended by `#`, Luhn-checked.
    CardNumber,
    /// A card's expiry date: four digits MMYY, a real month, not in the past.
    Expiry,
}

/// Where the call goes after the last field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Then {
    /// POST the signed submission here and answer Twilio with what the application answers.
    Action {
        /// The application's URL.
        url: String,
        /// Where to `<Redirect>` the call when the application's answer is unusable.
        fallback: Option<String>,
    },
    /// `<Redirect>` the call here with the result and the sealed values in the query.
    Redirect {
        /// The application's or Studio flow's URL.
        url: String,
    },
}

/// Every fixed sentence a caller can hear, so a flow can be wholly in another language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Messages {
    /// Said before a field is asked again; `None`: a sentence for the field's kind.
    pub retry: Option<String>,
    /// Said before hanging up when the caller gave no valid value and the application had
    /// nothing to add.
    pub goodbye: String,
    /// Said before hanging up when the service cannot go on.
    pub apology: String,
    /// The articles' sentence for a JSON answer; `{account}` and `{balance}` are replaced.
    pub thanks: String,
}

impl Default for Messages {
    fn default() -> Messages {
        Messages {
            retry: None,
            goodbye: GOODBYE.to_owned(),
            apology: APOLOGY.to_owned(),
            thanks: THANKS.to_owned(),
        }
    }
}

/// The default `goodbye`.
pub const GOODBYE: &str = "Sorry, we could not get your details. Goodbye.";
/// The default `apology`, and what every caller hears when the settings are broken.
pub const APOLOGY: &str =
    "Sorry, we cannot take your call right now. Please try again later. Goodbye.";
/// The default `thanks`: the articles' sentence.
pub const THANKS: &str =
    "Thank you. Your account number is {account} and your balance is {balance}";

impl Flows {
    /// Reads and validates `GATHER_FLOWS` from its JSON text.
    ///
    /// Fails with the first problem found, naming its path: text that is not a JSON object of
    /// flows, an unknown or missing key, a value of the wrong type or out of range, a bad name
    /// or URL, `then` with other than exactly one of `action` and `redirect`.
    ///
    /// ```
    /// let flows = gather_seal::config::Flows::from_json(r#"{"default": {
    ///     "fields": [{"name": "pin", "kind": "digits", "length": 4, "prompt": "Your PIN?"}],
    ///     "then": {"redirect": "https://example.com/next"}
    /// }}"#).unwrap();
    /// assert_eq!(flows.get("default").unwrap().attempts, 3);
    ///
    /// let err = gather_seal::config::Flows::from_json(r#"{"default": {
    ///     "fields": [{"name": "pin", "kind": "digits", "length": 40, "prompt": "Your PIN?"}],
    ///     "then": {"redirect": "https://example.com/next"}
    /// }}"#).unwrap_err();
    /// assert_eq!(err.setting, "GATHER_FLOWS.default.fields[0].length");
    /// ```
    pub fn from_json(text: &str) -> Result<Flows, SettingError> {
        let mut json = serde_json::Deserializer::from_str(text);
        let RawFlows(raw) =
            serde_path_to_error::deserialize(&mut json).map_err(|e| serde_problem(&e, text))?;
        json.end()
            .map_err(|_| SettingError::new(SETTING, "is not valid JSON"))?;
        if raw.is_empty() {
            return Err(SettingError::new(
                SETTING,
                "must describe at least one flow",
            ));
        }
        let mut flows: Vec<Flow> = Vec::with_capacity(raw.len());
        for (name, flow) in raw {
            if !is_flow_name(&name) {
                return Err(SettingError::new(SETTING, BAD_FLOW_NAME));
            }
            if flows.iter().any(|f| f.name == name) {
                return Err(SettingError::new(
                    format!("{SETTING}.{name}"),
                    "is given twice",
                ));
            }
            flows.push(flow.validate(&name)?);
        }
        Ok(Flows { flows })
    }

    /// The flow of that name.
    pub fn get(&self, name: &str) -> Option<&Flow> {
        self.flows.iter().find(|f| f.name == name)
    }

    /// Every flow, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &Flow> {
        self.flows.iter()
    }

    /// Whether any flow hands off with `action` (and so needs a signing secret).
    pub fn any_action(&self) -> bool {
        self.iter().any(|f| matches!(f.then, Then::Action { .. }))
    }
}

impl Flow {
    /// The field at `index`.
    pub fn field(&self, index: usize) -> Option<&Field> {
        self.fields.get(index)
    }
}

/// The flows as written, in order; a name given twice is kept twice, to be refused.
struct RawFlows(Vec<(String, RawFlow)>);

impl<'de> Deserialize<'de> for RawFlows {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawFlows, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = RawFlows;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of flows by name")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFlows, A::Error> {
                let mut flows = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    flows.push(entry);
                }
                Ok(RawFlows(flows))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// A flow as written, before validation. Unknown keys are an error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    fields: Vec<RawField>,
    then: RawThen,
    attempts: Option<u32>,
    timeout: Option<u32>,
    language: Option<String>,
    voice: Option<String>,
    messages: Option<RawMessages>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: String,
    prompt: String,
    kind: RawKind,
    length: Option<u32>,
    min: Option<u32>,
    max: Option<u32>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RawKind {
    Digits,
    CardNumber,
    Expiry,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThen {
    action: Option<String>,
    redirect: Option<String>,
    fallback: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessages {
    retry: Option<String>,
    goodbye: Option<String>,
    apology: Option<String>,
    thanks: Option<String>,
}

impl RawFlow {
    fn validate(self, name: &str) -> Result<Flow, SettingError> {
        let at = |key: &str| format!("{SETTING}.{name}.{key}");
        if self.fields.is_empty() {
            return Err(SettingError::new(
                at("fields"),
                "must list at least one field",
            ));
        }
        let mut fields: Vec<Field> = Vec::with_capacity(self.fields.len());
        for (i, raw) in self.fields.into_iter().enumerate() {
            let field = raw.validate(&|key| at(&format!("fields[{i}].{key}")))?;
            if fields.iter().any(|f| f.name == field.name) {
                return Err(SettingError::new(
                    at(&format!("fields[{i}].name")),
                    "is the name of an earlier field",
                ));
            }
            fields.push(field);
        }
        let attempts = in_range(self.attempts, DEFAULT_ATTEMPTS, 1..=9).ok_or_else(|| {
            SettingError::new(at("attempts"), "must be a whole number from 1 to 9")
        })?;
        let timeout_secs = in_range(self.timeout, DEFAULT_TIMEOUT, 1..=60).ok_or_else(|| {
            SettingError::new(
                at("timeout"),
                "must be a whole number of seconds from 1 to 60",
            )
        })?;
        if self.language.as_deref().is_some_and(|l| !is_language(l)) {
            return Err(SettingError::new(
                at("language"),
                "must be a language tag such as en-US or fr-FR",
            ));
        }
        if self.voice.as_deref().is_some_and(|v| !is_voice(v)) {
            return Err(SettingError::new(
                at("voice"),
                "must be a Twilio voice name such as Polly.Celine",
            ));
        }
        let then = self
            .then
            .validate(&|key| at(&format!("then.{key}")), &at("then"))?;
        let messages = match self.messages {
            Some(raw) => raw.validate(&|key| at(&format!("messages.{key}")))?,
            None => Messages::default(),
        };
        Ok(Flow {
            name: name.to_owned(),
            fields,
            then,
            attempts,
            timeout_secs,
            language: self.language,
            voice: self.voice,
            messages,
        })
    }
}

impl RawField {
    fn validate(self, at: &dyn Fn(&str) -> String) -> Result<Field, SettingError> {
        if !is_field_name(&self.name) {
            return Err(SettingError::new(
                at("name"),
                "must be a-z and 0-9 words joined by single _ (at most 32 characters, not step or attempt)",
            ));
        }
        let prompt = sentence(self.prompt, &|| at("prompt"))?;
        let digits_only = |key: &str, given: Option<u32>| match given {
            Some(_) => Err(SettingError::new(at(key), "is only for kind digits")),
            None => Ok(()),
        };
        let kind = match self.kind {
            RawKind::Digits => match (self.length, self.min, self.max) {
                (Some(length), None, None) => {
                    Kind::Digits(in_range(Some(length), 0, 1..=32).ok_or_else(|| {
                        SettingError::new(at("length"), "must be a whole number from 1 to 32")
                    })?)
                }
                (None, Some(min), Some(max)) => {
                    let min = in_range(Some(min), 0, 1..=32).ok_or_else(|| {
                        SettingError::new(at("min"), "must be a whole number from 1 to 32")
                    })?;
                    let max = in_range(Some(max), 0, 1..=32).ok_or_else(|| {
                        SettingError::new(at("max"), "must be a whole number from 1 to 32")
                    })?;
                    if min > max {
                        return Err(SettingError::new(at("max"), "must not be less than min"));
                    }
                    Kind::DigitRange { min, max }
                }
                (Some(_), _, _) => {
                    return Err(SettingError::new(at("length"), "cannot go with min or max"))
                }
                (None, _, _) => {
                    return Err(SettingError::new(
                        at("length"),
                        "is required for kind digits, or else both min and max",
                    ))
                }
            },
            RawKind::CardNumber | RawKind::Expiry => {
                digits_only("length", self.length)?;
                digits_only("min", self.min)?;
                digits_only("max", self.max)?;
                if matches!(self.kind, RawKind::CardNumber) {
                    Kind::CardNumber
                } else {
                    Kind::Expiry
                }
            }
        };
        Ok(Field {
            name: self.name,
            prompt,
            kind,
        })
    }
}

impl RawThen {
    fn validate(self, at: &dyn Fn(&str) -> String, then: &str) -> Result<Then, SettingError> {
        let url = |key: &str, value: String| match check_url(&value) {
            Ok(()) => Ok(value),
            Err(problem) => Err(SettingError::new(at(key), problem)),
        };
        match (self.action, self.redirect) {
            (Some(action), None) => Ok(Then::Action {
                url: url("action", action)?,
                fallback: self.fallback.map(|f| url("fallback", f)).transpose()?,
            }),
            (None, Some(redirect)) => {
                if self.fallback.is_some() {
                    return Err(SettingError::new(at("fallback"), "goes only with action"));
                }
                Ok(Then::Redirect {
                    url: url("redirect", redirect)?,
                })
            }
            _ => Err(SettingError::new(
                then,
                "must have exactly one of action and redirect",
            )),
        }
    }
}

impl RawMessages {
    fn validate(self, at: &dyn Fn(&str) -> String) -> Result<Messages, SettingError> {
        let defaults = Messages::default();
        let or = |given: Option<String>, key: &str, default: String| match given {
            Some(text) => sentence(text, &|| at(key)),
            None => Ok(default),
        };
        Ok(Messages {
            retry: self
                .retry
                .map(|r| sentence(r, &|| at("retry")))
                .transpose()?,
            goodbye: or(self.goodbye, "goodbye", defaults.goodbye)?,
            apology: or(self.apology, "apology", defaults.apology)?,
            thanks: or(self.thanks, "thanks", defaults.thanks)?,
        })
    }
}

/// Something the caller hears: not blank, not longer than `<Say>` takes.
fn sentence(text: String, at: &dyn Fn() -> String) -> Result<String, SettingError> {
    if text.trim().is_empty() || text.chars().count() > MAX_SAY {
        return Err(SettingError::new(
            at(),
            "must be a sentence of 1 to 4000 characters",
        ));
    }
    Ok(text)
}

fn in_range(given: Option<u32>, default: u8, range: core::ops::RangeInclusive<u8>) -> Option<u8> {
    let Some(given) = given else {
        return Some(default);
    };
    u8::try_from(given).ok().filter(|n| range.contains(n))
}

fn is_flow_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// `[a-z][a-z0-9]*` words joined by single `_`, at most 32 characters, not reserved. This keeps
/// [`crate::handoff::json_key`] one-to-one, so a submission's keys give back the field names.
pub(crate) fn is_field_name(name: &str) -> bool {
    name.len() <= 32
        && !RESERVED.contains(&name)
        && name.split('_').all(|word| {
            word.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// A BCP 47 tag of the shape Twilio takes: `en`, `en-US`, `cmn-Hans-CN`.
fn is_language(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && tag.len() <= 35
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `alice`, `man`, `Polly.Celine`, `Polly.Joanna-Neural`, `Google.fr-FR-Standard-A`.
fn is_voice(voice: &str) -> bool {
    (1..=64).contains(&voice.len())
        && voice
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && voice
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

/// A hand-off target: `https://host[:port][/path][?query]`, or `http://` to a loopback host
/// (local development). No user name or password, no fragment, no spaces.
pub fn check_url(url: &str) -> Result<(), &'static str> {
    const WRONG: &str = "must be an https:// URL (http:// only to localhost or 127.0.0.1)";
    let lower = url.to_ascii_lowercase();
    let (secure, rest) = match (
        lower.strip_prefix("https://"),
        lower.strip_prefix("http://"),
    ) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return Err(WRONG),
    };
    if url.len() > 2048 || url.bytes().any(|b| !b.is_ascii_graphic()) || url.contains('#') {
        return Err("must be at most 2048 characters with no spaces and no #fragment");
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("must not carry a user name or password");
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => return Err(WRONG),
        },
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':');
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if !host_ok || !port_ok {
        return Err(WRONG);
    }
    if !secure && !is_loopback(host) {
        return Err(WRONG);
    }
    Ok(())
}

fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host == "::1" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets[0] == "127"
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok())
}

/// A key fit to print in a path: 1 to 40 of ASCII letters, digits, `_` and `-`.
fn is_plain_key(key: &str) -> bool {
    (1..=40).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A serde error as a path and a fixed problem. serde's own messages repeat the value given,
/// so only their kind is read, and the key named in `missing field` or `unknown field`
/// (a key, never a value) is added to the path.
fn serde_problem(e: &serde_path_to_error::Error<serde_json::Error>, text: &str) -> SettingError {
    let inner = e.inner();
    // serde_json reports a value that cannot start an enum (`"kind": 4`) as a syntax error,
    // though the text is valid JSON: only text that does not parse at all is invalid.
    let syntax = !inner.is_data();
    if syntax && serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return SettingError::new(SETTING, "is not valid JSON");
    }
    // A flow's name is checked after its body is read, so a bad name must not reach the path.
    if let Some(serde_path_to_error::Segment::Map { key }) = e.path().iter().next() {
        if !is_flow_name(key) {
            return SettingError::new(SETTING, BAD_FLOW_NAME);
        }
    }
    let message = inner.to_string();
    // Built from the segments, so that a key that is not a plain word (someone may paste
    // anything as a key) is not repeated: it reads as `?`.
    let mut path = SETTING.to_owned();
    for segment in e.path().iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => path.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key }
            | serde_path_to_error::Segment::Enum { variant: key } => {
                path.push('.');
                path.push_str(if is_plain_key(key) { key } else { "?" });
            }
            serde_path_to_error::Segment::Unknown => path.push_str(".?"),
        }
    }
    if syntax {
        return SettingError::new(path, "has the wrong type");
    }
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .filter(|key| is_plain_key(key))
            .map(str::to_owned)
    };
    let problem = if message.starts_with("unknown field") {
        "is not a known key"
    } else if let Some(key) = named("missing field `") {
        path.push('.');
        path.push_str(&key);
        "is required"
    } else if let Some(key) = named("duplicate field `") {
        path.push('.');
        path.push_str(&key);
        "is given twice"
    } else if message.starts_with("unknown variant") {
        "is not one of the allowed values"
    } else if message.starts_with("invalid type") {
        "has the wrong type"
    } else {
        "has a value out of range"
    };
    SettingError::new(path, problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_map_one_to_one_onto_json_keys() {
        for good in ["pin", "card", "last_four", "a1", "card2_pin", "x"] {
            assert!(is_field_name(good), "{good}");
        }
        for bad in [
            "",
            "Pin",
            "1pin",
            "_pin",
            "pin_",
            "a__b",
            "a_1",
            "step",
            "attempt",
            "p-in",
            &"a".repeat(33),
        ] {
            assert!(!is_field_name(bad), "{bad}");
        }
    }

    #[test]
    fn languages_and_voices() {
        for good in ["en", "en-US", "fr-FR", "cmn-Hans-CN", "ja-JP"] {
            assert!(is_language(good), "{good}");
        }
        for bad in ["", "e", "english-", "en_US", "en-U", "1e-US"] {
            assert!(!is_language(bad), "{bad}");
        }
        for good in [
            "alice",
            "Polly.Celine",
            "Polly.Joanna-Neural",
            "Google.fr-FR-Standard-A",
        ] {
            assert!(is_voice(good), "{good}");
        }
        for bad in ["", ".x", "Polly Celine", "a\"b"] {
            assert!(!is_voice(bad), "{bad}");
        }
    }
}
