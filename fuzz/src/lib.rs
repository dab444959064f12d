//! What the fuzz targets share: fixed keys and flows, an independent check that TwiML is
//! well-formed XML, and small oracles written apart from the core (so a target does not check
//! the core against itself).

use std::sync::OnceLock;

use gather_seal::config::{Flow, Flows};
use gather_seal::handoff::{self, Answer};
use gather_seal::{Key, KeyRing};

/// The ring's current key, the older key it still opens with, and a key it does not hold.
pub const KEY_CURRENT: &str = "a154eb4c759711bc2538a7cc021e9e9f17dd8aa63151c62ca28a82a4a404203d";
pub const KEY_PREVIOUS: &str = "0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000";
pub const KEY_FOREIGN: &str = "3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c";

/// The Twilio auth token and the hand-off's signing secret the targets sign with.
pub const AUTH_TOKEN: &str = "12345";
pub const SIGNING_SECRET: &[u8] = b"whsec-fuzz-0123456789abcdef0123456789";

fn key(hex: &str) -> Key {
    Key::from_hex(hex).unwrap_or_else(|_| unreachable!("a fixed valid key"))
}

/// The three keys, parsed once.
pub struct Keys {
    pub current: Key,
    pub previous: Key,
    pub foreign: Key,
    /// `current`, then `previous`.
    pub ring: KeyRing,
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        current: key(KEY_CURRENT),
        previous: key(KEY_PREVIOUS),
        foreign: key(KEY_FOREIGN),
        ring: KeyRing::new(key(KEY_CURRENT)).with_previous(key(KEY_PREVIOUS)),
    })
}

/// Valid flows that between them use every field kind, both hand-offs, the bounds of
/// `attempts` and `timeout`, and sentences that need escaping. `otp` has a `verify` field
/// between two others and one last (both channels), so an approved code is carried on and
/// handed off; `code` asks for nothing but a code, so the call's first turn sends one.
pub const FLOWS_JSON: &str = r#"{
  "default": {
    "fields": [
      {"name": "card", "kind": "card-number", "prompt": "Your card number, then pound."},
      {"name": "pin", "kind": "digits", "length": 4, "prompt": "Your 4 digit PIN?"},
      {"name": "exp", "kind": "expiry", "prompt": "Expiry, as M M Y Y."},
      {"name": "last_code", "kind": "digits", "min": 2, "max": 6, "prompt": "Code & <more>, then #."}
    ],
    "then": {"action": "https://app.example.com/gather-result",
             "fallback": "https://app.example.com/fallback?x=1&y=2"},
    "attempts": 3, "timeout": 10, "language": "fr-FR", "voice": "Polly.Celine",
    "messages": {"retry": "Encore \"une\" fois <s'il vous plaît> & merci.",
                 "thanks": "Compte {account}, solde {balance}."}
  },
  "one": {
    "fields": [{"name": "pin", "kind": "digits", "length": 1, "prompt": "One digit."}],
    "then": {"redirect": "https://webhooks.twilio.com/v1/Accounts/AC1/Flows/FW1?FlowEvent=return"},
    "attempts": 1
  },
  "nine": {
    "fields": [
      {"name": "a", "kind": "digits", "length": 32, "prompt": "Thirty-two digits."},
      {"name": "b1_c2", "kind": "expiry", "prompt": "Expiry."}
    ],
    "then": {"redirect": "http://127.0.0.1:8787/next"},
    "attempts": 9, "timeout": 60
  },
  "otp": {
    "fields": [
      {"name": "pin", "kind": "digits", "length": 4, "prompt": "Your 4 digit PIN?"},
      {"name": "otp", "kind": "verify", "prompt": "The code we sent you by text, then pound."},
      {"name": "zip", "kind": "digits", "min": 1, "max": 5, "prompt": "Your zip code, then pound."},
      {"name": "call_code", "kind": "verify", "channel": "call", "prompt": "The code we read out, then pound."}
    ],
    "then": {"redirect": "https://app.example.com/next?from=otp"},
    "attempts": 2,
    "limits": {"failures": 5, "window_minutes": 15}, "anonymous": "shared",
    "messages": {"locked": "Trop d'essais <encore> & adieu."}
  },
  "code": {
    "fields": [
      {"name": "otp", "kind": "verify", "channel": "call", "prompt": "The code, then pound."}
    ],
    "then": {"action": "https://app.example.com/otp"},
    "attempts": 5
  }
}"#;

