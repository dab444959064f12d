//! The gather call as a pure state machine (`flow`): what each webhook turns into across the
//! field kinds, what travels in the action URL, and the TwiML that asks.

mod common;

use common::{key, ring, tohex, unhex, CALL_SID, KEY_HEX, OTHER_CALL_SID, OTHER_KEY_HEX};
use gather_seal::config::{Anonymous, Field, Flow, Kind, Messages, Then};
use gather_seal::flow::{
    advance, ask_twiml, context, goodbye_twiml, is_call_sid, speech, CallState, GatherResult, Turn,
};
use gather_seal::twilio::twiml::Speech;
use gather_seal::{open, seal, Error, KeyRing};

/// The route's absolute URL, as the worker would pass it.
const BASE: &str = "https://ivr.example.com/gather/login";
/// 2026-12-01T00:00:00Z (`date -u -d 2026-12-01T00:00:00Z +%s`): expiry 1226 is still good.
const NOW: u64 = 1_796_083_200;

const CARD: &str = "4111111111111111";
const EXPIRY: &str = "1227";
const PIN: &str = "4321";

const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

fn field(name: &str, prompt: &str, kind: Kind) -> Field {
    Field {
        name: name.to_owned(),
        prompt: prompt.to_owned(),
        kind,
    }
}

/// A card number, its expiry and a PIN, three tries each, plain speech.
fn flow() -> Flow {
    Flow {
        name: "login".into(),
        fields: vec![
            field(
                "card",
                "Enter your card number, then press pound.",
                Kind::CardNumber,
            ),
            field("expiry", "Enter the expiry date.", Kind::Expiry),
            field("pin", "Enter your PIN.", Kind::Digits(4)),
        ],
        then: Then::Action {
            url: "https://app.example.com/done".into(),
            fallback: None,
        },
        attempts: 3,
        timeout_secs: 10,
        language: None,
        voice: None,
        messages: Messages::default(),
        limits: None,
        anonymous: Anonymous::Refuse,
    }
}

