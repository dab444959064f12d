//! The submission an `action` receives (`handoff::submission`): each field's key in its JSON
//! and back, and the JSON itself, byte for byte.

mod common;

use common::CALL_SID;
use gather_seal::flow::GatherResult;
use gather_seal::handoff::{field_name, json_key, Submission};

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
        masked: &[],
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
        masked: &[],
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
            masked: &[],
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
