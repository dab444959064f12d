//! The demo backend (`demo::answer`): it refuses what is not signed (401) or not a submission
//! whose values open for its call (400), and answers the one caller it knows.

mod common;

use common::{ring, CALL_SID, KEY_HEX, OTHER_CALL_SID, OTHER_KEY_HEX};
use gather_seal::demo::{answer, receive, DemoReply};
use gather_seal::flow::GatherResult;
use gather_seal::handoff::{sign, Submission};
use gather_seal::lockout::AppVerdict;
use gather_seal::{seal, KeyRing, SignatureError};

const SECRET: &[u8] = b"whsec-demo";
/// 2026-12-01T00:00:00Z.
const NOW: u64 = 1_796_083_200;

const FOUND: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
    r#"<Say>Thank you. Your account number is AC12345678 and your balance is 12.55</Say>"#,
    r#"</Response>"#
);
const NOT_FOUND: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
    r#"<Say>We were not able to locate you in our system. Goodbye.</Say><Hangup/>"#,
    r#"</Response>"#
);
const GOODBYE: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
    r#"<Say>Sorry, we could not get your details. Goodbye.</Say><Hangup/>"#,
    r#"</Response>"#
);

fn sealed(ring: &KeyRing, call_sid: &str, field: &str, digits: &str) -> String {
    let context = format!("{call_sid}:{field}");
    match seal(digits.as_bytes(), ring.current(), context.as_bytes()) {
        Ok(sealed) => sealed,
        Err(e) => panic!("seal failed: {e:?}"),
    }
}

/// The body the worker would post for this call with these sealed values.
fn body(call_sid: &str, result: GatherResult, values: &[(&str, String)]) -> String {
    let values: Vec<(String, String)> = values
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.clone()))
        .collect();
    Submission {
        call_sid,
        account_sid: "AC0123456789abcdef0123456789abcdef",
        from: "+15551230000",
        to: "+15559870000",
        flow: "default",
        result,
        sealed: &values,
        verified: &[],
        masked: &[],
    }
    .to_json()
}

/// The body of a call that typed `card` and `pin`, sealed for that call.
fn typed(card: &str, pin: &str) -> String {
    let ring = ring(KEY_HEX);
    body(
        CALL_SID,
        GatherResult::Success,
        &[
            ("card", sealed(&ring, CALL_SID, "card", card)),
            ("pin", sealed(&ring, CALL_SID, "pin", pin)),
        ],
    )
}

/// Signs `body` as the worker would and hands it to the demo backend.
fn signed(body: &str) -> DemoReply {
    let header = sign(SECRET, NOW, body.as_bytes());
    answer(body.as_bytes(), Some(&header), SECRET, &ring(KEY_HEX), NOW)
}

/// The TwiML, with `X-Gather-Seal-Result: accepted`.
fn ok(twiml: &str) -> DemoReply {
    DemoReply {
        status: 200,
        twiml: Some(twiml.to_owned()),
        verdict: AppVerdict::Accepted,
    }
}

/// The TwiML, with `X-Gather-Seal-Result: rejected`.
fn rejected(twiml: &str) -> DemoReply {
    DemoReply {
        verdict: AppVerdict::Rejected,
        ..ok(twiml)
    }
}

fn refused(status: u16) -> DemoReply {
    DemoReply {
        status,
        twiml: None,
        verdict: AppVerdict::Unconfirmed,
    }
}

#[test]
fn the_known_caller_hears_the_balance() {
    assert_eq!(signed(&typed("1234", "4321")), ok(FOUND));
}

#[test]
fn anyone_else_hears_not_found_is_hung_up_on_and_rejected() {
    for (card, pin) in [
        ("1234", "4322"),
        ("1235", "4321"),
        ("4321", "1234"),
        ("12345", "4321"),
    ] {
        assert_eq!(
            signed(&typed(card, pin)),
            rejected(NOT_FOUND),
            "{card}/{pin}"
        );
    }
}

