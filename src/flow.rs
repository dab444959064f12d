//! The gather call flow as a pure state machine.
//!
//! A call asks for each configured field in turn. Digits are checked and sealed the moment they
//! arrive, bound to the call and the field (context `"<CallSid>:<field>"`), and from then on
//! travel only as ciphertext in the next action URL's query: `step` names the field being asked,
//! `attempt` counts tries at it, and every field already gathered rides along under its name.
//! After the last field the sealed values are submitted to the backend.

use zeroize::Zeroizing;

use crate::backend::json_key;
use crate::twilio::twiml::{Gather, Response};
use crate::{open_bytes, seal, Error, KeyRing, SettingError};

/// What the caller hears when the backend does not know them or cannot be reached.
pub const NOT_FOUND: &str = "We were not able to locate you in our system. Goodbye.";
/// What the caller hears after the last failed attempt at a field.
pub const TOO_MANY_ATTEMPTS: &str = "Sorry, we could not get your details. Goodbye.";
/// What the caller hears when the service is misconfigured or a request is broken.
pub const APOLOGY: &str =
    "Sorry, we cannot take your call right now. Please try again later. Goodbye.";

/// One value the caller is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Lowercase name: in the action URL, the seal context and the backend's JSON key.
    pub name: String,
    /// What the caller hears.
    pub prompt: String,
    /// Exactly how many digits are expected.
    pub digits: u8,
}

/// The flow's configuration: the fields in order, attempts per field, gather timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// The fields, asked in this order.
    pub fields: Vec<Field>,
    /// Tries per field before the call ends (at least 1).
    pub max_attempts: u8,
    /// Seconds `<Gather>` waits for a digit.
    pub timeout_secs: u8,
}

impl Default for FlowConfig {
    /// The articles' call: the last four digits of the payment card, then a four-digit PIN.
    fn default() -> FlowConfig {
        FlowConfig {
            fields: vec![
                Field {
                    name: "card".into(),
                    prompt: "Please enter the last 4 digits of your payment card number.".into(),
                    digits: 4,
                },
                Field {
                    name: "pin".into(),
                    prompt: "Please enter your 4 digit PIN.".into(),
                    digits: 4,
                },
            ],
            max_attempts: 3,
            timeout_secs: 10,
        }
    }
}

/// Query parameter names the flow itself uses, so no field may take them.
const RESERVED: [&str; 2] = ["step", "attempt"];

impl FlowConfig {
    /// Reads the flow from named settings (the worker's `[vars]`), each optional:
    ///
    /// | setting | meaning | default |
    /// |---|---|---|
    /// | `GATHER_FIELDS` | field names in order, comma-separated | `card,pin` |
    /// | `GATHER_<NAME>_PROMPT` | what the caller hears for that field | the articles' prompts |
    /// | `GATHER_<NAME>_DIGITS` | digits expected, 1 to 32 | 4 |
    /// | `GATHER_MAX_ATTEMPTS` | tries per field, 1 to 9 | 3 |
    /// | `GATHER_TIMEOUT` | seconds to wait for input, 1 to 60 | 10 |
    ///
    /// Fails naming the first setting that is malformed.
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<FlowConfig, SettingError> {
        let defaults = FlowConfig::default();
        let names = get("GATHER_FIELDS").unwrap_or_else(|| "card,pin".into());
        let mut fields: Vec<Field> = Vec::new();
        for name in names.split(',').map(str::trim) {
            let valid = !name.is_empty()
                && name.len() <= 32
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                && !RESERVED.contains(&name)
                // Distinct as JSON keys too: `a_b` and `a__b` would both travel as
                // `encryptedABDigits`, and the submission would keep only one of them.
                && !fields.iter().any(|f| json_key(&f.name) == json_key(name));
            if !valid {
                return Err(SettingError::new(
                    "GATHER_FIELDS",
                    "must be distinct names of a-z, 0-9 and _ (not step or attempt), comma-separated",
                ));
            }
            let upper = name.to_ascii_uppercase();
            let prompt_setting = format!("GATHER_{upper}_PROMPT");
            let prompt = match get(&prompt_setting) {
                Some(p) if !p.trim().is_empty() => p,
                Some(_) => return Err(SettingError::new(prompt_setting, "must not be empty")),
                None => match defaults.fields.iter().find(|f| f.name == name) {
                    Some(f) => f.prompt.clone(),
                    None => {
                        return Err(SettingError::new(
                            prompt_setting,
                            "is required for a new field",
                        ))
                    }
                },
            };
            let digits_setting = format!("GATHER_{upper}_DIGITS");
            let digits = number(&get, &digits_setting, 4, 1..=32)?;
            fields.push(Field {
                name: name.to_owned(),
                prompt,
                digits,
            });
        }
        Ok(FlowConfig {
            fields,
            max_attempts: number(&get, "GATHER_MAX_ATTEMPTS", 3, 1..=9)?,
            timeout_secs: number(&get, "GATHER_TIMEOUT", 10, 1..=60)?,
        })
    }

