//! The TwiML that asks for a field (`flow::ask_twiml`): the `<Gather>` each field kind gets,
//! the retry sentence, language and voice, the call state in the action URL; and the TwiML
//! that says goodbye (`flow::goodbye_twiml`).

mod common;

use common::gather::{field, flow, pin_then_otp, state, BASE};
use common::XML;
use gather_seal::config::{Flow, Kind};
use gather_seal::flow::{ask_twiml, goodbye_twiml, speech, CallState};
use gather_seal::kinds::Mistake;
use gather_seal::twilio::twiml::Speech;

// ------------------------------------------------------------------------------------------
// Asking
// ------------------------------------------------------------------------------------------

fn ask(flow: &Flow, state: &CallState, retry: bool) -> String {
    // A retry after an invalid entry: the sentence for that, which falls back to `retry`.
    match ask_twiml(flow, state, retry.then_some(Mistake::Invalid), BASE) {
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
    assert_eq!(ask_twiml(&flow, &state(3, 1, &[]), None, BASE), None);
    assert_eq!(
        ask_twiml(
            &flow,
            &state(usize::MAX, 1, &[]),
            Some(Mistake::Invalid),
            BASE
        ),
        None
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

// ------------------------------------------------------------------------------------------
// Goodbye
// ------------------------------------------------------------------------------------------

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
