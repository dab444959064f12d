//! The submission: `handoff::verify_submission` with arbitrary body, header and secrets (and the
//! sign → verify round trip); `handoff::read_answer` with arbitrary status, content type and
//! body (whatever it relays as TwiML must be well-formed XML); `field_name` and `json_key` as
//! inverses; the demo backend on arbitrary and on genuine submissions; `Submission::to_json`
//! and `redirect_url` with sealed values and `verified` fields, against the README's text.
//!
//! And Twilio Verify's side of a `verify` field (`gather_seal::verify`): `read_check` with any
//! status and body (raw, or JSON built from statuses and error codes) against the rule in its
//! documentation; `recipient` on any `From`; `Settings::new` with any SIDs, secret and base URL
//! (an error names the setting at fault and never repeats what was given; the requests it
//! builds carry exactly `To` and `Channel`, or `To` and `Code`).
#![no_main]

use std::fmt;

use arbitrary::{Arbitrary, Unstructured};
use fuzz_support::{
    check_redirect_url, check_relayed, check_twiml, digit_string, flows, is_field_name, keys,
    submission_json, SIGNING_SECRET,
};
use gather_seal::config::Channel;
use gather_seal::flow::{context, CodeCheck, GatherResult};
use gather_seal::handoff::{
    self, answer_twiml, field_name, json_key, read_answer, sign, verify_submission, Answer,
    Submission,
};
use gather_seal::otp::{self as twilio_verify, read_check, recipient, Settings};
use gather_seal::url::check_target as check_url;
use gather_seal::{demo, seal, SignatureError};
use libfuzzer_sys::fuzz_target;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

