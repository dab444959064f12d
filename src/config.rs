//! The flows a worker serves: the `GATHER_FLOWS` setting, read and validated once.
//!
//! `GATHER_FLOWS` maps a flow's name to its description. In `wrangler.toml` it is a table
//! (`[vars.GATHER_FLOWS.login]`), which reaches the worker as an object; from the dashboard,
//! `.dev.vars` or `--var` it is the same thing as a JSON string. Either way it is read here from
//! JSON text ([`Flows::from_json`]), so the host tests exercise exactly what the worker runs:
//! into a [`Json`] tree, then key by key, each value checked by its type and rules.
//!
//! Every problem is reported as a [`SettingError`] naming the path at fault
//! (`GATHER_FLOWS.login.fields[1].length`) and a fixed sentence: never the value that was
//! given, which may be anything a person pasted.

use core::ops::RangeInclusive;

use crate::json::{self, Json, Number};
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
    /// A one-time code Twilio Verify sends to the caller's number (4 to 10 digits ended by
    /// `#`), checked with Verify; never sealed or handed on, only named in `verified`.
    Verify(Channel),
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
    /// Said before hanging up when a locked-out caller's hand-off had nothing to add.
    pub locked: String,
    /// The articles' sentence for a JSON answer; `{account}` and `{balance}` are replaced.
    pub thanks: String,
}

impl Default for Messages {
    fn default() -> Messages {
        Messages {
            retry: None,
            goodbye: GOODBYE.to_owned(),
            apology: APOLOGY.to_owned(),
            locked: LOCKED.to_owned(),
            thanks: THANKS.to_owned(),
        }
    }
}

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
        let json =
            json::parse(text).ok_or_else(|| SettingError::new(SETTING, "is not valid JSON"))?;
        let root = At {
            path: SETTING.to_owned(),
            node: &json,
        };
        let members = root.members()?;
        if members.is_empty() {
            return Err(root.error("must describe at least one flow"));
        }
        let mut flows: Vec<Flow> = Vec::with_capacity(members.len());
        for (name, body) in members {
            if !is_flow_name(name) {
                return Err(SettingError::new(SETTING, BAD_FLOW_NAME));
            }
            let at = root.member(name, body);
            if flows.iter().any(|f| f.name == *name) {
                return Err(at.error(GIVEN_TWICE));
            }
            flows.push(read_flow(name, at)?);
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

const WRONG_TYPE: &str = "has the wrong type";
const GIVEN_TWICE: &str = "is given twice";
const NOT_ALLOWED: &str = "is not one of the allowed values";

/// A value in the setting and its path, read by the type it must have.
struct At<'a> {
    path: String,
    node: &'a Json,
}

/// An object whose keys are known, one of each, read from [`At::table`].
struct Table<'a> {
    path: String,
    members: &'a [(String, Json)],
}

impl<'a> At<'a> {
    fn error(&self, problem: &'static str) -> SettingError {
        SettingError::new(self.path.clone(), problem)
    }

    /// `key`'s value below this one. A key that is not a plain word (it may be anything
    /// pasted) reads as `?` in the path.
    fn member(&self, key: &str, node: &'a Json) -> At<'a> {
        let key = if is_plain_key(key) { key } else { "?" };
        At {
            path: format!("{}.{key}", self.path),
            node,
        }
    }

    fn members(&self) -> Result<&'a [(String, Json)], SettingError> {
        self.node.members().ok_or_else(|| self.error(WRONG_TYPE))
    }

