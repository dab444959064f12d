//! The hand-off: what the application receives after the gather, how it is signed and checked,
//! and how the application's answer becomes the call's next TwiML.
//!
//! - `then.action`: the worker POSTs a [`Submission`] as JSON, signed in the
//!   [`SIGNATURE_HEADER`] header as `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//!   (the scheme Stripe uses for its webhooks), and relays the application's TwiML answer
//!   ([`read_answer`], [`answer_twiml`]).
//! - `then.redirect`: the worker answers `<Redirect>` to the URL with `result` and the sealed
//!   values added to its query ([`redirect_url`]); Twilio signs its own request there.
//!
//! Sealed values travel as `encrypted<Name>Digits` ([`json_key`]), `encryptedPinDigits` for
//! the field `pin`, opened with the context `"<callSid>:<field name>"`.

use hmac::{Hmac, Mac};
use serde::ser::{Serialize, SerializeMap, Serializer};
use sha2::Sha256;

use crate::config::{Flow, Then};
use crate::flow::{self, GatherResult};
use crate::json::{self, Json, Number};
use crate::outcome::Outcome;
use crate::twilio::twiml::Response;
use crate::SignatureError;

type HmacSha256 = Hmac<Sha256>;

/// The header that carries a submission's signature.
pub const SIGNATURE_HEADER: &str = "X-Gather-Seal-Signature";
/// The header an `action` application answers with, alongside its TwiML, to say whether the
/// values were right: `X-Gather-Seal-Result: accepted` or `rejected`
/// ([`crate::lockout::AppVerdict`]). For a flow with `limits` only `accepted` gives the call's
/// tries back; `rejected`, or no header, leaves them counted as failures.
pub const RESULT_HEADER: &str = "X-Gather-Seal-Result";

/// The largest application answer read, in bytes (Twilio's own limit for a TwiML document is
/// 64 KB).
pub const ANSWER_CAP: usize = 64 * 1024;
/// How far a submission's time may be from the receiver's clock, unless it says otherwise.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// The key a field's sealed value travels under: `card` → `encryptedCardDigits`,
/// `last_four` → `encryptedLastFourDigits`.
pub fn json_key(field: &str) -> String {
    let mut key = String::with_capacity(field.len() + 15);
    key.push_str("encrypted");
    for word in field.split('_') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            key.push(first.to_ascii_uppercase());
            key.extend(chars);
        }
    }
    key.push_str("Digits");
    key
}

/// The field a submission key names, the inverse of [`json_key`] for every valid field name:
/// `encryptedLastFourDigits` → `last_four`. `None` for any other key.
pub fn field_name(key: &str) -> Option<String> {
    let middle = key.strip_prefix("encrypted")?.strip_suffix("Digits")?;
    let mut name = String::with_capacity(middle.len() + 4);
    for c in middle.chars() {
        if c.is_ascii_uppercase() {
            if !name.is_empty() {
                name.push('_');
            }
            name.push(c.to_ascii_lowercase());
        } else {
            name.push(c);
        }
    }
    // Reading back through `json_key` refuses keys that only look alike: without it,
    // `encryptedPin_codeDigits` would give `pin_code`, whose key is `encryptedPinCodeDigits`.
    (middle.starts_with(|c: char| c.is_ascii_uppercase())
        && crate::config::is_field_name(&name)
        && json_key(&name) == key)
        .then_some(name)
}

/// What an `action` receives, as JSON: `callSid`, `accountSid`, `from`, `to`, `flow`,
/// `result`, then each gathered field's sealed value under its [`json_key`].
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
}

impl Serialize for Submission<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let verified = usize::from(!self.verified.is_empty());
        let mut map = serializer.serialize_map(Some(6 + verified + self.sealed.len()))?;
        map.serialize_entry("callSid", self.call_sid)?;
        map.serialize_entry("accountSid", self.account_sid)?;
        map.serialize_entry("from", self.from)?;
        map.serialize_entry("to", self.to)?;
        map.serialize_entry("flow", self.flow)?;
        map.serialize_entry("result", self.result.as_str())?;
        if !self.verified.is_empty() {
            map.serialize_entry("verified", self.verified)?;
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

/// The [`SIGNATURE_HEADER`] value for `body` sent at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(tag))
}