    /// The context a field's value is sealed with: `"<CallSid>:<field name>"`.
    pub fn context(call_sid: &str, field: &str) -> String {
        format!("{call_sid}:{field}")
    }
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    setting: &str,
    default: u8,
    range: core::ops::RangeInclusive<u8>,
) -> Result<u8, SettingError> {
    let Some(text) = get(setting) else {
        return Ok(default);
    };
    match text.trim().parse::<u8>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(SettingError::new(
            setting,
            "must be a whole number in the allowed range",
        )),
    }
}

/// Where a call stands, as carried in the action URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallState {
    /// Index of the field being asked for.
    pub field: usize,
    /// Which try at it this is, from 1.
    pub attempt: u8,
    /// Sealed values of the fields before `field`, in order: (field name, sealed hex).
    pub sealed: Vec<(String, String)>,
}

impl CallState {
    /// Reads the state from an action URL's query pairs. No `step` means the call has just
    /// come in (`Ok(None)`). Parameters the flow does not know are ignored.
    ///
    /// Fails with [`Error::BadCallState`] when `step` names no field, `attempt` is out of
    /// range, or the fields before `step` are not each carried exactly once (and no later one).
    pub fn from_query<K: AsRef<str>, V: AsRef<str>>(
        config: &FlowConfig,
        query: &[(K, V)],
    ) -> Result<Option<CallState>, Error> {
        let single = |name: &str| -> Result<Option<&str>, Error> {
            let mut found = query
                .iter()
                .filter(|(k, _)| k.as_ref() == name)
                .map(|(_, v)| v.as_ref());
            match (found.next(), found.next()) {
                (None, _) => Ok(None),
                (Some(v), None) => Ok(Some(v)),
                (Some(_), Some(_)) => Err(Error::BadCallState),
            }
        };
        let Some(step) = single("step")? else {
            return Ok(None);
        };
        let field = config
            .fields
            .iter()
            .position(|f| f.name == step)
            .ok_or(Error::BadCallState)?;
        let attempt = match single("attempt")? {
            Some(a) if a.len() == 1 && a.as_bytes()[0].is_ascii_digit() => a.as_bytes()[0] - b'0',
            Some(_) => return Err(Error::BadCallState),
            None => 1,
        };
        if attempt == 0 || attempt > config.max_attempts {
            return Err(Error::BadCallState);
        }
        let mut sealed = Vec::with_capacity(field);
        for (i, f) in config.fields.iter().enumerate() {
            match (single(&f.name)?, i < field) {
                (Some(v), true) => sealed.push((f.name.clone(), v.to_owned())),
                (None, false) => {}
                _ => return Err(Error::BadCallState),
            }
        }
        Ok(Some(CallState {
            field,
            attempt,
            sealed,
        }))
    }

    /// The query string that carries this state (hex and field names need no escaping).
    pub fn to_query(&self, config: &FlowConfig) -> String {
        let step = config
            .fields
            .get(self.field)
            .map_or("", |f| f.name.as_str());
        let mut query = format!("step={step}&attempt={}", self.attempt);
        for (name, value) in &self.sealed {
            query.push('&');
            query.push_str(name);
            query.push('=');
            query.push_str(value);
        }
        query
    }
}

/// What to do next in a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Turn {
    /// Ask for a field; `retry` when the last try at it was not valid.
    Ask {
        /// The state the action URL will carry.
        state: CallState,
        /// Whether the previous try at this field was invalid.
        retry: bool,
    },
    /// Every field is in: submit these sealed values to the backend.
    Submit {
        /// (field name, sealed hex), in the configured order.
        sealed: Vec<(String, String)>,
    },
    /// Too many bad tries: say goodbye and hang up.
    GiveUp,
}

