//! A card flow with the kinds that follow a card: `card_types` refusing a brand not listed, a
//! `security-code` as long as the card before it makes it (4 digits after an American Express,
//! 3 after any other), learnt by opening the card's sealed value and nothing else, and a
//! `routing-number` by the ABA checksum. Through `flow::advance` and `flow::asked_kind`, then
//! through the engine as the worker drives it.

mod common;

use common::gather::{sealed_for, state, BASE, NOW};
use common::{ring, CALL_SID, KEY_HEX, OTHER_CALL_SID};
use gather_seal::config::{CodeLength, Flow, Flows, Kind};
use gather_seal::engine::{Call, Effect, Facts, Step, Transport, Turn as EngineTurn};
use gather_seal::flow::{advance, ask_twiml, ask_twiml_as, asked_kind, CallState, Prompt, Turn};
use gather_seal::kinds::Mistake;
use gather_seal::outcome::Outcome;
use gather_seal::{CallError, KeyRing};

const AMEX: &str = "378282246310005";
const VISA: &str = "4242424242424242";
const MASTERCARD: &str = "5555555555554444";

/// An Amex or Visa card, its code, and a routing number; handed to an application.
fn pay() -> Flow {
    let flows = Flows::from_json(
        r#"{"pay": {
            "fields": [
                {"name": "card", "prompt": "Card?", "kind": "card-number", "card_types": ["amex", "visa"]},
                {"name": "cvv", "prompt": "Code?", "kind": "security-code", "card": "card"},
                {"name": "routing", "prompt": "Routing number?", "kind": "routing-number"}
            ],
            "then": {"action": "https://app.example.com/paid"}
        }}"#,
    )
    .expect("a valid flow");
    flows.get("pay").expect("the flow").clone()
}

fn advanced(flow: &Flow, ring: &KeyRing, state: CallState, digits: &str) -> Turn {
    match advance(flow, ring, CALL_SID, Some(state), Some(digits), NOW, None) {
        Ok(advanced) => advanced.turn,
        Err(e) => panic!("advance failed: {e:?}"),
    }
}

/// The state that asks for the code after `card` was typed.
fn at_code(ring: &KeyRing, card: &str) -> CallState {
    let sealed = sealed_for(ring, CALL_SID, "card", card);
    state(1, 1, &[("card", &sealed)])
}

fn num_digits(twiml: &str) -> &str {
    let start = twiml.find("numDigits=\"").expect("numDigits") + 11;
    let end = start + twiml[start..].find('"').expect("its end");
    &twiml[start..end]
}

// ------------------------------------------------------------------------------------------
// The flow
// ------------------------------------------------------------------------------------------

#[test]
fn a_card_of_a_brand_not_listed_is_a_wrong_try() {
    let (flow, ring) = (pay(), ring(KEY_HEX));
    let turn = advanced(&flow, &ring, state(0, 1, &[]), MASTERCARD);
    assert!(
        matches!(&turn, Turn::Ask { state, retry: true, .. } if state.field == 0 && state.attempt == 2)
    );
    // Its twins: the listed brands go on to the code.
    for card in [AMEX, VISA] {
        let turn = advanced(&flow, &ring, state(0, 1, &[]), card);
        assert!(
            matches!(&turn, Turn::Ask { state, retry: false, .. } if state.field == 1),
            "{card}"
        );
    }
}

#[test]
fn the_code_is_as_long_as_the_card_before_it_makes_it() {
    let (flow, ring) = (pay(), ring(KEY_HEX));
    for (card, good, bad) in [(AMEX, "1234", "123"), (VISA, "123", "1234")] {
        let at = at_code(&ring, card);
        let length = u8::try_from(good.len()).expect("small");
        assert_eq!(
            asked_kind(&flow, &ring, CALL_SID, &at),
            Ok(Kind::SecurityCode(CodeLength::Fixed(length))),
            "{card}"
        );
        let refused = advanced(&flow, &ring, at.clone(), bad);
        assert!(
            matches!(&refused, Turn::Ask { retry: true, .. }),
            "{card} {bad}"
        );
        let taken = advanced(&flow, &ring, at, good);
        assert!(
            matches!(&taken, Turn::Ask { state, retry: false, .. } if state.field == 2),
            "{card} {good}"
        );
    }
}