    /// An object with only the `known` keys, none given twice.
    fn table(self, known: &[&str]) -> Result<Table<'a>, SettingError> {
        let members = self.members()?;
        for (i, (key, value)) in members.iter().enumerate() {
            if !known.contains(&key.as_str()) {
                return Err(self.member(key, value).error("is not a known key"));
            }
            if members[..i].iter().any(|(earlier, _)| earlier == key) {
                return Err(self.member(key, value).error(GIVEN_TWICE));
            }
        }
        Ok(Table {
            path: self.path,
            members,
        })
    }

    /// An array's items, each with its index in the path.
    fn list(&self) -> Result<Vec<At<'a>>, SettingError> {
        let Json::List(items) = self.node else {
            return Err(self.error(WRONG_TYPE));
        };
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, node)| At {
                path: format!("{}[{i}]", self.path),
                node,
            })
            .collect())
    }

    fn text(&self) -> Result<&'a str, SettingError> {
        match self.node {
            Json::Text(text) => Ok(text),
            _ => Err(self.error(WRONG_TYPE)),
        }
    }

    /// A whole number in `range`; any other number is `problem`, anything else the wrong type.
    fn whole(&self, range: RangeInclusive<u8>, problem: &'static str) -> Result<u8, SettingError> {
        match self.node {
            Json::Number(Number::Whole(n)) => u8::try_from(*n)
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| self.error(problem)),
            Json::Number(Number::Negative(_)) => Err(self.error(problem)),
            _ => Err(self.error(WRONG_TYPE)),
        }
    }

    /// A sentence the caller hears: not blank, not longer than `<Say>` takes.
    fn sentence(&self) -> Result<String, SettingError> {
        let text = self.text()?;
        if text.trim().is_empty() || text.chars().count() > MAX_SAY {
            return Err(self.error("must be a sentence of 1 to 4000 characters"));
        }
        Ok(text.to_owned())
    }

    /// A hand-off target, [`check_url`].
    fn url(&self) -> Result<String, SettingError> {
        let url = self.text()?;
        check_url(url).map_err(|problem| self.error(problem))?;
        Ok(url.to_owned())
    }
}

impl<'a> Table<'a> {
    /// `key`'s value; `None` when it is absent or `null`.
    fn get(&self, key: &str) -> Option<At<'a>> {
        let (_, node) = self.members.iter().find(|(k, _)| k == key)?;
        (*node != Json::Null).then(|| At {
            path: format!("{}.{key}", self.path),
            node,
        })
    }

    fn required(&self, key: &str) -> Result<At<'a>, SettingError> {
        self.get(key)
            .ok_or_else(|| SettingError::new(format!("{}.{key}", self.path), "is required"))
    }

    fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }
}

