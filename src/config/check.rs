//! The rules on what [`super::written`] read: required keys, ranges, names, URLs and which keys
//! go together, checked in a fixed order so that each problem is reported by its path.

use core::ops::RangeInclusive;

use super::tracked::{key_step, List, Table, GIVEN_TWICE, WRONG_TYPE};
use super::written::{
    FieldSettings, FlowSettings, LimitSettings, MessageSettings, Named, ThenSettings, Untyped,
    Whole, Written,
};
use super::{
    is_field_name, is_language, is_voice, Anonymous, CardTypes, Channel, CodeLength, CountBy,
    Field, Flow, Flows, Kind, Limits, Messages, Then, DEFAULT_ATTEMPTS, DEFAULT_TIMEOUT, MAX_SAY,
    SETTING,
};
use crate::kinds::Brand;
use crate::SettingError;

const NOT_ALLOWED: &str = "is not one of the allowed values";
const REQUIRED: &str = "is required";
const LANGUAGE: &str = "must be a language tag such as en-US or fr-FR";
const VOICE: &str = "must be a Twilio voice name such as Polly.Celine";
const ONE_TO_32: &str = "must be a whole number from 1 to 32";

/// A place in the setting: `GATHER_FLOWS.login.fields[1]`.
struct At(String);

impl At {
    fn key(&self, key: &str) -> At {
        At(format!("{}{}", self.0, key_step(key)))
    }

    fn index(&self, index: usize) -> At {
        At(format!("{}[{index}]", self.0))
    }

    fn error(&self, problem: &'static str) -> SettingError {
        SettingError::new(self.0.clone(), problem)
    }

    /// `value`, which the flow cannot do without.
    fn required<T>(&self, value: Option<T>) -> Result<T, SettingError> {
        value.ok_or_else(|| self.error(REQUIRED))
    }

    /// A whole number in `range`; any other number is `problem`.
    fn whole(
        &self,
        value: Whole,
        range: RangeInclusive<u8>,
        problem: &'static str,
    ) -> Result<u8, SettingError> {
        match value {
            Whole::Positive(n) => u8::try_from(n)
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| self.error(problem)),
            Whole::Negative => Err(self.error(problem)),
        }
    }

    /// A sentence the caller hears: not blank, not longer than `<Say>` takes.
    fn sentence(&self, text: String) -> Result<String, SettingError> {
        if text.trim().is_empty() || text.chars().count() > MAX_SAY {
            return Err(self.error("must be a sentence of 1 to 4000 characters"));
        }
        Ok(text)
    }

    /// A hand-off target, [`crate::url::check_target`].
    fn url(&self, url: String) -> Result<String, SettingError> {
        crate::url::check_target(&url).map_err(|problem| self.error(problem))?;
        Ok(url)
    }

    /// An optional text that must pass `check`.
    fn checked(
        &self,
        text: Option<String>,
        check: fn(&str) -> bool,
        problem: &'static str,
    ) -> Result<Option<String>, SettingError> {
        match text {
            Some(text) if !check(&text) => Err(self.error(problem)),
            text => Ok(text),
        }
    }
}

/// The flows, in the order written, each checked in turn.
pub(super) fn flows(Named(written): Written) -> Result<Flows, SettingError> {
    if written.is_empty() {
        return Err(SettingError::new(
            SETTING,
            "must describe at least one flow",
        ));
    }
    let root = At(SETTING.to_owned());
    let flows = written
        .into_iter()
        .map(|(name, flow)| {
            let at = root.key(&name);
            read_flow(name, flow, &at)
        })
        .collect::<Result<_, _>>()?;
    Ok(Flows { flows })
}