#[test]
fn the_ask_for_the_code_wants_as_many_digits_as_the_card_gives() {
    let (flow, ring) = (pay(), ring(KEY_HEX));
    for (card, digits, sorry) in [
        (AMEX, "4", "Sorry, that was not a 4-digit security code."),
        (VISA, "3", "Sorry, that was not a 3-digit security code."),
    ] {
        let at = at_code(&ring, card);
        let kind = asked_kind(&flow, &ring, CALL_SID, &at).expect("the card opens");
        let twiml = ask_twiml_as(
            &flow,
            &at,
            Some(Mistake::Invalid),
            &Prompt::Field,
            BASE,
            kind,
        )
        .expect("a field");
        assert_eq!(num_digits(&twiml), digits, "{twiml}");
        assert!(!twiml.contains("finishOnKey"), "{twiml}");
        assert!(twiml.contains(sorry), "{twiml}");
        assert!(
            !twiml.contains(card),
            "the card's digits are never in the TwiML"
        );
    }
    // Without the brand, the ask takes either length: up to 4 digits, or 3 and pound.
    let twiml = ask_twiml(&flow, &at_code(&ring, AMEX), None, BASE).expect("a field");
    assert_eq!(num_digits(&twiml), "4");
    assert!(twiml.contains(r##"finishOnKey="#""##), "{twiml}");
}

#[test]
fn a_code_whose_card_does_not_open_stops_the_call() {
    let (flow, ring) = (pay(), ring(KEY_HEX));
    // The card sealed for another call, or not sealed at all.
    let copied = sealed_for(&ring, OTHER_CALL_SID, "card", AMEX);
    for bad in [
        state(1, 1, &[("card", &copied)]),
        state(1, 1, &[("card", "00")]),
    ] {
        assert_eq!(
            asked_kind(&flow, &ring, CALL_SID, &bad),
            Err(CallError::BadCallState)
        );
        assert_eq!(
            advance(&flow, &ring, CALL_SID, Some(bad), Some("1234"), NOW, None).map(|a| a.turn),
            Err(CallError::BadCallState)
        );
    }
    // No card carried, or a state past the fields.
    assert_eq!(
        asked_kind(&flow, &ring, CALL_SID, &state(1, 1, &[])),
        Err(CallError::BadCallState)
    );
    assert_eq!(
        asked_kind(&flow, &ring, CALL_SID, &state(3, 1, &[])),
        Err(CallError::BadCallState)
    );
    // Any other field is asked as written, with nothing opened.
    assert_eq!(
        asked_kind(
            &flow,
            &ring,
            CALL_SID,
            &state(2, 1, &[("card", "00"), ("cvv", "00")])
        ),
        Ok(Kind::RoutingNumber)
    );
}

#[test]
fn a_card_of_no_known_brand_gets_a_3_digit_code() {
    // Any brand taken (no card_types): a Luhn-valid number outside the table.
    let flows = Flows::from_json(
        r#"{"pay": {
            "fields": [
                {"name": "card", "prompt": "Card?", "kind": "card-number"},
                {"name": "cvv", "prompt": "Code?", "kind": "security-code", "card": "card"}
            ],
            "then": {"redirect": "https://app.example.com/paid"}
        }}"#,
    )
    .expect("a valid flow");
    let (flow, ring) = (flows.get("pay").expect("the flow").clone(), ring(KEY_HEX));
    let card = "123456789015";
    let turn = advanced(&flow, &ring, state(0, 1, &[]), card);
    let Turn::Ask {
        state: at,
        retry: false,
        ..
    } = turn
    else {
        panic!("{turn:?}")
    };
    assert_eq!(
        asked_kind(&flow, &ring, CALL_SID, &at),
        Ok(Kind::SecurityCode(CodeLength::Fixed(3)))
    );
}