#[derive(Arbitrary, Debug)]
enum Header<'a> {
    Absent,
    Raw(&'a str),
    /// Comma-separated items, some of them genuine.
    Items(Vec<Item<'a>>),
}

#[derive(Arbitrary, Debug)]
enum Item<'a> {
    /// `t=` with the time signed (or a number given as text).
    T(Option<&'a str>),
    /// `v1=` with the genuine tag under the secret at this index (or text).
    V1(Option<u8>, Option<&'a str>),
    Raw(&'a str),
    Blank,
}

#[derive(Arbitrary, Debug)]
enum ContentType<'a> {
    Xml,
    AppXml,
    Json,
    Raw(&'a str),
    Absent,
}

#[derive(Arbitrary, Debug)]
enum Body<'a> {
    Raw(&'a str),
    /// XML assembled from pieces that reach the reader's every branch.
    Pieces(Vec<Piece<'a>>),
    /// `{"account": …, "balance": …}` with values of any JSON type.
    Account(Scalar<'a>, Scalar<'a>, Option<&'a str>),
    TooLarge,
}

#[derive(Arbitrary, Debug)]
enum Scalar<'a> {
    Str(&'a str),
    U(u64),
    I(i64),
    F(f64),
    Bool(bool),
    Null,
    Raw(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Piece<'a> {
    Decl,
    Open(Tag<'a>),
    Close(Tag<'a>),
    Empty(Tag<'a>),
    /// An element start with these attributes (a name may repeat).
    Attrs(Tag<'a>, Vec<(AttrName<'a>, &'a str)>, bool),
    Text(&'a str),
    Amp,
    Ref(u32, bool),
    Entity(&'a str),
    Cdata(&'a str),
    Comment(&'a str),
    Pi(&'a str),
    Doctype,
    Xmlns(&'a str),
    Gt,
}

#[derive(Arbitrary, Debug)]
enum AttrName<'a> {
    A,
    B,
    Xmlns,
    XmlnsT,
    Any(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Tag<'a> {
    Response,
    Say,
    Gather,
    Prefixed,
    Any(&'a str),
}

fn tag(t: &Tag<'_>) -> String {
    match t {
        Tag::Response => "Response".into(),
        Tag::Say => "Say".into(),
        Tag::Gather => "Gather".into(),
        Tag::Prefixed => "t:Response".into(),
        Tag::Any(s) => (*s).into(),
    }
}

fn pieces_xml(pieces: &[Piece<'_>]) -> String {
    let mut xml = String::new();
    for piece in pieces {
        match piece {
            Piece::Decl => xml.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#),
            Piece::Open(t) => xml.push_str(&format!("<{}>", tag(t))),
            Piece::Close(t) => xml.push_str(&format!("</{}>", tag(t))),
            Piece::Empty(t) => xml.push_str(&format!("<{}/>", tag(t))),
            Piece::Attrs(t, attrs, empty) => {
                xml.push('<');
                xml.push_str(&tag(t));
                for (name, value) in attrs {
                    let name = match name {
                        AttrName::A => "a",
                        AttrName::B => "b",
                        AttrName::Xmlns => "xmlns",
                        AttrName::XmlnsT => "xmlns:t",
                        AttrName::Any(n) => n,
                    };
                    xml.push_str(&format!(" {name}=\"{value}\""));
                }
                xml.push_str(if *empty { "/>" } else { ">" });
            }
            Piece::Text(s) => xml.push_str(s),
            Piece::Amp => xml.push('&'),
            Piece::Ref(n, hex) => match hex {
                true => xml.push_str(&format!("&#x{n:x};")),
                false => xml.push_str(&format!("&#{n};")),
            },
            Piece::Entity(name) => xml.push_str(&format!("&{name};")),
            Piece::Cdata(s) => xml.push_str(&format!("<![CDATA[{s}]]>")),
            Piece::Comment(s) => xml.push_str(&format!("<!--{s}-->")),
            Piece::Pi(s) => xml.push_str(&format!("<?{s}?>")),
            Piece::Doctype => xml.push_str(r#"<!DOCTYPE Response [<!ENTITY e "x">]>"#),
            Piece::Xmlns(v) => xml.push_str(&format!("<Response xmlns=\"{v}\">")),
            Piece::Gt => xml.push('>'),
        }
    }
    xml
}

fn scalar_json(s: &Scalar<'_>) -> String {
    match s {
        Scalar::Str(t) => serde_json::to_string(t).unwrap_or_default(),
        Scalar::U(n) => n.to_string(),
        Scalar::I(n) => n.to_string(),
        Scalar::F(x) => serde_json::to_string(x).unwrap_or_else(|_| "0".into()),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Null => "null".into(),
        Scalar::Raw(t) => (*t).into(),
    }
}

#[derive(Arbitrary, Debug)]
enum Name<'a> {
    /// Words of a-z and 0-9 joined by `_`, mostly valid field names.
    Words(Vec<Vec<u8>>),
    Any(&'a str),
}

fn name_of(n: &Name<'_>) -> String {
    match n {
        Name::Words(words) => words
            .iter()
            .map(|w| {
                w.iter()
                    .map(|b| char::from(b"abcz09_"[usize::from(*b) % 7]))
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("_"),
        Name::Any(s) => (*s).into(),
    }
}

#[derive(Arbitrary, Debug)]
enum Op<'a> {
    Verify {
        body: &'a [u8],
        header: Header<'a>,
        secrets: Vec<&'a [u8]>,
        signed_at: u64,
        tolerance: u64,
        now: u64,
    },
    SignVerify {
        secret: &'a [u8],
        others: Vec<&'a [u8]>,
        body: &'a [u8],
        signed_at: u64,
        tolerance: u64,
        now: u64,
        tamper: Option<(u16, u8)>,
    },
    ReadAnswer {
        status: u16,
        content_type: ContentType<'a>,
        body: Body<'a>,
        flow: u8,
        too_many: bool,
    },
    Names {
        key: &'a str,
        name: Name<'a>,
    },
    Demo {
        body: &'a [u8],
        header: Option<&'a str>,
        now: u64,
    },
    DemoGenuine {
        call_sid: &'a str,
        card: Option<&'a [u8]>,
        pin: Option<&'a [u8]>,
        swap: bool,
        success: bool,
        now: u64,
    },
    Submission {
        call_sid: &'a str,
        account_sid: &'a str,
        from: &'a str,
        to: &'a str,
        sealed: Vec<(Name<'a>, SealedText<'a>)>,
        verified: Vec<Name<'a>>,
        url: SubmissionUrl<'a>,
        result: u8,
    },
    ReadCheck {
        status: Status,
        body: CheckBody<'a>,
    },
    Recipient {
        from: FromText<'a>,
    },
    VerifySettings {
        sid: Sid<'a>,
        secret: Secret<'a>,
        service: Sid<'a>,
        base: Option<Base<'a>>,
        to: &'a str,
        code: &'a str,
        call: bool,
    },
}

#[derive(Arbitrary, Debug)]
enum SealedText<'a> {
    Hex(Vec<u8>),
    Any(&'a str),
}

#[derive(Arbitrary, Debug)]
enum SubmissionUrl<'a> {
    Plain,
    WithQuery,
    Any(&'a str),
}

const RESULTS: [GatherResult; 7] = [
    GatherResult::Success,
    GatherResult::TooManyAttempts,
    GatherResult::Locked,
    GatherResult::Anonymous,
    GatherResult::Unavailable,
    GatherResult::VerifyFailed,
    GatherResult::VerifyUnavailable,
];

/// A `VerificationCheck` answer's status.
#[derive(Arbitrary, Debug)]
enum Status {
    Ok,
    Created,
    NotFound,
    TooMany,
    ServerError,
    Any(u16),
}

/// A `VerificationCheck` answer's body: raw, or a JSON object built from Verify's members.
#[derive(Arbitrary, Debug)]
enum CheckBody<'a> {
    Raw(&'a str),
    Object {
        members: Vec<(CheckKey<'a>, CheckValue<'a>)>,
        wrap: Wrap,
    },
}

#[derive(Arbitrary, Debug)]
enum CheckKey<'a> {
    Status,
    Code,
    /// `status` written with an escape: the same key.
    StatusEscaped,
    StatusUpper,
    Sid,
    Any(&'a str),
}

#[derive(Arbitrary, Debug)]
enum CheckValue<'a> {
    Approved,
    Pending,
    Canceled,
    ApprovedUpper,
    /// `approved` written with an escape: the same string.
    ApprovedEscaped,
    ApprovedPadded,
    ApprovedNul,
    MaxAttempts,
    MaxAttemptsReal,
    MaxAttemptsExp,
    MaxAttemptsText,
    MaxAttemptsNegative,
    Code(u16),
    U(u64),
    F(f64),
    Null,
    Bool(bool),
    /// `{"status": "approved", "code": 60202}` one level down.
    Nested,
    List,
    Raw(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Wrap {
    None,
    Spaces,
    InArray,
    TrailingGarbage,
    TrailingComma,
}

fn check_body(body: &CheckBody<'_>) -> String {
    let (members, wrap) = match body {
        CheckBody::Raw(text) => return (*text).to_owned(),
        CheckBody::Object { members, wrap } => (members, wrap),
    };
    let json = |t: &str| serde_json::to_string(t).unwrap_or_default();
    let mut items = Vec::new();
    for (key, value) in members {
        let key = match key {
            CheckKey::Status => "\"status\"".to_owned(),
            CheckKey::Code => "\"code\"".to_owned(),
            CheckKey::StatusEscaped => "\"st\\u0061tus\"".to_owned(),
            CheckKey::StatusUpper => "\"Status\"".to_owned(),
            CheckKey::Sid => "\"sid\"".to_owned(),
            CheckKey::Any(k) => json(k),
        };
        let value = match value {
            CheckValue::Approved => "\"approved\"".to_owned(),
            CheckValue::Pending => "\"pending\"".to_owned(),
            CheckValue::Canceled => "\"canceled\"".to_owned(),
            CheckValue::ApprovedUpper => "\"Approved\"".to_owned(),
            CheckValue::ApprovedEscaped => "\"appro\\u0076ed\"".to_owned(),
            CheckValue::ApprovedPadded => "\" approved\"".to_owned(),
            CheckValue::ApprovedNul => "\"approved\\u0000\"".to_owned(),
            CheckValue::MaxAttempts => "60202".to_owned(),
            CheckValue::MaxAttemptsReal => "60202.0".to_owned(),
            CheckValue::MaxAttemptsExp => "6.0202e4".to_owned(),
            CheckValue::MaxAttemptsText => "\"60202\"".to_owned(),
            CheckValue::MaxAttemptsNegative => "-60202".to_owned(),
            CheckValue::Code(n) => n.to_string(),
            CheckValue::U(n) => n.to_string(),
            CheckValue::F(x) => serde_json::to_string(x).unwrap_or_else(|_| "0.5".into()),
            CheckValue::Null => "null".to_owned(),
            CheckValue::Bool(b) => b.to_string(),
            CheckValue::Nested => "{\"status\": \"approved\", \"code\": 60202}".to_owned(),
            CheckValue::List => "[\"approved\", 60202]".to_owned(),
            CheckValue::Raw(v) => (*v).to_owned(),
        };
        items.push(format!("{key}: {value}"));
    }
    let object = format!("{{{}}}", items.join(", "));
    match wrap {
        Wrap::None => object,
        Wrap::Spaces => format!(" \n\t{object}\r\n "),
        Wrap::InArray => format!("[{object}]"),
        Wrap::TrailingGarbage => format!("{object}x"),
        Wrap::TrailingComma => format!("{{{}, }}", items.join(", ")),
    }
}

/// The members of a JSON object at the top of `text`, in order and repeated keys included;
/// none when `text` is not JSON or not an object. Read with serde_json's own value type, not
/// the core's tree.
fn top_members(text: &str) -> Vec<(String, serde_json::Value)> {
    struct Top;
    impl<'de> Visitor<'de> for Top {
        type Value = Vec<(String, serde_json::Value)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(member) = map.next_entry()? {
                out.push(member);
            }
            Ok(out)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Vec::new())
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    match (&mut de).deserialize_any(Top) {
        Ok(members) if de.end().is_ok() => members,
        _ => Vec::new(),
    }
}

/// What `read_check` may say, by its documentation: `200` with `"status": "approved"` (the
/// JSON string exactly) is approved, `200` otherwise and `404` are a wrong code, `429` with
/// Twilio's error code 60202 (a whole number) is a wrong code, anything else unavailable. A key
/// given twice with answers that disagree may be read either way (JSON leaves it open), but
/// never as a third answer.
fn expected_checks(status: u16, body: &str) -> Vec<CodeCheck> {
    let members = top_members(body);
    let said = |key: &str, yes: &dyn Fn(&serde_json::Value) -> bool| -> (bool, bool) {
        let values: Vec<bool> = members
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| yes(v))
            .collect();
        (values.iter().any(|&y| y), values.iter().any(|&y| !y))
    };
    match status {
        200 => match said("status", &|v| v.as_str() == Some("approved")) {
            (true, false) => vec![CodeCheck::Approved],
            (false, _) => vec![CodeCheck::Denied],
            (true, true) => vec![CodeCheck::Approved, CodeCheck::Denied],
        },
        404 => vec![CodeCheck::Denied],
        429 => match said("code", &|v| v.is_u64() && v.as_u64() == Some(60_202)) {
            (true, false) => vec![CodeCheck::Denied],
            (false, _) => vec![CodeCheck::Unavailable],
            (true, true) => vec![CodeCheck::Denied, CodeCheck::Unavailable],
        },
        _ => vec![CodeCheck::Unavailable],
    }
}

/// A `From` as Twilio may post it.
#[derive(Arbitrary, Debug)]
enum FromText<'a> {
    /// `+` and 5 to 17 digits, perhaps with spaces around.
    Number(u64, u8, bool),
    /// A word or keypad spelling of a withheld number, in some case.
    Withheld(u8, bool),
    Client(&'a str),
    Any(&'a str),
}

/// The words carriers send for a withheld number (README), and those whose keypad spellings
/// they send too (the core's documentation: ANONYMOUS, RESTRICTED, BLOCKED, UNKNOWN, UNAVAIL-).
const WITHHELD_WORDS: [&str; 7] = [
    "anonymous",
    "restricted",
    "blocked",
    "unknown",
    "unavailable",
    "private",
    "withheld",
];
const KEYPAD_WORDS: [&str; 5] = [
    "ANONYMOUS",
    "RESTRICTED",
    "BLOCKED",
    "UNKNOWN",
    "UNAVAILABLE",
];

/// `+` and a word typed on a phone's keypad.
fn keypad(word: &str) -> String {
    let digit = |c: char| match c.to_ascii_uppercase() {
        'A'..='C' => '2',
        'D'..='F' => '3',
        'G'..='I' => '4',
        'J'..='L' => '5',
        'M'..='O' => '6',
        'P'..='S' => '7',
        'T'..='V' => '8',
        _ => '9',
    };
    std::iter::once('+')
        .chain(word.chars().map(digit))
        .collect()
}

/// `recipient` by the README: the caller's number, trimmed, when it is `+` and 7 to 15 digits
/// and not withheld.
fn expected_recipient(from: &str) -> Option<&str> {
    let number = from.trim();
    let withheld = number.is_empty()
        || WITHHELD_WORDS
            .iter()
            .any(|w| number.eq_ignore_ascii_case(w))
        || KEYPAD_WORDS.iter().any(|w| keypad(w) == number);
    let digits = number.strip_prefix('+')?;
    let e164 = (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    (e164 && !withheld).then_some(number)
}

/// A SID: `prefix` and 32 hex digits, or near misses.
#[derive(Arbitrary, Debug)]
enum Sid<'a> {
    Good(u128),
    Upper(u128),
    LowerPrefix(u128),
    OtherPrefix(u128),
    /// One hex digit short or long.
    Length(u128, bool),
    Padded(u128),
    Marked(&'a str),
}

fn sid_text(sid: &Sid<'_>, prefix: &str, other: &str) -> String {
    match sid {
        Sid::Good(n) => format!("{prefix}{n:032x}"),
        Sid::Upper(n) => format!("{prefix}{n:032X}"),
        Sid::LowerPrefix(n) => format!("{}{n:032x}", prefix.to_ascii_lowercase()),
        Sid::OtherPrefix(n) => format!("{other}{n:032x}"),
        Sid::Length(n, long) => {
            let hex = format!("{n:032x}");
            match long {
                true => format!("{prefix}{hex}0"),
                false => format!("{prefix}{}", &hex[1..]),
            }
        }
        Sid::Padded(n) => format!(" {prefix}{n:032x}\n"),
        Sid::Marked(s) => format!("{s}{MARK}"),
    }
}

/// `prefix` and 32 hex digits, either case (the README's shape of a SID).
fn is_sid(sid: &str, prefix: &str) -> bool {
    sid.strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

#[derive(Arbitrary, Debug)]
enum Secret<'a> {
    Good(&'a str),
    Padded(&'a str),
    Any(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Base<'a> {
    Known(u8),
    Marked(&'a str),
    Any(&'a str),
}

const BASES: [&str; 10] = [
    "https://verify.twilio.com",
    "https://verify.twilio.com///",
    "http://127.0.0.1:4010",
    "http://localhost:4010/",
    "https://[::1]:8443/twilio/",
    "https://proxy.example.com/twilio?x=1",
    "http://example.com",
    "https://verify.twilio.com/#f",
    "https://user:pw@verify.twilio.com",
    "///",
];

/// Put into arbitrary setting values; must never come back in an error.
const MARK: &str = "~v~";

/// Standard base64 with padding, written again here.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Form pairs as the receiver reads them.
fn form_pairs(body: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `verify` reads `t=` of at most 19 digits, so a header `sign` writes for a time from 10¹⁹
/// on (the year 316 billion) does not verify.
fn readable_time(t: u64) -> bool {
    t < 10_000_000_000_000_000_000
}

fuzz_target!(|data: &[u8]| {
    let Ok(op) = Op::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    match op {
        Op::Verify {
            body,
            header,
            secrets,
            signed_at,
            tolerance,
            now,
        } => {
            let header = match header {
                Header::Absent => None,
                Header::Raw(h) => Some(h.to_owned()),
                Header::Items(items) => Some(
                    items
                        .iter()
                        .map(|item| match item {
                            Item::T(None) => format!("t={signed_at}"),
                            Item::T(Some(t)) => format!("t={t}"),
                            Item::V1(Some(i), _) if !secrets.is_empty() => {
                                let secret = secrets[usize::from(*i) % secrets.len()];
                                let genuine = sign(secret, signed_at, body);
                                genuine
                                    .split_once(",v1=")
                                    .map(|(_, v)| format!("v1={v}"))
                                    .unwrap_or_default()
                            }
                            Item::V1(_, Some(text)) => format!("v1={text}"),
                            Item::V1(_, None) => "v1=".into(),
                            Item::Raw(r) => (*r).into(),
                            Item::Blank => String::new(),
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            };
            let result = verify_submission(body, header.as_deref(), &secrets, tolerance, now);
            if header.as_deref().is_none_or(|h| h.trim().is_empty()) {
                assert_eq!(result, Err(SignatureError::Missing));
            }
            if secrets.is_empty() && header.as_deref().is_some_and(|h| !h.trim().is_empty()) {
                assert_eq!(result, Err(SignatureError::Bad));
            }
            if let Ok(()) = result {
                // Only a header carrying a genuine tag can pass.
                assert!(header.as_deref().is_some_and(|h| h.contains("v1=")));
            }
        }
        Op::SignVerify {
            secret,
            others,
            body,
            signed_at,
            tolerance,
            now,
            tamper,
        } => {
            let header = sign(secret, signed_at, body);
            let mut secrets = others.clone();
            secrets.push(secret);
            secrets.rotate_left(others.len() / 2);
            let fresh = now.abs_diff(signed_at) <= tolerance;
            let want = if !readable_time(signed_at) {
                Err(SignatureError::Bad)
            } else if fresh {
                Ok(())
            } else {
                Err(SignatureError::Stale)
            };
            assert_eq!(
                verify_submission(body, Some(&header), &secrets, tolerance, now),
                want
            );
            let padded = format!("  {header} \n");
            assert_eq!(
                verify_submission(body, Some(&padded), &secrets, tolerance, now),
                want
            );
            if let Some((at, by)) = tamper {
                let mut changed = body.to_vec();
                if changed.is_empty() {
                    changed.push(by);
                } else {
                    let i = usize::from(at) % changed.len();
                    changed[i] ^= by.max(1);
                }
                // A changed body never matches, under any secret.
                assert_eq!(
                    verify_submission(&changed, Some(&header), &secrets, tolerance, now),
                    Err(SignatureError::Bad)
                );
            }
            // Without the secret, nothing matches. (HMAC pads a key of up to 64 bytes with
            // zeros, so `k` and `k\0` are one key: those count as the secret.)
            let same_key = |a: &[u8], b: &[u8]| {
                let short = a.len() <= 64 && b.len() <= 64;
                let trim = |k: &[u8]| k.len() - k.iter().rev().take_while(|&&x| x == 0).count();
                a == b || (short && a[..trim(a)] == b[..trim(b)])
            };
            let without: Vec<&[u8]> = others
                .iter()
                .copied()
                .filter(|o| !same_key(o, secret))
                .collect();
            assert_eq!(
                verify_submission(body, Some(&header), &without, tolerance, now),
                Err(SignatureError::Bad)
            );
        }
        Op::ReadAnswer {
            status,
            content_type,
            body,
            flow,
            too_many,
        } => {
            let content_type = match content_type {
                ContentType::Xml => Some("text/xml".to_owned()),
                ContentType::AppXml => Some("Application/XML; charset=utf-8".to_owned()),
                ContentType::Json => Some("application/json".to_owned()),
                ContentType::Raw(c) => Some(c.to_owned()),
                ContentType::Absent => None,
            };
            let body = match body {
                Body::Raw(b) => Some(b.to_owned()),
                Body::Pieces(pieces) => Some(pieces_xml(&pieces)),
                Body::Account(account, balance, extra) => Some(format!(
                    "{{{}\"account\": {}, \"balance\": {}}}",
                    extra
                        .map(|e| format!("{}: 1, ", serde_json::to_string(e).unwrap_or_default()))
                        .unwrap_or_default(),
                    scalar_json(&account),
                    scalar_json(&balance)
                )),
                Body::TooLarge => None,
            };
            let answer = read_answer(status, content_type.as_deref(), body.as_deref());
            match &answer {
                Answer::Twiml(xml) => {
                    assert!((200..300).contains(&status));
                    assert_eq!(Some(xml), body.as_ref());
                    // Whatever is relayed to Twilio as TwiML parses as XML elsewhere too.
                    check_relayed(xml);
                }
                Answer::Account { account, balance } => {
                    for spoken in [account, balance] {
                        assert!(!spoken.is_empty() && spoken.len() <= 64, "{spoken:?}");
                        assert!(!spoken.chars().any(char::is_control), "{spoken:?}");
                    }
                }
                Answer::Unusable(why) => assert!(why.as_str().starts_with("app-")),
            }
            let flows = flows();
            let flow = &flows[usize::from(flow) % flows.len()];
            let result = if too_many {
                GatherResult::TooManyAttempts
            } else {
                GatherResult::Success
            };
            let relayed = matches!(answer, Answer::Twiml(_));
            let (word, xml) = answer_twiml(flow, result, answer);
            assert!(!word.as_str().is_empty());
            if relayed {
                assert_eq!(Some(&xml), body.as_ref());
            } else {
                check_twiml(&xml);
            }
        }
        Op::Names { key, name } => {
            if let Some(field) = field_name(key) {
                assert!(is_field_name(&field), "{key:?} → {field:?}");
                assert_eq!(json_key(&field), key);
            }
            let name = name_of(&name);
            let key = json_key(&name);
            let back = field_name(&key);
            if is_field_name(&name) {
                assert_eq!(back.as_deref(), Some(name.as_str()), "{key:?}");
            } else {
                assert_ne!(back.as_deref(), Some(name.as_str()), "{key:?}");
            }
        }
        Op::Demo { body, header, now } => {
            let reply = demo::answer(body, header, SIGNING_SECRET, &keys().ring, now);
            // Arbitrary input cannot carry the secret's signature.
            assert_eq!(reply.status, 401);
            assert_eq!(reply.twiml, None);
        }
        Op::DemoGenuine {
            call_sid,
            card,
            pin,
            swap,
            success,
            now,
        } => {
            let k = keys();
            let card = card.map(digit_string);
            let pin = pin.map(digit_string);
            let sealed_as = |field: &str, digits: &Option<String>| {
                digits.as_ref().map(|d| {
                    seal(
                        d.as_bytes(),
                        &k.current,
                        context(call_sid, field).as_bytes(),
                    )
                    .unwrap_or_else(|_| unreachable!("seal"))
                })
            };
            let (card_field, pin_field) = if swap {
                ("pin", "card")
            } else {
                ("card", "pin")
            };
            let mut sealed = Vec::new();
            if let Some(v) = sealed_as(card_field, &card) {
                sealed.push(("card".to_owned(), v));
            }
            if let Some(v) = sealed_as(pin_field, &pin) {
                sealed.push(("pin".to_owned(), v));
            }
            let result = if success {
                GatherResult::Success
            } else {
                GatherResult::TooManyAttempts
            };
            let body = Submission {
                call_sid,
                account_sid: "AC1",
                from: "+15550100",
                to: "+15550199",
                flow: "default",
                result,
                sealed: &sealed,
                verified: &[],
            }
            .to_json();
            let header = sign(SIGNING_SECRET, now, body.as_bytes());
            let reply = demo::answer(body.as_bytes(), Some(&header), SIGNING_SECRET, &k.ring, now);
            let both = card.is_some() && pin.is_some() && !swap;
            let want_status = if !readable_time(now) {
                401
            } else if !success || both {
                200
            } else {
                400
            };
            assert_eq!(reply.status, want_status, "{body}");
            if let Some(xml) = &reply.twiml {
                check_twiml(xml);
                let found = success
                    && both
                    && card.as_deref() == Some("1234")
                    && pin.as_deref() == Some("4321");
                assert_eq!(xml.contains(demo::FOUND), found);
            }
        }
        Op::Submission {
            call_sid,
            account_sid,
            from,
            to,
            sealed,
            verified,
            url,
            result,
        } => {
            let sealed: Vec<(String, String)> = sealed
                .iter()
                .map(|(n, v)| {
                    let value = match v {
                        SealedText::Hex(bytes) => {
                            bytes.iter().map(|b| format!("{b:02x}")).collect()
                        }
                        SealedText::Any(text) => (*text).to_owned(),
                    };
                    (name_of(n), value)
                })
                .collect();
            let verified: Vec<String> = verified.iter().map(name_of).collect();
            let result = RESULTS[usize::from(result) % RESULTS.len()];
            let submission = Submission {
                call_sid,
                account_sid,
                from,
                to,
                flow: "default",
                result,
                sealed: &sealed,
                verified: &verified,
            };
            let json = submission.to_json();
            // Exactly the README's text: `verified` right after `result`, absent when empty.
            assert_eq!(
                json,
                submission_json(
                    call_sid,
                    account_sid,
                    from,
                    to,
                    "default",
                    result.as_str(),
                    &verified,
                    &sealed
                )
            );
            let value: serde_json::Value =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json:?}"));
            assert_eq!(value["callSid"], call_sid);
            assert_eq!(value["from"], from);
            assert_eq!(value["result"], result.as_str());
            match verified.is_empty() {
                true => assert!(value.get("verified").is_none(), "{json}"),
                false => assert_eq!(value["verified"], serde_json::json!(verified)),
            }
            let url = match url {
                SubmissionUrl::Plain => "https://app.example.com/next",
                SubmissionUrl::WithQuery => {
                    "https://webhooks.twilio.com/v1/Accounts/AC1/Flows/FW1?FlowEvent=return"
                }
                SubmissionUrl::Any(u) => u,
            };
            let out = handoff::redirect_url(url, result, &sealed, &verified);
            check_redirect_url(&out, url, result.as_str(), &sealed, &verified);
            let redirect = handoff::redirect_twiml(url, result, &sealed, &verified);
            check_twiml(&redirect);
        }
        Op::ReadCheck { status, body } => {
            let status = match status {
                Status::Ok => 200,
                Status::Created => 201,
                Status::NotFound => 404,
                Status::TooMany => 429,
                Status::ServerError => 503,
                Status::Any(n) => n,
            };
            let body = check_body(&body);
            let check = read_check(status, &body);
            let allowed = expected_checks(status, &body);
            assert!(
                allowed.contains(&check),
                "{status} {body:?}: {check:?}, expected one of {allowed:?}"
            );
            assert_eq!(twilio_verify::sent(status), status == 201);
        }
        Op::Recipient { from } => {
            let from = match from {
                FromText::Number(n, len, spaced) => {
                    let digits = format!("{n:020}");
                    let number = format!("+{}", &digits[..5 + usize::from(len) % 13]);
                    match spaced {
                        true => format!(" \t{number}\n"),
                        false => number,
                    }
                }
                FromText::Withheld(i, upper) => {
                    let i = usize::from(i);
                    let text = match i % 2 {
                        0 => WITHHELD_WORDS[i / 2 % WITHHELD_WORDS.len()].to_owned(),
                        _ => keypad(KEYPAD_WORDS[i / 2 % KEYPAD_WORDS.len()]),
                    };
                    match upper {
                        true => text.to_ascii_uppercase(),
                        false => text,
                    }
                }
                FromText::Client(name) => format!("client:{name}"),
                FromText::Any(text) => text.to_owned(),
            };
            assert_eq!(recipient(&from), expected_recipient(&from), "{from:?}");
        }
        Op::VerifySettings {
            sid,
            secret,
            service,
            base,
            to,
            code,
            call,
        } => {
            let sid = sid_text(&sid, "SK", "VA");
            let service = sid_text(&service, "VA", "SK");
            let secret = match secret {
                Secret::Good(s) => {
                    let s: String = s.chars().filter(|c| c.is_ascii_graphic()).collect();
                    format!("{s}{MARK}")
                }
                Secret::Padded(s) => format!(" \n{s}{MARK}\t"),
                Secret::Any(s) => s.to_owned(),
            };
            let base = base.map(|b| match b {
                Base::Known(i) => BASES[usize::from(i) % BASES.len()].to_owned(),
                Base::Marked(s) => format!("{s}{MARK}"),
                Base::Any(s) => s.to_owned(),
            });
            let trimmed = secret.trim();
            let base_url = base
                .as_deref()
                .unwrap_or("https://verify.twilio.com")
                .trim_end_matches('/');
            // The settings by the README, in order: the first at fault is named.
            let fault = if !is_sid(&sid, "SK") {
                Some("TWILIO_API_KEY_SID")
            } else if trimmed.is_empty()
                || trimmed.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                Some("TWILIO_API_KEY_SECRET")
            } else if !is_sid(&service, "VA") {
                Some("TWILIO_VERIFY_SERVICE_SID")
            } else if check_url(base_url).is_err() || base_url.contains('?') {
                Some("TWILIO_VERIFY_URL")
            } else {
                None
            };
            match (
                Settings::new(&sid, &secret, &service, base.as_deref()),
                fault,
            ) {
                (Err(e), Some(setting)) => {
                    assert_eq!(e.setting, setting, "{e}");
                    let shown = format!("{e} {e:?}");
                    assert!(!shown.contains(MARK), "a value came back: {shown:?}");
                    assert_eq!(e.to_string(), format!("setting {setting}: {}", e.problem));
                    // Every fault with a secret: only "missing" when there is none.
                    if setting == "TWILIO_API_KEY_SECRET" {
                        assert_eq!(e.problem.contains("missing"), trimmed.is_empty(), "{e}");
                    }
                }
                (Ok(settings), None) => {
                    let credentials = format!("{sid}:{trimmed}");
                    assert_eq!(
                        settings.authorization(),
                        format!("Basic {}", base64(credentials.as_bytes()))
                    );
                    let service_url = format!("{base_url}/v2/Services/{service}");
                    let channel = if call { Channel::Call } else { Channel::Sms };
                    let (url, body) = settings.send(to, channel);
                    assert_eq!(url, format!("{service_url}/Verifications"));
                    let word = if call { "call" } else { "sms" };
                    assert_eq!(
                        form_pairs(&body),
                        [
                            ("To".to_owned(), to.to_owned()),
                            ("Channel".to_owned(), word.to_owned())
                        ]
                    );
                    let (url, body) = settings.check(to, code);
                    assert_eq!(url, format!("{service_url}/VerificationCheck"));
                    assert_eq!(
                        form_pairs(&body),
                        [
                            ("To".to_owned(), to.to_owned()),
                            ("Code".to_owned(), code.to_owned())
                        ]
                    );
                }
                (Err(e), None) => panic!("refused ({e}): {sid:?} {secret:?} {service:?} {base:?}"),
                (Ok(_), Some(setting)) => {
                    panic!("accepted, {setting} at fault: {sid:?} {secret:?} {service:?} {base:?}")
                }
            }
        }
    }
});
