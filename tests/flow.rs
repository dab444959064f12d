//! The gather call flow (`flow`) as a pure state machine, and the backend's side (`backend`):
//! what each webhook turns into, what travels in the action URL, and what reaches the backend.

mod common;

use common::{key, ring, tohex, unhex, CALL_SID, KEY_HEX, OTHER_CALL_SID, OTHER_KEY_HEX};
use gather_seal::backend::{self, demo_answer, json_key, submission, DemoAnswer};
use gather_seal::flow::{
    advance, answer_twiml, goodbye_twiml, Account, CallState, Field, FlowConfig, Turn, APOLOGY,
    NOT_FOUND, TOO_MANY_ATTEMPTS,
};
use gather_seal::{open, seal, Error, KeyRing, SettingError};
use serde_json::{json, Value};

const ACTION: &str = "https://ivr.example.com/gather";

fn config() -> FlowConfig {
    FlowConfig::default()
}

/// The state an action URL carries, as a test would build it by hand.
fn state(field: usize, attempt: u8, sealed: &[(&str, &str)]) -> Option<CallState> {
    Some(CallState {
        field,
        attempt,
        sealed: sealed
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
    })
}

fn step(
    config: &FlowConfig,
    ring: &KeyRing,
    call_sid: &str,
    state: Option<CallState>,
    digits: Option<&str>,
) -> Turn {
    match advance(config, ring, call_sid, state, digits) {
        Ok(turn) => turn,
        Err(e) => panic!("advance failed: {e:?}"),
    }
}

fn context(call_sid: &str, field: &str) -> Vec<u8> {
    format!("{call_sid}:{field}").into_bytes()
}

