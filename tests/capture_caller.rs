//! Card capture as the caller meets it (issue 16): the sentence said after each kind of mistake,
//! `confirm` (hear the entry back, press 1), `repeat` (type it twice), and what the action URL
//! carries while an entry waits. Whole calls go through the engine as the worker drives them
//! ([`common::caller`]). Every expected sentence is written out here, not taken from the crate.
//! `*` and a tampered pending entry: capture_pending.rs.

mod common;

use common::caller::{
    at, handed_on, num_digits, pay, query_value, says, values, Caller, AMEX, EXPIRED, EXPIRY,
    MASTERCARD, NEXT, NOT_LUHN, ROUTING, VISA,
};
use common::gather::{opened, pairs};
use common::{ring, CALL_SID, KEY_HEX};
use gather_seal::config::Flow;
use gather_seal::outcome::Outcome;

/// Whether a query carries any of `typed` as a whole name or value: a pending or kept entry
/// must ride only as ciphertext, whose hex may well hold the same digits inside it.
fn carries_plaintext(query: &str, typed: &[&str]) -> bool {
    pairs(query)
        .iter()
        .any(|(k, v)| typed.iter().any(|t| k == t || v == t))
}

// ------------------------------------------------------------------------------------------
// A sentence per mistake
// ------------------------------------------------------------------------------------------

/// A Visa-only card, its expiry, a PIN typed twice; with these `messages`.
fn mistakes(messages: &str) -> Flow {
    pay(&format!(
        r#"{{"fields": [
            {{"name": "card", "prompt": "Card number?", "kind": "card-number", "card_types": ["visa"]}},
            {{"name": "expiry", "prompt": "Expiry?", "kind": "expiry"}},
            {{"name": "pin", "prompt": "PIN?", "kind": "digits", "length": 4, "repeat": true}}
        ],
        "messages": {messages},
        "then": {{"redirect": "{NEXT}"}} }}"#
    ))
}

#[test]
fn each_mistake_says_its_own_message_else_retry_else_its_default() {
    let ring = ring(KEY_HEX);
    let own = mistakes(
        r#"{"timeout": "We heard nothing.", "invalid": "That is not valid.",
            "card_type": "We do not take that card.", "expired": "That card has expired.",
            "mismatch": "Those differ.", "retry": "Once more."}"#,
    );
    let retry_only = mistakes(r#"{"retry": "Once more."}"#);
    let none = mistakes("{}");
    const CARD_SORRY: &str =
        "Sorry, that was not a valid card number. Press pound when you are done.";
    const EXPIRY_SORRY: &str = "Sorry, that was not a valid expiry date.";
    // (why, typed before, the wrong entry, its own message, the default sentence, the prompt)
    type Case<'a> = (
        &'a str,
        &'a [&'a str],
        Option<&'a str>,
        &'a str,
        &'a str,
        &'a str,
    );
    let cases: [Case; 10] = [
        (
            "no Digits",
            &[],
            None,
            "We heard nothing.",
            CARD_SORRY,
            "Card number?",
        ),
        (
            "empty Digits",
            &[],
            Some(""),
            "We heard nothing.",
            CARD_SORRY,
            "Card number?",
        ),
        (
            "not Luhn",
            &[],
            Some(NOT_LUHN),
            "That is not valid.",
            CARD_SORRY,
            "Card number?",
        ),
        (
            "too short",
            &[],
            Some("4242"),
            "That is not valid.",
            CARD_SORRY,
            "Card number?",
        ),
        (
            "an Amex on a Visa-only field",
            &[],
            Some(AMEX),
            "We do not take that card.",
            "Sorry, we do not accept that card.",
            "Card number?",
        ),
        (
            "a Mastercard on a Visa-only field",
            &[],
            Some(MASTERCARD),
            "We do not take that card.",
            "Sorry, we do not accept that card.",
            "Card number?",
        ),
        (
            "no expiry",
            &[VISA],
            None,
            "We heard nothing.",
            EXPIRY_SORRY,
            "Expiry?",
        ),
        (
            "month 13",
            &[VISA],
            Some("1329"),
            "That is not valid.",
            EXPIRY_SORRY,
            "Expiry?",
        ),
        (
            "last month",
            &[VISA],
            Some(EXPIRED),
            "That card has expired.",
            EXPIRY_SORRY,
            "Expiry?",
        ),
        (
            "a PIN typed twice, differently",
            &[VISA, EXPIRY, "1234"],
            Some("1243"),
            "Those differ.",
            "Sorry, the two entries did not match.",
            "PIN?",
        ),
    ];
    for (why, before, wrong, own_sentence, default, prompt) in cases {
        for (flow, sentence) in [
            (&own, own_sentence),
            (&retry_only, "Once more."),
            (&none, default),
        ] {
            let mut caller = Caller::new(flow, &ring);
            caller.comes_in();
            for entry in before {
                caller.types(Some(entry));
            }
            let answer = caller.types(wrong);
            assert_eq!(answer.outcome, Outcome::Reprompted, "{why}");
            assert_eq!(says(&answer.twiml), [sentence, prompt], "{why}");
            // One try used; a repeat field starts over with nothing pending.
            let query = caller.query.clone().expect("asked again");
            assert_eq!(
                query_value(&query, "attempt").as_deref(),
                Some("2"),
                "{why}"
            );
            assert_eq!(query_value(&query, "pending-repeat"), None, "{why}");
        }
    }
}

