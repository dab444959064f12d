//! The hand-off: what the application receives after the gather, how it is signed and checked,
//! and how the application's answer becomes the call's next TwiML. One file per concern:
//!
//! - `then.action`: the worker POSTs a [`Submission`] as JSON ([`submission`]), signed in the
//!   [`SIGNATURE_HEADER`] header as `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//!   (the scheme Stripe uses for its webhooks; [`signature`]), and relays the application's
//!   TwiML answer ([`answer`]: [`read_answer`], [`answer_twiml`]).
//! - `then.redirect`: the worker answers `<Redirect>` to the URL with `result` and the sealed
//!   values added to its query ([`redirect`]: [`redirect_url`]); Twilio signs its own request
//!   there.
//!
//! Sealed values travel as `encrypted<Name>Digits` ([`json_key`]), `encryptedPinDigits` for
//! the field `pin`, opened with the context `"<callSid>:<field name>"`.

pub mod answer;
pub mod redirect;
pub mod signature;
pub mod submission;

pub use answer::{answer_twiml, read_answer, unusable_twiml, Answer, ANSWER_CAP};
pub use redirect::{redirect_twiml, redirect_url};
pub use signature::{sign, verify_submission, DEFAULT_TOLERANCE_SECS};
pub use submission::Submission;

/// The header that carries a submission's signature.
pub const SIGNATURE_HEADER: &str = "X-Gather-Seal-Signature";
/// The header an `action` application answers with, alongside its TwiML, to say whether the
/// values were right: `X-Gather-Seal-Result: accepted` or `rejected`
/// ([`crate::lockout::AppVerdict`]). For a flow with `limits` only `accepted` gives the call's
/// tries back; `rejected`, or no header, leaves them counted as failures.
pub const RESULT_HEADER: &str = "X-Gather-Seal-Result";

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
