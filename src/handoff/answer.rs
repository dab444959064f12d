//! The application's answer to an `action` POST, and the TwiML the call continues with.

use crate::config::{Flow, Then};
use crate::flow::{self, GatherResult};
use crate::json::{self, Json, Number};
use crate::outcome::Outcome;
use crate::twilio::twiml::Response;
use crate::twilio::wellformed::is_twiml;

/// The largest application answer read, in bytes (Twilio's own limit for a TwiML document is
/// 64 KB).
pub const ANSWER_CAP: usize = 64 * 1024;

/// What the application answered an `action` POST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// TwiML with a `<Response>` root, well-formed: relayed to Twilio as it is.
    Twiml(String),
    /// `{"account": …, "balance": …}`: the articles' backend; the caller hears `thanks`.
    Account {
        /// The account, as the application wrote it (a number as JSON prints it).
        account: String,
        /// The balance, likewise.
        balance: String,
    },
    /// Anything else; the outcome says what, for the log.
    Unusable(Outcome),
}

/// Reads the application's answer: its status, `Content-Type` and body (the caller caps it at
/// [`ANSWER_CAP`]; a longer body should arrive here as `None`).
pub fn read_answer(status: u16, content_type: Option<&str>, body: Option<&str>) -> Answer {
    if !(200..300).contains(&status) {
        return Answer::Unusable(Outcome::AppErrorStatus);
    }
    let Some(body) = body else {
        return Answer::Unusable(Outcome::AppAnswerTooLarge);
    };
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match essence.as_str() {
        "text/xml" | "application/xml" => match is_twiml(body) {
            true => Answer::Twiml(body.to_owned()),
            false => Answer::Unusable(Outcome::AppBadTwiml),
        },
        "application/json" => account(body).unwrap_or(Answer::Unusable(Outcome::AppBadJson)),
        _ => Answer::Unusable(Outcome::AppWrongContentType),
    }
}

/// `{"account": …, "balance": …}` with each a non-empty string or a number, at most 64 bytes
/// as text and free of control characters: it is spoken to the caller. Other members are
/// ignored; either given twice makes the answer unusable.
fn account(body: &str) -> Option<Answer> {
    let json = json::parse(body)?;
    // `Json::get` takes a member given exactly once.
    let spoken = |key: &str| json.get(key).and_then(spoken);
    Some(Answer::Account {
        account: spoken("account")?,
        balance: spoken("balance")?,
    })
}

/// A JSON string or number as the caller will hear it; `None` when it cannot be spoken. A
/// number is said as written, less a fraction of zero (`12.50` is `12.5`, `3.0` is `3`); one
/// that would need an exponent (`1e300`) is not spoken.
fn spoken(value: &Json) -> Option<String> {
    let text = match value {
        Json::Text(text) => text.clone(),
        Json::Number(Number::Whole(n)) => n.to_string(),
        Json::Number(Number::Negative(n)) => n.to_string(),
        // serde_json writes the shortest text that reads back as the same f64.
        Json::Number(Number::Real(n)) => {
            let text = serde_json::to_string(n).ok()?;
            let text = text.strip_suffix(".0").unwrap_or(&text);
            if !n.is_finite() || text.contains(['e', 'E']) {
                return None;
            }
            text.to_owned()
        }
        _ => return None,
    };
    let speakable = !text.is_empty() && text.len() <= 64 && !text.chars().any(char::is_control);
    speakable.then_some(text)
}

/// The TwiML Twilio gets after an `action` hand-off, and a word for the log: the application's
/// TwiML as it is; for an account, the flow's `thanks`; otherwise [`unusable_twiml`].
pub fn answer_twiml(flow: &Flow, result: GatherResult, answer: Answer) -> (Outcome, String) {
    match answer {
        Answer::Twiml(xml) => (Outcome::HandedOff, xml),
        Answer::Account { account, balance } => {
            // One pass over the flow's sentence, so that an account written as "{balance}"
            // is spoken as written rather than read as a placeholder.
            let sentence = flow
                .messages
                .thanks
                .split("{account}")
                .map(|part| part.replace("{balance}", &balance))
                .collect::<Vec<_>>()
                .join(&account);
            let xml = Response::new().say(&flow::speech(flow), &sentence).finish();
            (Outcome::HandedOffAccount, xml)
        }
        Answer::Unusable(why) => (why, unusable_twiml(flow, result)),
    }
}

/// When the application cannot continue the call: a `<Redirect>` to `then.fallback` when the
/// flow has one; otherwise the flow's `goodbye` (the caller gave no valid value), `locked` (the
/// caller is locked out) or `apology`, and `<Hangup/>`.
pub fn unusable_twiml(flow: &Flow, result: GatherResult) -> String {
    if let Then::Action {
        fallback: Some(fallback),
        ..
    } = &flow.then
    {
        return Response::new().redirect(fallback).finish();
    }
    let message = match result {
        GatherResult::TooManyAttempts | GatherResult::VerifyFailed => &flow.messages.goodbye,
        GatherResult::Locked => &flow.messages.locked,
        _ => &flow.messages.apology,
    };
    flow::goodbye_twiml(&flow::speech(flow), message)
}