fn state(field: usize, attempt: u8, sealed: &[(&str, &str)]) -> CallState {
    CallState {
        field,
        attempt,
        sealed: sealed
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// The context a value is bound to, written out here rather than taken from the crate.
fn bound_to(call_sid: &str, field: &str) -> Vec<u8> {
    format!("{call_sid}:{field}").into_bytes()
}

fn sealed_for(ring: &KeyRing, call_sid: &str, field: &str, digits: &str) -> String {
    match seal(
        digits.as_bytes(),
        ring.current(),
        &bound_to(call_sid, field),
    ) {
        Ok(sealed) => sealed,
        Err(e) => panic!("seal failed: {e:?}"),
    }
}

fn step(
    flow: &Flow,
    ring: &KeyRing,
    call_sid: &str,
    state: Option<CallState>,
    digits: Option<&str>,
) -> Turn {
    match advance(flow, ring, call_sid, state, digits, NOW, None) {
        Ok(turn) => turn,
        Err(e) => panic!("advance failed: {e:?}"),
    }
}

/// Splits a query string as the worker's URL parser would (no escapes occur in it).
fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect()
}

fn from_query(flow: &Flow, query: &str) -> Result<Option<CallState>, Error> {
    CallState::from_query(flow, &pairs(query))
}

fn opened(sealed: &str, ring: &KeyRing, call_sid: &str, field: &str) -> Result<String, Error> {
    open(sealed, ring, &bound_to(call_sid, field))
}

// ------------------------------------------------------------------------------------------
// A whole call
// ------------------------------------------------------------------------------------------

/// Runs a call through action URLs, typing `typed` in turn, and returns the hand-off.
fn call(flow: &Flow, ring: &KeyRing, call_sid: &str, typed: &[&str]) -> Turn {
    let mut query = String::new();
    let mut typed = typed.iter();
    loop {
        let state = match from_query(flow, &query) {
            Ok(state) => state,
            Err(e) => panic!("{query:?} did not parse back: {e:?}"),
        };
        let digits = match state {
            Some(_) => typed.next().copied(),
            None => None,
        };
        match step(flow, ring, call_sid, state, digits) {
            Turn::Ask { state, .. } => {
                let twiml = ask_twiml(flow, &state, false, BASE).expect("a field to ask");
                let action =
                    format!("action=\"{BASE}?{}\"", state.to_query(flow)).replace('&', "&amp;");
                assert!(twiml.contains(&action), "{twiml} lacks {action}");
                query = state.to_query(flow);
            }
            handoff @ Turn::HandOff { .. } => return handoff,
        }
    }
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
fn the_seal_context_is_call_sid_colon_field() {
    assert_eq!(
        context(CALL_SID, "pin").as_bytes(),
        bound_to(CALL_SID, "pin")
    );
    assert_eq!(context("CA1", "last_four"), "CA1:last_four");
    assert_ne!(context("CA1", "pin"), context("CA2", "pin"));
}

#[test]
fn the_first_webhook_asks_for_the_first_field_whatever_it_carries() {
    let (flow, ring) = (flow(), ring(KEY_HEX));
    let first = Turn::Ask {
        state: state(0, 1, &[]),
        retry: false,
    };
    assert_eq!(step(&flow, &ring, CALL_SID, None, None), first);
    // Digits posted before any step are not taken for any field.
    assert_eq!(step(&flow, &ring, CALL_SID, None, Some(CARD)), first);
}

#[test]
fn each_valid_entry_is_sealed_and_carried_to_the_next_field() {
    let (flow, ring) = (flow(), ring(KEY_HEX));
    let Turn::Ask { state: next, retry } =
        step(&flow, &ring, CALL_SID, Some(state(0, 2, &[])), Some(CARD))
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
                        retry: true
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
// What is carried must be this call's
// ------------------------------------------------------------------------------------------

#[test]
fn a_tampered_or_foreign_carried_value_stops_the_call() {
    let (flow, ring) = (flow(), ring(KEY_HEX));
    let card = sealed_for(&ring, CALL_SID, "card", CARD);
    let expiry = sealed_for(&ring, CALL_SID, "expiry", EXPIRY);
    let mut flipped = unhex(&card);
    flipped[14] ^= 0x01;
    let flipped = tohex(&flipped);
    let mut flipped_tag = unhex(&card);
    let last = flipped_tag.len() - 1;
    flipped_tag[last] ^= 0x80;
    let flipped_tag = tohex(&flipped_tag);
    let foreign_call = sealed_for(&ring, OTHER_CALL_SID, "card", CARD);
    let foreign_key = sealed_for(&common::ring(OTHER_KEY_HEX), CALL_SID, "card", CARD);
    let cases = [
        ("one flipped ciphertext bit", flipped.as_str()),
        ("one flipped tag bit", flipped_tag.as_str()),
        ("copied from another call", foreign_call.as_str()),
        ("sealed under another key", foreign_key.as_str()),
        ("the expiry carried as the card", expiry.as_str()),
        ("truncated", &card[..card.len() - 2]),
        ("odd length", &card[..card.len() - 1]),
        ("not hex", "not-a-sealed-value"),
        ("empty", ""),
    ];
    for (why, value) in cases {
        for digits in [Some(EXPIRY), Some("12"), None] {
            assert_eq!(
                advance(
                    &flow,
                    &ring,
                    CALL_SID,
                    Some(state(1, 1, &[("card", value)])),
                    digits,
                    NOW,
                    None
                ),
                Err(Error::BadCallState),
                "{why}, digits {digits:?}"
            );
        }
        // Also when it rides along behind a good value at a later step (as the expiry, the
        // card is the swapped value).
        let as_expiry = if value == expiry { &card } else { value };
        assert_eq!(
            advance(
                &flow,
                &ring,
                CALL_SID,
                Some(state(2, 1, &[("card", &card), ("expiry", as_expiry)])),
                Some(PIN),
                NOW,
                None
            ),
            Err(Error::BadCallState),
            "{why}, as the expiry"
        );
    }
    // The whole call copied into another call stops too.
    assert_eq!(
        advance(
            &flow,
            &ring,
            OTHER_CALL_SID,
            Some(state(2, 1, &[("card", &card), ("expiry", &expiry)])),
            Some(PIN),
            NOW,
            None
        ),
        Err(Error::BadCallState)
    );
    // The untouched values go through.
    let turn = advance(
        &flow,
        &ring,
        CALL_SID,
        Some(state(2, 1, &[("card", &card), ("expiry", &expiry)])),
        Some(PIN),
        NOW,
        None,
    );
    assert!(
        matches!(
            turn,
            Ok(Turn::HandOff {
                result: GatherResult::Success,
                ..
            })
        ),
        "{turn:?}"
    );
}

#[test]
fn a_hand_built_state_must_carry_exactly_the_earlier_fields() {
    let (flow, ring) = (flow(), ring(KEY_HEX));
    let card = sealed_for(&ring, CALL_SID, "card", CARD);
    let expiry = sealed_for(&ring, CALL_SID, "expiry", EXPIRY);
    let (card, expiry) = (card.as_str(), expiry.as_str());
    let cases = [
        ("nothing carried at the expiry", 1, vec![]),
        ("a later field carried", 0, vec![("card", card)]),
        ("the wrong name", 1, vec![("expiry", card)]),
        ("out of order", 2, vec![("expiry", expiry), ("card", card)]),
        ("a field twice", 2, vec![("card", card), ("card", card)]),
        (
            "past the last field",
            3,
            vec![("card", card), ("expiry", expiry)],
        ),
    ];
    for (why, index, carried) in cases {
        assert_eq!(
            advance(
                &flow,
                &ring,
                CALL_SID,
                Some(state(index, 1, &carried)),
                Some(PIN),
                NOW,
                None
            ),
            Err(Error::BadCallState),
            "{why}"
        );
    }
}

#[test]
fn values_sealed_before_a_rotation_still_carry_and_new_ones_use_the_new_key() {
    let flow = flow();
    let before = ring(OTHER_KEY_HEX);
    let card = sealed_for(&before, CALL_SID, "card", CARD);
    let after = KeyRing::new(key(KEY_HEX)).with_previous(key(OTHER_KEY_HEX));
    let Turn::Ask { state: next, .. } = step(
        &flow,
        &after,
        CALL_SID,
        Some(state(1, 1, &[("card", &card)])),
        Some(EXPIRY),
    ) else {
        panic!("expected the PIN to be asked");
    };
    assert_eq!(
        next.sealed[0].1, card,
        "a carried value is passed on as it came"
    );
    let expiry = &next.sealed[1].1;
    assert_eq!(
        opened(expiry, &ring(KEY_HEX), CALL_SID, "expiry").as_deref(),
        Ok(EXPIRY)
    );
    assert_eq!(
        opened(expiry, &before, CALL_SID, "expiry"),
        Err(Error::Unauthentic)
    );
    // Without the old key in the ring, the old value stops the call.
    assert_eq!(
        advance(
            &flow,
            &ring(KEY_HEX),
            CALL_SID,
            Some(state(1, 1, &[("card", &card)])),
            Some(EXPIRY),
            NOW,
            None
        ),
        Err(Error::BadCallState)
    );
}

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
            Err(Error::MissingCallSid),
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
            Err(Error::MissingCallSid),
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

// ------------------------------------------------------------------------------------------
// The state in the action URL
// ------------------------------------------------------------------------------------------

#[test]
fn call_state_is_written_as_step_attempt_and_the_fields_so_far() {
    let flow = flow();
    let (a, b) = ("00ff".repeat(16), "abcd".repeat(9));
    let cases = [
        (state(0, 1, &[]), "step=card&attempt=1".to_owned()),
        (state(0, 3, &[]), "step=card&attempt=3".to_owned()),
        (
            state(1, 2, &[("card", &a)]),
            format!("step=expiry&attempt=2&card={a}"),
        ),
        (
            state(2, 1, &[("card", &a), ("expiry", &b)]),
            format!("step=pin&attempt=1&card={a}&expiry={b}"),
        ),
    ];
    for (state, query) in cases {
        assert_eq!(state.to_query(&flow), query);
        assert_eq!(from_query(&flow, &query), Ok(Some(state)), "{query}");
    }
}

#[test]
fn call_state_reading_is_lenient_only_where_harmless() {
    let flow = flow();
    let a = "00ff".repeat(16);
    // No step: the call has just come in, whatever else is there.
    assert_eq!(from_query(&flow, ""), Ok(None));
    assert_eq!(from_query(&flow, &format!("attempt=2&card={a}")), Ok(None));
    assert_eq!(
        from_query(&flow, "STEP=card"),
        Ok(None),
        "names are case-sensitive"
    );
    // No attempt means the first; parameters the flow does not know are ignored.
    assert_eq!(from_query(&flow, "step=card"), Ok(Some(state(0, 1, &[]))));
    assert_eq!(
        from_query(&flow, &format!("utm=x&step=expiry&card={a}&attempt=2&x=")),
        Ok(Some(state(1, 2, &[("card", &a)])))
    );
    // The highest attempt the flow allows.
    assert_eq!(
        from_query(&flow, "step=card&attempt=3"),
        Ok(Some(state(0, 3, &[])))
    );
}

#[test]
fn malformed_call_state_is_refused() {
    let flow = flow();
    let a = "00ff".repeat(16);
    let b = "abcd".repeat(16);
    let cases = [
        ("step twice", format!("step=expiry&step=expiry&card={a}")),
        ("two steps", format!("step=expiry&step=pin&card={a}")),
        ("attempt twice", "step=card&attempt=1&attempt=1".to_owned()),
        ("attempt 0", "step=card&attempt=0".to_owned()),
        ("attempt 10", "step=card&attempt=10".to_owned()),
        (
            "attempt beyond the flow's",
            "step=card&attempt=4".to_owned(),
        ),
        ("attempt x", "step=card&attempt=x".to_owned()),
        ("attempt empty", "step=card&attempt=".to_owned()),
        ("attempt 01", "step=card&attempt=01".to_owned()),
        ("attempt -1", "step=card&attempt=-1".to_owned()),
        ("attempt +1", "step=card&attempt=+1".to_owned()),
        ("an unknown step", "step=account".to_owned()),
        ("an empty step", "step=".to_owned()),
        ("a step in the wrong case", "step=Card".to_owned()),
        ("an earlier field missing", "step=expiry".to_owned()),
        (
            "one of two earlier fields missing",
            format!("step=pin&card={a}"),
        ),
        (
            "an earlier field twice",
            format!("step=expiry&card={a}&card={a}"),
        ),
        (
            "the asked field present",
            format!("step=expiry&card={a}&expiry={b}"),
        ),
        ("a later field present", format!("step=card&pin={a}")),
        (
            "a later field present with earlier ones",
            format!("step=expiry&card={a}&pin={b}"),
        ),
    ];
    for (why, query) in cases {
        assert_eq!(
            from_query(&flow, &query),
            Err(Error::BadCallState),
            "{why}: {query}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// TwiML
// ------------------------------------------------------------------------------------------

fn ask(flow: &Flow, state: &CallState, retry: bool) -> String {
    match ask_twiml(flow, state, retry, BASE) {
        Some(xml) => xml,
        None => panic!("nothing to ask at {state:?}"),
    }
}

#[test]
fn the_first_ask_for_a_card_number_ends_on_pound() {
    assert_eq!(
        ask(&flow(), &state(0, 1, &[]), false),
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
            r##"<Gather input="dtmf" numDigits="19" finishOnKey="#" timeout="10" method="POST" "##,
            r#"action="https://ivr.example.com/gather/login?step=card&amp;attempt=1" "#,
            r#"actionOnEmptyResult="true">"#,
            r#"<Say>Enter your card number, then press pound.</Say>"#,
            r#"</Gather></Response>"#
        )
    );
}

#[test]
fn a_retry_says_the_kind_s_sentence_first_and_carries_the_state() {
    let flow = flow();
    let a = "00ff".repeat(20);
    let b = "abcd".repeat(18);
    let cases = [
        (
            state(0, 2, &[]),
            format!(
                r##"<Gather input="dtmf" numDigits="19" finishOnKey="#" timeout="10" method="POST" action="{BASE}?step=card&amp;attempt=2" actionOnEmptyResult="true"><Say>Sorry, that was not a valid card number. Press pound when you are done.</Say><Say>Enter your card number, then press pound.</Say>"##
            ),
        ),
        (
            state(1, 3, &[("card", &a)]),
            format!(
                r#"<Gather input="dtmf" numDigits="4" timeout="10" method="POST" action="{BASE}?step=expiry&amp;attempt=3&amp;card={a}" actionOnEmptyResult="true"><Say>Sorry, that was not a valid expiry date.</Say><Say>Enter the expiry date.</Say>"#
            ),
        ),
        (
            state(2, 2, &[("card", &a), ("expiry", &b)]),
            format!(
                r#"<Gather input="dtmf" numDigits="4" timeout="10" method="POST" action="{BASE}?step=pin&amp;attempt=2&amp;card={a}&amp;expiry={b}" actionOnEmptyResult="true"><Say>Sorry, that was not 4 digits.</Say><Say>Enter your PIN.</Say>"#
            ),
        ),
    ];
    for (state, gather) in cases {
        assert_eq!(
            ask(&flow, &state, true),
            format!("{XML}<Response>{gather}</Gather></Response>")
        );
    }
    // The same states without retry: the prompt alone.
    assert_eq!(
        ask(&flow, &state(1, 1, &[("card", &a)]), false),
        format!(
            r#"{XML}<Response><Gather input="dtmf" numDigits="4" timeout="10" method="POST" action="{BASE}?step=expiry&amp;attempt=1&amp;card={a}" actionOnEmptyResult="true"><Say>Enter the expiry date.</Say></Gather></Response>"#
        )
    );
}

#[test]
fn digit_ranges_gather_up_to_max_ending_on_pound() {
    let mut flow = flow();
    flow.fields = vec![
        field(
            "account",
            "Your account number.",
            Kind::DigitRange { min: 6, max: 10 },
        ),
        field("code", "One digit.", Kind::Digits(1)),
    ];
    flow.timeout_secs = 60;
    assert_eq!(
        ask(&flow, &state(0, 2, &[]), true),
        format!(
            r##"{XML}<Response><Gather input="dtmf" numDigits="10" finishOnKey="#" timeout="60" method="POST" action="{BASE}?step=account&amp;attempt=2" actionOnEmptyResult="true"><Say>Sorry, that was not 6 to 10 digits. Press pound when you are done.</Say><Say>Your account number.</Say></Gather></Response>"##
        )
    );
    let a = "12".repeat(30);
    assert_eq!(
        ask(&flow, &state(1, 2, &[("account", &a)]), true),
        format!(
            r#"{XML}<Response><Gather input="dtmf" numDigits="1" timeout="60" method="POST" action="{BASE}?step=code&amp;attempt=2&amp;account={a}" actionOnEmptyResult="true"><Say>Sorry, that was not 1 digit.</Say><Say>One digit.</Say></Gather></Response>"#
        )
    );
}

#[test]
fn language_voice_and_a_custom_retry_are_spoken() {
    let mut flow = flow();
    flow.language = Some("fr-FR".into());
    flow.voice = Some("Polly.Celine".into());
    flow.timeout_secs = 7;
    flow.fields[2].prompt = "Votre code & « PIN » <s.v.p.>".into();
    flow.messages.retry = Some("Désolé, encore une fois.".into());
    let (a, b) = ("0a".repeat(30), "0b".repeat(30));
    let at_pin = state(2, 2, &[("card", &a), ("expiry", &b)]);
    let gather = format!(
        r#"<Gather input="dtmf" numDigits="4" timeout="7" method="POST" action="{BASE}?step=pin&amp;attempt=2&amp;card={a}&amp;expiry={b}" actionOnEmptyResult="true" language="fr-FR">"#
    );
    let say = r#"<Say voice="Polly.Celine" language="fr-FR">"#;
    let prompt = "Votre code &amp; « PIN » &lt;s.v.p.&gt;";
    assert_eq!(
        ask(&flow, &at_pin, true),
        format!(
            "{XML}<Response>{gather}{say}Désolé, encore une fois.</Say>{say}{prompt}</Say></Gather></Response>"
        )
    );
    assert_eq!(
        ask(&flow, &at_pin, false),
        format!("{XML}<Response>{gather}{say}{prompt}</Say></Gather></Response>")
    );
    // The custom sentence replaces every kind's own.
    let at_card = ask(&flow, &state(0, 2, &[]), true);
    assert!(
        at_card.contains(&format!("{say}Désolé, encore une fois.</Say>")),
        "{at_card}"
    );
    assert!(!at_card.contains("card number. Press pound"), "{at_card}");
}

#[test]
fn there_is_nothing_to_ask_past_the_last_field() {
    let flow = flow();
    assert_eq!(ask_twiml(&flow, &state(3, 1, &[]), false, BASE), None);
    assert_eq!(
        ask_twiml(&flow, &state(usize::MAX, 1, &[]), true, BASE),
        None
    );
}

#[test]
fn goodbye_says_the_message_and_hangs_up() {
    let mut flow = flow();
    assert_eq!(
        goodbye_twiml(&speech(&flow), "Bye & thanks."),
        format!("{XML}<Response><Say>Bye &amp; thanks.</Say><Hangup/></Response>")
    );
    flow.language = Some("de-DE".into());
    flow.voice = Some("Polly.Marlene".into());
    assert_eq!(
        goodbye_twiml(&speech(&flow), "Auf Wiederhören."),
        format!(
            r#"{XML}<Response><Say voice="Polly.Marlene" language="de-DE">Auf Wiederhören.</Say><Hangup/></Response>"#
        )
    );
    let only_language = Speech {
        voice: None,
        language: Some("en-GB"),
    };
    assert_eq!(
        goodbye_twiml(&only_language, "Bye."),
        format!(r#"{XML}<Response><Say language="en-GB">Bye.</Say><Hangup/></Response>"#)
    );
}
