//! The flows a worker serves: the `GATHER_FLOWS` setting, read and validated once.
//!
//! `GATHER_FLOWS` maps a flow's name to its description. In `wrangler.toml` it is a table
//! (`[vars.GATHER_FLOWS.login]`), which reaches the worker as an object; from the dashboard,
//! `.dev.vars` or `--var` it is the same thing as a JSON string. Either way it is read with
//! serde into structs that take exactly the keys a flow may have (`deny_unknown_fields`): JSON
//! text with serde_json ([`Flows::from_json`]; the worker has the runtime write a table out as
//! JSON text first, so one reader serves both), any other deserializer's value with
//! [`Flows::from_deserializer`]. Then the rules are checked in a fixed order, so both forms give
//! the same flows and the same errors.
//!
//! Every problem is reported as a [`SettingError`] naming the path at fault
//! (`GATHER_FLOWS.login.fields[1].length`) and a fixed sentence: never the value that was
//! given, which may be anything a person pasted.

mod check;
mod relays;
mod tracked;
mod written;

pub use relays::{Relay, Relays, SpeechRule, RELAYS};

use serde::de::{Deserialize, Deserializer, IgnoredAny};

pub use crate::kinds::CardTypes;
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
    /// Lockout across calls: at most this many failed tries per counter inside a window.
    pub limits: Option<Limits>,
    /// What a flow with `limits` counts by (`limits.by`, default `["caller"]`); empty without
    /// `limits`.
    pub count_by: Vec<CountBy>,
    /// What a flow that counts by caller does with a withheld caller ID.
    pub anonymous: Anonymous,
    /// `status_callback`: where each step of a call is POSTed as a signed JSON event
    /// ([`crate::status`]).
    pub status_callback: Option<String>,
}

/// A flow's `limits`: at most `failures` failed tries per counter ([`crate::lockout`]) inside `window_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Failed tries that lock a counter, 1 to 100.
    pub failures: u32,
    /// How long a failed try counts, in milliseconds.
    pub window_ms: u64,
}

/// What a flow with `limits` counts failed tries by (`limits.by`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CountBy {
    /// `"caller"`: one counter per caller ID (the default).
    Caller,
    /// The name of a gathered field: one counter per value typed there (an account, a card).
    Field(String),
}

/// What a flow with `limits` does when the caller's number is withheld.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Anonymous {
    /// Ask nothing: hand off with `result = anonymous`.
    #[default]
    Refuse,
    /// Count every withheld caller in one shared counter.
    Shared,
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
    /// `confirm`: after a valid entry the caller hears it back (`messages.confirm`) and presses
    /// 1 to keep it (kinds card-number, routing-number and expiry).
    pub confirm: bool,
    /// `repeat`: the caller types the value a second time (`messages.repeat`), and the two
    /// entries must match (any kind but verify).
    pub repeat: bool,
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
    /// A payment card number: 12 to 19 digits ended by `#`, Luhn-checked, of a brand the
    /// [`CardTypes`] take (`card_types`; [`CardTypes::ANY`] without it).
    CardNumber(CardTypes),
    /// A card's security code (CVV2, CVC2, CID): as long as [`CodeLength`] says.
    SecurityCode(CodeLength),
    /// A US bank routing number: exactly 9 digits passing the ABA checksum.
    RoutingNumber,
    /// A card's expiry date: four digits MMYY, a real month, not in the past.
    Expiry,
    /// A one-time code Twilio Verify sends to the caller's number (4 to 10 digits ended by
    /// `#`), checked with Verify; never sealed or handed on, only named in `verified`.
    Verify(Channel),
}

impl Kind {
    /// The kind's name as `GATHER_FLOWS` writes it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Digits(_) | Kind::DigitRange { .. } => "digits",
            Kind::CardNumber(_) => "card-number",
            Kind::SecurityCode(_) => "security-code",
            Kind::RoutingNumber => "routing-number",
            Kind::Expiry => "expiry",
            Kind::Verify(_) => "verify",
        }
    }
}

