//! The gather call as a pure state machine (`flow`): what each webhook turns into across the
//! field kinds, what travels in the action URL, and the TwiML that asks.

mod common;

use common::{key, ring, tohex, unhex, CALL_SID, KEY_HEX, OTHER_CALL_SID, OTHER_KEY_HEX};
use gather_seal::config::{Anonymous, Channel, Field, Flow, Kind, Messages, Then};
use gather_seal::flow::{
    advance, ask_twiml, code_to_check, code_to_send, context, goodbye_twiml, hand_off, is_call_sid,
    speech, CallState, CodeCheck, GatherResult, Turn,
};
use gather_seal::kinds::{CODE_MAX, CODE_MIN};
use gather_seal::twilio::twiml::Speech;
use gather_seal::{open, seal, CallError, Error, KeyRing};

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
        count_by: Vec::new(),
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

fn from_query(flow: &Flow, query: &str) -> Result<Option<CallState>, CallError> {
    CallState::from_query(flow, &pairs(query)).map_err(CallError::from)
}

fn opened(sealed: &str, ring: &KeyRing, call_sid: &str, field: &str) -> Result<String, Error> {
    open(sealed, ring, &bound_to(call_sid, field))
}

// ------------------------------------------------------------------------------------------
// A whole call
// ------------------------------------------------------------------------------------------

/// Runs a call through action URLs, typing `typed` in turn, and returns the hand-off.
fn call(flow: &Flow, ring: &KeyRing, call_sid: &str, typed: &[&str]) -> Turn {
    walk(flow, ring, call_sid, typed).0
}

/// Runs a call through action URLs as the worker does, typing `typed` in turn: each asked
/// field's TwiML carries the next action URL; a code is sent when [`code_to_send`] says and
/// checked when [`code_to_check`] says, by a stand-in for Verify that approves only [`CODE`].
/// Returns the hand-off, the channels codes were sent on and the codes checked.
fn walk(
    flow: &Flow,
    ring: &KeyRing,
    call_sid: &str,
    typed: &[&str],
) -> (Turn, Vec<Channel>, Vec<String>) {
    let (mut sends, mut checks) = (Vec::new(), Vec::new());
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
        let check = code_to_check(flow, state.as_ref(), digits).map(|code| {
            checks.push(code.to_owned());
            match code == CODE {
                true => CodeCheck::Approved,
                false => CodeCheck::Denied,
            }
        });
        let turn = match advance(flow, ring, call_sid, state, digits, NOW, check) {
            Ok(turn) => turn,
            Err(e) => panic!("advance failed: {e:?}"),
        };
        if let Some(channel) = code_to_send(flow, &turn) {
            sends.push(channel);
        }
        match turn {
            Turn::Ask { state, .. } => {
                let twiml = ask_twiml(flow, &state, false, BASE).expect("a field to ask");
                let action =
                    format!("action=\"{BASE}?{}\"", state.to_query(flow)).replace('&', "&amp;");
                assert!(twiml.contains(&action), "{twiml} lacks {action}");
                // No value the action URL carries is a code.
                query = state.to_query(flow);
                assert!(
                    !query
                        .split('&')
                        .filter_map(|pair| pair.split_once('='))
                        .any(|(_, value)| checks.iter().any(|c| c == value)),
                    "{query}"
                );
            }
            handoff @ Turn::HandOff { .. } => return (handoff, sends, checks),
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
                Err(CallError::BadCallState),
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
            Err(CallError::BadCallState),
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
        Err(CallError::BadCallState)
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
            Err(CallError::BadCallState),
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
        Err(CallError::BadCallState)
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
            Err(CallError::BadCallState),
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

// ------------------------------------------------------------------------------------------
// Verify fields: a one-time code checked with Twilio Verify
// ------------------------------------------------------------------------------------------

/// A code the caller types.
const CODE: &str = "123456";

fn verify_flow(fields: Vec<Field>) -> Flow {
    let mut flow = flow();
    flow.name = "otp".into();
    flow.fields = fields;
    flow
}

fn pin() -> Field {
    field("pin", "Enter your PIN.", Kind::Digits(4))
}

fn otp(channel: Channel) -> Field {
    field(
        "otp",
        "Enter the code we sent you, then press pound.",
        Kind::Verify(channel),
    )
}

/// A PIN, then a code sent by SMS.
fn pin_then_otp() -> Flow {
    verify_flow(vec![pin(), otp(Channel::Sms)])
}

/// A code read out by a voice call, then a PIN.
fn otp_then_pin() -> Flow {
    verify_flow(vec![otp(Channel::Call), pin()])
}

/// A code, a PIN, and a second code.
fn two_codes() -> Flow {
    verify_flow(vec![
        otp(Channel::Sms),
        pin(),
        field(
            "backup",
            "Enter the second code.",
            Kind::Verify(Channel::Call),
        ),
    ])
}

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
            retry: false
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
    assert!(matches!(&next, Turn::Ask { state, retry: false } if state.field == 1));
    assert_eq!(code_to_send(&flow, &next), None);

    // A verify field second: the code is sent when the PIN before it is taken.
    let flow = pin_then_otp();
    let first = step(&flow, &ring, CALL_SID, None, None);
    assert_eq!(code_to_send(&flow, &first), None, "the PIN comes first");
    let next = step(&flow, &ring, CALL_SID, Some(state(0, 1, &[])), Some(PIN));
    assert!(matches!(&next, Turn::Ask { state, retry: false } if state.field == 1));
    assert_eq!(code_to_send(&flow, &next), Some(Channel::Sms));
    // A wrong PIN asks the PIN again: no code yet.
    let again = step(&flow, &ring, CALL_SID, Some(state(0, 1, &[])), Some("12"));
    assert!(matches!(&again, Turn::Ask { state, retry: true } if state.field == 0));
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
    assert!(matches!(&at_backup, Turn::Ask { state, retry: false } if state.field == 2));
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
        let Turn::Ask { state: next, retry } = turn else {
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

/// [`walk`] for this test's call.
fn verified_call(flow: &Flow, ring: &KeyRing, typed: &[&str]) -> (Turn, Vec<Channel>, Vec<String>) {
    walk(flow, ring, CALL_SID, typed)
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
    }
}

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
                    retry: true
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
                        retry: true
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
            matches!(&turn, Turn::Ask { state, retry: false } if state.field == 1),
            "{check:?}: {turn:?}"
        );
        assert_eq!(
            checked(&flow, &ring, Some(state(0, 1, &[])), Some("12"), check),
            Turn::Ask {
                state: state(0, 2, &[]),
                retry: true
            },
            "{check:?}"
        );
    }
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

#[test]
fn a_code_is_gathered_up_to_ten_digits_ending_on_pound() {
    let flow = pin_then_otp();
    let a = "0a".repeat(30);
    assert_eq!(
        ask(&flow, &state(1, 2, &[("pin", &a)]), true),
        format!(
            r##"{XML}<Response><Gather input="dtmf" numDigits="10" finishOnKey="#" timeout="10" method="POST" action="{BASE}?step=otp&amp;attempt=2&amp;pin={a}" actionOnEmptyResult="true"><Say>Sorry, that code was not right. Enter the code we sent you, then press pound.</Say><Say>Enter the code we sent you, then press pound.</Say></Gather></Response>"##
        )
    );
}