fn read_flow(name: String, flow: FlowSettings, at: &At) -> Result<Flow, SettingError> {
    let fields_at = at.key("fields");
    let listed = fields_at.required(flow.fields)?.0;
    if listed.is_empty() {
        return Err(fields_at.error("must list at least one field"));
    }
    let mut fields: Vec<Field> = Vec::with_capacity(listed.len());
    for (i, Table(written)) in listed.into_iter().enumerate() {
        let field_at = fields_at.index(i);
        let field = read_field(written, &fields, &field_at)?;
        if fields.iter().any(|f| f.name == field.name) {
            return Err(field_at
                .key("name")
                .error("is the name of an earlier field"));
        }
        fields.push(field);
    }
    let attempts = match flow.attempts {
        Some(n) => at
            .key("attempts")
            .whole(n, 1..=9, "must be a whole number from 1 to 9")?,
        None => DEFAULT_ATTEMPTS,
    };
    let timeout_secs = match flow.timeout {
        Some(n) => {
            at.key("timeout")
                .whole(n, 1..=60, "must be a whole number of seconds from 1 to 60")?
        }
        None => DEFAULT_TIMEOUT,
    };
    let language = at
        .key("language")
        .checked(flow.language, is_language, LANGUAGE)?;
    let voice = at.key("voice").checked(flow.voice, is_voice, VOICE)?;
    let status_callback = flow
        .status_callback
        .map(|url| at.key("status_callback").url(url))
        .transpose()?;
    let then = match flow.then {
        Some(Table(then)) => read_then(then, &at.key("then"))?,
        // Whether a relay runs the flow is checked once the relays are read.
        None => Then::Relay,
    };
    let messages = match flow.messages {
        Some(Table(messages)) => read_messages(messages, &at.key("messages"))?,
        None => Messages::default(),
    };
    let (limits, count_by) = match flow.limits {
        Some(Table(limits)) => {
            let (limits, count_by) = read_limits(limits, &fields, &at.key("limits"))?;
            (Some(limits), count_by)
        }
        None => (None, Vec::new()),
    };
    let anonymous_at = at.key("anonymous");
    let anonymous = match (flow.anonymous, limits) {
        (None, _) => Anonymous::default(),
        (Some(_), None) => return Err(anonymous_at.error("goes only with limits")),
        (Some(_), Some(_)) if !count_by.contains(&CountBy::Caller) => {
            return Err(anonymous_at.error("goes only with limits that count by caller"))
        }
        (Some(Untyped::Text(rule)), Some(_)) => match rule.as_str() {
            "refuse" => Anonymous::Refuse,
            "shared" => Anonymous::Shared,
            _ => return Err(anonymous_at.error(NOT_ALLOWED)),
        },
        (Some(Untyped::Other), Some(_)) => return Err(anonymous_at.error(WRONG_TYPE)),
    };
    Ok(Flow {
        name,
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
        status_callback,
    })
}

fn read_field(field: FieldSettings, earlier: &[Field], at: &At) -> Result<Field, SettingError> {
    let name_at = at.key("name");
    let name = name_at.required(field.name)?;
    if !is_field_name(&name) {
        return Err(name_at.error(
            "must be a-z and 0-9 words joined by single _ (at most 32 characters, not step or attempt)",
        ));
    }
    let prompt_at = at.key("prompt");
    let prompt = prompt_at.sentence(prompt_at.required(field.prompt)?)?;
    let kind_at = at.key("kind");
    let kind_name = kind_at.required(field.kind)?;
    if !matches!(
        kind_name.as_str(),
        "digits" | "card-number" | "security-code" | "routing-number" | "expiry" | "verify"
    ) {
        return Err(kind_at.error(NOT_ALLOWED));
    }
    // Keys that belong to one kind, before any value is looked at.
    let only_for = [
        (
            "channel",
            field.channel.is_some(),
            "verify",
            "is only for kind verify",
        ),
        (
            "card_types",
            field.card_types.is_some(),
            "card-number",
            "is only for kind card-number",
        ),
        (
            "card",
            field.card.is_some(),
            "security-code",
            "is only for kind security-code",
        ),
    ];
    for (key, given, kind, problem) in only_for {
        if given && kind_name != kind {
            return Err(at.key(key).error(problem));
        }
    }
    let (length, min, max) = (field.length, field.min, field.max);
    if !matches!(kind_name.as_str(), "digits" | "security-code") && length.is_some() {
        return Err(at
            .key("length")
            .error("is only for kinds digits and security-code"));
    }
    if kind_name != "digits" {
        let extra = [("min", min), ("max", max)]
            .into_iter()
            .find_map(|(key, value)| value.map(|_| key));
        if let Some(key) = extra {
            return Err(at.key(key).error("is only for kind digits"));
        }
    }
    let kind = match kind_name.as_str() {
        "digits" => match (length, min, max) {
            (Some(length), None, None) => {
                Kind::Digits(at.key("length").whole(length, 1..=32, ONE_TO_32)?)
            }
            (None, Some(min), Some(max)) => {
                let min = at.key("min").whole(min, 1..=32, ONE_TO_32)?;
                let max_at = at.key("max");
                let max = max_at.whole(max, 1..=32, ONE_TO_32)?;
                if min > max {
                    return Err(max_at.error("must not be less than min"));
                }
                Kind::DigitRange { min, max }
            }
            (Some(_), _, _) => return Err(at.key("length").error("cannot go with min or max")),
            (None, _, _) => {
                return Err(at
                    .key("length")
                    .error("is required for kind digits, or else both min and max"))
            }
        },
        "card-number" => Kind::CardNumber(match field.card_types {
            Some(List(listed)) => read_card_types(listed, &at.key("card_types"))?,
            None => CardTypes::ANY,
        }),
        "security-code" => Kind::SecurityCode(match (field.card, length) {
            (Some(card), None) => {
                let card = earlier
                    .iter()
                    .position(|f| f.name == card && matches!(f.kind, Kind::CardNumber(_)))
                    .ok_or_else(|| {
                        at.key("card")
                            .error("must name an earlier card-number field of this flow")
                    })?;
                CodeLength::OfCard(card)
            }
            (None, Some(length)) => {
                CodeLength::Fixed(at.key("length").whole(length, 3..=4, "must be 3 or 4")?)
            }
            (Some(_), Some(_)) => return Err(at.key("length").error("cannot go with card")),
            (None, None) => {
                return Err(at
                    .key("length")
                    .error("is required for kind security-code, or else card"))
            }
        }),
        "routing-number" => Kind::RoutingNumber,
        "expiry" => Kind::Expiry,
        _ => {
            let channel_at = at.key("channel");
            Kind::Verify(match field.channel {
                None => Channel::Sms,
                Some(Untyped::Text(channel)) => match channel.as_str() {
                    "sms" => Channel::Sms,
                    "call" => Channel::Call,
                    _ => return Err(channel_at.error(NOT_ALLOWED)),
                },
                Some(Untyped::Other) => return Err(channel_at.error(WRONG_TYPE)),
            })
        }
    };
    if field.confirm == Some(true)
        && !matches!(
            kind,
            Kind::CardNumber(_) | Kind::RoutingNumber | Kind::Expiry
        )
    {
        return Err(at
            .key("confirm")
            .error("is only for kinds card-number, routing-number and expiry"));
    }
    if field.repeat == Some(true) && matches!(kind, Kind::Verify(_)) {
        return Err(at.key("repeat").error("is not for kind verify"));
    }
    Ok(Field {
        name,
        prompt,
        kind,
        confirm: field.confirm.unwrap_or(false),
        repeat: field.repeat.unwrap_or(false),
    })
}

