//! The submission: `handoff::verify` with arbitrary body, header and secrets (and the
//! sign → verify round trip); `handoff::read_answer` with arbitrary status, content type and
//! body (whatever it relays as TwiML must be well-formed XML); `field_name` and `json_key` as
//! inverses; the demo backend on arbitrary and on genuine submissions.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use fuzz_support::{
    check_relayed, check_twiml, digit_string, flows, is_field_name, keys, SIGNING_SECRET,
};
use gather_seal::flow::{context, GatherResult};
use gather_seal::handoff::{
    self, answer_twiml, field_name, json_key, read_answer, sign, verify, Answer, Submission,
};
use gather_seal::{demo, seal, Error};
use libfuzzer_sys::fuzz_target;

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
        sealed: Vec<(Name<'a>, &'a str)>,
        url: &'a str,
        too_many: bool,
    },
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
            let result = verify(body, header.as_deref(), &secrets, tolerance, now);
            if header.as_deref().is_none_or(|h| h.trim().is_empty()) {
                assert_eq!(result, Err(Error::MissingSignature));
            }
            if secrets.is_empty() && header.as_deref().is_some_and(|h| !h.trim().is_empty()) {
                assert_eq!(result, Err(Error::BadSignature));
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
                Err(Error::BadSignature)
            } else if fresh {
                Ok(())
            } else {
                Err(Error::StaleSignature)
            };
            assert_eq!(verify(body, Some(&header), &secrets, tolerance, now), want);
            let padded = format!("  {header} \n");
            assert_eq!(verify(body, Some(&padded), &secrets, tolerance, now), want);
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
                    verify(&changed, Some(&header), &secrets, tolerance, now),
                    Err(Error::BadSignature)
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
                verify(body, Some(&header), &without, tolerance, now),
                Err(Error::BadSignature)
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
                Answer::Unusable(why) => assert!(why.starts_with("app-")),
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
            assert!(!word.is_empty());
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
            url,
            too_many,
        } => {
            let sealed: Vec<(String, String)> = sealed
                .iter()
                .map(|(n, v)| (name_of(n), (*v).to_owned()))
                .collect();
            let result = if too_many {
                GatherResult::TooManyAttempts
            } else {
                GatherResult::Success
            };
            let submission = Submission {
                call_sid,
                account_sid,
                from,
                to,
                flow: "default",
                result,
                sealed: &sealed,
                verified: &[],
            };
            let json = submission.to_json();
            let value: serde_json::Value =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json:?}"));
            assert_eq!(value["callSid"], call_sid);
            assert_eq!(value["from"], from);
            assert_eq!(value["result"], result.as_str());
            let redirect = handoff::redirect_twiml(url, result, &sealed, &[]);
            check_twiml(&redirect);
        }
    }
});