/// How long a `security-code` field's code is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeLength {
    /// `length`: always this many digits, 3 or 4.
    Fixed(u8),
    /// `card`: as the card typed at this index of the flow's fields (an earlier `card-number`
    /// field) makes it, 4 digits for American Express and 3 otherwise
    /// ([`crate::kinds::security_code_length`]); a call learns the brand by opening that
    /// field's sealed value.
    OfCard(usize),
}

/// How Twilio Verify sends a `verify` field's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// A text message.
    Sms,
    /// A voice call that reads the code out.
    Call,
}

impl Channel {
    /// Verify's `Channel` parameter: `sms`, `call`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Call => "call",
        }
    }
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
    /// No `then`: the flow runs only inside a relay of `GATHER_RELAYS`, which hands the result
    /// to the application in its session. The webhook route does not serve it.
    Relay,
}

/// Every fixed sentence a caller can hear, so a flow can be wholly in another language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Messages {
    /// Said before a field is asked again after any mistake the sentences below leave unset;
    /// `None`: a sentence for the field's kind and the mistake.
    pub retry: Option<String>,
    /// Said when nothing was typed.
    pub timeout: Option<String>,
    /// Said after an entry of the wrong length or format, or failing its check (Luhn, the
    /// ABA checksum), or a one-time code that was not right.
    pub invalid: Option<String>,
    /// Said after a valid card number of a brand the field's `card_types` do not list.
    pub card_type: Option<String>,
    /// Said after an expiry date in the past.
    pub expired: Option<String>,
    /// Said when a `repeat` field's second entry differs from the first.
    pub mismatch: Option<String>,
    /// Asks a `confirm` field's caller to keep the entry: `{last4}` (spoken digit by digit),
    /// `{month}` and `{year}` are replaced; `None`: a sentence for the kind.
    pub confirm: Option<String>,
    /// Asks a `repeat` field's caller to type the value again; `None`: [`REPEAT`].
    pub repeat: Option<String>,
    /// Said before hanging up when the caller gave no valid value and the application had
    /// nothing to add.
    pub goodbye: String,
    /// Said before hanging up when the service cannot go on.
    pub apology: String,
    /// Said before hanging up when a locked-out caller's hand-off had nothing to add.
    pub locked: String,
    /// The articles' sentence for a JSON answer; `{account}` and `{balance}` are replaced.
    pub thanks: String,
}

impl Default for Messages {
    fn default() -> Messages {
        Messages {
            retry: None,
            timeout: None,
            invalid: None,
            card_type: None,
            expired: None,
            mismatch: None,
            confirm: None,
            repeat: None,
            goodbye: GOODBYE.to_owned(),
            apology: APOLOGY.to_owned(),
            locked: LOCKED.to_owned(),
            thanks: THANKS.to_owned(),
        }
    }
}

/// The default `repeat`.
pub const REPEAT: &str = "Please enter it again.";
/// The default `goodbye`.
pub const GOODBYE: &str = "Sorry, we could not get your details. Goodbye.";
/// The default `apology`, and what every caller hears when the settings are broken.
pub const APOLOGY: &str =
    "Sorry, we cannot take your call right now. Please try again later. Goodbye.";
/// The default `locked`.
pub const LOCKED: &str =
    "Sorry, there have been too many attempts. Please try again later. Goodbye.";
/// The default `thanks`: the articles' sentence.
pub const THANKS: &str =
    "Thank you. Your account number is {account} and your balance is {balance}";

/// Reads a setting given as JSON text into its written structs, noting the path of the first
/// fault. Text that is not JSON is refused as such whatever else is wrong with it (nesting is
/// limited to serde_json's 128 levels).
fn read_json<W: for<'de> Deserialize<'de>>(
    setting: &'static str,
    text: &str,
) -> Result<W, SettingError> {
    let not_json = || SettingError::new(setting, "is not valid JSON");
    serde_json::from_str::<IgnoredAny>(text).map_err(|_| not_json())?;
    let mut json = serde_json::Deserializer::from_str(text);
    match tracked::read(|| W::deserialize(&mut json)) {
        Ok(written) => Ok(written),
        // What only a typed read finds malformed (a lone surrogate escape in a string).
        Err((e, _)) if e.is_syntax() || e.is_eof() => Err(not_json()),
        Err((_, fault)) => Err(fault.at(setting)),
    }
}