/// `card_types`: a non-empty list of brand names ([`Brand::as_str`]), each once.
fn read_card_types(listed: Vec<String>, at: &At) -> Result<CardTypes, SettingError> {
    if listed.is_empty() {
        return Err(at.error("must list at least one card type"));
    }
    let mut brands: Vec<Brand> = Vec::with_capacity(listed.len());
    for (i, name) in listed.iter().enumerate() {
        let brand = Brand::from_name(name).ok_or_else(|| at.index(i).error(NOT_ALLOWED))?;
        if brands.contains(&brand) {
            return Err(at.index(i).error(GIVEN_TWICE));
        }
        brands.push(brand);
    }
    Ok(CardTypes::only(&brands))
}

fn read_then(then: ThenSettings, at: &At) -> Result<Then, SettingError> {
    match (then.action, then.redirect, then.fallback) {
        (Some(action), None, fallback) => Ok(Then::Action {
            url: at.key("action").url(action)?,
            fallback: fallback.map(|f| at.key("fallback").url(f)).transpose()?,
        }),
        (None, Some(_), Some(_)) => Err(at.key("fallback").error("goes only with action")),
        (None, Some(redirect), None) => Ok(Then::Redirect {
            url: at.key("redirect").url(redirect)?,
        }),
        _ => Err(at.error("must have exactly one of action and redirect")),
    }
}

fn read_limits(
    limits: LimitSettings,
    fields: &[Field],
    at: &At,
) -> Result<(Limits, Vec<CountBy>), SettingError> {
    let failures_at = at.key("failures");
    let failures = failures_at.whole(
        failures_at.required(limits.failures)?,
        1..=100,
        "must be a whole number from 1 to 100",
    )?;
    // Fractions of a minute are allowed (a short window for testing); at most a week.
    let window_at = at.key("window_minutes");
    let minutes = window_at.required(limits.window_minutes)?;
    if !(0.01..=10_080.0).contains(&minutes) {
        return Err(window_at.error("must be a number of minutes from 0.01 to 10080 (a week)"));
    }
    let count_by = match limits.by {
        Some(by) => read_count_by(by.0, fields, &at.key("by"))?,
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
fn read_count_by(
    listed: Vec<String>,
    fields: &[Field],
    at: &At,
) -> Result<Vec<CountBy>, SettingError> {
    if listed.is_empty() {
        return Err(at.error("must list \"caller\" and/or field names"));
    }
    let mut count_by = Vec::with_capacity(listed.len());
    for (i, name) in listed.iter().enumerate() {
        let item = at.index(i);
        let by = match name.as_str() {
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

fn read_messages(messages: MessageSettings, at: &At) -> Result<Messages, SettingError> {
    let defaults = Messages::default();
    let or = |key: &str, text: Option<String>, default: String| match text {
        Some(text) => at.key(key).sentence(text),
        None => Ok(default),
    };
    let unset_or =
        |key: &str, text: Option<String>| text.map(|text| at.key(key).sentence(text)).transpose();
    Ok(Messages {
        retry: unset_or("retry", messages.retry)?,
        timeout: unset_or("timeout", messages.timeout)?,
        invalid: unset_or("invalid", messages.invalid)?,
        card_type: unset_or("card_type", messages.card_type)?,
        expired: unset_or("expired", messages.expired)?,
        mismatch: unset_or("mismatch", messages.mismatch)?,
        confirm: unset_or("confirm", messages.confirm)?,
        repeat: unset_or("repeat", messages.repeat)?,
        goodbye: or("goodbye", messages.goodbye, defaults.goodbye)?,
        apology: or("apology", messages.apology, defaults.apology)?,
        locked: or("locked", messages.locked, defaults.locked)?,
        thanks: or("thanks", messages.thanks, defaults.thanks)?,
    })
}