#[test]
fn too_many_attempts_says_goodbye_whatever_was_gathered() {
    let ring = ring(KEY_HEX);
    let none = body(CALL_SID, GatherResult::TooManyAttempts, &[]);
    assert_eq!(signed(&none), rejected(GOODBYE));
    let card_only = body(
        CALL_SID,
        GatherResult::TooManyAttempts,
        &[("card", sealed(&ring, CALL_SID, "card", "1234"))],
    );
    assert_eq!(signed(&card_only), rejected(GOODBYE));
}

#[test]
fn a_locked_out_caller_hears_the_locked_message() {
    let locked = body(CALL_SID, GatherResult::Locked, &[]);
    assert_eq!(
        signed(&locked),
        rejected(concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
            r#"<Say>Sorry, there have been too many attempts. Please try again later. Goodbye.</Say>"#,
            r#"<Hangup/></Response>"#
        ))
    );
    for result in [GatherResult::Anonymous, GatherResult::Unavailable] {
        assert_eq!(signed(&body(CALL_SID, result, &[])), rejected(GOODBYE));
    }
}

#[test]
fn an_unsigned_or_badly_signed_submission_is_401() {
    let body = typed("1234", "4321");
    let ring = ring(KEY_HEX);
    let bytes = body.as_bytes();
    let good = sign(SECRET, NOW, bytes);
    let cases = [
        ("no header", None),
        ("an empty header", Some(String::new())),
        ("another secret", Some(sign(b"whsec-other", NOW, bytes))),
        ("another body", Some(sign(SECRET, NOW, b"{}"))),
        (
            "another time",
            Some(good.replace(&NOW.to_string(), &(NOW + 1).to_string())),
        ),
        ("too old", Some(sign(SECRET, NOW - 301, bytes))),
        ("from the future", Some(sign(SECRET, NOW + 301, bytes))),
        ("malformed", Some("t=,v1=".to_owned())),
    ];
    for (why, header) in cases {
        assert_eq!(
            answer(bytes, header.as_deref(), SECRET, &ring, NOW),
            refused(401),
            "{why}"
        );
    }
    // Its twin: the same body, well signed, five minutes either way, is answered.
    for t in [NOW - 300, NOW, NOW + 300] {
        let header = sign(SECRET, t, bytes);
        assert_eq!(
            answer(bytes, Some(&header), SECRET, &ring, NOW),
            ok(FOUND),
            "t={t}"
        );
    }
}

#[test]
fn a_signed_body_that_is_not_a_submission_is_400() {
    for body in [
        "",
        "not json",
        "[]",
        "null",
        r#"{"result":"success"}"#,
        r#"{"callSid":"CA1"}"#,
        r#"{"callSid":1,"result":"success"}"#,
        r#"{"callSid":"CA1","result":true}"#,
        r#"{"callSid":"CA1","result":"success","encryptedCardDigits":5}"#,
    ] {
        assert_eq!(signed(body), refused(400), "{body}");
    }
}

#[test]
fn values_that_do_not_open_for_the_call_are_400() {
    let ring = ring(KEY_HEX);
    let other_ring = common::ring(OTHER_KEY_HEX);
    let card = sealed(&ring, CALL_SID, "card", "1234");
    let pin = sealed(&ring, CALL_SID, "pin", "4321");
    let cases = [
        ("no values", CALL_SID, vec![]),
        ("no PIN", CALL_SID, vec![("card", card.clone())]),
        ("no card", CALL_SID, vec![("pin", pin.clone())]),
        (
            "swapped",
            CALL_SID,
            vec![("card", pin.clone()), ("pin", card.clone())],
        ),
        (
            "another call's CallSid",
            OTHER_CALL_SID,
            vec![("card", card.clone()), ("pin", pin.clone())],
        ),
        (
            "sealed for another call",
            CALL_SID,
            vec![
                ("card", sealed(&ring, OTHER_CALL_SID, "card", "1234")),
                ("pin", sealed(&ring, OTHER_CALL_SID, "pin", "4321")),
            ],
        ),
        (
            "under another key",
            CALL_SID,
            vec![
                ("card", card.clone()),
                ("pin", sealed(&other_ring, CALL_SID, "pin", "4321")),
            ],
        ),
        (
            "not hex",
            CALL_SID,
            vec![("card", "zz".repeat(40)), ("pin", pin.clone())],
        ),
    ];
    for (why, call_sid, values) in cases {
        let body = body(call_sid, GatherResult::Success, &values);
        assert_eq!(signed(&body), refused(400), "{why}");
    }
}

