//! The backend's side of a call: the JSON the worker submits, the answer it expects, and the
//! articles' demo backend that opens the values.
//!
//! The worker submits `{"callSid": …, "encrypted<Field>Digits": …}` (for the default fields,
//! `encryptedCardDigits` and `encryptedPinDigits`), only ciphertext. A backend that knows the
//! caller answers 200 with `{"account": …, "balance": …}`.
//!
//! This module holds the rules; parsing JSON is left to the host (`JSON.parse` in the worker),
//! which is exact and costs the upload nothing, where serde_json and the float formatting it
//! pulls in were half of the worker's 64 KiB budget. Writing the submission needs only string
//! escaping, done at the end of this file.

use crate::flow::{Account, FlowConfig};
use zeroize::Zeroizing;

use crate::{open, Error, KeyRing};

/// The JSON key a field's sealed value travels under: `card` → `encryptedCardDigits`.
pub fn json_key(field: &str) -> String {
    let mut key = String::from("encrypted");
    let mut upper = true;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            key.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            key.push(c);
        }
    }
    key.push_str("Digits");
    key
}

/// The body the worker posts to the backend.
pub fn submission(call_sid: &str, sealed: &[(String, String)]) -> String {
    let mut body = String::with_capacity(64 + sealed.len() * 160);
    body.push_str(r#"{"callSid":"#);
    push_string(&mut body, call_sid);
    for (name, value) in sealed {
        body.push(',');
        push_string(&mut body, &json_key(name));
        body.push(':');
        push_string(&mut body, value);
    }
    body.push('}');
    body
}

/// Checks a backend's 200 answer, given its `account` and `balance` members as text (a number
/// as the host prints it). `None` unless both are non-empty, at most 64 bytes, and free of
/// control characters: they are spoken to the caller.
pub fn answer(account: &str, balance: &str) -> Option<Account> {
    let text = |s: &str| (!s.is_empty() && s.len() <= 64 && !s.chars().any(char::is_control)).then(|| s.to_owned());
    Some(Account {
        account: text(account)?,
        balance: text(balance)?,
    })
}

/// What the demo backend answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DemoAnswer {
    /// 200 with this JSON body.
    Found(String),
    /// 404: the values opened but are not the demo caller's.
    NotFound,
    /// 400: not a submission, or a value that does not open for this call.
    BadRequest,
}

/// The articles' demo backend: opens every field with `ring` and the call's contexts, and knows
/// one caller, card `1234` with PIN `4321`, as account `AC12345678` with balance `12.55`.
///
/// `member` gives a string member of the submitted JSON object by name (`callSid`,
/// `encryptedCardDigits`, …), `None` when it is missing or not a string.
pub fn demo_answer(config: &FlowConfig, ring: &KeyRing, member: impl Fn(&str) -> Option<String>) -> DemoAnswer {
    let Some(call_sid) = member("callSid") else {
        return DemoAnswer::BadRequest;
    };
    let opened: Result<Vec<(String, Zeroizing<String>)>, Error> = config
        .fields
        .iter()
        .map(|f| {
            let sealed = member(&json_key(&f.name)).ok_or(Error::NotHex)?;
            let context = FlowConfig::context(&call_sid, &f.name);
            Ok((f.name.clone(), Zeroizing::new(open(&sealed, ring, context.as_bytes())?)))
        })
        .collect();
    let Ok(opened) = opened else {
        return DemoAnswer::BadRequest;
    };
    let value = |name: &str| opened.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    if value("card") == Some("1234") && value("pin") == Some("4321") {
        DemoAnswer::Found(r#"{"account":"AC12345678","balance":"12.55"}"#.into())
    } else {
        DemoAnswer::NotFound
    }
}

/// Writes `text` as a JSON string, escaping as serde_json does.
pub(crate) fn push_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let n = u32::from(c) as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[n >> 4]));
                out.push(char::from(HEX[n & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_strings_escape_what_json_requires() {
        let mut out = String::new();
        push_string(&mut out, "a\"b\\c\n\u{1}é");
        assert_eq!(out, r#""a\"b\\c\n\u0001é""#);
    }
}
