//! `config::Flows::from_json` (`GATHER_FLOWS`) on arbitrary text, and on JSON built from the
//! fuzz input so that every key and every rule is reached.
//!
//! On error, the message names a path made only of the input's keys (or the schema's own, or
//! `?`), never one of its values: strings planted in values carry a marker that must never
//! appear, and the message is bounded whatever the input's size. On success, the flows keep
//! every rule, and every sentence they can speak is well-formed TwiML. The builder reaches
//! every key, `verify` fields with their `channel`, `limits`, `anonymous` and `messages.locked`
//! included, and often writes a field with only the keys its kind takes, so that valid flows
//! with each of them come out.
//!
//! The first byte picks the mode: even, the rest is the text (seeds under fuzz/seeds/ are
//! written so); odd, the rest drives the JSON builder.
#![no_main]

use std::collections::BTreeSet;
use std::fmt;

use arbitrary::{Arbitrary, Result, Unstructured};
use fuzz_support::{check_twiml, is_field_name, xml_roundtrip};
use gather_seal::config::{Anonymous, Channel, CodeLength, Flow, Flows, Kind, Then};
use gather_seal::flow::{self, CallState, GatherResult};
use gather_seal::handoff::{self, Answer};
use gather_seal::url::check_target as check_url;
use libfuzzer_sys::fuzz_target;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Put into every arbitrary string value the builder writes; never a key character.
const MARK: &str = "~v~";

/// The schema's own keys, which an error may name though the input lacks them.
const SCHEMA: [&str; 28] = [
    "fields",
    "then",
    "attempts",
    "timeout",
    "language",
    "voice",
    "messages",
    "limits",
    "anonymous",
    "name",
    "prompt",
    "kind",
    "length",
    "min",
    "max",
    "channel",
    "card_types",
    "card",
    "action",
    "redirect",
    "fallback",
    "retry",
    "goodbye",
    "apology",
    "locked",
    "thanks",
    "failures",
    "window_minutes",
];

