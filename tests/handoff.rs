//! The hand-off (`handoff`): submission keys and JSON, the signature and its check, the
//! redirect, and how the application's answer becomes the call's next TwiML.

mod common;

use common::{tohex, CALL_SID};
use gather_seal::config::{Anonymous, Field, Flow, Kind, Messages, Then};
use gather_seal::flow::GatherResult;
use gather_seal::handoff::{
    answer_twiml, field_name, json_key, read_answer, redirect_twiml, redirect_url, sign,
    unusable_twiml, verify_submission, Answer, Submission, ANSWER_CAP, DEFAULT_TOLERANCE_SECS,
    SIGNATURE_HEADER,
};
use gather_seal::outcome::Outcome;
use gather_seal::SignatureError;
use sha2::{Digest, Sha256};

const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

// ------------------------------------------------------------------------------------------
// Keys
// ------------------------------------------------------------------------------------------

#[test]
fn json_keys_and_field_names_map_both_ways() {
    let long = "abcdefgh_ijklmnop_qrstuvwx_yz123"; // 32 characters
    assert_eq!(long.len(), 32);
    let pairs = [
        ("pin", "encryptedPinDigits"),
        ("card", "encryptedCardDigits"),
        ("x", "encryptedXDigits"),
        ("a1", "encryptedA1Digits"),
        ("last_four", "encryptedLastFourDigits"),
        ("card2_pin", "encryptedCard2PinDigits"),
        ("a_b_c", "encryptedABCDigits"),
        ("pin_digits", "encryptedPinDigitsDigits"),
        (long, "encryptedAbcdefghIjklmnopQrstuvwxYz123Digits"),
    ];
    for (name, key) in pairs {
        assert_eq!(json_key(name), key);
        assert_eq!(field_name(key).as_deref(), Some(name), "{key}");
    }
}

#[test]
fn field_name_refuses_keys_no_valid_name_gives() {
    for key in [
        "",
        "encryptedDigits",
        "encryptedpinDigits",
        "EncryptedPinDigits",
        "encryptedPin",
        "PinDigits",
        "encryptedPINdigits",
        "encryptedPinDigitsx",
        " encryptedPinDigits",
        "encryptedPin Digits",
        "encryptedPin_codeDigits",
        "encryptedPin_Digits",
        "encryptedPin-CodeDigits",
        "encrypted1PinDigits",
        "encryptedPin1_Digits",
        "encryptedPïnDigits",
        "encryptedStepDigits",
        "encryptedAttemptDigits",
        "encryptedAbcdefghIjklmnopQrstuvwxYz1234Digits", // 33 characters
    ] {
        assert_eq!(field_name(key), None, "{key:?}");
    }
}

/// Over every middle of up to five characters from a small alphabet: whatever `field_name`
/// gives back, `json_key` turns into the very same key.
#[test]
fn field_name_gives_only_names_whose_key_is_the_one_read() {
    let alphabet = ['a', 'b', 'A', 'B', '1', '_', '-'];
    let mut middles = vec![String::new()];
    let mut named = 0;
    for _ in 0..5 {
        let mut longer = Vec::new();
        for m in &middles {
            for c in alphabet {
                longer.push(format!("{m}{c}"));
            }
        }
        for m in &longer {
            let key = format!("encrypted{m}Digits");
            if let Some(name) = field_name(&key) {
                assert_eq!(json_key(&name), key, "{key} read as {name}");
                named += 1;
            }
        }
        middles = longer;
    }
    assert!(named > 100, "too few keys named a field: {named}");
}

// ------------------------------------------------------------------------------------------
// The submission
// ------------------------------------------------------------------------------------------

#[test]
fn the_submission_is_this_json() {
    let sealed = vec![
        ("card".to_owned(), "00ff".repeat(8)),
        ("last_four".to_owned(), "abcd".repeat(8)),
    ];
    let submission = Submission {
        call_sid: CALL_SID,
        account_sid: "AC0123456789abcdef0123456789abcdef",
        from: "+15551230000",
        to: "+15559870000",
        flow: "login",
        result: GatherResult::Success,
        sealed: &sealed,
        verified: &[],
    };
    assert_eq!(
        submission.to_json(),
        concat!(
            r#"{"callSid":"CA0123456789abcdef0123456789abcdef","#,
            r#""accountSid":"AC0123456789abcdef0123456789abcdef","#,
            r#""from":"+15551230000","to":"+15559870000","flow":"login","result":"success","#,
            r#""encryptedCardDigits":"00ff00ff00ff00ff00ff00ff00ff00ff","#,
            r#""encryptedLastFourDigits":"abcdabcdabcdabcdabcdabcdabcdabcd"}"#
        )
    );
}