pub fn flows() -> &'static [Flow] {
    static FLOWS: OnceLock<Vec<Flow>> = OnceLock::new();
    FLOWS.get_or_init(|| {
        Flows::from_json(FLOWS_JSON)
            .unwrap_or_else(|e| unreachable!("the fixed flows are valid: {e}"))
            .iter()
            .cloned()
            .collect()
    })
}

/// Parses `xml` with roxmltree (an XML parser independent of the core's own `xmlparser`
/// check), asserts it is well-formed with a `<Response>` root and no namespace, and that the
/// core's own reader of application answers accepts it as TwiML too.
pub fn check_twiml(xml: &str) -> roxmltree::Document<'_> {
    let doc = match roxmltree::Document::parse(xml) {
        Ok(doc) => doc,
        Err(e) => panic!("TwiML is not well-formed XML ({e}): {xml:?}"),
    };
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "Response", "{xml:?}");
    // No namespace (`xmlns=""` says so explicitly).
    assert!(
        root.tag_name().namespace().is_none_or(str::is_empty),
        "{xml:?}"
    );
    assert_eq!(
        handoff::read_answer(200, Some("text/xml; charset=utf-8"), Some(xml)),
        Answer::Twiml(xml.to_owned()),
        "the core's TwiML reader refuses what its writer wrote: {xml:?}"
    );
    doc
}

/// For TwiML the application wrote and the core relays as it is: it must be well-formed
/// XML 1.0 with a `<Response>` root. The core's reader does not resolve namespace prefixes
/// (TwiML has none), so errors that only Namespaces in XML defines are let through.
pub fn check_relayed(xml: &str) {
    use roxmltree::Error as E;
    match roxmltree::Document::parse(xml) {
        Ok(doc) => {
            let root = doc.root_element();
            assert_eq!(root.tag_name().name(), "Response", "{xml:?}");
            assert!(
                root.tag_name().namespace().is_none_or(str::is_empty),
                "{xml:?}"
            );
        }
        Err(
            E::UnknownNamespace(..)
            | E::InvalidXmlPrefixUri(..)
            | E::UnexpectedXmlUri(..)
            | E::UnexpectedXmlnsUri(..)
            | E::InvalidElementNamePrefix(..),
        ) => {}
        Err(e) => panic!("relayed as TwiML but not well-formed XML ({e}): {xml:?}"),
    }
}

/// What an XML parser reads back from `text` written as element text or an attribute value:
/// the same characters, minus those XML 1.0 cannot carry (the writer drops them).
pub fn xml_roundtrip(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
                || c >= '\u{10000}'
        })
        .collect()
}

/// The README's rule for a field name, written again here: `[a-z][a-z0-9]*` words joined by
/// single `_`, at most 32 characters, not `step` or `attempt`.
pub fn is_field_name(name: &str) -> bool {
    name.len() <= 32
        && name != "step"
        && name != "attempt"
        && name.split('_').all(|word| {
            let mut bytes = word.bytes();
            bytes.next().is_some_and(|b| b.is_ascii_lowercase())
                && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// The Luhn check, written again here.
pub fn luhn_ok(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = 2 * d;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Digits (values 0-9) made Luhn-valid by choosing the last one.
pub fn luhn_complete(mut digits: Vec<u8>) -> Vec<u8> {
    digits.push(0);
    for check in 0..10 {
        if let Some(last) = digits.last_mut() {
            *last = check;
        }
        if luhn_ok(&digits) {
            break;
        }
    }
    digits
}

/// `bytes` as decimal digits.
pub fn digit_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| char::from(b'0' + b % 10)).collect()
}

/// Changes the hex digit at `at` (modulo the length) to another hex digit: the bytes differ.
pub fn flip_hex(hex: &str, at: usize, by: u8) -> String {
    let mut chars: Vec<char> = hex.chars().collect();
    if chars.is_empty() {
        return String::new();
    }
    let i = at % chars.len();
    let value = chars[i].to_digit(16).unwrap_or(0) as u8;
    let flipped = value ^ (1 + by % 15);
    chars[i] = char::from_digit(u32::from(flipped), 16).unwrap_or('0');
    chars.into_iter().collect()
}

/// The first value of `name` among form pairs, as the worker's `Form::get` reads it.
pub fn form_get<'a, K: AsRef<str>, V: AsRef<str>>(
    pairs: &'a [(K, V)],
    name: &str,
) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.as_ref() == name)
        .map(|(_, v)| v.as_ref())
}

