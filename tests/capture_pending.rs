//! Card capture (issue 16): `*` leaves the gather from any kind of field, a pending entry is
//! dropped with it, and a pending entry (`pending-repeat`, `pending-confirm`) opens only at the
//! step of the call it was sealed for. Whole calls go through the engine
//! ([`common::caller`]); the tampering cases through `flow::advance` directly, their contexts
//! written out here.

mod common;

use common::caller::{
    handed_on, pay, query_value, says, values, Caller, EXPIRY, NEXT, ROUTING, STATUS, VISA,
};
use common::gather::{pairs, sealed_for, state, BASE, CODE, NOW};
use common::{ring, CALL_SID, KEY_HEX, OTHER_CALL_SID, OTHER_KEY_HEX};
use gather_seal::config::Flow;
use gather_seal::flow::{advance, CallState, Pending, Phase, Turn};
use gather_seal::outcome::Outcome;
use gather_seal::{seal, CallError, KeyRing};

// ------------------------------------------------------------------------------------------
// `*` leaves
// ------------------------------------------------------------------------------------------

#[test]
fn a_star_at_any_kind_hands_off_cancelled_with_the_fields_before() {
    let flow = pay(&format!(
        r#"{{"fields": [
            {{"name": "pin", "prompt": "PIN?", "kind": "digits", "length": 4}},
            {{"name": "account", "prompt": "Account?", "kind": "digits", "min": 6, "max": 10}},
            {{"name": "card", "prompt": "Card?", "kind": "card-number"}},
            {{"name": "cvv", "prompt": "Code?", "kind": "security-code", "card": "card"}},
            {{"name": "routing", "prompt": "Routing?", "kind": "routing-number"}},
            {{"name": "expiry", "prompt": "Expiry?", "kind": "expiry"}},
            {{"name": "otp", "prompt": "Code we sent?", "kind": "verify"}}
        ],
        "status_callback": "{STATUS}",
        "then": {{"redirect": "{NEXT}"}} }}"#
    ));
    let ring = ring(KEY_HEX);
    let names = ["pin", "account", "card", "cvv", "routing", "expiry", "otp"];
    let entries = ["4321", "12345678", VISA, "123", ROUTING, EXPIRY, CODE];
    for at in 0..names.len() {
        for star in ["*", "12*", "*9"] {
            let mut caller = Caller::new(&flow, &ring);
            caller.comes_in();
            for entry in &entries[..at] {
                caller.types(Some(entry));
            }
            assert_eq!(
                caller
                    .query
                    .as_deref()
                    .and_then(|q| query_value(q, "step"))
                    .as_deref(),
                Some(names[at])
            );
            let answer = caller.types(Some(star));
            let why = format!("{star} at {}", names[at]);
            assert_eq!(answer.outcome, Outcome::Redirected, "{why}");
            let (result, kept) = handed_on(&answer, &ring);
            assert_eq!(result, "cancelled", "{why}");
            let before: Vec<(&str, &str)> = names[..at]
                .iter()
                .zip(&entries[..at])
                .map(|(n, e)| (*n, *e))
                .collect();
            assert_eq!(kept, values(&before), "{why}");
            // No code was sent to be checked for it.
            assert!(caller.effects.is_empty(), "{why}: {:?}", caller.effects);
            let events: Vec<String> = answer.notices.iter().map(|n| n.body.clone()).collect();
            // When the worker took the webhook, in Unix milliseconds.
            let ms = NOW * 1000;
            let [.., cancelled, handed_off] = events.as_slice() else {
                panic!("{why}: {events:?}");
            };
            assert_eq!(
                cancelled.as_str(),
                format!(
                    r#"{{"callSid":"{CALL_SID}","flow":"pay","field":"{}","event":"cancelled","error":null,"attempt":1,"at":{ms}}}"#,
                    names[at]
                ),
                "{why}"
            );
            assert_eq!(
                handed_off.as_str(),
                format!(
                    r#"{{"callSid":"{CALL_SID}","flow":"pay","field":null,"event":"handed-off","error":null,"attempt":0,"at":{ms},"result":"cancelled"}}"#
                ),
                "{why}"
            );
        }
    }
}

#[test]
fn a_star_while_an_entry_waits_hands_off_cancelled_without_it() {
    let (flow, ring) = (waiting(), ring(KEY_HEX));
    // (typed before the star, what is handed on)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);
    let cases: [Case; 4] = [
        (&["1234"], &[]),
        (&["1234", "1234", VISA], &[("pin", "1234")]),
        (&["1234", "1234", VISA, VISA], &[("pin", "1234")]),
        (&["1234", "1243", "1234"], &[]),
    ];
    for (before, kept) in cases {
        let mut caller = Caller::new(&flow, &ring);
        caller.comes_in();
        caller.types_all(before);
        let (result, handed) = handed_on(&caller.types(Some("*")), &ring);
        assert_eq!(result, "cancelled", "{before:?}");
        assert_eq!(handed, values(kept), "{before:?}");
    }
}