impl Flows {
    /// Reads and validates `GATHER_FLOWS` from its JSON text.
    ///
    /// Fails with the first problem found, naming its path: text that is not a JSON object of
    /// flows, an unknown, repeated or missing key, a value of the wrong type or out of range, a
    /// bad name or URL, `then` with other than exactly one of `action` and `redirect`.
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
        let flows = Flows::relay_json(text)?;
        flows.require_then(None)?;
        Ok(flows)
    }

    /// Reads and validates `GATHER_FLOWS` as [`Flows::from_json`] does, except that a flow may
    /// leave `then` out ([`Then::Relay`]) when a relay runs it: check that with
    /// [`Flows::require_then`] once `GATHER_RELAYS` is read.
    pub fn relay_json(text: &str) -> Result<Flows, SettingError> {
        check::flows(read_json::<written::Written>(SETTING, text)?)
    }

    /// Fails, naming its `then`, at the first flow without one that no relay of `relays` lists.
    ///
    /// ```
    /// use gather_seal::config::{Flows, Relays};
    /// let flows = Flows::relay_json(r#"{"card": {
    ///     "fields": [{"name": "card", "kind": "card-number", "prompt": "Your card number?"}]
    /// }}"#).unwrap();
    /// assert_eq!(flows.require_then(None).unwrap_err().setting, "GATHER_FLOWS.card.then");
    /// let relays = Relays::from_json(
    ///     r#"{"agent": {"upstream": "wss://agent.example.com/ws", "flows": ["card"]}}"#,
    ///     &flows,
    /// ).unwrap();
    /// assert!(flows.require_then(Some(&relays)).is_ok());
    /// ```
    pub fn require_then(&self, relays: Option<&Relays>) -> Result<(), SettingError> {
        let listed = |name: &str| {
            relays.is_some_and(|relays| relays.iter().any(|r| r.flows.iter().any(|f| f == name)))
        };
        match self
            .iter()
            .find(|flow| flow.then == Then::Relay && !listed(&flow.name))
        {
            Some(flow) => Err(SettingError::new(
                format!("{SETTING}{}.then", tracked::key_step(&flow.name)),
                "is required (only a flow that a relay of GATHER_RELAYS lists may leave it out)",
            )),
            None => Ok(()),
        }
    }

    /// Reads and validates `GATHER_FLOWS` from any serde deserializer of its value (the host
    /// tests read every case both ways).
    ///
    /// Fails as [`Flows::from_json`] does (a value that is not a table of flows is of the wrong
    /// type). The deserializer's own errors are never shown: they may repeat a value.
    ///
    /// ```
    /// let value = serde_json::json!({"default": {
    ///     "fields": [{"name": "pin", "kind": "digits", "length": 4, "prompt": "Your PIN?"}],
    ///     "then": {"redirect": "https://example.com/next"},
    ///     "colour": "blue"
    /// }});
    /// let err = gather_seal::config::Flows::from_deserializer(value).unwrap_err();
    /// assert_eq!(err.to_string(), "setting GATHER_FLOWS.default.colour: is not a known key");
    /// ```
    pub fn from_deserializer<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Flows, SettingError> {
        Flows::read(deserializer)
    }

    /// Reads the setting's structs, then checks its rules.
    fn read<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Flows, SettingError> {
        let written = tracked::read(|| written::Written::deserialize(deserializer))
            .map_err(|(_, fault)| fault.at(SETTING))?;
        let flows = check::flows(written)?;
        flows.require_then(None)?;
        Ok(flows)
    }

    /// The flow of that name.
    pub fn get(&self, name: &str) -> Option<&Flow> {
        self.flows.iter().find(|f| f.name == name)
    }

    /// Every flow, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &Flow> {
        self.flows.iter()
    }

    /// Whether any flow has `limits` (and so needs the lockout Durable Object).
    pub fn any_limits(&self) -> bool {
        self.iter().any(|f| f.limits.is_some())
    }

    /// Whether any flow has a `verify` field (and so needs the Twilio Verify settings).
    pub fn any_verify(&self) -> bool {
        self.iter()
            .flat_map(|f| &f.fields)
            .any(|f| matches!(f.kind, Kind::Verify(_)))
    }

    /// Whether any flow signs what it sends: hands off with `action`, or has a
    /// `status_callback` (and so needs `BACKEND_SIGNING_SECRET`).
    pub fn any_signed(&self) -> bool {
        self.iter()
            .any(|f| matches!(f.then, Then::Action { .. }) || f.status_callback.is_some())
    }
}