fn mac(secret: &[u8], timestamp: u64, body: &[u8]) -> HmacSha256 {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Checks a submission's [`SIGNATURE_HEADER`] against the raw body, with any of `secrets`
/// (several while a secret is being rotated), in constant time.
///
/// The work is bounded by the receiver's secrets, not by what the sender writes: a header may
/// carry at most 8 `v1` entries (the worker sends one; more are refused before any MAC is
/// computed), each secret's MAC is computed once, and every `v1` is compared with every MAC in
/// constant time.
///
/// Fails with [`SignatureError::Missing`] for an absent or blank header,
/// [`SignatureError::Bad`] when it is malformed, has more than 8 `v1` entries, or no `v1`
/// matches under any secret (no secret at all included), and [`SignatureError::Stale`] when it
/// matches but `t` is more than `tolerance_secs` from `now_unix`, either way.
///
/// ```
/// use gather_seal::handoff::{sign, verify};
/// let header = sign(b"whsec-new", 1_700_000_000, b"{}");
/// assert!(verify(b"{}", Some(&header), &[b"whsec-old", b"whsec-new"], 300, 1_700_000_100).is_ok());
/// assert!(verify(b"{ }", Some(&header), &[b"whsec-new"], 300, 1_700_000_100).is_err());
/// ```
pub fn verify(
    body: &[u8],
    header: Option<&str>,
    secrets: &[&[u8]],
    tolerance_secs: u64,
    now_unix: u64,
) -> Result<(), SignatureError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty());
    let header = header.ok_or(SignatureError::Missing)?;
    const MAX_SIGNATURES: usize = 8;
    let mut timestamp = None;
    // Every `v1` entry counts towards the cap, a malformed one too; only hex of the right
    // length can match.
    let mut entries = 0;
    let mut tags = [[0u8; 32]; MAX_SIGNATURES];
    let mut valid = 0;
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", t)) if timestamp.is_none() => {
                let digits = (1..=19).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit());
                timestamp = digits.then(|| t.parse::<u64>().ok()).flatten();
                timestamp.ok_or(SignatureError::Bad)?;
            }
            Some(("t", _)) => return Err(SignatureError::Bad),
            Some(("v1", tag)) => {
                entries += 1;
                if entries > MAX_SIGNATURES {
                    return Err(SignatureError::Bad);
                }
                if hex::decode_to_slice(tag, &mut tags[valid]).is_ok() {
                    valid += 1;
                }
            }
            // Other schemes (a future v2) are skipped, as Stripe's receivers do.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Bad)?;
    let mut matched = subtle::Choice::from(0);
    for secret in secrets {
        let expected = mac(secret, timestamp, body).finalize().into_bytes();
        for tag in &tags[..valid] {
            matched |= subtle::ConstantTimeEq::ct_eq(&expected[..], &tag[..]);
        }
    }
    if !bool::from(matched) {
        return Err(SignatureError::Bad);
    }
    if now_unix.abs_diff(timestamp) > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// `url` with `result`, the approved `verify` fields (`verified=otp,otp2`, left out when none)
/// and the sealed values added to its query, for `then.redirect`:
/// `https://app.example.com/next?result=success&encryptedPinDigits=…`. An existing query (a
/// Studio flow's `?FlowEvent=return`) is kept. Hex, field names and the result words need no
/// escaping.
pub fn redirect_url(
    url: &str,
    result: GatherResult,
    sealed: &[(String, String)],
    verified: &[String],
) -> String {
    let mut out = String::with_capacity(url.len() + 24 + sealed.len() * 140);
    out.push_str(url);
    out.push(if url.contains('?') { '&' } else { '?' });
    out.push_str("result=");
    out.push_str(result.as_str());
    if !verified.is_empty() {
        out.push_str("&verified=");
        out.push_str(&verified.join(","));
    }
    for (name, value) in sealed {
        out.push('&');
        out.push_str(&json_key(name));
        out.push('=');
        out.push_str(value);
    }
    out
}

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