#[test]
fn a_month_not_yet_over_is_not_expired() {
    // NOW is 2026-12-01: December 2026 is good to the end of the month, November is not.
    let (flow, ring) = (mistakes("{}"), ring(KEY_HEX));
    let mut caller = Caller::new(&flow, &ring);
    caller.comes_in();
    caller.types(Some(VISA));
    let answer = caller.types(Some("1226"));
    assert_eq!(says(&answer.twiml), ["PIN?"]);
    assert_eq!(at(&caller), ("pin".into(), "1".into()));
}

// ------------------------------------------------------------------------------------------
// Confirm
// ------------------------------------------------------------------------------------------

/// A card, a routing number and an expiry, each read back; two tries each.
fn confirmed(messages: &str) -> Flow {
    pay(&format!(
        r#"{{"fields": [
            {{"name": "card", "prompt": "Card number?", "kind": "card-number", "confirm": true}},
            {{"name": "routing", "prompt": "Routing number?", "kind": "routing-number", "confirm": true}},
            {{"name": "expiry", "prompt": "Expiry?", "kind": "expiry", "confirm": true}}
        ],
        "attempts": 2,
        "messages": {messages},
        "then": {{"redirect": "{NEXT}"}} }}"#
    ))
}

#[test]
fn each_confirm_field_reads_its_entry_back_and_1_keeps_what_was_typed() {
    let (flow, ring) = (confirmed("{}"), ring(KEY_HEX));
    let mut caller = Caller::new(&flow, &ring);
    caller.comes_in();
    // (typed, the readback, the field asked after 1)
    let steps = [
        (
            VISA,
            "You entered a card ending in 4 2 4 2. Press 1 to confirm, or any other key to enter it again.",
            "Routing number?",
        ),
        (
            ROUTING,
            "You entered a routing number ending in 0 0 2 1. Press 1 to confirm, or any other key to enter it again.",
            "Expiry?",
        ),
        (
            EXPIRY,
            "You entered an expiry date of month 3, 2029. Press 1 to confirm, or any other key to enter it again.",
            "",
        ),
    ];
    for (typed, readback, next) in steps {
        let field = at(&caller).0;
        let answer = caller.types(Some(typed));
        assert_eq!(says(&answer.twiml), [readback]);
        assert_eq!(num_digits(&answer), "1", "one key confirms");
        assert!(!answer.twiml.contains("finishOnKey"), "{}", answer.twiml);
        // Asked at the same step and try, the entry waiting sealed, not yet kept.
        let query = caller.query.clone().expect("the confirmation is gathered");
        assert_eq!(at(&caller), (field.clone(), "1".into()));
        assert!(query_value(&query, "pending-confirm").is_some(), "{query}");
        assert_eq!(query_value(&query, &field), None, "not kept before 1");
        let answer = caller.types(Some("1"));
        if next.is_empty() {
            let (result, kept) = handed_on(&answer, &ring);
            assert_eq!(result, "success");
            assert_eq!(
                kept,
                values(&[("card", VISA), ("routing", ROUTING), ("expiry", EXPIRY)])
            );
        } else {
            assert_eq!(says(&answer.twiml), [next]);
            let query = caller.query.clone().expect("the next field");
            let sealed = query_value(&query, &field).expect("kept");
            assert_eq!(
                opened(&sealed, &ring, CALL_SID, &field).as_deref(),
                Ok(typed)
            );
            assert_eq!(query_value(&query, "pending-confirm"), None);
        }
    }
}