#[test]
fn receive_reports_what_it_opened_and_the_signature_verdict() {
    // The simulator page shows what the demo backend received: the call it is filed under,
    // the signature check, the values opened.
    let good = typed("1234", "4321");
    let header = sign(SECRET, NOW, good.as_bytes());
    let got = receive(good.as_bytes(), Some(&header), SECRET, &ring(KEY_HEX), NOW);
    assert_eq!(got.reply, ok(FOUND));
    assert_eq!(got.signature, Ok(()));
    assert_eq!(got.call_sid.as_deref(), Some(CALL_SID));
    let opened: Vec<(&str, &str)> = got
        .opened
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    assert_eq!(opened, [("card", "1234"), ("pin", "4321")]);

    // A wrong caller's values are opened too (that is how it knows they are wrong).
    let wrong = typed("1234", "0000");
    let header = sign(SECRET, NOW, wrong.as_bytes());
    let got = receive(wrong.as_bytes(), Some(&header), SECRET, &ring(KEY_HEX), NOW);
    assert_eq!(got.reply, rejected(NOT_FOUND));
    assert_eq!(got.opened.len(), 2);

    // Unsigned or signed with another secret: nothing opened, filed under its call all the same.
    for header in [None, Some(sign(b"another-secret", NOW, wrong.as_bytes()))] {
        let got = receive(
            wrong.as_bytes(),
            header.as_deref(),
            SECRET,
            &ring(KEY_HEX),
            NOW,
        );
        assert_eq!(got.reply, refused(401));
        assert!(got.signature.is_err());
        assert!(got.opened.is_empty());
        assert_eq!(got.call_sid.as_deref(), Some(CALL_SID));
    }
    let missing = receive(wrong.as_bytes(), None, SECRET, &ring(KEY_HEX), NOW);
    assert_eq!(missing.signature, Err(SignatureError::Missing));

    // What `answer` does not open is not reported opened: another result than success, values
    // that do not open for the call (swapped fields).
    let ring_ = ring(KEY_HEX);
    let card = sealed(&ring_, CALL_SID, "card", "1234");
    let pin = sealed(&ring_, CALL_SID, "pin", "4321");
    let locked = body(
        CALL_SID,
        GatherResult::Locked,
        &[("card", card.clone()), ("pin", pin.clone())],
    );
    let swapped = body(
        CALL_SID,
        GatherResult::Success,
        &[("card", pin), ("pin", card)],
    );
    for (body, status) in [(locked, 200), (swapped, 400)] {
        let header = sign(SECRET, NOW, body.as_bytes());
        let got = receive(body.as_bytes(), Some(&header), SECRET, &ring_, NOW);
        assert_eq!(got.reply.status, status);
        assert_eq!(got.signature, Ok(()));
        assert!(got.opened.is_empty());
    }

    // A body without a well-formed callSid is filed nowhere.
    for body in [r#"{"callSid":"CA 12"}"#, "not json", "{}"] {
        let header = sign(SECRET, NOW, body.as_bytes());
        let got = receive(body.as_bytes(), Some(&header), SECRET, &ring(KEY_HEX), NOW);
        assert_eq!(got.call_sid, None, "{body}");
        assert_eq!(got.reply, refused(400));
    }
}