/// Well-formed XML whose root element is `<Response>`: one root, every tag closed in order,
/// every entity reference one of XML's own, no DTD (so no entity expansion). The tokenizer
/// checks the syntax of each token; the nesting and references are checked here.
fn is_twiml(body: &str) -> bool {
    use xmlparser::{ElementEnd, Token, Tokenizer};
    let mut open: Vec<(&str, &str)> = Vec::new();
    // The attributes of the start tag being read: a name may appear once in a tag.
    let mut attributes: Vec<(&str, &str)> = Vec::new();
    let mut had_root = false;
    for token in Tokenizer::from(body) {
        let Ok(token) = token else {
            return false;
        };
        let fine = match token {
            Token::ElementStart { prefix, local, .. } => {
                attributes.clear();
                let is_root = open.is_empty();
                open.push((prefix.as_str(), local.as_str()));
                if is_root {
                    let twiml = !had_root && prefix.is_empty() && local.as_str() == "Response";
                    had_root = true;
                    twiml
                } else {
                    true
                }
            }
            // TwiML has no namespace: an element moved into one is not TwiML.
            Token::Attribute {
                prefix,
                local,
                value,
                ..
            } => {
                let namespaced = prefix.is_empty() && local.as_str() == "xmlns";
                let name = (prefix.as_str(), local.as_str());
                let unique = !attributes.contains(&name);
                attributes.push(name);
                unique
                    && references_ok(value.as_str())
                    && (!namespaced || value.as_str().is_empty())
            }
            Token::ElementEnd { end, .. } => match end {
                ElementEnd::Open => true,
                ElementEnd::Empty => open.pop().is_some(),
                ElementEnd::Close(prefix, local) => {
                    open.pop() == Some((prefix.as_str(), local.as_str()))
                }
            },
            Token::Text { text } => {
                let text = text.as_str();
                references_ok(text) && (!open.is_empty() || text.trim().is_empty())
            }
            Token::Cdata { .. } => !open.is_empty(),
            Token::Declaration { .. }
            | Token::Comment { .. }
            | Token::ProcessingInstruction { .. } => true,
            // A DTD could declare entities; TwiML has none.
            _ => false,
        };
        if !fine {
            return false;
        }
    }
    had_root && open.is_empty()
}

/// Every `&` starts `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;` or a character reference to
/// a character XML allows.
fn references_ok(text: &str) -> bool {
    text.split('&').skip(1).all(|rest| {
        let Some((name, _)) = rest.split_once(';') else {
            return false;
        };
        // Digits only: Rust's integer parsing would also take a sign (`&#+65;`), XML does not.
        let code = match name.strip_prefix("#x") {
            Some(hex) if hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u32::from_str_radix(hex, 16).ok()
            }
            Some(_) => None,
            None => name
                .strip_prefix('#')
                .filter(|dec| dec.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|dec| dec.parse::<u32>().ok()),
        };
        match code {
            // XML 1.0's Char: tab, newline, carriage return, and the rest of Unicode but the
            // surrogates, U+FFFE and U+FFFF.
            Some(code) => char::from_u32(code).is_some_and(|c| {
                matches!(c, '\t' | '\n' | '\r') || crate::twilio::twiml::is_xml_char(c)
            }),
            None => matches!(name, "amp" | "lt" | "gt" | "quot" | "apos"),
        }
    })
}

/// `{"account": …, "balance": …}` with each a non-empty string or a number, at most 64 bytes
/// as text and free of control characters: it is spoken to the caller. Other members are
/// ignored; either given twice makes the answer unusable.
fn account(body: &str) -> Option<Answer> {
    let json = json::parse(body)?;
    let members = json.members()?;
    let spoken = |key: &str| {
        let mut values = members.iter().filter(|(k, _)| k == key);
        match (values.next(), values.next()) {
            (Some((_, value)), None) => spoken(value),
            _ => None,
        }
    };
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

/// The TwiML for a `then.redirect` hand-off.
pub fn redirect_twiml(
    url: &str,
    result: GatherResult,
    sealed: &[(String, String)],
    verified: &[String],
) -> String {
    Response::new()
        .redirect(&redirect_url(url, result, sealed, verified))
        .finish()
}