#[test]
fn the_flow_own_confirm_sentence_fills_each_placeholder_and_leaves_others() {
    let flow = confirmed(
        r#"{"confirm": "Card {last4}, month {month}, year {year}, balance {balance}, {last4 } {"}"#,
    );
    let ring = ring(KEY_HEX);
    let mut caller = Caller::new(&flow, &ring);
    caller.comes_in();
    let card = caller.types(Some(VISA));
    assert_eq!(
        says(&card.twiml),
        ["Card 4 2 4 2, month , year , balance {balance}, {last4 } {"]
    );
    caller.types(Some("1"));
    let routing = caller.types(Some(ROUTING));
    assert_eq!(
        says(&routing.twiml),
        ["Card 0 0 2 1, month , year , balance {balance}, {last4 } {"]
    );
    caller.types(Some("1"));
    let expiry = caller.types(Some("1230"));
    assert_eq!(
        says(&expiry.twiml),
        ["Card , month 12, year 2030, balance {balance}, {last4 } {"]
    );
}

#[test]
fn any_answer_but_1_asks_the_field_again_with_a_try_used_and_no_mistake_sentence() {
    let (flow, ring) = (confirmed("{}"), ring(KEY_HEX));
    for answer in [Some("2"), Some("0"), Some("11"), Some("#"), Some(""), None] {
        let mut caller = Caller::new(&flow, &ring);
        caller.comes_in();
        caller.types(Some(VISA));
        let again = caller.types(answer);
        assert_eq!(again.outcome, Outcome::Reprompted, "{answer:?}");
        assert_eq!(says(&again.twiml), ["Card number?"], "{answer:?}");
        assert_eq!(num_digits(&again), "19", "the card is asked, not a key");
        let query = caller.query.clone().expect("asked again");
        assert_eq!(at(&caller), ("card".into(), "2".into()), "{answer:?}");
        assert_eq!(query_value(&query, "pending-confirm"), None, "{answer:?}");
        // The second try is kept as typed.
        caller.types(Some(MASTERCARD));
        let next = caller.types(Some("1"));
        assert_eq!(says(&next.twiml), ["Routing number?"], "{answer:?}");
        let query = caller.query.clone().expect("the routing number");
        let card = query_value(&query, "card").expect("kept");
        assert_eq!(
            opened(&card, &ring, CALL_SID, "card").as_deref(),
            Ok(MASTERCARD)
        );
    }
}

#[test]
fn not_confirming_on_the_last_try_hands_off_too_many_attempts_with_the_fields_before() {
    let (flow, ring) = (confirmed("{}"), ring(KEY_HEX));
    let mut caller = Caller::new(&flow, &ring);
    caller.comes_in();
    caller.types_all(&[VISA, "1", ROUTING, "2", ROUTING]);
    assert_eq!(at(&caller), ("routing".into(), "2".into()));
    let answer = caller.types(Some("9"));
    assert_eq!(answer.result.map(|r| r.as_str()), Some("too-many-attempts"));
    let (result, kept) = handed_on(&answer, &ring);
    assert_eq!(result, "too-many-attempts");
    assert_eq!(kept, values(&[("card", VISA)]));
}

// ------------------------------------------------------------------------------------------
// Repeat
// ------------------------------------------------------------------------------------------

/// A PIN typed twice, then a card typed twice and read back; two tries each.
fn repeated(messages: &str) -> Flow {
    pay(&format!(
        r#"{{"fields": [
            {{"name": "pin", "prompt": "PIN?", "kind": "digits", "length": 4, "repeat": true}},
            {{"name": "card", "prompt": "Card number?", "kind": "card-number", "repeat": true, "confirm": true}}
        ],
        "attempts": 2,
        "messages": {messages},
        "then": {{"redirect": "{NEXT}"}} }}"#
    ))
}

