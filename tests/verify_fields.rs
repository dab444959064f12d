//! Verify fields: a one-time code sent and checked with Twilio Verify. When a code is sent
//! (`flow::code_to_send`) and checked (`flow::code_to_check`), what the flow makes of Verify's
//! word, an approved code carried on as a sealed marker (never as the code), and the hand-off
//! naming the approved fields.

mod common;

use common::gather::advance_turn as advance;
use common::gather::{
    opened, otp_then_pin, pin_then_otp, sealed_for, state, step, two_codes, walk, CODE, NOW, PIN,
};
use common::{ring, CALL_SID, KEY_HEX, OTHER_CALL_SID, OTHER_KEY_HEX};
use gather_seal::config::{Channel, Flow};
use gather_seal::flow::{
    code_to_check, code_to_send, hand_off, CallState, CodeCheck, GatherResult, Prompt, Turn,
};
use gather_seal::kinds::{Mistake, CODE_MAX, CODE_MIN};
use gather_seal::{CallError, Error, KeyRing};

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

fn checked(
    flow: &Flow,
    ring: &KeyRing,
    state: Option<CallState>,
    digits: Option<&str>,
    check: Option<CodeCheck>,
) -> Turn {
    match advance(flow, ring, CALL_SID, state, digits, NOW, check) {
        Ok(turn) => turn,
        Err(e) => panic!("advance failed: {e:?}"),
    }
}