/// Advances a call by one webhook.
///
/// `state` is what the action URL carried (`None` when the call has just come in) and
/// `digits` what Twilio posted as `Digits`. Valid digits are sealed at once with the ring's
/// current key and context `"<CallSid>:<field>"`; everything already carried is checked to open
/// for this call before it is carried further, so a value that was tampered with or copied from
/// another call stops the call here.
///
/// Fails with [`Error::MissingCallSid`] for a `CallSid` that is empty, over 64 characters or not
/// alphanumeric, [`Error::BadCallState`] for a carried value that does not open, and with
/// sealing's errors.
pub fn advance(
    config: &FlowConfig,
    ring: &KeyRing,
    call_sid: &str,
    state: Option<CallState>,
    digits: Option<&str>,
) -> Result<Turn, Error> {
    if call_sid.is_empty()
        || call_sid.len() > 64
        || !call_sid.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(Error::MissingCallSid);
    }
    let Some(mut state) = state else {
        let first = CallState {
            field: 0,
            attempt: 1,
            sealed: Vec::new(),
        };
        return Ok(Turn::Ask {
            state: first,
            retry: false,
        });
    };
    // The state must carry exactly the fields before the one asked, in order.
    let earlier = config
        .fields
        .get(..state.field)
        .ok_or(Error::BadCallState)?;
    if state.sealed.len() != earlier.len()
        || state
            .sealed
            .iter()
            .zip(earlier)
            .any(|((name, _), f)| *name != f.name)
    {
        return Err(Error::BadCallState);
    }
    for (name, value) in &state.sealed {
        let context = FlowConfig::context(call_sid, name);
        let _checked = Zeroizing::new(
            open_bytes(value, ring, context.as_bytes()).map_err(|_| Error::BadCallState)?,
        );
    }
    let field = config.fields.get(state.field).ok_or(Error::BadCallState)?;
    let digits = digits.unwrap_or("");
    let valid =
        digits.len() == usize::from(field.digits) && digits.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        if state.attempt >= config.max_attempts {
            return Ok(Turn::GiveUp);
        }
        state.attempt += 1;
        return Ok(Turn::Ask { state, retry: true });
    }
    let context = FlowConfig::context(call_sid, &field.name);
    let sealed_value = seal(digits.as_bytes(), ring.current(), context.as_bytes())?;
    state.sealed.push((field.name.clone(), sealed_value));
    if state.field + 1 < config.fields.len() {
        let next = CallState {
            field: state.field + 1,
            attempt: 1,
            sealed: state.sealed,
        };
        Ok(Turn::Ask {
            state: next,
            retry: false,
        })
    } else {
        Ok(Turn::Submit {
            sealed: state.sealed,
        })
    }
}

impl Turn {
    /// The TwiML for an `Ask` or a `GiveUp` turn; `action_base` is the absolute URL of the
    /// gather route (e.g. `https://ivr.example.com/gather`). `Submit` has no TwiML of its own:
    /// it depends on the backend's answer ([`answer_twiml`]).
    pub fn twiml(&self, config: &FlowConfig, action_base: &str) -> Option<String> {
        match self {
            Turn::Ask { state, retry } => {
                let field = config.fields.get(state.field)?;
                let action = format!("{action_base}?{}", state.to_query(config));
                let gather = Gather {
                    action: &action,
                    num_digits: field.digits,
                    timeout_secs: config.timeout_secs,
                };
                let sorry = match field.digits {
                    1 => "Sorry, that was not 1 digit.".to_owned(),
                    n => format!("Sorry, that was not {n} digits."),
                };
                let prompts: &[&str] = if *retry {
                    &[&sorry, &field.prompt]
                } else {
                    &[&field.prompt]
                };
                Some(Response::new().gather(&gather, prompts).finish())
            }
            Turn::GiveUp => Some(goodbye_twiml(TOO_MANY_ATTEMPTS)),
            Turn::Submit { .. } => None,
        }
    }
}

/// A backend's answer for a caller it knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The account number, as the backend wrote it.
    pub account: String,
    /// The balance, as the backend wrote it.
    pub balance: String,
}

/// The TwiML that ends a call after the backend answered: thanks with the account, or the
/// not-found goodbye when there is none.
pub fn answer_twiml(account: Option<&Account>) -> String {
    match account {
        Some(a) => Response::new()
            .say(&format!(
                "Thank you. Your account number is {} and your balance is {}",
                a.account, a.balance
            ))
            .finish(),
        None => goodbye_twiml(NOT_FOUND),
    }
}

/// `<Say>message</Say><Hangup/>`.
pub fn goodbye_twiml(message: &str) -> String {
    Response::new().say(message).hangup().finish()
}