#[test]
fn a_repeat_field_asks_again_without_a_try_and_keeps_a_match() {
    let ring = ring(KEY_HEX);
    for (messages, again) in [
        ("{}", "Please enter it again."),
        (r#"{"repeat": "Once more, please."}"#, "Once more, please."),
    ] {
        let flow = repeated(messages);
        let mut caller = Caller::new(&flow, &ring);
        caller.comes_in();
        let first = caller.types(Some("1234"));
        assert_eq!(first.outcome, Outcome::Sealed);
        assert_eq!(says(&first.twiml), [again]);
        assert_eq!(num_digits(&first), "4", "asked as the field is");
        assert_eq!(at(&caller), ("pin".into(), "1".into()), "no try used");
        let query = caller.query.clone().expect("asked again");
        assert!(query_value(&query, "pending-repeat").is_some(), "{query}");
        let second = caller.types(Some("1234"));
        assert_eq!(says(&second.twiml), ["Card number?"]);
        let query = caller.query.clone().expect("the card");
        let pin = query_value(&query, "pin").expect("kept");
        assert_eq!(opened(&pin, &ring, CALL_SID, "pin").as_deref(), Ok("1234"));
        assert_eq!(query_value(&query, "pending-repeat"), None);
    }
}

#[test]
fn a_card_with_repeat_and_confirm_is_typed_twice_then_read_back() {
    let (flow, ring) = (repeated("{}"), ring(KEY_HEX));
    let mut caller = Caller::new(&flow, &ring);
    caller.comes_in();
    caller.types_all(&["1234", "1234"]);
    let first = caller.types(Some(VISA));
    assert_eq!(says(&first.twiml), ["Please enter it again."]);
    assert_eq!(num_digits(&first), "19");
    let second = caller.types(Some(VISA));
    assert_eq!(
        says(&second.twiml),
        ["You entered a card ending in 4 2 4 2. Press 1 to confirm, or any other key to enter it again."]
    );
    let query = caller.query.clone().expect("the confirmation");
    assert!(query_value(&query, "pending-confirm").is_some(), "{query}");
    assert_eq!(query_value(&query, "pending-repeat"), None, "{query}");
    let (result, kept) = handed_on(&caller.types(Some("1")), &ring);
    assert_eq!(result, "success");
    assert_eq!(kept, values(&[("pin", "1234"), ("card", VISA)]));
}

#[test]
fn a_mismatch_uses_a_try_and_on_the_last_hands_off_too_many_attempts() {
    let (flow, ring) = (repeated("{}"), ring(KEY_HEX));
    let mut caller = Caller::new(&flow, &ring);
    caller.comes_in();
    caller.types(Some("1234"));
    let mismatch = caller.types(Some("1243"));
    assert_eq!(
        says(&mismatch.twiml),
        ["Sorry, the two entries did not match.", "PIN?"]
    );
    assert_eq!(at(&caller), ("pin".into(), "2".into()));
    // The second try's pair is what is kept, not the first try's.
    caller.types_all(&["1243", "1243"]);
    let query = caller.query.clone().expect("the card");
    let pin = query_value(&query, "pin").expect("kept");
    assert_eq!(opened(&pin, &ring, CALL_SID, "pin").as_deref(), Ok("1243"));
    // A card whose two entries differ, twice: the PIN is handed on, the card is not.
    caller.types_all(&[VISA, MASTERCARD]);
    assert_eq!(at(&caller), ("card".into(), "2".into()));
    let answer = caller.types_all(&[VISA, "4111111111111111"]);
    let (result, kept) = handed_on(&answer, &ring);
    assert_eq!(result, "too-many-attempts");
    assert_eq!(kept, values(&[("pin", "1243")]));
}

#[test]
fn no_entry_rides_in_the_action_url_as_its_digits() {
    let (flow, ring) = (repeated("{}"), ring(KEY_HEX));
    let typed = ["1234", VISA, MASTERCARD];
    let mut caller = Caller::new(&flow, &ring);
    caller.comes_in();
    // A PIN pending, then kept; a card pending, refused, pending again, then read back.
    for entry in ["1234", "1234", VISA, MASTERCARD, VISA, VISA] {
        caller.types(Some(entry));
        let query = caller.query.clone().expect("still asking");
        assert!(!carries_plaintext(&query, &typed), "{query}");
    }
    // The check itself: it finds digits carried as a value, and is not fooled by hex that
    // holds them.
    assert!(carries_plaintext(
        "step=pin&attempt=1&pending-repeat=1234",
        &typed
    ));
    assert!(carries_plaintext(&format!("step=card&pin={VISA}"), &typed));
    assert!(!carries_plaintext(
        "step=pin&attempt=1&pending-repeat=ab1234cd4242424242424242",
        &typed
    ));
}
