//! The gather call as a pure state machine (`flow::advance`): what each webhook turns into
//! across the field kinds. A valid entry is sealed for its call and field and carried to the
//! next; a refused one is asked again until the last attempt, then the call hands off what was
//! gathered.

mod common;

use common::gather::advance_turn as advance;
use common::gather::{flow, opened, sealed_for, state, step, walk, CARD, EXPIRY, NOW, PIN};
use common::{ring, CALL_SID, KEY_HEX, OTHER_CALL_SID, OTHER_KEY_HEX};
use gather_seal::config::Flow;
use gather_seal::flow::{is_call_sid, GatherResult, Prompt, Turn};
use gather_seal::kinds::Mistake;
use gather_seal::{open, CallError, Error, KeyRing};

// ------------------------------------------------------------------------------------------
// A whole call
// ------------------------------------------------------------------------------------------

/// Runs a call through action URLs, typing `typed` in turn, and returns the hand-off.
fn call(flow: &Flow, ring: &KeyRing, call_sid: &str, typed: &[&str]) -> Turn {
    walk(flow, ring, call_sid, typed).0
}

#[test]
fn a_whole_call_hands_off_values_that_open_only_in_their_place() {
    let (flow, ring) = (flow(), ring(KEY_HEX));
    let Turn::HandOff { result, sealed, .. } = call(&flow, &ring, CALL_SID, &[CARD, EXPIRY, PIN])
    else {
        unreachable!()
    };
    assert_eq!(result, GatherResult::Success);
    let names: Vec<&str> = sealed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["card", "expiry", "pin"]);
    for ((name, value), typed) in sealed.iter().zip([CARD, EXPIRY, PIN]) {
        // The wire format: nonce 12, ciphertext as long as the digits, tag 16, in hex.
        assert_eq!(value.len(), 2 * (12 + typed.len() + 16), "{name}");
        assert_eq!(opened(value, &ring, CALL_SID, name).as_deref(), Ok(typed));
        assert_eq!(
            opened(value, &ring, OTHER_CALL_SID, name),
            Err(Error::Unauthentic),
            "{name} in another call"
        );
        assert_eq!(open(value, &ring, b""), Err(Error::Unauthentic));
        assert_eq!(
            opened(value, &common::ring(OTHER_KEY_HEX), CALL_SID, name),
            Err(Error::Unauthentic)
        );
        for other in ["card", "expiry", "pin"].into_iter().filter(|o| o != name) {
            assert_eq!(
                opened(value, &ring, CALL_SID, other),
                Err(Error::Unauthentic),
                "{name} as {other}"
            );
        }
    }
    assert_eq!(result.as_str(), "success");
}

#[test]
fn the_first_webhook_asks_for_the_first_field_whatever_it_carries() {
    let (flow, ring) = (flow(), ring(KEY_HEX));
    let first = Turn::Ask {
        state: state(0, 1, &[]),
        retry: false,
        mistake: None,
        prompt: Prompt::Field,
    };
    assert_eq!(step(&flow, &ring, CALL_SID, None, None), first);
    // Digits posted before any step are not taken for any field.
    assert_eq!(step(&flow, &ring, CALL_SID, None, Some(CARD)), first);
}

#[test]
fn each_valid_entry_is_sealed_and_carried_to_the_next_field() {
    let (flow, ring) = (flow(), ring(KEY_HEX));
    let Turn::Ask {
        state: next, retry, ..
    } = step(&flow, &ring, CALL_SID, Some(state(0, 2, &[])), Some(CARD))
    else {
        panic!("a valid card should lead to the expiry");
    };
    assert!(!retry);
    assert_eq!((next.field, next.attempt), (1, 1), "attempts start again");
    assert_eq!(next.sealed.len(), 1);
    assert_eq!(next.sealed[0].0, "card");
    assert_eq!(
        opened(&next.sealed[0].1, &ring, CALL_SID, "card").as_deref(),
        Ok(CARD)
    );
}

// ------------------------------------------------------------------------------------------
// Retries
// ------------------------------------------------------------------------------------------

/// For each field, entries its kind refuses (at [`NOW`]).
fn refused_entries() -> Vec<(usize, Vec<Option<&'static str>>)> {
    let common = [
        None,
        Some(""),
        Some("12a4"),
        Some(" 1234"),
        Some("１２３４"),
    ];
    let mut card = common.to_vec();
    card.extend([
        Some("4111111111111112"),     // Luhn fails
        Some("79927398713"),          // Luhn passes, 11 digits
        Some("60110000000000000004"), // Luhn passes, 20 digits
    ]);
    let mut expiry = common.to_vec();
    expiry.extend([
        Some("1126"),
        Some("1326"),
        Some("0027"),
        Some("122"),
        Some("12277"),
    ]);
    let mut pin = common.to_vec();
    pin.extend([Some("123"), Some("12345"), Some("123#")]);
    vec![(0, card), (1, expiry), (2, pin)]
}