// ------------------------------------------------------------------------------------------
// A pending entry opens only where it was sealed
// ------------------------------------------------------------------------------------------

/// A PIN typed twice, a card typed twice and read back, a ZIP code neither.
fn waiting() -> Flow {
    pay(&format!(
        r#"{{"fields": [
            {{"name": "pin", "prompt": "PIN?", "kind": "digits", "length": 4, "repeat": true}},
            {{"name": "card", "prompt": "Card?", "kind": "card-number", "repeat": true, "confirm": true}},
            {{"name": "zip", "prompt": "ZIP?", "kind": "digits", "length": 5}}
        ],
        "then": {{"redirect": "{NEXT}"}} }}"#
    ))
}

/// `digits` sealed with the context written out: `"<CallSid>:<field>:<phase>"` or any other.
fn sealed_with(ring: &KeyRing, context: &str, digits: &str) -> String {
    seal(digits.as_bytes(), ring.current(), context.as_bytes()).expect("sealed")
}

fn with_pending(mut state: CallState, phase: Phase, sealed: String) -> CallState {
    state.pending = Some(Pending { phase, sealed });
    state
}

#[test]
fn a_pending_entry_from_anywhere_else_stops_the_call() {
    let (flow, ring) = (waiting(), ring(KEY_HEX));
    let other_ring = common::ring(OTHER_KEY_HEX);
    let pin = sealed_for(&ring, CALL_SID, "pin", "1234");
    let at_pin = state(0, 1, &[]);
    let at_card = state(1, 1, &[("pin", &pin)]);
    let at_zip = state(
        2,
        1,
        &[
            ("pin", &pin),
            ("card", &sealed_for(&ring, CALL_SID, "card", VISA)),
        ],
    );
    let own = |field: &str, phase: &str| format!("{CALL_SID}:{field}:{phase}");
    let good_repeat = sealed_with(&ring, &own("pin", "repeat"), "1234");
    let mut flipped = good_repeat.clone();
    let last = if flipped.ends_with('0') { "1" } else { "0" };
    flipped.replace_range(flipped.len() - 1.., last);
    // (why, state, digits typed)
    let cases: Vec<(&str, CallState, &str)> = vec![
        (
            "another call's",
            with_pending(
                at_pin.clone(),
                Phase::Repeat,
                sealed_with(&ring, &format!("{OTHER_CALL_SID}:pin:repeat"), "1234"),
            ),
            "1234",
        ),
        (
            "another field's",
            with_pending(
                at_pin.clone(),
                Phase::Repeat,
                sealed_with(&ring, &own("card", "repeat"), "1234"),
            ),
            "1234",
        ),
        (
            "a kept value's, not a pending one's",
            with_pending(
                at_pin.clone(),
                Phase::Repeat,
                sealed_for(&ring, CALL_SID, "pin", "1234"),
            ),
            "1234",
        ),
        (
            "the confirm phase's, given as repeat",
            with_pending(
                at_card.clone(),
                Phase::Repeat,
                sealed_with(&ring, &own("card", "confirm"), VISA),
            ),
            VISA,
        ),
        (
            "the repeat phase's, given as confirm",
            with_pending(
                at_card.clone(),
                Phase::Confirm,
                sealed_with(&ring, &own("card", "repeat"), VISA),
            ),
            "1",
        ),
        (
            "under another key",
            with_pending(
                at_pin.clone(),
                Phase::Repeat,
                sealed_with(&other_ring, &own("pin", "repeat"), "1234"),
            ),
            "1234",
        ),
        (
            "its tag flipped",
            with_pending(at_pin.clone(), Phase::Repeat, flipped),
            "1234",
        ),
        (
            "not hex",
            with_pending(at_pin.clone(), Phase::Repeat, "zz".repeat(40)),
            "1234",
        ),
        (
            "empty",
            with_pending(at_pin.clone(), Phase::Repeat, String::new()),
            "1234",
        ),
        (
            "odd hex",
            with_pending(at_pin.clone(), Phase::Repeat, "abc".into()),
            "1234",
        ),
        (
            "too short",
            with_pending(at_pin.clone(), Phase::Repeat, "00".repeat(27)),
            "1234",
        ),
        (
            "confirm at a field that only repeats",
            with_pending(
                at_pin.clone(),
                Phase::Confirm,
                sealed_with(&ring, &own("pin", "confirm"), "1234"),
            ),
            "1",
        ),
        (
            "repeat at a field that does neither",
            with_pending(
                at_zip.clone(),
                Phase::Repeat,
                sealed_with(&ring, &own("zip", "repeat"), "12345"),
            ),
            "12345",
        ),
        (
            "confirm at a field that does neither",
            with_pending(
                at_zip.clone(),
                Phase::Confirm,
                sealed_with(&ring, &own("zip", "confirm"), "12345"),
            ),
            "1",
        ),
    ];
    for (why, state, digits) in cases {
        for typed in [digits, "*"] {
            let got = advance(
                &flow,
                &ring,
                CALL_SID,
                Some(state.clone()),
                Some(typed),
                NOW,
                None,
            );
            assert_eq!(
                got.err(),
                Some(CallError::BadCallState),
                "{why}, typing {typed}"
            );
        }
    }
    // Their twins, each sealed where it is given, go on.
    let twins = [
        (with_pending(at_pin, Phase::Repeat, good_repeat), "1234", 1),
        (
            with_pending(
                at_card.clone(),
                Phase::Repeat,
                sealed_with(&ring, &own("card", "repeat"), VISA),
            ),
            VISA,
            1,
        ),
        (
            with_pending(
                at_card,
                Phase::Confirm,
                sealed_with(&ring, &own("card", "confirm"), VISA),
            ),
            "1",
            2,
        ),
    ];
    for (state, typed, next) in twins {
        let turn = advance(&flow, &ring, CALL_SID, Some(state), Some(typed), NOW, None)
            .map(|a| a.turn)
            .expect("opens");
        assert!(
            matches!(&turn, Turn::Ask { state, .. } if state.field == next),
            "{turn:?}"
        );
    }
}