/// JSON as text, so that key order and repeated keys survive.
enum J {
    Raw(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn write(&self, out: &mut String) {
        match self {
            J::Raw(text) => out.push_str(text),
            J::Str(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            J::Obj(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).unwrap_or_default());
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn pick<'a, T: Copy>(u: &mut Unstructured<'a>, items: &[T]) -> Result<T> {
    Ok(*u.choose(items)?)
}

/// A marked arbitrary string: whatever it holds, it must not come back in an error.
fn marked(u: &mut Unstructured<'_>) -> Result<String> {
    let s: &str = u.arbitrary()?;
    Ok(format!("{s}{MARK}"))
}

fn any_value(u: &mut Unstructured<'_>, depth: u8) -> Result<J> {
    Ok(match u.int_in_range(0..=8)? {
        0 => J::Raw("null".into()),
        1 => J::Raw(bool::arbitrary(u)?.to_string()),
        2 => J::Raw(i64::arbitrary(u)?.to_string()),
        3 => J::Raw(u64::arbitrary(u)?.to_string()),
        4 => J::Raw(serde_json::to_string(&f64::arbitrary(u)?).unwrap_or_else(|_| "1.5".into())),
        5 => J::Str(marked(u)?),
        6 if depth > 0 => {
            let n = u.int_in_range(0..=3)?;
            J::Arr(
                (0..n)
                    .map(|_| any_value(u, depth - 1))
                    .collect::<Result<_>>()?,
            )
        }
        7 if depth > 0 => {
            let n = u.int_in_range(0..=3)?;
            let mut members = Vec::new();
            for _ in 0..n {
                members.push((any_key(u)?, any_value(u, depth - 1)?));
            }
            J::Obj(members)
        }
        _ => J::Raw("\"\"".into()),
    })
}

fn any_key(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.int_in_range(0..=2)? {
        0 => pick(u, &SCHEMA)?.to_owned(),
        1 => pick(
            u,
            &[
                "x",
                "Fields",
                "field",
                "then ",
                "kind\u{0}",
                "attempt",
                "step",
            ],
        )?
        .to_owned(),
        _ => String::arbitrary(u)?,
    })
}

/// A value for a key: usually the right type, sometimes a good value, sometimes any.
fn text(u: &mut Unstructured<'_>, good: &[&str], alphabet: &[u8]) -> Result<J> {
    Ok(match u.int_in_range(0..=4)? {
        0 => J::Str(pick(u, good)?.to_owned()),
        1 => {
            let n = u.int_in_range(0..=12)?;
            let s = (0..n)
                .map(|_| pick(u, alphabet).map(char::from))
                .collect::<Result<String>>()?;
            J::Str(s)
        }
        2 => J::Str(marked(u)?),
        3 => any_value(u, 1)?,
        _ => J::Str(pick(u, good)?.to_owned()),
    })
}

fn number(u: &mut Unstructured<'_>) -> Result<J> {
    Ok(match u.int_in_range(0..=6)? {
        0 | 1 => J::Raw(u.int_in_range(0u8..=70)?.to_string()),
        2 => J::Raw(u32::arbitrary(u)?.to_string()),
        3 => J::Raw(format!("-{}", u8::arbitrary(u)?)),
        4 => J::Raw(format!("{}.5", u8::arbitrary(u)? % 10)),
        5 => J::Raw(u64::arbitrary(u)?.to_string()),
        _ => any_value(u, 1)?,
    })
}

fn sentence(u: &mut Unstructured<'_>) -> Result<J> {
    Ok(match u.int_in_range(0..=5)? {
        0 => J::Str("Please enter your PIN.".into()),
        1 => J::Str(" ".into()),
        2 => J::Str("é".repeat(usize::from(u.int_in_range(3990u16..=4010)?))),
        3 => J::Str(format!(
            "Say <this> & \"that\" {{account}} {{balance}} {MARK}"
        )),
        4 => J::Str(marked(u)?),
        _ => any_value(u, 1)?,
    })
}

const NAMES: &[u8] = b"abcz019_-A.";
const URLS: [&str; 8] = [
    "https://app.example.com/gather-result",
    "http://127.0.0.1:8787/decrypt-gather",
    "http://localhost/x?y=1&z=2",
    "https://[::1]:8443/a",
    "http://example.com/",
    "https://user@example.com/",
    "https://example.com/#frag",
    "ftp://example.com/",
];

/// Members of an object: each key absent, once, or twice, plus perhaps an unknown one.
fn members(
    u: &mut Unstructured<'_>,
    keys: &[&str],
    value: &dyn Fn(&mut Unstructured<'_>, &str) -> Result<J>,
) -> Result<J> {
    let mut out = Vec::new();
    for key in keys {
        match u.int_in_range(0..=7)? {
            0 | 1 => {}
            2 => {
                out.push(((*key).to_owned(), value(u, key)?));
                out.push(((*key).to_owned(), value(u, key)?));
            }
            _ => out.push(((*key).to_owned(), value(u, key)?)),
        }
    }
    if u.ratio(1, 8)? {
        let at = u.int_in_range(0..=out.len())?;
        out.insert(at, (any_key(u)?, any_value(u, 1)?));
    }
    Ok(J::Obj(out))
}

/// Any value for a field's key: usually the right type, sometimes a good value.
fn field_value(u: &mut Unstructured<'_>, key: &str) -> Result<J> {
    match key {
        "name" => text(
            u,
            &["pin", "card", "last_four", "step", "a1_b2", "Pin", "otp"],
            NAMES,
        ),
        "kind" => text(
            u,
            &[
                "digits",
                "card-number",
                "security-code",
                "routing-number",
                "expiry",
                "verify",
                "Digits",
                "card_number",
                "Verify",
            ],
            b"a-dfiyr",
        ),
        "channel" => text(u, &["sms", "call", "SMS", "email", "voice"], b"smcal"),
        "card" => text(u, &["card0", "card1", "pin0", "card9"], b"card01"),
        "card_types" if u.ratio(3, 4)? => {
            let names = [
                "visa",
                "mastercard",
                "amex",
                "discover",
                "diners-club",
                "jcb",
                "maestro",
                "unionpay",
                "Visa",
                "diners_club",
            ];
            let len = u.int_in_range(0..=3)?;
            let items = (0..len)
                .map(|_| Ok(J::Str(pick(u, &names)?.to_owned())))
                .collect::<Result<Vec<_>>>()?;
            Ok(J::Arr(items))
        }
        "prompt" => sentence(u),
        _ => number(u),
    }
}

/// The `index`th field: any keys, or (half the time) shaped for one kind.
fn field(u: &mut Unstructured<'_>, index: usize) -> Result<J> {
    if u.ratio(1, 10)? {
        return any_value(u, 2);
    }
    if u.ratio(1, 2)? {
        return shaped_field(u, index);
    }
    members(
        u,
        &[
            "name",
            "kind",
            "length",
            "min",
            "max",
            "channel",
            "card_types",
            "card",
            "prompt",
        ],
        &field_value,
    )
}

/// A field with only the keys its kind takes, each perhaps left out or given twice, and good
/// values mostly (a name of its own, so that several fields can pass together): valid fields
/// of every kind, `verify` with and without `channel`, come out often.
fn shaped_field(u: &mut Unstructured<'_>, index: usize) -> Result<J> {
    let (kind, keys): (&str, &[&str]) = pick(
        u,
        &[
            ("digits", &["name", "kind", "length", "prompt"][..]),
            ("digits", &["name", "kind", "min", "max", "prompt"][..]),
            ("card-number", &["name", "kind", "prompt"][..]),
            ("card-number", &["name", "kind", "card_types", "prompt"][..]),
            ("security-code", &["name", "kind", "length", "prompt"][..]),
            ("security-code", &["name", "kind", "card", "prompt"][..]),
            ("routing-number", &["name", "kind", "prompt"][..]),
            ("expiry", &["name", "kind", "prompt"][..]),
            ("verify", &["name", "kind", "prompt"][..]),
            ("verify", &["name", "kind", "channel", "prompt"][..]),
        ],
    )?;
    let mut out = Vec::new();
    for key in keys {
        for _ in 0..times(u)? {
            let v = match (*key, u.ratio(7, 8)?) {
                ("kind", true) => J::Str(kind.to_owned()),
                ("name", true) => {
                    let word = pick(u, &["pin", "otp", "code_a", "last_four", "card"])?;
                    J::Str(format!("{word}{index}"))
                }
                ("prompt", true) => J::Str("Please enter it, then press pound.".into()),
                ("channel", true) => J::Str(pick(u, &["sms", "call"])?.into()),
                ("length" | "min" | "max", true) => J::Raw(u.int_in_range(1u8..=12)?.to_string()),
                _ => field_value(u, key)?,
            };
            out.push(((*key).to_owned(), v));
        }
    }
    Ok(J::Obj(out))
}

/// How many times a key is given: mostly once, sometimes not at all or twice.
fn times(u: &mut Unstructured<'_>) -> Result<usize> {
    Ok(match u.int_in_range(0..=15)? {
        0 => 0,
        1 => 2,
        _ => 1,
    })
}

const FLOW_KEYS: [&str; 9] = [
    "fields",
    "then",
    "attempts",
    "timeout",
    "language",
    "voice",
    "messages",
    "limits",
    "anonymous",
];

/// Any value for a flow's key: usually the right type, sometimes a good value.
fn flow_value(u: &mut Unstructured<'_>, key: &str) -> Result<J> {
    match key {
        "fields" => {
            if u.ratio(1, 10)? {
                return any_value(u, 1);
            }
            let n = u.int_in_range(0..=4)?;
            Ok(J::Arr((0..n).map(|i| field(u, i)).collect::<Result<_>>()?))
        }
        "then" => {
            if u.ratio(1, 10)? {
                return any_value(u, 1);
            }
            members(u, &["action", "redirect", "fallback"], &|u, _| {
                text(u, &URLS, b"htps:/.example1[]:@#?&= ")
            })
        }
        "language" => text(u, &["fr-FR", "en", "cmn-Hans-CN", "en_US", "e"], b"enFR-1"),
        "voice" => text(
            u,
            &["Polly.Celine", "alice", "Google.de-DE-Standard-A", ".x"],
            b"Pol.y-_ ",
        ),
        "messages" => {
            if u.ratio(1, 10)? {
                return any_value(u, 1);
            }
            members(
                u,
                &["retry", "goodbye", "apology", "locked", "thanks"],
                &|u, _| sentence(u),
            )
        }
        "limits" => {
            if u.ratio(1, 10)? {
                return any_value(u, 1);
            }
            members(u, &["failures", "window_minutes"], &|u, key| match key {
                "window_minutes" => Ok(match u.int_in_range(0..=3)? {
                    0 => J::Raw(
                        pick(
                            u,
                            &["0.01", "0.009", "10080", "10080.5", "1e3", "-0.0", "15"],
                        )?
                        .to_owned(),
                    ),
                    1 => J::Raw(
                        serde_json::to_string(&f64::arbitrary(u)?).unwrap_or_else(|_| "1".into()),
                    ),
                    _ => number(u)?,
                }),
                _ => number(u),
            })
        }
        "anonymous" => text(u, &["refuse", "shared", "Shared"], b"refushad"),
        _ => number(u),
    }
}

fn flow_body(u: &mut Unstructured<'_>) -> Result<J> {
    if u.ratio(1, 12)? {
        return any_value(u, 2);
    }
    if u.ratio(1, 2)? {
        return shaped_flow(u);
    }
    members(u, &FLOW_KEYS, &flow_value)
}

/// A flow whose keys mostly hold good values: `fields` (shaped) and `then` nearly always, each
/// other key half the time, so that valid flows with `limits`, `anonymous`, every message
/// (`locked` included) and `verify` fields come out often; now and then a key is given twice
/// or holds any value, and `anonymous` comes without `limits`.
fn shaped_flow(u: &mut Unstructured<'_>) -> Result<J> {
    let mut out = Vec::new();
    for key in FLOW_KEYS {
        let present = match key {
            "fields" | "then" => !u.ratio(1, 16)?,
            _ => u.ratio(1, 2)?,
        };
        if !present {
            continue;
        }
        let n = if u.ratio(1, 16)? { 2 } else { 1 };
        for _ in 0..n {
            if u.ratio(1, 8)? {
                out.push((key.to_owned(), flow_value(u, key)?));
                continue;
            }
            let value = match key {
                "fields" => {
                    let n = u.int_in_range(1..=4)?;
                    J::Arr((0..n).map(|i| shaped_field(u, i)).collect::<Result<_>>()?)
                }
                "then" => {
                    let url = |u: &mut Unstructured<'_>| -> Result<J> {
                        Ok(J::Str(pick(u, &URLS[..4])?.to_owned()))
                    };
                    J::Obj(match u.int_in_range(0..=2)? {
                        0 => vec![("action".into(), url(u)?)],
                        1 => vec![("action".into(), url(u)?), ("fallback".into(), url(u)?)],
                        _ => vec![("redirect".into(), url(u)?)],
                    })
                }
                "attempts" => J::Raw(u.int_in_range(1u8..=9)?.to_string()),
                "timeout" => J::Raw(u.int_in_range(1u8..=60)?.to_string()),
                "language" => J::Str(pick(u, &["fr-FR", "en", "cmn-Hans-CN"])?.into()),
                "voice" => J::Str(pick(u, &["Polly.Celine", "alice"])?.into()),
                "messages" => {
                    let mut messages = Vec::new();
                    for key in ["retry", "goodbye", "apology", "locked", "thanks"] {
                        if u.ratio(1, 2)? {
                            let text = pick(
                                u,
                                &[
                                    "Trop d'essais. Au revoir.",
                                    "Say <this> & \"that\" {account} {balance}",
                                    "\tTabs,\nnew lines\r\nand \u{1F4DE}.",
                                ],
                            )?;
                            messages.push((key.to_owned(), J::Str(text.into())));
                        }
                    }
                    J::Obj(messages)
                }
                "limits" => J::Obj(vec![
                    (
                        "failures".into(),
                        J::Raw(u.int_in_range(1u8..=100)?.to_string()),
                    ),
                    (
                        "window_minutes".into(),
                        J::Raw(pick(u, &["0.01", "15", "10080", "2.5", "1"])?.into()),
                    ),
                ]),
                _ => J::Str(pick(u, &["refuse", "shared"])?.into()),
            };
            out.push((key.to_owned(), value));
        }
    }
    Ok(J::Obj(out))
}

fn flows_json(u: &mut Unstructured<'_>) -> Result<J> {
    if u.ratio(1, 16)? {
        return any_value(u, 3);
    }
    let n = u.int_in_range(0..=3)?;
    let mut out = Vec::new();
    for _ in 0..n {
        let name = match u.int_in_range(0..=3)? {
            0 => "default".to_owned(),
            1 => {
                let n = u.int_in_range(0..=70)?;
                (0..n)
                    .map(|_| pick(u, b"az09-_").map(char::from))
                    .collect::<Result<String>>()?
            }
            2 => pick(u, &["login", "fr", "Bad Name", "a.b", ""])?.to_owned(),
            _ => String::arbitrary(u)?,
        };
        out.push((name, flow_body(u)?));
    }
    Ok(J::Obj(out))
}

/// Collects every object key anywhere in JSON text, repeated keys included (a
/// `serde_json::Value` keeps only the last of a repeated key, and what was under the others).
struct Keys<'a>(&'a mut BTreeSet<String>);

impl<'de> DeserializeSeed<'de> for Keys<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Keys<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while seq.next_element_seed(Keys(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            self.0.insert(key);
            map.next_value_seed(Keys(&mut *self.0))?;
        }
        Ok(())
    }
}