fn read_flow(name: &str, at: At<'_>) -> Result<Flow, SettingError> {
    let flow = at.table(&[
        "fields",
        "then",
        "attempts",
        "timeout",
        "language",
        "voice",
        "messages",
        "limits",
        "anonymous",
    ])?;
    let listed = flow.required("fields")?.list()?;
    if listed.is_empty() {
        return Err(SettingError::new(
            flow.at("fields"),
            "must list at least one field",
        ));
    }
    let mut fields: Vec<Field> = Vec::with_capacity(listed.len());
    for at in listed {
        let path = at.path.clone();
        let field = read_field(at)?;
        if fields.iter().any(|f| f.name == field.name) {
            return Err(SettingError::new(
                format!("{path}.name"),
                "is the name of an earlier field",
            ));
        }
        fields.push(field);
    }
    let attempts = match flow.get("attempts") {
        Some(at) => at.whole(1..=9, "must be a whole number from 1 to 9")?,
        None => DEFAULT_ATTEMPTS,
    };
    let timeout_secs = match flow.get("timeout") {
        Some(at) => at.whole(1..=60, "must be a whole number of seconds from 1 to 60")?,
        None => DEFAULT_TIMEOUT,
    };
    let language = optional(&flow, "language", is_language, LANGUAGE)?;
    let voice = optional(&flow, "voice", is_voice, VOICE)?;
    let then = read_then(flow.required("then")?)?;
    let messages = match flow.get("messages") {
        Some(at) => read_messages(at)?,
        None => Messages::default(),
    };
    let (limits, count_by) = match flow.get("limits") {
        Some(at) => {
            let (limits, count_by) = read_limits(at, &fields)?;
            (Some(limits), count_by)
        }
        None => (None, Vec::new()),
    };
    let by_caller = count_by.contains(&CountBy::Caller);
    let anonymous = match (flow.get("anonymous"), limits) {
        (None, _) => Anonymous::default(),
        (Some(at), None) => return Err(at.error("goes only with limits")),
        (Some(at), Some(_)) if !by_caller => {
            return Err(at.error("goes only with limits that count by caller"))
        }
        (Some(at), Some(_)) => match at.text()? {
            "refuse" => Anonymous::Refuse,
            "shared" => Anonymous::Shared,
            _ => return Err(at.error(NOT_ALLOWED)),
        },
    };
    Ok(Flow {
        name: name.to_owned(),
        fields,
        then,
        attempts,
        timeout_secs,
        language,
        voice,
        messages,
        limits,
        count_by,
        anonymous,
    })
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

const LANGUAGE: &str = "must be a language tag such as en-US or fr-FR";
const VOICE: &str = "must be a Twilio voice name such as Polly.Celine";

/// An optional text that must pass `check`.
fn optional(
    table: &Table<'_>,
    key: &str,
    check: fn(&str) -> bool,
    problem: &'static str,
) -> Result<Option<String>, SettingError> {
    let Some(at) = table.get(key) else {
        return Ok(None);
    };
    let text = at.text()?;
    if !check(text) {
        return Err(at.error(problem));
    }
    Ok(Some(text.to_owned()))
}

fn read_field(at: At<'_>) -> Result<Field, SettingError> {
    let field = at.table(&["name", "prompt", "kind", "length", "min", "max", "channel"])?;
    let name_at = field.required("name")?;
    let name = name_at.text()?;
    if !is_field_name(name) {
        return Err(name_at.error(
            "must be a-z and 0-9 words joined by single _ (at most 32 characters, not step or attempt)",
        ));
    }
    let prompt = field.required("prompt")?.sentence()?;
    let kind_at = field.required("kind")?;
    let (length, min, max) = (field.get("length"), field.get("min"), field.get("max"));
    let channel = field.get("channel");
    const ONE_TO_32: &str = "must be a whole number from 1 to 32";
    let kind_name = kind_at.text()?;
    if !matches!(kind_name, "digits" | "card-number" | "expiry" | "verify") {
        return Err(kind_at.error(NOT_ALLOWED));
    }
    if kind_name != "verify" {
        if let Some(channel) = channel {
            return Err(channel.error("is only for kind verify"));
        }
    }
    let kind = match kind_name {
        "digits" => match (length, min, max) {
            (Some(length), None, None) => Kind::Digits(length.whole(1..=32, ONE_TO_32)?),
            (None, Some(min_at), Some(max_at)) => {
                let min = min_at.whole(1..=32, ONE_TO_32)?;
                let max = max_at.whole(1..=32, ONE_TO_32)?;
                if min > max {
                    return Err(max_at.error("must not be less than min"));
                }
                Kind::DigitRange { min, max }
            }
            (Some(_), _, _) => {
                return Err(SettingError::new(
                    field.at("length"),
                    "cannot go with min or max",
                ))
            }
            (None, _, _) => {
                return Err(SettingError::new(
                    field.at("length"),
                    "is required for kind digits, or else both min and max",
                ))
            }
        },
        kind @ ("card-number" | "expiry" | "verify") => {
            if let Some(extra) = length.or(min).or(max) {
                return Err(extra.error("is only for kind digits"));
            }
            match kind {
                "expiry" => Kind::Expiry,
                "card-number" => Kind::CardNumber,
                _ => Kind::Verify(match &channel {
                    None => Channel::Sms,
                    Some(at) => match at.text()? {
                        "sms" => Channel::Sms,
                        "call" => Channel::Call,
                        _ => return Err(at.error(NOT_ALLOWED)),
                    },
                }),
            }
        }
        _ => return Err(kind_at.error(NOT_ALLOWED)),
    };
    Ok(Field {
        name: name.to_owned(),
        prompt,
        kind,
    })
}

fn read_then(at: At<'_>) -> Result<Then, SettingError> {
    let then = at.table(&["action", "redirect", "fallback"])?;
    match (
        then.get("action"),
        then.get("redirect"),
        then.get("fallback"),
    ) {
        (Some(action), None, fallback) => Ok(Then::Action {
            url: action.url()?,
            fallback: fallback.map(|f| f.url()).transpose()?,
        }),
        (None, Some(_), Some(fallback)) => Err(fallback.error("goes only with action")),
        (None, Some(redirect), None) => Ok(Then::Redirect {
            url: redirect.url()?,
        }),
        _ => Err(SettingError::new(
            then.path.clone(),
            "must have exactly one of action and redirect",
        )),
    }
}

fn read_limits(at: At<'_>, fields: &[Field]) -> Result<(Limits, Vec<CountBy>), SettingError> {
    let limits = at.table(&["failures", "window_minutes", "by"])?;
    let failures = limits
        .required("failures")?
        .whole(1..=100, "must be a whole number from 1 to 100")?;
    // Fractions of a minute are allowed (a short window for testing); at most a week.
    let window_at = limits.required("window_minutes")?;
    let Json::Number(minutes) = window_at.node else {
        return Err(window_at.error(WRONG_TYPE));
    };
    let minutes = match *minutes {
        Number::Whole(n) => n as f64,
        Number::Negative(_) => -1.0,
        Number::Real(n) => n,
    };
    if !(0.01..=10_080.0).contains(&minutes) {
        return Err(window_at.error("must be a number of minutes from 0.01 to 10080 (a week)"));
    }
    let count_by = match limits.get("by") {
        Some(by) => read_count_by(by, fields)?,
        None => vec![CountBy::Caller],
    };
    let limits = Limits {
        failures: u32::from(failures),
        window_ms: (minutes * 60_000.0).round() as u64,
    };
    Ok((limits, count_by))
}

/// `limits.by`: a non-empty list of `"caller"` and names of the flow's fields (not `verify`
/// fields, whose code is never kept), each once.
fn read_count_by(at: At<'_>, fields: &[Field]) -> Result<Vec<CountBy>, SettingError> {
    let listed = at.list()?;
    if listed.is_empty() {
        return Err(at.error("must list \"caller\" and/or field names"));
    }
    let mut count_by = Vec::with_capacity(listed.len());
    for item in listed {
        let by = match item.text()? {
            "caller" => CountBy::Caller,
            name => match fields.iter().find(|f| f.name == name) {
                Some(f) if matches!(f.kind, Kind::Verify(_)) => {
                    return Err(item.error("names a verify field, whose code is never kept"))
                }
                Some(f) => CountBy::Field(f.name.clone()),
                None => {
                    return Err(item.error("must be \"caller\" or the name of a field of this flow"))
                }
            },
        };
        if count_by.contains(&by) {
            return Err(item.error(GIVEN_TWICE));
        }
        count_by.push(by);
    }
    Ok(count_by)
}

fn read_messages(at: At<'_>) -> Result<Messages, SettingError> {
    let messages = at.table(&["retry", "goodbye", "apology", "locked", "thanks"])?;
    let defaults = Messages::default();
    let or = |key: &str, default: String| match messages.get(key) {
        Some(at) => at.sentence(),
        None => Ok(default),
    };
    Ok(Messages {
        retry: messages.get("retry").map(|at| at.sentence()).transpose()?,
        goodbye: or("goodbye", defaults.goodbye)?,
        apology: or("apology", defaults.apology)?,
        locked: or("locked", defaults.locked)?,
        thanks: or("thanks", defaults.thanks)?,
    })
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