/// Runs a whole call that types `card` then `pin`, and returns what it submits.
fn submitted(ring: &KeyRing, call_sid: &str, card: &str, pin: &str) -> Vec<(String, String)> {
    let config = config();
    let Turn::Ask { state: first, .. } = step(&config, ring, call_sid, None, None) else {
        panic!("the first turn should ask");
    };
    let Turn::Ask { state: second, .. } = step(&config, ring, call_sid, Some(first), Some(card))
    else {
        panic!("a valid card should lead to the PIN");
    };
    match step(&config, ring, call_sid, Some(second), Some(pin)) {
        Turn::Submit { sealed } => sealed,
        other => panic!("a valid PIN should submit, got {other:?}"),
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

fn from_query(config: &FlowConfig, query: &str) -> Result<Option<CallState>, Error> {
    CallState::from_query(config, &pairs(query))
}

// ------------------------------------------------------------------------------------------
// advance
// ------------------------------------------------------------------------------------------

#[test]
fn first_request_asks_for_the_first_field() {
    let (config, ring) = (config(), ring(KEY_HEX));
    let first = Turn::Ask {
        state: CallState {
            field: 0,
            attempt: 1,
            sealed: vec![],
        },
        retry: false,
    };
    assert_eq!(step(&config, &ring, CALL_SID, None, None), first);
    // Digits posted without a step (no state yet) are not taken for any field.
    assert_eq!(step(&config, &ring, CALL_SID, None, Some("1234")), first);
}

#[test]
fn valid_digits_are_sealed_for_the_call_and_field_and_carried() {
    let (config, ring) = (config(), ring(KEY_HEX));
    let turn = step(&config, &ring, CALL_SID, state(0, 1, &[]), Some("1234"));
    let Turn::Ask { state, retry } = turn else {
        panic!("expected the PIN to be asked")
    };
    assert!(!retry);
    assert_eq!((state.field, state.attempt), (1, 1));
    assert_eq!(state.sealed.len(), 1);
    let (name, sealed) = &state.sealed[0];
    assert_eq!(name, "card");
    assert_eq!(
        sealed.len(),
        2 * (28 + 4),
        "four digits sealed in the wire format"
    );
    assert_eq!(
        open(sealed, &ring, &context(CALL_SID, "card")).as_deref(),
        Ok("1234")
    );
    assert_eq!(
        open(sealed, &ring, &context(CALL_SID, "pin")),
        Err(Error::Unauthentic)
    );
    assert_eq!(
        open(sealed, &ring, &context(OTHER_CALL_SID, "card")),
        Err(Error::Unauthentic)
    );
    assert_eq!(open(sealed, &ring, b""), Err(Error::Unauthentic));
    assert_eq!(
        FlowConfig::context(CALL_SID, "card").as_bytes(),
        context(CALL_SID, "card")
    );
}

#[test]
fn last_field_submits_values_that_open_only_in_their_place() {
    let ring = ring(KEY_HEX);
    let sealed = submitted(&ring, CALL_SID, "1234", "4321");
    let names: Vec<&str> = sealed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["card", "pin"]);
    let (card, pin) = (&sealed[0].1, &sealed[1].1);
    assert_eq!(
        open(card, &ring, &context(CALL_SID, "card")).as_deref(),
        Ok("1234")
    );
    assert_eq!(
        open(pin, &ring, &context(CALL_SID, "pin")).as_deref(),
        Ok("4321")
    );
    // Swapped fields, or another call, do not open.
    assert_eq!(
        open(card, &ring, &context(CALL_SID, "pin")),
        Err(Error::Unauthentic)
    );
    assert_eq!(
        open(pin, &ring, &context(CALL_SID, "card")),
        Err(Error::Unauthentic)
    );
    assert_eq!(
        open(card, &ring, &context(OTHER_CALL_SID, "card")),
        Err(Error::Unauthentic)
    );
    assert_eq!(
        open(pin, &ring, &context(OTHER_CALL_SID, "pin")),
        Err(Error::Unauthentic)
    );
    // Nor under another key.
    assert_eq!(
        open(pin, &common::ring(OTHER_KEY_HEX), &context(CALL_SID, "pin")),
        Err(Error::Unauthentic)
    );
}

#[test]
fn a_whole_call_through_action_urls() {
    let (config, ring) = (config(), ring(KEY_HEX));
    let mut query = String::new();
    let mut typed = ["1234", "4321"].into_iter();
    let sealed = loop {
        let state = match from_query(&config, &query) {
            Ok(state) => state,
            Err(e) => panic!("{query:?} did not parse back: {e:?}"),
        };
        let digits = if state.is_some() { typed.next() } else { None };
        match step(&config, &ring, CALL_SID, state, digits) {
            Turn::Ask { state, .. } => query = state.to_query(&config),
            Turn::Submit { sealed } => break sealed,
            Turn::GiveUp => panic!("gave up"),
        }
    };
    assert_eq!(
        open(&sealed[0].1, &ring, &context(CALL_SID, "card")).as_deref(),
        Ok("1234")
    );
    assert_eq!(
        open(&sealed[1].1, &ring, &context(CALL_SID, "pin")).as_deref(),
        Ok("4321")
    );
}

#[test]
fn invalid_digits_ask_again_then_give_up() {
    let (config, ring) = (config(), ring(KEY_HEX));
    assert_eq!(config.max_attempts, 3);
    let invalid: [Option<&str>; 10] = [
        None,
        Some(""),
        Some("123"),
        Some("12345"),
        Some("12a4"),
        Some("12 4"),
        Some(" 1234"),
        Some("*123"),
        Some("123#"),
        Some("１２３４"), // fullwidth digits: four characters, not ASCII digits
    ];
    for digits in invalid {
        for attempt in 1..config.max_attempts {
            let turn = step(&config, &ring, CALL_SID, state(0, attempt, &[]), digits);
            let again = Turn::Ask {
                state: CallState {
                    field: 0,
                    attempt: attempt + 1,
                    sealed: vec![],
                },
                retry: true,
            };
            assert_eq!(turn, again, "digits {digits:?} at attempt {attempt}");
        }
        let last = step(
            &config,
            &ring,
            CALL_SID,
            state(0, config.max_attempts, &[]),
            digits,
        );
        assert_eq!(last, Turn::GiveUp, "digits {digits:?} at the last attempt");
    }
}

#[test]
fn a_retry_at_a_later_field_keeps_what_was_gathered() {
    let (config, ring) = (config(), ring(KEY_HEX));
    let card = match seal(b"1234", ring.current(), &context(CALL_SID, "card")) {
        Ok(sealed) => sealed,
        Err(e) => panic!("{e:?}"),
    };
    let turn = step(
        &config,
        &ring,
        CALL_SID,
        state(1, 1, &[("card", &card)]),
        Some("43"),
    );
    assert_eq!(
        turn,
        Turn::Ask {
            state: CallState {
                field: 1,
                attempt: 2,
                sealed: vec![("card".into(), card.clone())]
            },
            retry: true
        }
    );
    let turn = step(
        &config,
        &ring,
        CALL_SID,
        state(1, 3, &[("card", &card)]),
        Some("43"),
    );
    assert_eq!(turn, Turn::GiveUp);
    // A valid PIN at the last attempt still submits.
    let turn = step(
        &config,
        &ring,
        CALL_SID,
        state(1, 3, &[("card", &card)]),
        Some("4321"),
    );
    assert!(
        matches!(turn, Turn::Submit { ref sealed } if sealed.len() == 2 && sealed[0].1 == card)
    );
}

#[test]
fn a_field_with_its_own_length_takes_exactly_that_many_digits() {
    let config = FlowConfig {
        fields: vec![Field {
            name: "account".into(),
            prompt: "Account number.".into(),
            digits: 8,
        }],
        max_attempts: 1,
        timeout_secs: 5,
    };
    let ring = ring(KEY_HEX);
    assert_eq!(
        step(&config, &ring, CALL_SID, state(0, 1, &[]), Some("1234")),
        Turn::GiveUp
    );
    assert_eq!(
        step(
            &config,
            &ring,
            CALL_SID,
            state(0, 1, &[]),
            Some("123456789")
        ),
        Turn::GiveUp
    );
    let Turn::Submit { sealed } =
        step(&config, &ring, CALL_SID, state(0, 1, &[]), Some("00001234"))
    else {
        panic!("eight digits should submit the only field");
    };
    assert_eq!(
        open(&sealed[0].1, &ring, &context(CALL_SID, "account")).as_deref(),
        Ok("00001234")
    );
}

#[test]
fn a_tampered_or_foreign_carried_value_stops_the_call() {
    let (config, ring) = (config(), ring(KEY_HEX));
    let card = submitted(&ring, CALL_SID, "1234", "4321").remove(0).1;
    let foreign_card = submitted(&ring, OTHER_CALL_SID, "1234", "4321").remove(0).1;
    let foreign_key_card = submitted(&common::ring(OTHER_KEY_HEX), CALL_SID, "1234", "4321")
        .remove(0)
        .1;
    let pin_as_card = submitted(&ring, CALL_SID, "1234", "4321").remove(1).1;

    let mut flipped = unhex(&card);
    flipped[14] ^= 0x01;
    let flipped = tohex(&flipped);
    let cases = [
        ("one flipped bit", flipped.as_str()),
        ("from another call", foreign_card.as_str()),
        ("under another key", foreign_key_card.as_str()),
        ("the PIN carried as the card", pin_as_card.as_str()),
        ("truncated", &card[..card.len() - 2]),
        ("not hex", "not-a-sealed-value"),
        ("empty", ""),
    ];
    for (why, value) in cases {
        for digits in [Some("4321"), Some("12"), None] {
            assert_eq!(
                advance(
                    &config,
                    &ring,
                    CALL_SID,
                    state(1, 1, &[("card", value)]),
                    digits
                ),
                Err(Error::BadCallState),
                "{why}, digits {digits:?}"
            );
        }
    }
    // The untouched value goes through.
    let turn = advance(
        &config,
        &ring,
        CALL_SID,
        state(1, 1, &[("card", &card)]),
        Some("4321"),
    );
    assert!(matches!(turn, Ok(Turn::Submit { .. })), "{turn:?}");
}

#[test]
fn a_hand_built_state_must_carry_exactly_the_earlier_fields() {
    let (config, ring) = (config(), ring(KEY_HEX));
    let card = seal(b"1234", &key(KEY_HEX), &context(CALL_SID, "card")).unwrap();
    for (why, carried) in [
        ("nothing carried for the PIN step", vec![]),
        ("the wrong field carried", vec![("pin", card.as_str())]),
        ("a field carried twice", vec![("card", card.as_str()), ("card", card.as_str())]),
    ] {
        assert_eq!(
            advance(&config, &ring, CALL_SID, state(1, 1, &carried), Some("4321")),
            Err(Error::BadCallState),
            "{why}"
        );
    }
}

#[test]
fn a_state_pointing_past_the_fields_is_refused() {
    let (config, ring) = (config(), ring(KEY_HEX));
    assert_eq!(
        advance(&config, &ring, CALL_SID, state(2, 1, &[]), Some("1234")),
        Err(Error::BadCallState)
    );
}

#[test]
fn values_sealed_before_a_rotation_still_carry_and_new_ones_use_the_new_key() {
    let config = config();
    let before = ring(OTHER_KEY_HEX);
    let card = submitted(&before, CALL_SID, "1234", "4321").remove(0).1;
    let after = KeyRing::new(key(KEY_HEX)).with_previous(key(OTHER_KEY_HEX));
    let turn = step(
        &config,
        &after,
        CALL_SID,
        state(1, 1, &[("card", &card)]),
        Some("4321"),
    );
    let Turn::Submit { sealed } = turn else {
        panic!("expected a submit")
    };
    assert_eq!(sealed[0].1, card, "a carried value is passed on as it came");
    let new_only = ring(KEY_HEX);
    assert_eq!(
        open(&sealed[1].1, &new_only, &context(CALL_SID, "pin")).as_deref(),
        Ok("4321")
    );
    assert_eq!(
        open(&sealed[1].1, &before, &context(CALL_SID, "pin")),
        Err(Error::Unauthentic)
    );
}

#[test]
fn a_bad_call_sid_is_missing_call_sid() {
    let (config, ring) = (config(), ring(KEY_HEX));
    let too_long = format!("CA{}", "0".repeat(63));
    let longest = format!("CA{}", "0".repeat(62));
    for bad in [
        "",
        "CA-123",
        "CA 123",
        "CA123\n",
        "CA123é",
        "CA12/34",
        "CA:pin",
        too_long.as_str(),
    ] {
        assert_eq!(
            advance(&config, &ring, bad, None, None),
            Err(Error::MissingCallSid),
            "CallSid {bad:?} on the first request"
        );
        assert_eq!(
            advance(&config, &ring, bad, state(0, 1, &[]), Some("1234")),
            Err(Error::MissingCallSid),
            "CallSid {bad:?} with digits"
        );
    }
    assert!(
        advance(&config, &ring, &longest, None, None).is_ok(),
        "64 characters are allowed"
    );
}

// ------------------------------------------------------------------------------------------
// CallState in the action URL
// ------------------------------------------------------------------------------------------

#[test]
fn call_state_round_trips_through_the_query() {
    let config = config();
    let hex = "00ff".repeat(16);
    let states = [
        CallState {
            field: 0,
            attempt: 1,
            sealed: vec![],
        },
        CallState {
            field: 0,
            attempt: 3,
            sealed: vec![],
        },
        CallState {
            field: 1,
            attempt: 2,
            sealed: vec![("card".into(), hex.clone())],
        },
    ];
    for state in states {
        let query = state.to_query(&config);
        assert_eq!(
            from_query(&config, &query),
            Ok(Some(state.clone())),
            "{query}"
        );
    }
    let query = CallState {
        field: 1,
        attempt: 2,
        sealed: vec![("card".into(), hex.clone())],
    }
    .to_query(&config);
    assert_eq!(query, format!("step=pin&attempt=2&card={hex}"));
}

#[test]
fn call_state_reading_is_lenient_only_where_harmless() {
    let config = config();
    let hex = "00ff".repeat(16);
    // No step: the call has just come in, whatever else is there.
    assert_eq!(from_query(&config, ""), Ok(None));
    assert_eq!(from_query(&config, "attempt=2&card=00"), Ok(None));
    assert_eq!(
        from_query(&config, "STEP=pin"),
        Ok(None),
        "names are case-sensitive"
    );
    // No attempt means the first.
    assert_eq!(
        from_query(&config, "step=card"),
        Ok(Some(CallState {
            field: 0,
            attempt: 1,
            sealed: vec![]
        }))
    );
    // Order does not matter and unknown parameters are ignored.
    assert_eq!(
        from_query(&config, &format!("card={hex}&utm=x&attempt=3&step=pin")),
        Ok(Some(CallState {
            field: 1,
            attempt: 3,
            sealed: vec![("card".into(), hex.clone())]
        }))
    );
}

#[test]
fn malformed_call_state_is_refused() {
    let config = config();
    let hex = "00ff".repeat(16);
    let cases = [
        ("unknown step", "step=cvv".to_owned()),
        ("empty step", "step=".to_owned()),
        ("step in another case", "step=Card".to_owned()),
        ("attempt 0", "step=card&attempt=0".to_owned()),
        ("attempt past the maximum", "step=card&attempt=4".to_owned()),
        ("attempt overflowing u8", "step=card&attempt=256".to_owned()),
        ("attempt negative", "step=card&attempt=-1".to_owned()),
        ("attempt not a number", "step=card&attempt=two".to_owned()),
        ("attempt empty", "step=card&attempt=".to_owned()),
        ("attempt with a sign", "step=card&attempt=+2".to_owned()),
        ("duplicate step", "step=card&step=card".to_owned()),
        (
            "duplicate attempt",
            "step=card&attempt=1&attempt=1".to_owned(),
        ),
        (
            "duplicate carried field",
            format!("step=pin&card={hex}&card={hex}"),
        ),
        ("missing earlier field", "step=pin&attempt=1".to_owned()),
        (
            "the asked field already present",
            format!("step=card&card={hex}"),
        ),
        ("a later field present", format!("step=card&pin={hex}")),
        (
            "a later field present too",
            format!("step=pin&card={hex}&pin={hex}"),
        ),
    ];
    for (why, query) in cases {
        assert_eq!(
            from_query(&config, &query),
            Err(Error::BadCallState),
            "{why}: {query}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// FlowConfig from settings
// ------------------------------------------------------------------------------------------

fn settings<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

fn config_error(pairs: &[(&str, &str)]) -> SettingError {
    match FlowConfig::from_settings(settings(pairs)) {
        Ok(config) => panic!("{pairs:?} accepted as {config:?}"),
        Err(e) => e,
    }
}

#[test]
fn settings_default_to_the_articles_call() {
    let config = match FlowConfig::from_settings(|_| None) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(config, FlowConfig::default());
    let names: Vec<&str> = config.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["card", "pin"]);
    assert!(config.fields.iter().all(|f| f.digits == 4));
    assert_eq!((config.max_attempts, config.timeout_secs), (3, 10));
}

#[test]
fn settings_override_each_part() {
    let pairs = [
        ("GATHER_FIELDS", " account , pin "),
        ("GATHER_ACCOUNT_PROMPT", "Please enter your account number."),
        ("GATHER_ACCOUNT_DIGITS", " 8 "),
        ("GATHER_PIN_DIGITS", "6"),
        ("GATHER_MAX_ATTEMPTS", "5"),
        ("GATHER_TIMEOUT", "20"),
    ];
    let config = match FlowConfig::from_settings(settings(&pairs)) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    };
    let default_pin_prompt = FlowConfig::default().fields[1].prompt.clone();
    assert_eq!(
        config,
        FlowConfig {
            fields: vec![
                Field {
                    name: "account".into(),
                    prompt: "Please enter your account number.".into(),
                    digits: 8
                },
                Field {
                    name: "pin".into(),
                    prompt: default_pin_prompt,
                    digits: 6
                },
            ],
            max_attempts: 5,
            timeout_secs: 20,
        }
    );
    // The edges of each range are allowed.
    for (name, value) in [
        ("GATHER_CARD_DIGITS", "1"),
        ("GATHER_CARD_DIGITS", "32"),
        ("GATHER_MAX_ATTEMPTS", "1"),
        ("GATHER_MAX_ATTEMPTS", "9"),
        ("GATHER_TIMEOUT", "1"),
        ("GATHER_TIMEOUT", "60"),
    ] {
        assert!(
            FlowConfig::from_settings(settings(&[(name, value)])).is_ok(),
            "{name}={value}"
        );
    }
    // A prompt may be replaced for a known field too.
    let config = FlowConfig::from_settings(settings(&[("GATHER_PIN_PROMPT", "PIN, please.")]));
    assert_eq!(
        config.map(|c| c.fields[1].prompt.clone()).as_deref(),
        Ok("PIN, please.")
    );
}

#[test]
fn each_settings_error_names_its_setting() {
    let long_name = "a".repeat(33);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("GATHER_FIELDS", "")], "GATHER_FIELDS"),
        (vec![("GATHER_FIELDS", "card,,pin")], "GATHER_FIELDS"),
        (vec![("GATHER_FIELDS", "card,card")], "GATHER_FIELDS"),
        (vec![("GATHER_FIELDS", "Card")], "GATHER_FIELDS"),
        (vec![("GATHER_FIELDS", "card-number")], "GATHER_FIELDS"),
        (vec![("GATHER_FIELDS", "step")], "GATHER_FIELDS"),
        (vec![("GATHER_FIELDS", "card,attempt")], "GATHER_FIELDS"),
        (vec![("GATHER_FIELDS", long_name.as_str())], "GATHER_FIELDS"),
        (vec![("GATHER_FIELDS", "card,cvv")], "GATHER_CVV_PROMPT"),
        (vec![("GATHER_CARD_PROMPT", "")], "GATHER_CARD_PROMPT"),
        (vec![("GATHER_PIN_PROMPT", "  \n")], "GATHER_PIN_PROMPT"),
        (vec![("GATHER_CARD_DIGITS", "0")], "GATHER_CARD_DIGITS"),
        (vec![("GATHER_CARD_DIGITS", "33")], "GATHER_CARD_DIGITS"),
        (vec![("GATHER_PIN_DIGITS", "four")], "GATHER_PIN_DIGITS"),
        (vec![("GATHER_PIN_DIGITS", "-4")], "GATHER_PIN_DIGITS"),
        (vec![("GATHER_PIN_DIGITS", "")], "GATHER_PIN_DIGITS"),
        (vec![("GATHER_MAX_ATTEMPTS", "0")], "GATHER_MAX_ATTEMPTS"),
        (vec![("GATHER_MAX_ATTEMPTS", "10")], "GATHER_MAX_ATTEMPTS"),
        (vec![("GATHER_TIMEOUT", "0")], "GATHER_TIMEOUT"),
        (vec![("GATHER_TIMEOUT", "61")], "GATHER_TIMEOUT"),
        (vec![("GATHER_TIMEOUT", "300")], "GATHER_TIMEOUT"),
    ];
    for (pairs, setting) in cases {
        let error = config_error(&pairs);
        assert_eq!(error.setting, setting, "{pairs:?}");
        let message = error.to_string();
        assert!(
            message.contains(setting),
            "{message:?} does not name {setting}"
        );
        assert!(message.starts_with("setting "), "{message:?}");
    }
}