/// The keys of `text` when it is JSON.
fn keys_of(text: &str) -> Option<BTreeSet<String>> {
    let mut keys = BTreeSet::new();
    let mut json = serde_json::Deserializer::from_str(text);
    Keys(&mut keys).deserialize(&mut json).ok()?;
    json.end().ok()?;
    Some(keys)
}

/// The segments of `GATHER_FLOWS.a.fields[1].name`: `a`, `fields`, `[1]`, `name`.
fn segments(path: &str) -> Vec<String> {
    let rest = path
        .strip_prefix("GATHER_FLOWS")
        .unwrap_or_else(|| panic!("path outside GATHER_FLOWS: {path:?}"));
    let mut out = Vec::new();
    let mut current = String::new();
    for c in rest.chars() {
        match c {
            '.' | '[' => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                if c == '[' {
                    current.push('[');
                }
            }
            ']' => {
                current.push(']');
                out.push(std::mem::take(&mut current));
            }
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn check_error(text: &str, e: &gather_seal::SettingError) {
    let shown = e.to_string();
    assert!(!shown.contains(MARK), "a value came back: {shown:?}");
    assert!(shown.starts_with("setting GATHER_FLOWS"), "{shown:?}");
    // At most a flow name (64 characters), `fields`, an index, a key (40) and an index in it
    // (`card_types[1]`), and a fixed sentence: the message cannot grow with the input.
    let segments = segments(&e.setting);
    assert!(segments.len() <= 5, "{shown:?}");
    assert!(shown.len() <= 300, "{shown:?}");
    for segment in &segments {
        let index = segment.starts_with('[')
            && segment.ends_with(']')
            && segment[1..segment.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_digit());
        let word = segment.len() <= 64
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'?');
        assert!(index || word, "{shown:?}");
    }
    // When the text is JSON, every named segment is one of its keys or the schema's.
    if let Some(keys) = keys_of(text) {
        for segment in &segments {
            let named = !segment.starts_with('[') && segment != "?";
            assert!(
                !named || keys.contains(segment) || SCHEMA.contains(&segment.as_str()),
                "{segment:?} is not a key of the input: {shown:?} for {text:?}"
            );
        }
    }
}

fn check_flows(flows: &Flows) {
    let mut names = BTreeSet::new();
    for flow in flows.iter() {
        assert!(names.insert(flow.name.clone()), "flow given twice");
        assert!((1..=64).contains(&flow.name.len()));
        assert!(flow
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'));
        assert_eq!(flows.get(&flow.name).map(|f| &f.name), Some(&flow.name));
        assert!(!flow.fields.is_empty());
        assert!((1..=9).contains(&flow.attempts));
        assert!((1..=60).contains(&flow.timeout_secs));
        let mut field_names = BTreeSet::new();
        for f in &flow.fields {
            assert!(is_field_name(&f.name), "{:?}", f.name);
            assert!(field_names.insert(f.name.clone()));
            assert_eq!(
                handoff::field_name(&handoff::json_key(&f.name)),
                Some(f.name.clone())
            );
            assert!(!f.prompt.trim().is_empty() && f.prompt.chars().count() <= 4000);
        }
        match &flow.then {
            Then::Action { url, fallback } => {
                assert_eq!(check_url(url), Ok(()));
                if let Some(fallback) = fallback {
                    assert_eq!(check_url(fallback), Ok(()));
                }
            }
            Then::Redirect { url } => {
                assert_eq!(check_url(url), Ok(()));
                check_twiml(&handoff::redirect_twiml(
                    url,
                    GatherResult::Success,
                    &[],
                    &[],
                ));
            }
        }
        // Everything the flow can say is well-formed TwiML.
        let fake = "00".repeat(28);
        for i in 0..flow.fields.len() {
            let state = CallState {
                field: i,
                attempt: flow.attempts,
                sealed: flow.fields[..i]
                    .iter()
                    .map(|f| (f.name.clone(), fake.clone()))
                    .collect(),
            };
            for retry in [false, true] {
                let xml = flow::ask_twiml(flow, &state, retry, "https://w.example/gather/x")
                    .unwrap_or_else(|| panic!("no TwiML for field {i}"));
                check_twiml(&xml);
            }
        }
        for result in [GatherResult::Success, GatherResult::TooManyAttempts] {
            check_twiml(&handoff::unusable_twiml(flow, result));
            let answer = Answer::Account {
                account: "{balance}".into(),
                balance: "12.55 & <b>".into(),
            };
            check_twiml(&handoff::answer_twiml(flow, result, answer).1);
        }
        check_twiml(&flow::goodbye_twiml(
            &flow::speech(flow),
            &flow.messages.apology,
        ));
        check_new_rules(flow);
    }
    assert_eq!(
        flows.any_action(),
        flows.iter().any(|f| matches!(f.then, Then::Action { .. }))
    );
    assert_eq!(
        flows.any_verify(),
        flows
            .iter()
            .any(|f| f.fields.iter().any(|f| matches!(f.kind, Kind::Verify(_))))
    );
    assert_eq!(flows.any_limits(), flows.iter().any(|f| f.limits.is_some()));
}

/// The rules that came with `verify` fields and lockout: a verify field is asked for 4 to 10
/// digits ended by `#` on a channel of `sms` or `call`; `limits` are within their bounds and
/// `anonymous` is only set with them; every hand-off's closing sentence is the flow's own
/// (`goodbye` after too many tries or a failed code, `locked` for a locked-out caller,
/// `apology` otherwise), unless a fallback takes the call.
fn check_new_rules(flow: &Flow) {
    // A security code that follows a card follows an earlier card-number field.
    for (i, f) in flow.fields.iter().enumerate() {
        if let Kind::SecurityCode(CodeLength::OfCard(card)) = f.kind {
            assert!(card < i, "{flow:?}");
            assert!(
                matches!(flow.fields[card].kind, Kind::CardNumber(_)),
                "{flow:?}"
            );
        }
        if let Kind::SecurityCode(CodeLength::Fixed(n)) = f.kind {
            assert!(n == 3 || n == 4, "{flow:?}");
        }
    }
    for (i, f) in flow.fields.iter().enumerate() {
        let Kind::Verify(channel) = f.kind else {
            continue;
        };
        assert!(matches!(channel, Channel::Sms | Channel::Call));
        assert!(["sms", "call"].contains(&channel.as_str()));
        let state = CallState {
            field: i,
            attempt: 1,
            sealed: flow.fields[..i]
                .iter()
                .map(|f| (f.name.clone(), "00".repeat(28)))
                .collect(),
        };
        let xml = flow::ask_twiml(flow, &state, true, "https://w.example/gather/x")
            .unwrap_or_else(|| panic!("no TwiML for field {i}"));
        let doc = check_twiml(&xml);
        let gather = doc
            .root_element()
            .first_element_child()
            .unwrap_or_else(|| panic!("{xml}"));
        assert_eq!(gather.attribute("numDigits"), Some("10"), "{xml}");
        assert_eq!(gather.attribute("finishOnKey"), Some("#"), "{xml}");
    }
    match flow.limits {
        Some(limits) => {
            assert!((1..=100).contains(&limits.failures), "{limits:?}");
            // 0.01 minutes to a week, in milliseconds.
            assert!(
                (600..=604_800_000).contains(&limits.window_ms),
                "{limits:?}"
            );
        }
        None => assert_eq!(flow.anonymous, Anonymous::Refuse),
    }
    let m = &flow.messages;
    for sentence in [&m.goodbye, &m.apology, &m.locked, &m.thanks]
        .into_iter()
        .chain(m.retry.as_ref())
    {
        assert!(!sentence.trim().is_empty() && sentence.chars().count() <= 4000);
    }
    for result in [
        GatherResult::Success,
        GatherResult::TooManyAttempts,
        GatherResult::Locked,
        GatherResult::Anonymous,
        GatherResult::Unavailable,
        GatherResult::VerifyFailed,
        GatherResult::VerifyUnavailable,
    ] {
        let xml = handoff::unusable_twiml(flow, result);
        let doc = check_twiml(&xml);
        let first = doc
            .root_element()
            .first_element_child()
            .unwrap_or_else(|| panic!("{xml}"));
        match &flow.then {
            Then::Action {
                fallback: Some(fallback),
                ..
            } => {
                assert_eq!(first.tag_name().name(), "Redirect", "{xml}");
                assert_eq!(
                    first.text(),
                    Some(xml_roundtrip(fallback).as_str()),
                    "{xml}"
                );
            }
            _ => {
                let want = match result {
                    GatherResult::TooManyAttempts | GatherResult::VerifyFailed => &m.goodbye,
                    GatherResult::Locked => &m.locked,
                    _ => &m.apology,
                };
                assert_eq!(first.tag_name().name(), "Say", "{xml}");
                assert_eq!(
                    first.text().unwrap_or(""),
                    xml_roundtrip(want),
                    "{result:?}: {xml}"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = if mode % 2 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let mut u = Unstructured::new(rest);
        let Ok(json) = flows_json(&mut u) else {
            return;
        };
        let mut text = String::new();
        json.write(&mut text);
        text
    };
    match Flows::from_json(&text) {
        Ok(flows) => check_flows(&flows),
        Err(e) => check_error(&text, &e),
    }
});