#[test]
fn a_submission_after_too_many_attempts_escapes_what_twilio_posted() {
    let submission = Submission {
        call_sid: "CA1",
        account_sid: "AC1",
        from: "Anonymous \"caller\"\n\\",
        to: "</to>",
        flow: "default",
        result: GatherResult::TooManyAttempts,
        sealed: &[],
        verified: &[],
    };
    assert_eq!(
        submission.to_json(),
        r#"{"callSid":"CA1","accountSid":"AC1","from":"Anonymous \"caller\"\n\\","to":"</to>","flow":"default","result":"too-many-attempts"}"#
    );
}

#[test]
fn approved_verify_fields_are_listed_after_the_result_and_before_the_values() {
    let sealed = [("pin".to_owned(), "00ff".repeat(8))];
    let submission = |result, sealed: &[(String, String)], verified: &[String]| {
        Submission {
            call_sid: "CA1",
            account_sid: "AC1",
            from: "+15005550001",
            to: "+15559870000",
            flow: "otp",
            result,
            sealed,
            verified,
        }
        .to_json()
    };
    let head = r#"{"callSid":"CA1","accountSid":"AC1","from":"+15005550001","to":"+15559870000","flow":"otp","#;
    let cases = [
        (
            GatherResult::Success,
            &sealed[..],
            vec!["otp".to_owned()],
            r#""result":"success","verified":["otp"],"encryptedPinDigits":"00ff00ff00ff00ff00ff00ff00ff00ff"}"#,
        ),
        (
            GatherResult::Success,
            &[][..],
            vec!["otp".to_owned(), "backup".to_owned()],
            r#""result":"success","verified":["otp","backup"]}"#,
        ),
        (
            GatherResult::VerifyFailed,
            &sealed[..],
            vec!["otp".to_owned()],
            r#""result":"verify-failed","verified":["otp"],"encryptedPinDigits":"00ff00ff00ff00ff00ff00ff00ff00ff"}"#,
        ),
        // None approved: no verified member at all.
        (
            GatherResult::VerifyFailed,
            &sealed[..],
            vec![],
            r#""result":"verify-failed","encryptedPinDigits":"00ff00ff00ff00ff00ff00ff00ff00ff"}"#,
        ),
        (
            GatherResult::VerifyUnavailable,
            &[][..],
            vec![],
            r#""result":"verify-unavailable"}"#,
        ),
    ];
    for (result, values, verified, tail) in cases {
        assert_eq!(
            submission(result, values, &verified),
            format!("{head}{tail}"),
            "{result:?} {verified:?}"
        );
    }
}

#[test]
fn a_failed_code_says_goodbye_and_an_unreachable_verify_apologises() {
    let flow = action_flow(None);
    assert_eq!(
        unusable_twiml(&flow, GatherResult::VerifyFailed),
        unusable_twiml(&flow, GatherResult::TooManyAttempts),
        "the caller gave no valid code"
    );
    assert_eq!(
        unusable_twiml(&flow, GatherResult::VerifyUnavailable),
        format!("{XML}<Response><Say>Sorry, we cannot take your call right now. Please try again later. Goodbye.</Say><Hangup/></Response>")
    );
    assert_eq!(
        unusable_twiml(&flow, GatherResult::VerifyFailed),
        format!("{XML}<Response><Say>Sorry, we could not get your details. Goodbye.</Say><Hangup/></Response>")
    );
}

// ------------------------------------------------------------------------------------------
// Signing
// ------------------------------------------------------------------------------------------

/// HMAC-SHA256 (RFC 2104) written out by hand over the `sha2` hash: key padded to the 64-byte
/// block (hashed first when longer), inner hash with 0x36, outer with 0x5c.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .into()
}

