//! The backend's side of a call: the JSON the worker submits, the answer it expects, and the
//! articles' demo backend that opens the values.
//!
//! The worker submits `{"callSid": …, "encrypted<Field>Digits": …}` (for the default fields,
//! `encryptedCardDigits` and `encryptedPinDigits`), only ciphertext. A backend that knows the
//! caller answers 200 with `{"account": …, "balance": …}`.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::flow::{Account, FlowConfig};
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
    let mut body = Map::new();
    body.insert("callSid".into(), Value::from(call_sid));
    for (name, value) in sealed {
        body.insert(json_key(name), Value::from(value.as_str()));
    }
    Value::Object(body).to_string()
}

/// Reads a backend's 200 answer. `None` when it is not `{"account": "…", "balance": "…"}`
/// with short printable strings (a number is accepted and spoken as serde_json prints it:
/// `12.50` becomes `12.5`, so backends should send strings).
pub fn parse_answer(body: &[u8]) -> Option<Account> {
    #[derive(Deserialize)]
    struct Answer {
        account: Value,
        balance: Value,
    }
    let answer: Answer = serde_json::from_slice(body).ok()?;
    let text = |v: Value| -> Option<String> {
        let s = match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        (!s.is_empty() && s.len() <= 64 && !s.chars().any(char::is_control)).then_some(s)
    };
    Some(Account { account: text(answer.account)?, balance: text(answer.balance)? })
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
pub fn demo_answer(config: &FlowConfig, ring: &KeyRing, body: &[u8]) -> DemoAnswer {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return DemoAnswer::BadRequest;
    };
    let Some(call_sid) = body.get("callSid").and_then(Value::as_str) else {
        return DemoAnswer::BadRequest;
    };
    let opened: Result<Vec<(String, zeroize::Zeroizing<String>)>, Error> = config
        .fields
        .iter()
        .map(|f| {
            let sealed = body.get(&json_key(&f.name)).and_then(Value::as_str).ok_or(Error::NotHex)?;
            let context = FlowConfig::context(call_sid, &f.name);
            Ok((f.name.clone(), zeroize::Zeroizing::new(open(sealed, ring, context.as_bytes())?)))
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