impl Flow {
    /// The field at `index`.
    pub fn field(&self, index: usize) -> Option<&Field> {
        self.fields.get(index)
    }
}

/// How long the worker waits for what lies outside it, in milliseconds: the application's
/// answer, Twilio Verify, a lockout counter. `OUTBOUND_TIMEOUT_MS` (100 to 5000) shortens them
/// all (tests use it so that no test waits 5 real seconds); unset, they are 5 s, 5 s and 3 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waits {
    /// The application's answer to an `action` POST, body included.
    pub application_ms: u32,
    /// Twilio Verify's answer, body included.
    pub verify_ms: u32,
    /// A lockout counter's answer.
    pub lockout_ms: u32,
    /// A `status_callback` event's answer (sent after the caller's next prompt).
    pub status_ms: u32,
}

impl Default for Waits {
    fn default() -> Waits {
        Waits {
            application_ms: 5000,
            verify_ms: 5000,
            lockout_ms: 3000,
            status_ms: 5000,
        }
    }
}

impl Waits {
    /// The waits under `OUTBOUND_TIMEOUT_MS`, given as a whole number of milliseconds (text, or
    /// a number from `wrangler.toml`): every wait is at most that. `None` (unset) is the default.
    pub fn from_setting(setting: Option<&str>) -> Result<Waits, SettingError> {
        let Some(text) = setting.map(str::trim) else {
            return Ok(Waits::default());
        };
        let cap = text
            .parse::<u32>()
            .ok()
            .filter(|ms| (100..=5000).contains(ms))
            .ok_or_else(|| {
                SettingError::new(
                    "OUTBOUND_TIMEOUT_MS",
                    "must be a whole number of milliseconds from 100 to 5000",
                )
            })?;
        let default = Waits::default();
        Ok(Waits {
            application_ms: default.application_ms.min(cap),
            verify_ms: default.verify_ms.min(cap),
            lockout_ms: default.lockout_ms.min(cap),
            status_ms: default.status_ms.min(cap),
        })
    }
}

/// Every secret value published in `.dev.vars.example`: throwaway development values that
/// anyone can read in the repository. The production build refuses to run with any of them in
/// any secret (a host test keeps this list equal to that file's values).
pub const PUBLISHED_DEV_SECRETS: [&str; 5] = [
    "808eaf0d8d0e0a2512f7e8f22ac68f1574ff1031be211d1ce27cd290e161e792",
    "8c0c98643fe69863545651a66dc5551f",
    "2b9d3c0f6e1a4d8b7c5e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e",
    "SK0123456789abcdef0123456789abcdef",
    "dev-verify-secret-not-a-real-key-0123",
];

/// Whether `value` (a secret's text, trimmed, in any case) is one of [`PUBLISHED_DEV_SECRETS`], or a
/// comma-separated list (`AES_SECRET_PREVIOUS`) holding one. Compared in constant time: the
/// published values are public, the secret compared with them is not.
pub fn is_published_dev_secret(value: &str) -> bool {
    use subtle::ConstantTimeEq;
    value.split(',').any(|part| {
        // Any case: a hex key spelled in capitals is the same key.
        let part = zeroize::Zeroizing::new(part.trim().to_ascii_lowercase());
        PUBLISHED_DEV_SECRETS
            .iter()
            .fold(subtle::Choice::from(0), |found, dev| {
                found | part.as_bytes().ct_eq(dev.to_ascii_lowercase().as_bytes())
            })
            .into()
    })
}

/// A flow's or a relay's name: 1 to 64 of a-z, 0-9, `-` and `_`.
pub(crate) fn is_flow_name(name: &str) -> bool {
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

/// A key fit to print in a path: 1 to 40 of ASCII letters, digits, `_` and `-`.
fn is_plain_key(key: &str) -> bool {
    (1..=40).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
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