/// What a carried `verify` field must open to (the README: "the bytes `verified`").
pub const VERIFIED_MARKER: &[u8] = b"verified";

/// The README's shape of a one-time code: 4 to 10 ASCII digits.
pub fn is_code(digits: &str) -> bool {
    (4..=10).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The README's submission key, written again here: `encrypted`, each `_` word with its first
/// letter upper-cased, `Digits` (`last_four` → `encryptedLastFourDigits`).
pub fn encrypted_key(field: &str) -> String {
    let words: String = field
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect();
    format!("encrypted{words}Digits")
}

/// A submission's JSON text exactly as the README gives it: `callSid`, `accountSid`, `from`,
/// `to`, `flow`, `result`, then `verified` (a list of names, absent when empty), then each
/// sealed value under its key, in order, with no spaces.
#[allow(clippy::too_many_arguments)]
pub fn submission_json(
    call_sid: &str,
    account_sid: &str,
    from: &str,
    to: &str,
    flow: &str,
    result: &str,
    verified: &[String],
    sealed: &[(String, String)],
) -> String {
    let s = |text: &str| serde_json::to_string(text).unwrap_or_default();
    let mut out = format!(
        "{{\"callSid\":{},\"accountSid\":{},\"from\":{},\"to\":{},\"flow\":{},\"result\":{}",
        s(call_sid),
        s(account_sid),
        s(from),
        s(to),
        s(flow),
        s(result)
    );
    if !verified.is_empty() {
        let names: Vec<String> = verified.iter().map(|n| s(n)).collect();
        out.push_str(&format!(",\"verified\":[{}]", names.join(",")));
    }
    for (name, value) in sealed {
        out.push_str(&format!(",{}:{}", s(&encrypted_key(name)), s(value)));
    }
    out.push('}');
    out
}

/// Checks a `then.redirect` URL against the README: the flow's URL as it is, then `?` (or `&`
/// when it has a query already), `result`, `verified=<names joined by ,>` when any, and each
/// sealed value under its key. Read back through `form_urlencoded` when names and values need
/// no escaping (hex and field names never do).
pub fn check_redirect_url(
    out: &str,
    url: &str,
    result: &str,
    sealed: &[(String, String)],
    verified: &[String],
) {
    let rest = out
        .strip_prefix(url)
        .unwrap_or_else(|| panic!("{out:?} does not start with {url:?}"));
    let sep = if url.contains('?') { '&' } else { '?' };
    let query = rest
        .strip_prefix(sep)
        .unwrap_or_else(|| panic!("{out:?}: no {sep:?} after the URL"));
    let plain = |t: &str| t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !(sealed.iter().all(|(n, v)| plain(n) && plain(v)) && verified.iter().all(|n| plain(n))) {
        return;
    }
    let mut want = vec![("result".to_owned(), result.to_owned())];
    if !verified.is_empty() {
        want.push(("verified".to_owned(), verified.join(",")));
    }
    for (name, value) in sealed {
        want.push((encrypted_key(name), value.clone()));
    }
    let got: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(got, want, "{out:?}");
}