#[test]
fn the_hand_written_hmac_meets_rfc_4231() {
    // RFC 4231, test case 2.
    assert_eq!(
        tohex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // RFC 4231, test case 6: a 131-byte key, hashed first.
    assert_eq!(
        tohex(&hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        )),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
}

#[test]
fn sign_is_hmac_sha256_of_time_dot_body() {
    let cases: [(&[u8], u64, &[u8]); 5] = [
        (
            b"whsec_test_secret",
            1_700_000_000,
            br#"{"callSid":"CA1","result":"success"}"#,
        ),
        (&[b'k'; 100], 1, b""),
        (b"", 0, b""),
        (b"s", u64::MAX, b"\x00\xff binary body"),
        (b"whsec", 1_700_000_000, b"1700000000.{}"),
    ];
    for (secret, t, body) in cases {
        let mut message = format!("{t}.").into_bytes();
        message.extend_from_slice(body);
        let expected = format!("t={t},v1={}", tohex(&hmac_sha256(secret, &message)));
        assert_eq!(sign(secret, t, body), expected, "t={t}");
    }
}

#[test]
fn sign_matches_python_s_hmac() {
    // Each from python3 -c 'import hmac,hashlib;print(hmac.new(SECRET,MESSAGE,hashlib.sha256).hexdigest())'
    // with SECRET and MESSAGE as in the comment on each line.
    assert_eq!(
        // b"whsec_test_secret", b'1700000000.{"callSid":"CA1","result":"success"}'
        sign(
            b"whsec_test_secret",
            1_700_000_000,
            br#"{"callSid":"CA1","result":"success"}"#
        ),
        "t=1700000000,v1=24911d9ba325d7fd1d9de6aac331abdc6f602ba9e81d961aa79fc33305950064"
    );
    assert_eq!(
        // b"k" * 100, b"1."
        sign(&[b'k'; 100], 1, b""),
        "t=1,v1=f380fa061ddac7555fce09c4f9d5ba3c4d7eb9115eaa097dd2c14988a18ae793"
    );
    assert_eq!(
        // b"", b"0."
        sign(b"", 0, b""),
        "t=0,v1=b849d5a581847b281957065739df36df2463d1977ea8d6e1e4e6cf33fadc68c3"
    );
    // Its twin: one bit of the body, secret or time changes the tag.
    let tag = sign(b"whsec_test_secret", 1_700_000_000, br#"{"callSid":"CA1"}"#);
    assert_ne!(
        tag,
        sign(b"whsec_test_secreu", 1_700_000_000, br#"{"callSid":"CA1"}"#)
    );
    assert_ne!(
        tag,
        sign(b"whsec_test_secret", 1_700_000_001, br#"{"callSid":"CA1"}"#)
    );
    assert_ne!(
        tag,
        sign(b"whsec_test_secret", 1_700_000_000, br#"{"callSid":"CA2"}"#)
    );
    assert_eq!(SIGNATURE_HEADER, "X-Gather-Seal-Signature");
}

// ------------------------------------------------------------------------------------------
// Verifying
// ------------------------------------------------------------------------------------------

const T: u64 = 1_700_000_000;
const BODY: &[u8] = br#"{"callSid":"CA1","result":"success"}"#;
const OLD: &[u8] = b"whsec-old";
const NEW: &[u8] = b"whsec-new";

fn tag(secret: &[u8], t: u64, body: &[u8]) -> String {
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    tohex(&hmac_sha256(secret, &message))
}

fn check(header: Option<&str>, now: u64) -> Result<(), SignatureError> {
    verify_submission(BODY, header, &[OLD, NEW], 300, now)
}

#[test]
fn verify_accepts_any_of_the_secrets() {
    for secret in [OLD, NEW] {
        let header = sign(secret, T, BODY);
        assert_eq!(check(Some(&header), T), Ok(()));
        assert_eq!(
            verify_submission(BODY, Some(&header), &[secret], 300, T),
            Ok(())
        );
    }
    let other = sign(b"whsec-other", T, BODY);
    assert_eq!(check(Some(&other), T), Err(SignatureError::Bad));
    assert_eq!(
        verify_submission(BODY, Some(&sign(NEW, T, BODY)), &[], 300, T),
        Err(SignatureError::Bad),
        "no secret at all"
    );
    assert_eq!(DEFAULT_TOLERANCE_SECS, 300);
}

#[test]
fn verify_refuses_a_tampered_body() {
    let header = sign(NEW, T, BODY);
    for body in [
        &br#"{"callSid":"CA2","result":"success"}"#[..],
        br#"{"callSid":"CA1","result":"success"} "#,
        br#"{"callSid":"CA1","result":"success""#,
        b"",
    ] {
        assert_eq!(
            verify_submission(body, Some(&header), &[OLD, NEW], 300, T),
            Err(SignatureError::Bad),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn verify_needs_a_header() {
    for header in [None, Some(""), Some("   "), Some("\t\n")] {
        assert_eq!(check(header, T), Err(SignatureError::Missing), "{header:?}");
    }
}

#[test]
fn verify_refuses_malformed_headers() {
    let good = tag(NEW, T, BODY);
    let short = &good[..62];
    let cases = [
        ("no t", format!("v1={good}")),
        ("two t", format!("t={T},t={T},v1={good}")),
        (
            "two t, the second different",
            format!("t={T},v1={good},t=1"),
        ),
        ("empty t", format!("t=,v1={good}")),
        ("a letter in t", format!("t={T}x,v1={good}")),
        ("a negative t", format!("t=-{T},v1={good}")),
        ("a signed t", format!("t=+{T},v1={good}")),
        (
            "t past 19 digits",
            format!("t=0{},v1={good}", "1".repeat(19)),
        ),
        ("t with a space inside", format!("t=17 00000000,v1={good}")),
        ("no v1", format!("t={T}")),
        ("v1 empty", format!("t={T},v1=")),
        ("v1 not hex", format!("t={T},v1={}", "zz".repeat(32))),
        ("v1 short", format!("t={T},v1={short}")),
        ("v1 long", format!("t={T},v1={good}00")),
        ("v1 odd", format!("t={T},v1={good}0")),
        ("only v0", format!("t={T},v0={good}")),
        ("key in the wrong case", format!("T={T},V1={good}")),
        ("no =", format!("t{T},v1{good}")),
        ("a stray word", "signature".to_owned()),
    ];
    for (why, header) in cases {
        assert_eq!(
            check(Some(&header), T),
            Err(SignatureError::Bad),
            "{why}: {header}"
        );
    }
}

#[test]
fn verify_reads_the_header_leniently_only_where_harmless() {
    let good = tag(NEW, T, BODY);
    let wrong = tag(b"whsec-other", T, BODY);
    for header in [
        format!("t={T},v1={good}"),
        format!("v1={good},t={T}"),
        format!(" t={T} , v1={good} "),
        format!("t={T},v1={wrong},v1={good}"),
        format!("t={T},v0=whatever,v1={good},v2=later"),
        format!("t={T},v1=nothex,v1={good}"),
        format!("t=000{T},v1={good}"),
    ] {
        assert_eq!(check(Some(&header), T), Ok(()), "{header}");
    }
}

/// A header with `t=T` and these `v1` tags, in order.
fn header_with(tags: &[String]) -> String {
    let mut header = format!("t={T}");
    for tag in tags {
        header.push_str(",v1=");
        header.push_str(tag);
    }
    header
}

#[test]
fn verify_takes_at_most_eight_v1_entries() {
    let good = tag(NEW, T, BODY);
    let wrong = |i: u8| tag(&[b'x', i], T, BODY);
    for count in 1..=8u8 {
        // The right tag last, after wrong ones: every entry up to the eighth is compared.
        let mut tags: Vec<String> = (1..count).map(wrong).collect();
        tags.push(good.clone());
        assert_eq!(
            check(Some(&header_with(&tags)), T),
            Ok(()),
            "{count} entries"
        );
    }
    let nine = |at: usize| {
        let mut tags: Vec<String> = (0..9).map(wrong).collect();
        tags[at] = good.clone();
        header_with(&tags)
    };
    for at in [0, 4, 8] {
        assert_eq!(
            check(Some(&nine(at)), T),
            Err(SignatureError::Bad),
            "nine entries, the right one at {at}"
        );
    }
    // Malformed entries count towards the cap; other schemes do not.
    let mut tags = vec!["nothex".to_owned(); 8];
    tags.push(good.clone());
    assert_eq!(
        check(Some(&header_with(&tags)), T),
        Err(SignatureError::Bad)
    );
    let mut tags = vec!["nothex".to_owned(); 7];
    tags.push(good.clone());
    assert_eq!(check(Some(&header_with(&tags)), T), Ok(()));
    let header = format!(
        "{},{}",
        header_with(std::slice::from_ref(&good)),
        "v0=old,".repeat(50)
    );
    assert_eq!(check(Some(&header), T), Ok(()), "fifty v0 entries");
    // 235 entries, the forged request of issue 14: refused, the right tag among them or not.
    let mut many: Vec<String> = (0..235).map(|i| wrong(i as u8)).collect();
    assert_eq!(
        check(Some(&header_with(&many)), T),
        Err(SignatureError::Bad)
    );
    many[117] = good;
    assert_eq!(
        check(Some(&header_with(&many)), T),
        Err(SignatureError::Bad)
    );
}

#[test]
fn verify_compares_every_tag_with_every_secret_s_mac() {
    const THIRD: &[u8] = b"whsec-third";
    let secrets = [OLD, NEW, THIRD];
    let wrong: Vec<String> = (0..7u8).map(|i| tag(&[b'y', i], T, BODY)).collect();
    for secret in secrets {
        let good = tag(secret, T, BODY);
        // The one right tag at every place among seven wrong ones.
        for at in 0..=wrong.len() {
            let mut tags = wrong.clone();
            tags.insert(at, good.clone());
            assert_eq!(
                verify_submission(BODY, Some(&header_with(&tags)), &secrets, 300, T),
                Ok(()),
                "secret {}, tag at {at}",
                String::from_utf8_lossy(secret)
            );
            // The same header is refused by a receiver without that secret.
            let others: Vec<&[u8]> = secrets.iter().copied().filter(|s| *s != secret).collect();
            assert_eq!(
                verify_submission(BODY, Some(&header_with(&tags)), &others, 300, T),
                Err(SignatureError::Bad)
            );
        }
    }
    // Tags of two secrets side by side, and the same tag twice.
    let both = [tag(OLD, T, BODY), tag(THIRD, T, BODY)];
    assert_eq!(
        verify_submission(BODY, Some(&header_with(&both)), &secrets, 300, T),
        Ok(())
    );
    let twice = [tag(NEW, T, BODY), tag(NEW, T, BODY)];
    assert_eq!(
        verify_submission(BODY, Some(&header_with(&twice)), &[NEW], 300, T),
        Ok(())
    );
    assert_eq!(
        verify_submission(BODY, Some(&header_with(&wrong)), &secrets, 300, T),
        Err(SignatureError::Bad)
    );
}

#[test]
fn verify_holds_the_time_to_the_tolerance_either_way() {
    for (t, now, expected) in [
        (T, T + 300, Ok(())),
        (T, T - 300, Ok(())),
        (T, T + 301, Err(SignatureError::Stale)),
        (T, T - 301, Err(SignatureError::Stale)),
        (T, T + 86_400, Err(SignatureError::Stale)),
        (0, u64::MAX, Err(SignatureError::Stale)),
        (9_999_999_999_999_999_999, 0, Err(SignatureError::Stale)), // the most digits t takes
    ] {
        let header = sign(NEW, t, BODY);
        assert_eq!(check(Some(&header), now), expected, "t={t} now={now}");
    }
    // Tolerance zero: only the same second.
    let header = sign(NEW, T, BODY);
    assert_eq!(verify_submission(BODY, Some(&header), &[NEW], 0, T), Ok(()));
    assert_eq!(
        verify_submission(BODY, Some(&header), &[NEW], 0, T + 1),
        Err(SignatureError::Stale)
    );
    // A stale header under a wrong secret is a bad signature, not a stale one.
    let wrong = sign(b"whsec-other", T, BODY);
    assert_eq!(check(Some(&wrong), T + 10_000), Err(SignatureError::Bad));
}

// ------------------------------------------------------------------------------------------
// then.redirect
// ------------------------------------------------------------------------------------------

fn sealed_pair() -> Vec<(String, String)> {
    vec![
        ("card".to_owned(), "0a".repeat(30)),
        ("last_four".to_owned(), "0b".repeat(30)),
    ]
}

#[test]
fn redirect_url_adds_the_result_and_values_to_the_query() {
    let (a, b) = ("0a".repeat(30), "0b".repeat(30));
    assert_eq!(
        redirect_url("https://app.example.com/next", GatherResult::Success, &sealed_pair(), &[]),
        format!("https://app.example.com/next?result=success&encryptedCardDigits={a}&encryptedLastFourDigits={b}")
    );
    assert_eq!(
        redirect_url(
            "https://webhooks.twilio.com/v1/Accounts/AC1/Flows/FW1?FlowEvent=return",
            GatherResult::Success,
            &sealed_pair(),
            &[]
        ),
        format!("https://webhooks.twilio.com/v1/Accounts/AC1/Flows/FW1?FlowEvent=return&result=success&encryptedCardDigits={a}&encryptedLastFourDigits={b}")
    );
    assert_eq!(
        redirect_url(
            "https://app.example.com/next",
            GatherResult::TooManyAttempts,
            &[],
            &[]
        ),
        "https://app.example.com/next?result=too-many-attempts"
    );
    // Approved verify fields are named, before the values.
    assert_eq!(
        redirect_url(
            "https://app.example.com/next",
            GatherResult::Success,
            &sealed_pair()[..1],
            &["otp".to_owned(), "otp2".to_owned()]
        ),
        format!(
            "https://app.example.com/next?result=success&verified=otp,otp2&encryptedCardDigits={a}"
        )
    );
    assert_eq!(
        redirect_url(
            "https://app.example.com/next",
            GatherResult::VerifyFailed,
            &[],
            &[]
        ),
        "https://app.example.com/next?result=verify-failed"
    );
}

#[test]
fn redirect_twiml_escapes_the_url() {
    let a = "0a".repeat(30);
    assert_eq!(
        redirect_twiml(
            "https://app.example.com/next?x=1",
            GatherResult::Success,
            &sealed_pair()[..1],
            &[]
        ),
        format!(
            r#"{XML}<Response><Redirect method="POST">https://app.example.com/next?x=1&amp;result=success&amp;encryptedCardDigits={a}</Redirect></Response>"#
        )
    );
}

// ------------------------------------------------------------------------------------------
// The application's answer
// ------------------------------------------------------------------------------------------

const TWIML: &str =
    r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say>Welcome back.</Say></Response>"#;

fn twiml(body: &str) -> Answer {
    read_answer(200, Some("text/xml"), Some(body))
}

#[test]
fn status_and_size_come_first() {
    for status in [200, 201, 204, 299] {
        assert_eq!(
            read_answer(status, Some("text/xml"), Some(TWIML)),
            Answer::Twiml(TWIML.into()),
            "{status}"
        );
    }
    for status in [0, 100, 199, 300, 302, 400, 401, 404, 500, 503] {
        assert_eq!(
            read_answer(status, Some("text/xml"), Some(TWIML)),
            Answer::Unusable(Outcome::AppErrorStatus),
            "{status}"
        );
        assert_eq!(
            read_answer(status, Some("text/xml"), None),
            Answer::Unusable(Outcome::AppErrorStatus),
            "{status}, too large"
        );
    }
    assert_eq!(
        read_answer(200, Some("text/xml"), None),
        Answer::Unusable(Outcome::AppAnswerTooLarge)
    );
    assert_eq!(ANSWER_CAP, 65_536);
}

#[test]
fn only_xml_and_json_content_types_are_read() {
    for content_type in [
        "text/xml",
        "application/xml",
        "TEXT/XML",
        "text/xml; charset=utf-8",
        "  application/xml ;charset=UTF-8",
    ] {
        assert_eq!(
            read_answer(200, Some(content_type), Some(TWIML)),
            Answer::Twiml(TWIML.into()),
            "{content_type}"
        );
    }
    for content_type in [
        None,
        Some(""),
        Some("text/html"),
        Some("text/plain"),
        Some("application/twiml+xml"),
        Some("application/octet-stream"),
        Some("text/xml-ish"),
        Some("xml"),
    ] {
        assert_eq!(
            read_answer(200, content_type, Some(TWIML)),
            Answer::Unusable(Outcome::AppWrongContentType),
            "{content_type:?}"
        );
    }
}

#[test]
fn twiml_is_relayed_when_well_formed_with_a_response_root() {
    for body in [
        TWIML,
        "<Response/>",
        "<Response></Response>",
        "\n  <Response>\n  <Say>Hi</Say>\n</Response>\n",
        r#"<?xml version="1.0"?><!-- a comment --><Response><Say voice="alice">A &amp; B &lt; C &#233; &#x263A;</Say></Response>"#,
        "<Response><Say><![CDATA[a < b]]></Say><Hangup/></Response>",
        r#"<Response><Say>x</Say><?pi data?><Redirect method="POST">https://a.example/?x=1&amp;y=2</Redirect></Response>"#,
        // The same attribute name on two elements is fine; only within one tag is it not.
        r#"<Response><Say voice="alice" language="en-US">a</Say><Say voice="alice">b</Say></Response>"#,
    ] {
        assert_eq!(twiml(body), Answer::Twiml(body.into()), "{body}");
    }
}

#[test]
fn anything_else_in_xml_is_bad_twiml() {
    let cases = [
        ("empty", ""),
        ("text", "Hello"),
        ("unclosed root", "<Response>"),
        ("unclosed child", "<Response><Say>Hi</Response>"),
        (
            "crossed tags",
            "<Response><Say><Play></Say></Play></Response>",
        ),
        ("a close without an open", "</Response>"),
        ("a wrong root", "<Reply><Say>Hi</Say></Reply>"),
        ("a lowercase root", "<response/>"),
        (
            "a prefixed root",
            r#"<tw:Response xmlns:tw="https://www.twilio.com/twiml"/>"#,
        ),
        (
            "a root in a default namespace",
            r#"<Response xmlns="urn:example:other"><Say>Hi</Say></Response>"#,
        ),
        ("two roots", "<Response/><Response/>"),
        (
            "an attribute given twice",
            r#"<Response><Say voice="alice" voice="man">Hi</Say></Response>"#,
        ),
        (
            "an attribute given twice on an empty element",
            r#"<Response><Pause length="1" length="2"/></Response>"#,
        ),
        ("text after the root", "<Response/>trailing"),
        ("text before the root", "leading<Response/>"),
        ("a DTD", "<!DOCTYPE Response><Response/>"),
        (
            "an entity declared",
            r#"<!DOCTYPE Response [<!ENTITY x "boom">]><Response><Say>&x;</Say></Response>"#,
        ),
        (
            "an undefined entity",
            "<Response><Say>&nbsp;</Say></Response>",
        ),
        ("a bare ampersand", "<Response><Say>A & B</Say></Response>"),
        ("a reference to NUL", "<Response><Say>&#0;</Say></Response>"),
        (
            "a reference past Unicode",
            "<Response><Say>&#x110000;</Say></Response>",
        ),
        (
            "a reference to a surrogate",
            "<Response><Say>&#xD800;</Say></Response>",
        ),
        (
            "a reference to U+FFFE, not an XML character",
            "<Response><Say>&#xFFFE;</Say></Response>",
        ),
        (
            "a reference to U+FFFF, not an XML character",
            "<Response><Say>&#65535;</Say></Response>",
        ),
        (
            "a signed decimal reference",
            "<Response><Say>&#+65;</Say></Response>",
        ),
        (
            "a signed hex reference",
            "<Response><Say>&#x+41;</Say></Response>",
        ),
        (
            "an uppercase X reference",
            "<Response><Say>&#X41;</Say></Response>",
        ),
        ("an empty reference", "<Response><Say>&#;</Say></Response>"),
        (
            "a bad reference in an attribute",
            r#"<Response><Say voice="&bogus;">Hi</Say></Response>"#,
        ),
        (
            "an unquoted attribute",
            "<Response><Say voice=alice>Hi</Say></Response>",
        ),
        ("CDATA outside the root", "<![CDATA[x]]><Response/>"),
        ("a JSON body", r#"{"account": "AC1", "balance": "1"}"#),
    ];
    for (why, body) in cases {
        assert_eq!(
            twiml(body),
            Answer::Unusable(Outcome::AppBadTwiml),
            "{why}: {body}"
        );
    }
}

fn json(body: &str) -> Answer {
    read_answer(200, Some("application/json; charset=utf-8"), Some(body))
}

fn account(account: &str, balance: &str) -> Answer {
    Answer::Account {
        account: account.into(),
        balance: balance.into(),
    }
}

#[test]
fn json_with_a_speakable_account_and_balance_is_read() {
    let sixty_four = "9".repeat(64);
    let cases = [
        (
            r#"{"account":"AC12345678","balance":"12.55"}"#,
            account("AC12345678", "12.55"),
        ),
        (
            r#"{"account":12345678,"balance":12.55}"#,
            account("12345678", "12.55"),
        ),
        (
            r#"{"account":"A","balance":-3,"currency":"USD"}"#,
            account("A", "-3"),
        ),
        (r#" {"balance":"0","account":"x y"} "#, account("x y", "0")),
        // A number is said as the shortest text that reads back the same, less ".0".
        (r#"{"account":"A","balance":12.50}"#, account("A", "12.5")),
        (r#"{"account":"A","balance":3.0}"#, account("A", "3")),
        (r#"{"account":"A","balance":-0.25}"#, account("A", "-0.25")),
        (r#"{"account":"A","balance":1.5e3}"#, account("A", "1500")),
        (
            r#"{"account":18446744073709551615,"balance":-9223372036854775808}"#,
            account("18446744073709551615", "-9223372036854775808"),
        ),
        (
            &format!(r#"{{"account":"{sixty_four}","balance":"1"}}"#),
            account(&sixty_four, "1"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(json(body), expected, "{body}");
    }
}

#[test]
fn json_that_cannot_be_spoken_is_bad_json() {
    let sixty_five = "9".repeat(65);
    for body in [
        "",
        "not json",
        "[]",
        "null",
        r#""AC1""#,
        r#"{"account":"AC1"}"#,
        r#"{"balance":"1"}"#,
        r#"{"account":"","balance":"1"}"#,
        r#"{"account":"AC1","balance":null}"#,
        r#"{"account":true,"balance":"1"}"#,
        r#"{"account":["AC1"],"balance":"1"}"#,
        r#"{"account":{"id":1},"balance":"1"}"#,
        r#"{"account":"AC\n1","balance":"1"}"#,
        r#"{"account":"AC\u0000","balance":"1"}"#,
        r#"{"account":"AC1","balance":1e300}"#,
        r#"{"account":"AC1","balance":1e-7}"#,
        r#"{"account":"AC1","account":"AC2","balance":"1"}"#,
        r#"{"account":"AC1","balance":"1","balance":"2"}"#,
        &format!(r#"{{"account":"{sixty_five}","balance":"1"}}"#),
        r#"{"account":"AC1","balance":"1"} trailing"#,
    ] {
        assert_eq!(json(body), Answer::Unusable(Outcome::AppBadJson), "{body}");
    }
}

// ------------------------------------------------------------------------------------------
// The TwiML after an action
// ------------------------------------------------------------------------------------------

fn action_flow(fallback: Option<&str>) -> Flow {
    Flow {
        name: "login".into(),
        fields: vec![Field {
            name: "pin".into(),
            prompt: "PIN?".into(),
            kind: Kind::Digits(4),
        }],
        then: Then::Action {
            url: "https://app.example.com/done".into(),
            fallback: fallback.map(str::to_owned),
        },
        attempts: 3,
        timeout_secs: 10,
        language: None,
        voice: None,
        messages: Messages::default(),
        limits: None,
        count_by: Vec::new(),
        anonymous: Anonymous::Refuse,
    }
}

#[test]
fn application_twiml_is_relayed_as_it_is() {
    let flow = action_flow(Some("https://app.example.com/sorry"));
    for result in [GatherResult::Success, GatherResult::TooManyAttempts] {
        assert_eq!(
            answer_twiml(&flow, result, Answer::Twiml(TWIML.into())),
            (Outcome::HandedOff, TWIML.to_owned())
        );
    }
}

#[test]
fn an_account_is_thanked_in_the_flow_s_words() {
    let mut flow = action_flow(None);
    assert_eq!(
        answer_twiml(&flow, GatherResult::Success, account("AC12345678", "12.55")),
        (
            Outcome::HandedOffAccount,
            format!("{XML}<Response><Say>Thank you. Your account number is AC12345678 and your balance is 12.55</Say></Response>")
        )
    );
    flow.language = Some("fr-FR".into());
    flow.voice = Some("Polly.Celine".into());
    flow.messages.thanks = "Solde {balance} & compte {account}, je répète : {account}.".into();
    assert_eq!(
        answer_twiml(&flow, GatherResult::Success, account("<AC1>", "3")),
        (
            Outcome::HandedOffAccount,
            format!(
                r#"{XML}<Response><Say voice="Polly.Celine" language="fr-FR">Solde 3 &amp; compte &lt;AC1&gt;, je répète : &lt;AC1&gt;.</Say></Response>"#
            )
        )
    );
    flow.messages.thanks = "Merci.".into();
    assert_eq!(
        answer_twiml(&flow, GatherResult::Success, account("AC1", "3")).1,
        format!(
            r#"{XML}<Response><Say voice="Polly.Celine" language="fr-FR">Merci.</Say></Response>"#
        )
    );
}

#[test]
fn an_account_is_spoken_as_written_not_read_as_a_placeholder() {
    let flow = action_flow(None);
    let (_, xml) = answer_twiml(&flow, GatherResult::Success, account("{balance}", "12.55"));
    assert_eq!(
        xml,
        format!("{XML}<Response><Say>Thank you. Your account number is {{balance}} and your balance is 12.55</Say></Response>")
    );
}

#[test]
fn an_unusable_answer_redirects_to_the_fallback() {
    let flow = action_flow(Some("https://app.example.com/sorry?a=1&b=2"));
    let redirect = format!(
        r#"{XML}<Response><Redirect method="POST">https://app.example.com/sorry?a=1&amp;b=2</Redirect></Response>"#
    );
    for result in [GatherResult::Success, GatherResult::TooManyAttempts] {
        assert_eq!(unusable_twiml(&flow, result), redirect);
        assert_eq!(
            answer_twiml(&flow, result, Answer::Unusable(Outcome::AppBadJson)),
            (Outcome::AppBadJson, redirect.clone())
        );
    }
}

#[test]
fn without_a_fallback_the_caller_hears_goodbye_or_the_apology() {
    let mut flow = action_flow(None);
    assert_eq!(
        unusable_twiml(&flow, GatherResult::TooManyAttempts),
        format!("{XML}<Response><Say>Sorry, we could not get your details. Goodbye.</Say><Hangup/></Response>")
    );
    assert_eq!(
        unusable_twiml(&flow, GatherResult::Success),
        format!("{XML}<Response><Say>Sorry, we cannot take your call right now. Please try again later. Goodbye.</Say><Hangup/></Response>")
    );
    assert_eq!(
        answer_twiml(
            &flow,
            GatherResult::Success,
            Answer::Unusable(Outcome::AppErrorStatus)
        ),
        (
            Outcome::AppErrorStatus,
            unusable_twiml(&flow, GatherResult::Success)
        )
    );
    flow.language = Some("es-MX".into());
    flow.voice = Some("Polly.Mia".into());
    flow.messages.goodbye = "Adiós.".into();
    flow.messages.apology = "Lo sentimos.".into();
    let say = r#"<Say voice="Polly.Mia" language="es-MX">"#;
    assert_eq!(
        unusable_twiml(&flow, GatherResult::TooManyAttempts),
        format!("{XML}<Response>{say}Adiós.</Say><Hangup/></Response>")
    );
    assert_eq!(
        unusable_twiml(&flow, GatherResult::Success),
        format!("{XML}<Response>{say}Lo sentimos.</Say><Hangup/></Response>")
    );
    // A redirect flow has no fallback either.
    flow.then = Then::Redirect {
        url: "https://app.example.com/next".into(),
    };
    assert_eq!(
        unusable_twiml(&flow, GatherResult::Success),
        format!("{XML}<Response>{say}Lo sentimos.</Say><Hangup/></Response>")
    );
}