#[test]
fn a_routing_number_must_pass_the_checksum() {
    let (flow, ring) = (pay(), ring(KEY_HEX));
    let card = sealed_for(&ring, CALL_SID, "card", VISA);
    let cvv = sealed_for(&ring, CALL_SID, "cvv", "123");
    let at = state(2, 1, &[("card", &card), ("cvv", &cvv)]);
    for wrong in ["021000022", "02100002", "0210000210"] {
        let turn = advanced(&flow, &ring, at.clone(), wrong);
        assert!(matches!(&turn, Turn::Ask { retry: true, .. }), "{wrong}");
    }
    let turn = advanced(&flow, &ring, at, "021000021");
    assert!(
        matches!(&turn, Turn::HandOff { sealed, .. } if sealed.len() == 3),
        "{turn:?}"
    );
}

// ------------------------------------------------------------------------------------------
// Through the engine
// ------------------------------------------------------------------------------------------

/// One webhook's answer or first effect.
fn engine_step(
    flow: &Flow,
    ring: &KeyRing,
    state: Option<CallState>,
    digits: Option<&str>,
) -> Step {
    let facts = Facts {
        flow,
        ring,
        counter_key: b"counter key for the card tests..",
        verify: None,
        signing_secret: Some(b"signing secret for the card tests"),
        call: Call {
            call_sid: CALL_SID,
            account_sid: "ACeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
            from: "+15005550006",
            to: "+15005550001",
        },
        state,
        digits,
        now_ms: NOW * 1000,
        transport: Transport::Webhook { action_base: BASE },
    };
    EngineTurn::new(facts).step(None)
}

fn answer(step: Step) -> (String, Outcome) {
    match step {
        Step::Answer(answer) => (answer.twiml, answer.outcome),
        Step::Do(effect) => panic!("an effect: {effect:?}"),
    }
}

#[test]
fn the_engine_asks_an_amex_for_4_digits_and_a_visa_for_3() {
    let (flow, ring) = (pay(), ring(KEY_HEX));
    for (card, digits, good, bad) in [(AMEX, "4", "1234", "123"), (VISA, "3", "123", "1234")] {
        let (twiml, outcome) = answer(engine_step(
            &flow,
            &ring,
            Some(state(0, 1, &[])),
            Some(card),
        ));
        assert_eq!(outcome, Outcome::Sealed);
        assert_eq!(num_digits(&twiml), digits, "{card}: {twiml}");
        let at = at_code(&ring, card);
        let (twiml, outcome) = answer(engine_step(&flow, &ring, Some(at.clone()), Some(bad)));
        assert_eq!(outcome, Outcome::Reprompted, "{card} {bad}");
        assert_eq!(
            num_digits(&twiml),
            digits,
            "the retry asks the same length: {twiml}"
        );
        let (twiml, outcome) = answer(engine_step(&flow, &ring, Some(at), Some(good)));
        assert_eq!(outcome, Outcome::Sealed, "{card} {good}");
        assert_eq!(num_digits(&twiml), "9", "then the routing number: {twiml}");
    }
    // A brand not listed is asked again.
    let (_, outcome) = answer(engine_step(
        &flow,
        &ring,
        Some(state(0, 1, &[])),
        Some(MASTERCARD),
    ));
    assert_eq!(outcome, Outcome::Reprompted);
}

#[test]
fn the_engine_refuses_a_code_whose_card_was_copied_from_another_call() {
    let (flow, ring) = (pay(), ring(KEY_HEX));
    let copied = sealed_for(&ring, OTHER_CALL_SID, "card", AMEX);
    match engine_step(
        &flow,
        &ring,
        Some(state(1, 1, &[("card", &copied)])),
        Some("1234"),
    ) {
        Step::Answer(answer) => {
            assert_eq!(answer.status, 400);
            assert_eq!(answer.outcome, Outcome::BadState);
        }
        Step::Do(effect) => panic!("an effect: {effect:?}"),
    }
}

#[test]
fn a_whole_payment_hands_off_three_sealed_values() {
    let (flow, ring) = (pay(), ring(KEY_HEX));
    let card = sealed_for(&ring, CALL_SID, "card", AMEX);
    let cvv = sealed_for(&ring, CALL_SID, "cvv", "1234");
    let at = state(2, 1, &[("card", &card), ("cvv", &cvv)]);
    match engine_step(&flow, &ring, Some(at), Some("011000015")) {
        Step::Do(Effect::Submit { .. }) => {}
        other => panic!("not a submission: {other:?}"),
    }
}