#[test]
fn settings_errors_never_repeat_the_value() {
    let secret = "s3cr3t-v4lue-do-not-log";
    for name in [
        "GATHER_TIMEOUT",
        "GATHER_MAX_ATTEMPTS",
        "GATHER_CARD_DIGITS",
        "GATHER_FIELDS",
    ] {
        let error = config_error(&[(name, secret)]);
        assert_eq!(error.setting, name);
        for message in [error.to_string(), format!("{error:?}")] {
            assert!(
                !common::leaks(&message, secret, 6),
                "{message:?} repeats the value"
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// TwiML
// ------------------------------------------------------------------------------------------

fn twiml(turn: &Turn, config: &FlowConfig) -> String {
    match turn.twiml(config, ACTION) {
        Some(xml) => xml,
        None => panic!("{turn:?} has no TwiML"),
    }
}

#[test]
fn the_first_ask_is_this_twiml() {
    let config = config();
    let turn = step(&config, &ring(KEY_HEX), CALL_SID, None, None);
    assert_eq!(
        twiml(&turn, &config),
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
            r#"<Gather input="dtmf" numDigits="4" timeout="10" method="POST" "#,
            r#"action="https://ivr.example.com/gather?step=card&amp;attempt=1" "#,
            r#"actionOnEmptyResult="true">"#,
            r#"<Say>Please enter the last 4 digits of your payment card number.</Say>"#,
            r#"</Gather></Response>"#
        )
    );
}

#[test]
fn ask_twiml_carries_the_state_and_says_sorry_on_retry() {
    let (config, ring) = (config(), ring(KEY_HEX));
    let Turn::Ask {
        state,
        retry: false,
    } = step(&config, &ring, CALL_SID, state(0, 1, &[]), Some("1234"))
    else {
        panic!("expected the PIN to be asked");
    };
    let card = state.sealed[0].1.clone();
    let xml = twiml(
        &Turn::Ask {
            state: state.clone(),
            retry: false,
        },
        &config,
    );
    assert!(
        xml.contains(&format!(
            r#"action="{ACTION}?step=pin&amp;attempt=1&amp;card={card}""#
        )),
        "{xml}"
    );
    assert!(
        xml.contains("<Say>Please enter your 4 digit PIN.</Say></Gather>"),
        "{xml}"
    );
    assert!(!xml.contains("Sorry"), "{xml}");

    let retry = step(&config, &ring, CALL_SID, Some(state), Some("12"));
    let xml = twiml(&retry, &config);
    assert!(xml.contains("?step=pin&amp;attempt=2&amp;card="), "{xml}");
    assert!(
        xml.contains(
            "<Say>Sorry, that was not 4 digits.</Say><Say>Please enter your 4 digit PIN.</Say>"
        ),
        "{xml}"
    );
}

#[test]
fn prompts_are_escaped() {
    let config = FlowConfig {
        fields: vec![Field {
            name: "pin".into(),
            prompt: "Press 1 & then <pound> \"now\"".into(),
            digits: 6,
        }],
        max_attempts: 2,
        timeout_secs: 7,
    };
    let turn = step(&config, &ring(KEY_HEX), CALL_SID, None, None);
    let xml = twiml(&turn, &config);
    assert!(
        xml.contains("<Say>Press 1 &amp; then &lt;pound&gt; \"now\"</Say>"),
        "{xml}"
    );
    assert!(xml.contains(r#"numDigits="6" timeout="7""#), "{xml}");
    assert!(!xml.contains("<pound>") && !xml.contains(" & "), "{xml}");
}

#[test]
fn give_up_says_goodbye_and_submit_has_no_twiml() {
    let config = config();
    let xml = twiml(&Turn::GiveUp, &config);
    assert_eq!(xml, goodbye_twiml(TOO_MANY_ATTEMPTS));
    assert!(
        xml.ends_with(&format!(
            "<Say>{TOO_MANY_ATTEMPTS}</Say><Hangup/></Response>"
        )),
        "{xml}"
    );
    assert_eq!(Turn::Submit { sealed: vec![] }.twiml(&config, ACTION), None);
    assert!(goodbye_twiml(APOLOGY).contains("<Hangup/>"));
}

#[test]
fn answer_twiml_thanks_or_says_not_found() {
    let account = Account {
        account: "AC12345678".into(),
        balance: "12.55".into(),
    };
    let xml = answer_twiml(Some(&account));
    assert!(
        xml.contains(
            "<Say>Thank you. Your account number is AC12345678 and your balance is 12.55</Say>"
        ),
        "{xml}"
    );
    assert_eq!(answer_twiml(None), goodbye_twiml(NOT_FOUND));
    let odd = Account {
        account: "A&B".into(),
        balance: "<1".into(),
    };
    let xml = answer_twiml(Some(&odd));
    assert!(xml.contains("A&amp;B") && xml.contains("&lt;1"), "{xml}");
}

// ------------------------------------------------------------------------------------------
// backend
// ------------------------------------------------------------------------------------------

#[test]
fn json_keys_are_camel_case_between_encrypted_and_digits() {
    for (field, key) in [
        ("card", "encryptedCardDigits"),
        ("pin", "encryptedPinDigits"),
        ("last_four", "encryptedLastFourDigits"),
        ("account_number", "encryptedAccountNumberDigits"),
        ("x2", "encryptedX2Digits"),
    ] {
        assert_eq!(json_key(field), key);
    }
}

#[test]
fn the_submission_carries_the_call_and_only_sealed_values() {
    let ring = ring(KEY_HEX);
    let sealed = submitted(&ring, CALL_SID, "1234", "4321");
    let body: Value = match serde_json::from_str(&submission(CALL_SID, &sealed)) {
        Ok(body) => body,
        Err(e) => panic!("submission is not JSON: {e}"),
    };
    assert_eq!(
        body,
        json!({
            "callSid": CALL_SID,
            "encryptedCardDigits": sealed[0].1,
            "encryptedPinDigits": sealed[1].1,
        })
    );
}

/// `backend::answer` checks the members the worker read with the host's `JSON.parse` (the JSON
/// itself, bad bodies included, is exercised against workerd in tests/worker/backend.test.js).
#[test]
fn answer_takes_short_printable_account_and_balance() {
    let account = |a: &str, b: &str| {
        Some(Account {
            account: a.into(),
            balance: b.into(),
        })
    };
    let longest = "A".repeat(64);
    let too_long = "A".repeat(65);
    let cases: Vec<(&str, &str, Option<Account>)> = vec![
        ("AC12345678", "12.55", account("AC12345678", "12.55")),
        ("12345678", "0", account("12345678", "0")),
        ("Konto Nr. 7", "€12,55", account("Konto Nr. 7", "€12,55")),
        (&longest, "1", account(&longest, "1")),
        (&too_long, "1", None),
        ("AC1", &too_long, None),
        ("", "12.55", None),
        ("AC1", "", None),
        ("AC1\n", "12.55", None),
        ("AC1", "12\u{7}", None),
        ("AC1", "12\u{85}", None),
    ];
    for (a, b, expected) in cases {
        assert_eq!(backend::answer(a, b), expected, "{a:?} {b:?}");
    }
}

/// What the worker hands `demo_answer`: a string member of the parsed body (serde_json stands
/// in here for the host's `JSON.parse`).
fn members(body: &Value) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| body.get(name).and_then(Value::as_str).map(str::to_owned)
}

#[test]
fn the_demo_backend_knows_one_caller() {
    let (config, ring) = (config(), ring(KEY_HEX));
    let body: Value = serde_json::from_str(&submission(CALL_SID, &submitted(&ring, CALL_SID, "1234", "4321"))).unwrap();
    let DemoAnswer::Found(answer) = demo_answer(&config, &ring, members(&body)) else {
        panic!("the demo caller should be found");
    };
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap(),
        json!({"account": "AC12345678", "balance": "12.55"})
    );

    for (card, pin) in [("1234", "0000"), ("4321", "1234"), ("0000", "4321")] {
        let body: Value = serde_json::from_str(&submission(CALL_SID, &submitted(&ring, CALL_SID, card, pin))).unwrap();
        assert_eq!(
            demo_answer(&config, &ring, members(&body)),
            DemoAnswer::NotFound,
            "{card}/{pin}"
        );
    }
}

#[test]
fn the_demo_backend_refuses_what_does_not_open_for_the_call() {
    let (config, ring) = (config(), ring(KEY_HEX));
    let sealed = submitted(&ring, CALL_SID, "1234", "4321");
    let (card, pin) = (sealed[0].1.as_str(), sealed[1].1.as_str());
    let foreign = submitted(&common::ring(OTHER_KEY_HEX), CALL_SID, "1234", "4321");
    let bodies = [
        (
            "swapped fields",
            json!({"callSid": CALL_SID, "encryptedCardDigits": pin, "encryptedPinDigits": card}),
        ),
        (
            "another call's sid",
            json!({"callSid": OTHER_CALL_SID, "encryptedCardDigits": card, "encryptedPinDigits": pin}),
        ),
        (
            "no callSid",
            json!({"encryptedCardDigits": card, "encryptedPinDigits": pin}),
        ),
        (
            "callSid a number",
            json!({"callSid": 7, "encryptedCardDigits": card, "encryptedPinDigits": pin}),
        ),
        (
            "missing pin",
            json!({"callSid": CALL_SID, "encryptedCardDigits": card}),
        ),
        (
            "pin not a string",
            json!({"callSid": CALL_SID, "encryptedCardDigits": card, "encryptedPinDigits": 4321}),
        ),
        (
            "plaintext digits",
            json!({"callSid": CALL_SID, "encryptedCardDigits": "1234", "encryptedPinDigits": "4321"}),
        ),
        (
            "under another key",
            json!({"callSid": CALL_SID, "encryptedCardDigits": foreign[0].1, "encryptedPinDigits": foreign[1].1}),
        ),
        ("an array", json!([CALL_SID, card, pin])),
    ];
    for (why, body) in bodies {
        assert_eq!(
            demo_answer(&config, &ring, members(&body)),
            DemoAnswer::BadRequest,
            "{why}"
        );
    }
}

/// Two fields whose values would travel under the same JSON key (`a_b` and `a__b` are both
/// `encryptedABDigits`) would make the submission drop one of them, so such a list is refused.
#[test]
fn fields_that_would_share_a_json_key_are_refused() {
    for (fields, prompts) in [
        ("pin,pin_", [("GATHER_PIN__PROMPT", "Again.")]),
        (
            "last_four,last__four",
            [("GATHER_LAST__FOUR_PROMPT", "Again.")],
        ),
        (
            "last_four,_last_four",
            [("GATHER__LAST_FOUR_PROMPT", "Again.")],
        ),
    ] {
        let mut pairs = vec![
            ("GATHER_FIELDS", fields),
            ("GATHER_LAST_FOUR_PROMPT", "Four."),
        ];
        pairs.extend(prompts);
        assert_eq!(config_error(&pairs).setting, "GATHER_FIELDS", "{fields}");
    }
    // Names that only look alike stay apart.
    let pairs = [
        ("GATHER_FIELDS", "last_four,lastfour"),
        ("GATHER_LAST_FOUR_PROMPT", "Four."),
        ("GATHER_LASTFOUR_PROMPT", "Four again."),
    ];
    let config = match FlowConfig::from_settings(settings(&pairs)) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    };
    let keys: Vec<String> = config.fields.iter().map(|f| json_key(&f.name)).collect();
    assert_eq!(keys, ["encryptedLastFourDigits", "encryptedLastfourDigits"]);
}