#[test]
fn a_refused_entry_asks_again_until_the_last_attempt_then_hands_off_what_was_gathered() {
    let (flow, ring) = (flow(), ring(KEY_HEX));
    let card = sealed_for(&ring, CALL_SID, "card", CARD);
    let expiry = sealed_for(&ring, CALL_SID, "expiry", EXPIRY);
    let carried: [Vec<(&str, &str)>; 3] = [
        vec![],
        vec![("card", &card)],
        vec![("card", &card), ("expiry", &expiry)],
    ];
    for (index, entries) in refused_entries() {
        let before = &carried[index];
        for digits in entries {
            // Nothing typed is a timeout; a real month in the past an expired card.
            let mistake = match (index, digits) {
                (_, None | Some("")) => Mistake::Timeout,
                (1, Some("1126")) => Mistake::Expired,
                _ => Mistake::Invalid,
            };
            for attempt in 1..3 {
                assert_eq!(
                    step(
                        &flow,
                        &ring,
                        CALL_SID,
                        Some(state(index, attempt, before)),
                        digits
                    ),
                    Turn::Ask {
                        state: state(index, attempt + 1, before),
                        retry: true,
                        mistake: Some(mistake),
                        prompt: Prompt::Field,
                    },
                    "field {index}, {digits:?} at attempt {attempt}"
                );
            }
            let expected: Vec<(String, String)> = before
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
            assert_eq!(
                step(
                    &flow,
                    &ring,
                    CALL_SID,
                    Some(state(index, 3, before)),
                    digits
                ),
                Turn::HandOff {
                    result: GatherResult::TooManyAttempts,
                    sealed: expected,
                    verified: vec![]
                },
                "field {index}, {digits:?} at the last attempt"
            );
        }
    }
    assert_eq!(GatherResult::TooManyAttempts.as_str(), "too-many-attempts");
}

#[test]
fn a_valid_entry_at_the_last_attempt_still_counts() {
    let (flow, ring) = (flow(), ring(KEY_HEX));
    let card = sealed_for(&ring, CALL_SID, "card", CARD);
    let expiry = sealed_for(&ring, CALL_SID, "expiry", EXPIRY);
    let turn = step(
        &flow,
        &ring,
        CALL_SID,
        Some(state(2, 3, &[("card", &card), ("expiry", &expiry)])),
        Some(PIN),
    );
    let Turn::HandOff { result, sealed, .. } = turn else {
        panic!("expected a hand-off, got {turn:?}");
    };
    assert_eq!(result, GatherResult::Success);
    assert_eq!(
        sealed[..2],
        [("card".into(), card), ("expiry".into(), expiry)]
    );
    assert_eq!(
        opened(&sealed[2].1, &ring, CALL_SID, "pin").as_deref(),
        Ok(PIN)
    );
}

#[test]
fn one_attempt_means_no_retry() {
    let mut flow = flow();
    flow.attempts = 1;
    let ring = ring(KEY_HEX);
    assert_eq!(
        step(&flow, &ring, CALL_SID, Some(state(0, 1, &[])), Some("1234")),
        Turn::HandOff {
            result: GatherResult::TooManyAttempts,
            sealed: vec![],
            verified: vec![]
        }
    );
    assert!(matches!(
        step(&flow, &ring, CALL_SID, Some(state(0, 1, &[])), Some(CARD)),
        Turn::Ask { retry: false, .. }
    ));
}

#[test]
fn expiry_is_judged_by_the_time_given() {
    let (flow, ring) = (flow(), ring(KEY_HEX));
    let card = sealed_for(&ring, CALL_SID, "card", CARD);
    let at = |now: u64| {
        advance(
            &flow,
            &ring,
            CALL_SID,
            Some(state(1, 1, &[("card", &card)])),
            Some("1126"),
            now,
            None,
        )
    };
    // 2026-11-30T23:59:59Z: November 2026 has not ended; a second later it has.
    assert!(matches!(
        at(1_796_083_199),
        Ok(Turn::Ask { retry: false, .. })
    ));
    assert!(matches!(
        at(1_796_083_200),
        Ok(Turn::Ask { retry: true, .. })
    ));
}

// ------------------------------------------------------------------------------------------
// Who is calling
// ------------------------------------------------------------------------------------------

#[test]
fn a_bad_call_sid_is_missing_call_sid() {
    let (flow, ring) = (flow(), ring(KEY_HEX));
    let longest = format!("CA{}", "0".repeat(62));
    let too_long = format!("{longest}0");
    for bad in [
        "",
        "CA-123",
        "CA 123",
        "CA123\n",
        "CA123é",
        "CA12/34",
        "CA:pin",
        "CA123&step=pin",
        too_long.as_str(),
    ] {
        assert!(!is_call_sid(bad), "{bad:?}");
        assert_eq!(
            advance(&flow, &ring, bad, None, None, NOW, None),
            Err(CallError::MissingCallSid),
            "{bad:?} on the first webhook"
        );
        assert_eq!(
            advance(
                &flow,
                &ring,
                bad,
                Some(state(0, 1, &[])),
                Some(CARD),
                NOW,
                None
            ),
            Err(CallError::MissingCallSid),
            "{bad:?} with digits"
        );
    }
    for good in [CALL_SID, "x", longest.as_str()] {
        assert!(is_call_sid(good), "{good}");
        assert!(
            advance(&flow, &ring, good, None, None, NOW, None).is_ok(),
            "{good}"
        );
    }
}