/// The marker an approved field rides along as, sealed here for this call and field.
fn marker(ring: &KeyRing, field: &str) -> String {
    sealed_for(ring, CALL_SID, field, "verified")
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// [`walk`] for this test's call.
fn verified_call(flow: &Flow, ring: &KeyRing, typed: &[&str]) -> (Turn, Vec<Channel>, Vec<String>) {
    walk(flow, ring, CALL_SID, typed)
}

/// A flow and where its code is asked: the field's index, what is carried there (values and
/// the markers of verify fields approved before), and the verify fields approved before
/// (named in `verified`).
type CodePosition = (Flow, usize, Vec<(String, String)>, Vec<String>);

/// Each flow's code, first, after a PIN, and after a code and a PIN.
fn code_positions(ring: &KeyRing) -> Vec<CodePosition> {
    let pin_value = sealed_for(ring, CALL_SID, "pin", PIN);
    let otp_marker = marker(ring, "otp");
    vec![
        (otp_then_pin(), 0, vec![], vec![]),
        (pin_then_otp(), 1, owned(&[("pin", &pin_value)]), vec![]),
        (
            two_codes(),
            2,
            owned(&[("otp", &otp_marker), ("pin", &pin_value)]),
            vec!["otp".to_owned()],
        ),
    ]
}

/// The part of what is carried that a hand-off passes on as values.
fn values_only(carried: &[(String, String)]) -> Vec<(String, String)> {
    carried
        .iter()
        .filter(|(name, _)| name == "pin")
        .cloned()
        .collect()
}

fn carried_state(index: usize, attempt: u8, carried: &[(String, String)]) -> CallState {
    CallState {
        field: index,
        attempt,
        sealed: carried.to_vec(),
        pending: None,
    }
}

// ------------------------------------------------------------------------------------------
// Sending and checking
// ------------------------------------------------------------------------------------------

#[test]
fn a_code_is_sent_only_when_a_verify_field_is_first_asked() {
    let ring = ring(KEY_HEX);
    // A verify field first: the call coming in asks it, so a code is sent then.
    let flow = otp_then_pin();
    let first = step(&flow, &ring, CALL_SID, None, None);
    assert_eq!(
        first,
        Turn::Ask {
            state: state(0, 1, &[]),
            retry: false,
            mistake: None,
            prompt: Prompt::Field,
        }
    );
    assert_eq!(code_to_send(&flow, &first), Some(Channel::Call));
    // A retry asks again for the code already sent.
    let retry = checked(
        &flow,
        &ring,
        Some(state(0, 1, &[])),
        Some(CODE),
        Some(CodeCheck::Denied),
    );
    assert!(matches!(retry, Turn::Ask { retry: true, .. }), "{retry:?}");
    assert_eq!(code_to_send(&flow, &retry), None);
    let malformed = checked(&flow, &ring, Some(state(0, 2, &[])), Some("12"), None);
    assert!(matches!(malformed, Turn::Ask { retry: true, .. }));
    assert_eq!(code_to_send(&flow, &malformed), None);
    // Approved: the PIN is asked next, and no code is sent for it.
    let next = checked(
        &flow,
        &ring,
        Some(state(0, 1, &[])),
        Some(CODE),
        Some(CodeCheck::Approved),
    );
    assert!(matches!(&next, Turn::Ask { state, retry: false, .. } if state.field == 1));
    assert_eq!(code_to_send(&flow, &next), None);

    // A verify field second: the code is sent when the PIN before it is taken.
    let flow = pin_then_otp();
    let first = step(&flow, &ring, CALL_SID, None, None);
    assert_eq!(code_to_send(&flow, &first), None, "the PIN comes first");
    let next = step(&flow, &ring, CALL_SID, Some(state(0, 1, &[])), Some(PIN));
    assert!(matches!(&next, Turn::Ask { state, retry: false, .. } if state.field == 1));
    assert_eq!(code_to_send(&flow, &next), Some(Channel::Sms));
    // A wrong PIN asks the PIN again: no code yet.
    let again = step(&flow, &ring, CALL_SID, Some(state(0, 1, &[])), Some("12"));
    assert!(matches!(&again, Turn::Ask { state, retry: true, .. } if state.field == 0));
    assert_eq!(code_to_send(&flow, &again), None);

    // Each verify field has its own channel; a hand-off sends nothing.
    let flow = two_codes();
    let pin_value = sealed_for(&ring, CALL_SID, "pin", PIN);
    let otp_marker = marker(&ring, "otp");
    let at_backup = step(
        &flow,
        &ring,
        CALL_SID,
        Some(state(1, 1, &[("otp", &otp_marker)])),
        Some(PIN),
    );
    assert!(matches!(&at_backup, Turn::Ask { state, retry: false, .. } if state.field == 2));
    assert_eq!(code_to_send(&flow, &at_backup), Some(Channel::Call));
    let done = checked(
        &flow,
        &ring,
        Some(state(2, 1, &[("otp", &otp_marker), ("pin", &pin_value)])),
        Some(CODE),
        Some(CodeCheck::Approved),
    );
    assert!(matches!(done, Turn::HandOff { .. }), "{done:?}");
    assert_eq!(code_to_send(&flow, &done), None);
    // A hand-built turn past the last field sends nothing either.
    let past = Turn::Ask {
        state: state(3, 1, &[]),
        retry: false,
        mistake: None,
        prompt: Prompt::Field,
    };
    assert_eq!(code_to_send(&flow, &past), None);
}

#[test]
fn a_code_is_checked_only_at_a_verify_field_and_only_when_it_has_a_code_s_shape() {
    let flow = pin_then_otp();
    let a = "00ff".repeat(16);
    let at_otp = state(1, 1, &[("pin", &a)]);
    let at_pin = state(0, 1, &[]);
    let past = state(2, 1, &[]);
    let four = "1".repeat(4);
    let ten = "9".repeat(10);
    let eleven = "9".repeat(11);
    for code in ["1234", "0000", CODE, "0123456789", &four, &ten] {
        assert_eq!(
            code_to_check(&flow, Some(&at_otp), Some(code)),
            Some(code),
            "{code}"
        );
        assert_eq!(code_to_check(&flow, Some(&at_pin), Some(code)), None);
        assert_eq!(code_to_check(&flow, Some(&past), Some(code)), None);
        assert_eq!(code_to_check(&flow, None, Some(code)), None);
    }
    for digits in [
        Some("123"),
        Some(eleven.as_str()),
        Some(""),
        Some("12a456"),
        Some("abcdef"),
        Some(" 123456"),
        Some("123456#"),
        Some("１２３４５６"),
        Some("-12345"),
        None,
    ] {
        assert_eq!(
            code_to_check(&flow, Some(&at_otp), digits),
            None,
            "{digits:?}"
        );
    }
    assert_eq!((CODE_MIN, CODE_MAX), (4, 10));
}

#[test]
fn a_whole_call_with_a_code_sends_once_checks_each_code_and_names_the_field() {
    let ring = ring(KEY_HEX);
    let (turn, sends, checks) = verified_call(&pin_then_otp(), &ring, &[PIN, "654321", CODE]);
    let Turn::HandOff {
        result,
        sealed,
        verified,
    } = turn
    else {
        unreachable!()
    };
    assert_eq!(result, GatherResult::Success);
    assert_eq!(verified, ["otp"]);
    assert_eq!(sealed.len(), 1);
    assert_eq!(sealed[0].0, "pin");
    assert_eq!(sends, [Channel::Sms], "one code, sent once");
    assert_eq!(checks, ["654321", CODE]);

    // A malformed code is not checked, only asked again.
    let (turn, sends, checks) = verified_call(&otp_then_pin(), &ring, &["12", CODE, PIN]);
    assert!(
        matches!(
            &turn,
            Turn::HandOff { result: GatherResult::Success, verified, .. } if verified == &["otp"]
        ),
        "{turn:?}"
    );
    assert_eq!(sends, [Channel::Call]);
    assert_eq!(checks, [CODE]);

    // Two codes: each field its own send.
    let (turn, sends, checks) = verified_call(&two_codes(), &ring, &[CODE, PIN, CODE]);
    assert!(
        matches!(
            &turn,
            Turn::HandOff { result: GatherResult::Success, verified, sealed }
                if verified == &["otp", "backup"] && sealed.len() == 1
        ),
        "{turn:?}"
    );
    assert_eq!(sends, [Channel::Sms, Channel::Call]);
    assert_eq!(checks, [CODE, CODE]);

    // Three wrong codes: verify-failed, the PIN handed on.
    let (turn, sends, checks) =
        verified_call(&pin_then_otp(), &ring, &[PIN, "1111", "2222", "3333"]);
    assert!(
        matches!(
            &turn,
            Turn::HandOff { result: GatherResult::VerifyFailed, verified, sealed }
                if verified.is_empty() && sealed.len() == 1 && sealed[0].0 == "pin"
        ),
        "{turn:?}"
    );
    assert_eq!(sends, [Channel::Sms]);
    assert_eq!(checks.len(), 3);
}

// ------------------------------------------------------------------------------------------
// What Verify said
// ------------------------------------------------------------------------------------------

#[test]
fn a_denied_code_is_asked_again_then_hands_off_verify_failed() {
    let ring = ring(KEY_HEX);
    for (flow, index, carried, before) in code_positions(&ring) {
        for attempt in 1..3 {
            assert_eq!(
                checked(
                    &flow,
                    &ring,
                    Some(carried_state(index, attempt, &carried)),
                    Some(CODE),
                    Some(CodeCheck::Denied)
                ),
                Turn::Ask {
                    state: carried_state(index, attempt + 1, &carried),
                    retry: true,
                    mistake: Some(Mistake::Invalid),
                    prompt: Prompt::Field,
                },
                "{:?} at attempt {attempt}",
                flow.fields[index].name
            );
        }
        assert_eq!(
            checked(
                &flow,
                &ring,
                Some(carried_state(index, 3, &carried)),
                Some(CODE),
                Some(CodeCheck::Denied)
            ),
            Turn::HandOff {
                result: GatherResult::VerifyFailed,
                sealed: values_only(&carried),
                verified: before.clone()
            },
            "{:?} at the last attempt",
            flow.fields[index].name
        );
    }
    // One attempt: the first denial is the last.
    let mut flow = otp_then_pin();
    flow.attempts = 1;
    assert_eq!(
        checked(
            &flow,
            &ring,
            Some(state(0, 1, &[])),
            Some(CODE),
            Some(CodeCheck::Denied)
        ),
        Turn::HandOff {
            result: GatherResult::VerifyFailed,
            sealed: vec![],
            verified: vec![]
        }
    );
    assert_eq!(GatherResult::VerifyFailed.as_str(), "verify-failed");
}

#[test]
fn a_malformed_code_is_a_wrong_try_whatever_verify_said() {
    let ring = ring(KEY_HEX);
    let eleven = "1".repeat(11);
    let malformed = [
        None,
        Some(""),
        Some("123"),
        Some(eleven.as_str()),
        Some("12a456"),
        Some("abcdef"),
        Some("123456#"),
        Some("１２３４５６"),
    ];
    let checks = [
        None,
        Some(CodeCheck::Approved),
        Some(CodeCheck::Denied),
        Some(CodeCheck::Unavailable),
    ];
    for (flow, index, carried, before) in code_positions(&ring) {
        for digits in malformed {
            for check in checks {
                let at = |attempt| {
                    checked(
                        &flow,
                        &ring,
                        Some(carried_state(index, attempt, &carried)),
                        digits,
                        check,
                    )
                };
                assert_eq!(
                    at(2),
                    Turn::Ask {
                        state: carried_state(index, 3, &carried),
                        retry: true,
                        mistake: Some(match digits {
                            None | Some("") => Mistake::Timeout,
                            Some(_) => Mistake::Invalid,
                        }),
                        prompt: Prompt::Field,
                    },
                    "{digits:?} with {check:?}"
                );
                assert_eq!(
                    at(3),
                    Turn::HandOff {
                        result: GatherResult::VerifyFailed,
                        sealed: values_only(&carried),
                        verified: before.clone()
                    },
                    "{digits:?} with {check:?} at the last attempt"
                );
            }
        }
    }
}

#[test]
fn verify_unavailable_hands_off_at_once_whatever_the_attempt() {
    let ring = ring(KEY_HEX);
    for (flow, index, carried, before) in code_positions(&ring) {
        for check in [None, Some(CodeCheck::Unavailable)] {
            for attempt in 1..=3 {
                assert_eq!(
                    checked(
                        &flow,
                        &ring,
                        Some(carried_state(index, attempt, &carried)),
                        Some(CODE),
                        check
                    ),
                    Turn::HandOff {
                        result: GatherResult::VerifyUnavailable,
                        sealed: values_only(&carried),
                        verified: before.clone()
                    },
                    "{check:?} at attempt {attempt}"
                );
            }
        }
    }
    assert_eq!(
        GatherResult::VerifyUnavailable.as_str(),
        "verify-unavailable"
    );
}

#[test]
fn what_verify_said_plays_no_part_at_other_fields() {
    let (flow, ring) = (pin_then_otp(), ring(KEY_HEX));
    for check in [
        None,
        Some(CodeCheck::Approved),
        Some(CodeCheck::Denied),
        Some(CodeCheck::Unavailable),
    ] {
        let turn = checked(&flow, &ring, Some(state(0, 1, &[])), Some(PIN), check);
        assert!(
            matches!(&turn, Turn::Ask { state, retry: false, .. } if state.field == 1),
            "{check:?}: {turn:?}"
        );
        assert_eq!(
            checked(&flow, &ring, Some(state(0, 1, &[])), Some("12"), check),
            Turn::Ask {
                state: state(0, 2, &[]),
                retry: true,
                mistake: Some(Mistake::Invalid),
                prompt: Prompt::Field,
            },
            "{check:?}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// The marker and the hand-off
// ------------------------------------------------------------------------------------------

#[test]
fn an_approved_code_goes_on_as_a_marker_never_as_the_code() {
    let (flow, ring) = (otp_then_pin(), ring(KEY_HEX));
    let mut markers = Vec::new();
    for code in ["1234", CODE, "0123456789"] {
        let turn = checked(
            &flow,
            &ring,
            Some(state(0, 2, &[])),
            Some(code),
            Some(CodeCheck::Approved),
        );
        let Turn::Ask {
            state: next, retry, ..
        } = turn
        else {
            panic!("an approved code should lead to the PIN, got {turn:?}");
        };
        assert!(!retry);
        assert_eq!((next.field, next.attempt), (1, 1), "attempts start again");
        assert_eq!(next.sealed.len(), 1);
        let (name, value) = &next.sealed[0];
        assert_eq!(name, "otp");
        // Whatever the code, the marker is the same eight bytes: nonce, "verified", tag.
        assert_eq!(value.len(), 2 * (12 + 8 + 16), "{code}");
        assert_eq!(
            opened(value, &ring, CALL_SID, "otp").as_deref(),
            Ok("verified")
        );
        assert_eq!(
            opened(value, &ring, OTHER_CALL_SID, "otp"),
            Err(Error::Unauthentic)
        );
        assert_eq!(
            opened(value, &ring, CALL_SID, "pin"),
            Err(Error::Unauthentic)
        );
        markers.push(value.clone());
    }
    // Each marker is sealed afresh.
    assert_ne!(markers[0], markers[1]);

    // The PIN after it: the hand-off names the field and carries no value for it.
    let turn = checked(
        &flow,
        &ring,
        Some(state(1, 1, &[("otp", &markers[1])])),
        Some(PIN),
        None,
    );
    let Turn::HandOff {
        result,
        sealed,
        verified,
    } = turn
    else {
        panic!("expected a hand-off, got {turn:?}");
    };
    assert_eq!(result, GatherResult::Success);
    assert_eq!(verified, ["otp"]);
    assert_eq!(sealed.len(), 1);
    assert_eq!(sealed[0].0, "pin");
    assert_eq!(
        opened(&sealed[0].1, &ring, CALL_SID, "pin").as_deref(),
        Ok(PIN)
    );

    // A code approved last hands off at once, the PIN passed on as it came.
    let flow = pin_then_otp();
    let pin_value = sealed_for(&ring, CALL_SID, "pin", PIN);
    assert_eq!(
        checked(
            &flow,
            &ring,
            Some(state(1, 3, &[("pin", &pin_value)])),
            Some(CODE),
            Some(CodeCheck::Approved)
        ),
        Turn::HandOff {
            result: GatherResult::Success,
            sealed: owned(&[("pin", &pin_value)]),
            verified: vec!["otp".into()]
        }
    );
}

#[test]
fn a_forged_or_foreign_marker_stops_the_call() {
    let ring = ring(KEY_HEX);
    let flow = otp_then_pin();
    let at_pin = |value: &str| {
        advance(
            &flow,
            &ring,
            CALL_SID,
            Some(state(1, 1, &[("otp", value)])),
            Some(PIN),
            NOW,
            None,
        )
    };
    let genuine = marker(&ring, "otp");
    let mut flipped = genuine.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).expect("hex is ASCII");
    let cases = [
        ("the code itself", sealed_for(&ring, CALL_SID, "otp", CODE)),
        ("nothing", sealed_for(&ring, CALL_SID, "otp", "")),
        (
            "another word",
            sealed_for(&ring, CALL_SID, "otp", "Verified"),
        ),
        (
            "a longer word",
            sealed_for(&ring, CALL_SID, "otp", "verified!"),
        ),
        (
            "a shorter word",
            sealed_for(&ring, CALL_SID, "otp", "verifie"),
        ),
        (
            "the marker of another call",
            sealed_for(&ring, OTHER_CALL_SID, "otp", "verified"),
        ),
        (
            "the marker of another field",
            sealed_for(&ring, CALL_SID, "pin", "verified"),
        ),
        (
            "the marker under another key",
            sealed_for(&common::ring(OTHER_KEY_HEX), CALL_SID, "otp", "verified"),
        ),
        ("a tampered marker", flipped),
        ("not hex", "verified".to_owned()),
    ];
    for (why, value) in &cases {
        assert_eq!(at_pin(value), Err(CallError::BadCallState), "{why}");
    }
    // The genuine marker goes through, so the refusals above are the marker's doing.
    assert!(
        matches!(
            at_pin(&genuine),
            Ok(Turn::HandOff { result: GatherResult::Success, ref verified, .. }) if verified == &["otp"]
        ),
        "{:?}",
        at_pin(&genuine)
    );
    // Also behind a good value at a later verify field, whatever Verify says there.
    let two = two_codes();
    let pin_value = sealed_for(&ring, CALL_SID, "pin", PIN);
    for (why, value) in &cases {
        for check in [Some(CodeCheck::Approved), Some(CodeCheck::Denied), None] {
            assert_eq!(
                advance(
                    &two,
                    &ring,
                    CALL_SID,
                    Some(state(2, 1, &[("otp", value), ("pin", &pin_value)])),
                    Some(CODE),
                    NOW,
                    check
                ),
                Err(CallError::BadCallState),
                "{why}, at the second code with {check:?}"
            );
        }
    }
    // A whole approved call copied into another call stops too.
    assert_eq!(
        advance(
            &flow,
            &ring,
            OTHER_CALL_SID,
            Some(state(1, 1, &[("otp", &genuine)])),
            Some(PIN),
            NOW,
            None
        ),
        Err(CallError::BadCallState)
    );
}

#[test]
fn hand_off_names_verify_fields_and_passes_the_rest_on() {
    let flow = two_codes();
    let carried = owned(&[("otp", "aa"), ("pin", "bb"), ("backup", "cc")]);
    assert_eq!(
        hand_off(&flow, GatherResult::Success, carried),
        Turn::HandOff {
            result: GatherResult::Success,
            sealed: owned(&[("pin", "bb")]),
            verified: vec!["otp".into(), "backup".into()]
        }
    );
    assert_eq!(
        hand_off(&flow, GatherResult::Locked, Vec::new()),
        Turn::HandOff {
            result: GatherResult::Locked,
            sealed: vec![],
            verified: vec![]
        }
    );
}