#[test]
fn a_bad_pending_entry_through_the_engine_is_a_400_with_the_apology() {
    let (flow, ring) = (waiting(), ring(KEY_HEX));
    let mut caller = Caller::new(&flow, &ring);
    caller.comes_in();
    let other = sealed_with(&ring, &format!("{OTHER_CALL_SID}:pin:repeat"), "1234");
    caller.query = Some(format!("step=pin&attempt=1&pending-repeat={other}"));
    let answer = caller.types(Some("1234"));
    assert_eq!((answer.status, answer.outcome), (400, Outcome::BadState));
    assert_eq!(
        says(&answer.twiml),
        ["Sorry, we cannot take your call right now. Please try again later. Goodbye."]
    );
    assert!(answer.notices.is_empty());
}

#[test]
fn the_query_carries_one_pending_entry_and_reads_it_back() {
    let flow = waiting();
    let (a, b) = ("0a".repeat(30), "0b".repeat(30));
    let repeat = CallState {
        field: 0,
        attempt: 2,
        sealed: Vec::new(),
        pending: Some(Pending {
            phase: Phase::Repeat,
            sealed: a.clone(),
        }),
    };
    let confirm = CallState {
        field: 1,
        attempt: 3,
        sealed: vec![("pin".into(), b.clone())],
        pending: Some(Pending {
            phase: Phase::Confirm,
            sealed: a.clone(),
        }),
    };
    for (state, query) in [
        (&repeat, format!("step=pin&attempt=2&pending-repeat={a}")),
        (
            &confirm,
            format!("step=card&attempt=3&pin={b}&pending-confirm={a}"),
        ),
    ] {
        assert_eq!(state.to_query(&flow), query);
        assert_eq!(
            CallState::from_query(&flow, &pairs(&query)),
            Ok(Some(state.clone()))
        );
    }
    // Both at once, or one twice, is not a state any answer wrote.
    for query in [
        format!("step=card&attempt=1&pin={b}&pending-repeat={a}&pending-confirm={a}"),
        format!("step=pin&attempt=1&pending-repeat={a}&pending-repeat={a}"),
        format!("step=card&attempt=1&pin={b}&pending-confirm={a}&pending-confirm={b}"),
    ] {
        assert!(
            CallState::from_query(&flow, &pairs(&query)).is_err(),
            "{query}"
        );
    }
    // Without one, nothing waits.
    let plain = CallState::from_query(&flow, &pairs(&format!("step=card&attempt=1&pin={b}")));
    assert!(matches!(plain, Ok(Some(CallState { pending: None, .. }))));
}

#[test]
fn each_route_base_is_the_one_the_caller_goes_back_to() {
    // The helper reads the action back from BASE: a guard that the walks above really went
    // through the action URL the TwiML named.
    let (flow, ring) = (waiting(), ring(KEY_HEX));
    let mut caller = Caller::new(&flow, &ring);
    let answer = caller.comes_in();
    assert!(
        answer
            .twiml
            .contains(&format!(r#"action="{BASE}?step=pin&amp;attempt=1""#)),
        "{}",
        answer.twiml
    );
    assert_eq!(caller.query.as_deref(), Some("step=pin&attempt=1"));
}
