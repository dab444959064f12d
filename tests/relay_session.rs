//! The relay's session (`relay::session::Session`) driven as the glue drives it: every
//! `Out::Turn` run through the real engine with `Transport::Relay`, every effect answered as a
//! working world would. What Twilio and the application each receive is checked message by
//! message: the application never gets a typed digit, and its result opens with the
//! submission's own rules.

mod common;

use common::gather::NOW;
use common::{ring, CALL_SID, KEY_HEX};
use gather_seal::config::{Flows, Relays};
use gather_seal::engine::{Call, CounterAnswer, Effect, Facts, Feedback, Step, Transport, Turn};
use gather_seal::handoff::verify_submission;
use gather_seal::lockout::HandOffMark;
use gather_seal::relay::session::{Out, Session, MAX_MESSAGE};
use gather_seal::{open, KeyRing};

const SECRET: &[u8] = b"a-relay-test-signing-secret-of-32-chars!";
const COUNTER_KEY: &[u8] = b"a-relay-test-counter-key";

const FLOWS: &str = r#"{
  "pin": {
    "fields": [{"name": "pin", "kind": "digits", "length": 4, "prompt": "Enter your PIN."}],
    "language": "en-GB",
    "then": {"redirect": "https://app.example.com/unused"}
  },
  "pay": {
    "fields": [
      {"name": "card", "kind": "card-number", "confirm": true, "prompt": "Enter your card number, then press pound."},
      {"name": "cvv", "kind": "security-code", "card": "card", "prompt": "Enter the security code."}
    ],
    "attempts": 2,
    "then": {"redirect": "https://app.example.com/unused"}
  },
  "other": {
    "fields": [{"name": "pin", "kind": "digits", "length": 4, "prompt": "PIN?"}],
    "then": {"redirect": "https://app.example.com/unused"}
  }
}"#;

fn setup() -> String {
    format!(
        r#"{{"type":"setup","sessionId":"VX00000000000000000000000000000000","accountSid":"AC00000000000000000000000000000000","callSid":"{CALL_SID}","from":"+15005550006","to":"+15005550001","direction":"inbound","customParameters":{{}}}}"#
    )
}

fn dtmf(digit: &str) -> String {
    format!(r#"{{"type":"dtmf","digit":"{digit}"}}"#)
}

/// A session of a relay that may start `pin` and `pay`, the glue's part played here.
struct Glue {
    flows: Flows,
    ring: KeyRing,
    session: Session,
    to_twilio: Vec<String>,
    to_app: Vec<String>,
    waiting: Option<u32>,
}

impl Glue {
    fn new(speech: &str) -> Glue {
        let flows = Flows::from_json(FLOWS).expect("flows");
        let relays = Relays::from_json(
            &format!(
                r#"{{"agent": {{"upstream": "wss://agent.example.com/ws", "flows": ["pin", "pay"], "speech": "{speech}"}}}}"#
            ),
            &flows,
        )
        .expect("relays");
        let relay = relays.get("agent").expect("agent").clone();
        let mut glue = Glue {
            flows,
            ring: ring(KEY_HEX),
            session: Session::new(relay),
            to_twilio: Vec::new(),
            to_app: Vec::new(),
            waiting: None,
        };
        glue.twilio(&setup());
        glue
    }

    fn twilio(&mut self, text: &str) {
        let out = self.session.from_twilio(text);
        self.carry_out(out);
    }

    fn app(&mut self, text: &str) {
        let out = self.session.from_app(text);
        self.carry_out(out);
    }

    fn keys(&mut self, keys: &str) {
        for key in keys.chars() {
            self.twilio(&dtmf(&key.to_string()));
        }
    }

    fn time_passes(&mut self) {
        assert!(self.waiting.is_some(), "nothing is waiting for a key");
        let out = self.session.timed_out();
        self.carry_out(out);
    }

    fn carry_out(&mut self, out: Vec<Out>) {
        for out in out {
            match out {
                Out::ToTwilio(text) => self.to_twilio.push(text),
                Out::ToApp(text) => self.to_app.push(text),
                Out::Wait(ms) => self.waiting = Some(ms),
                Out::StopWaiting => self.waiting = None,
                Out::Turn {
                    flow,
                    state,
                    digits,
                } => {
                    let flow = self.flows.get(&flow).expect("a relay's flow").clone();
                    let call = self.session.call().clone();
                    let facts = Facts {
                        flow: &flow,
                        ring: &self.ring,
                        counter_key: COUNTER_KEY,
                        verify: None,
                        signing_secret: Some(SECRET),
                        call: Call {
                            call_sid: &call.call_sid,
                            account_sid: &call.account_sid,
                            from: &call.from,
                            to: &call.to,
                        },
                        state,
                        digits: digits.as_deref().map(String::as_str),
                        now_ms: NOW * 1000,
                        transport: Transport::Relay,
                    };
                    let mut turn = Turn::new(facts);
                    let mut step = turn.step(None);
                    let answer = loop {
                        match step {
                            Step::Answer(answer) => break answer,
                            Step::Do(effect) => step = turn.step(Some(working(&effect))),
                        }
                    };
                    let next = self.session.turn_done(answer);
                    self.carry_out(next);
                }
            }
        }
    }

    fn last_to_twilio(&self) -> serde_json::Value {
        serde_json::from_str(self.to_twilio.last().expect("a message to Twilio")).expect("JSON")
    }

    fn last_to_app(&self) -> serde_json::Value {
        serde_json::from_str(self.to_app.last().expect("a message to the app")).expect("JSON")
    }

    /// The result the application got: the submission, checked as `verifySubmission` does.
    fn result(&self) -> serde_json::Value {
        let message = self.last_to_app();
        assert_eq!(message["type"], "gather-seal.result", "{message}");
        let body = message["body"].as_str().expect("body");
        let signature = message["signature"].as_str().expect("signature");
        verify_submission(body.as_bytes(), Some(signature), &[SECRET], NOW, 300)
            .expect("signed like a submission");
        serde_json::from_str(body).expect("JSON body")
    }
}

fn working(effect: &Effect) -> Feedback {
    match effect {
        Effect::TakeTry { .. } => Feedback::Counter(CounterAnswer::Open),
        Effect::MarkHandOff { .. } => Feedback::Marked(Some(HandOffMark::First)),
        Effect::GiveBack { .. } => Feedback::Done,
        other => panic!("no such effect in these flows: {other:?}"),
    }
}

/// Whether `digits` appear in `text` as a whole run of digits (not inside a longer one).
fn holds(text: &str, digits: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|run| run == digits)
}

#[test]
fn setup_and_speech_pass_with_long_digit_runs_redacted() {
    let mut glue = Glue::new("redact");
    assert_eq!(glue.to_app, [setup()], "setup passes unchanged");
    assert_eq!(glue.session.call().call_sid, CALL_SID);
    let plain =
        r#"{"type":"prompt","voicePrompt":"I'd like to pay my bill","lang":"en-US","last":true}"#;
    glue.twilio(plain);
    assert_eq!(glue.to_app.last().map(String::as_str), Some(plain));
    glue.twilio(r#"{"type":"prompt","voicePrompt":"it is 4242 4242 4242 4242 and room 101","lang":"en-US","last":true}"#);
    assert_eq!(
        glue.to_app.last().map(String::as_str),
        Some(
            r#"{"type":"prompt","voicePrompt":"it is [redacted] and room 101","lang":"en-US","last":true}"#
        )
    );
    assert_eq!(glue.session.tally().redactions, 1);
    // Outside a capture the caller's keys and other messages pass as they came.
    glue.twilio(&dtmf("5"));
    assert_eq!(glue.to_app.last(), Some(&dtmf("5")));
    let interrupt =
        r#"{"type":"interrupt","utteranceUntilInterrupt":"Hello","durationUntilInterruptMs":460}"#;
    glue.twilio(interrupt);
    assert_eq!(glue.to_app.last().map(String::as_str), Some(interrupt));
}

#[test]
fn speech_pass_leaves_digits_as_spoken() {
    let mut glue = Glue::new("pass");
    let spoken =
        r#"{"type":"prompt","voicePrompt":"4242 4242 4242 4242","lang":"en-US","last":true}"#;
    glue.twilio(spoken);
    assert_eq!(glue.to_app.last().map(String::as_str), Some(spoken));
    assert_eq!(glue.session.tally().redactions, 0);
}

#[test]
fn the_application_s_messages_pass_to_twilio_and_its_gather_seal_ones_are_the_relay_s() {
    let mut glue = Glue::new("redact");
    let text = r#"{"type":"text","token":"How can I help?","last":true}"#;
    glue.app(text);
    assert_eq!(glue.to_twilio, [text]);
    glue.app(r#"{"type":"gather-seal.start","flow":"other"}"#);
    assert_eq!(
        glue.to_app.last().map(String::as_str),
        Some(r#"{"type":"gather-seal.error","reason":"unknown-flow"}"#)
    );
    glue.app(r#"{"type":"gather-seal.stop"}"#);
    assert_eq!(
        glue.to_app.last().map(String::as_str),
        Some(r#"{"type":"gather-seal.error","reason":"unknown-message"}"#)
    );
    assert_eq!(
        glue.to_twilio.len(),
        1,
        "nothing of the relay's own reaches Twilio"
    );
    assert!(!glue.session.capturing());
}

#[test]
fn a_pin_capture_asks_in_the_flow_s_language_collects_keys_and_hands_a_signed_result() {
    let mut glue = Glue::new("redact");
    glue.app(r#"{"type":"gather-seal.start","flow":"pin"}"#);
    assert_eq!(
        glue.to_twilio.last().map(String::as_str),
        Some(r#"{"type":"text","token":"Enter your PIN.","last":true,"lang":"en-GB"}"#)
    );
    assert_eq!(glue.waiting, Some(10_000), "the flow's timeout");
    // During the capture: a second start is refused, speech and keys reach nobody.
    glue.app(r#"{"type":"gather-seal.start","flow":"pay"}"#);
    assert_eq!(
        glue.to_app.last().map(String::as_str),
        Some(r#"{"type":"gather-seal.error","reason":"busy"}"#)
    );
    let before = glue.to_app.len();
    glue.twilio(r#"{"type":"prompt","voicePrompt":"it's 4 3 2 1","lang":"en-US","last":true}"#);
    glue.keys("432");
    assert_eq!(
        glue.to_app.len(),
        before,
        "nothing reaches the application mid-capture"
    );
    glue.keys("1");
    let result = glue.result();
    assert_eq!(result["result"], "success");
    assert_eq!(result["callSid"], CALL_SID);
    assert_eq!(result["flow"], "pin");
    let sealed = result["encryptedPinDigits"].as_str().expect("sealed");
    let context = format!("{CALL_SID}:pin");
    assert_eq!(
        open(sealed, &glue.ring, context.as_bytes()).as_deref(),
        Ok("4321")
    );
    assert!(!glue.session.capturing());
    assert_eq!(glue.waiting, None);
    for message in &glue.to_app {
        let message: serde_json::Value = serde_json::from_str(message).expect("JSON");
        let visible = match message["type"].as_str() {
            Some("gather-seal.result") => String::new(),
            _ => message.to_string(),
        };
        assert!(!holds(&visible, "4321"), "{visible}");
    }
    assert_eq!(
        glue.session.tally().captures,
        [("pin".to_owned(), "success")]
    );
}

#[test]
fn a_wrong_entry_and_silence_get_their_sentences_and_use_tries() {
    let mut glue = Glue::new("redact");
    glue.app(r#"{"type":"gather-seal.start","flow":"pin"}"#);
    glue.keys("12#");
    assert_eq!(
        glue.last_to_twilio()["token"],
        "Sorry, that was not 4 digits. Enter your PIN."
    );
    glue.time_passes();
    assert_eq!(
        glue.last_to_twilio()["token"],
        "Sorry, that was not 4 digits. Enter your PIN."
    );
    glue.time_passes();
    assert_eq!(glue.result()["result"], "too-many-attempts");
}

#[test]
fn a_card_is_read_back_and_its_code_follows_its_brand_and_masked_comes_back() {
    let mut glue = Glue::new("redact");
    glue.app(r#"{"type":"gather-seal.start","flow":"pay"}"#);
    glue.keys("378282246310005#");
    assert_eq!(
        glue.last_to_twilio()["token"],
        "You entered a card ending in 0 0 0 5. Press 1 to confirm, or any other key to enter it again."
    );
    glue.keys("1");
    assert_eq!(glue.last_to_twilio()["token"], "Enter the security code.");
    glue.keys("1234");
    let result = glue.result();
    assert_eq!(result["result"], "success");
    assert_eq!(
        result["masked"],
        serde_json::json!({"card": {"last4": "0005", "brand": "amex"}})
    );
}

#[test]
fn star_cancels_with_the_fields_before() {
    let mut glue = Glue::new("redact");
    glue.app(r#"{"type":"gather-seal.start","flow":"pay"}"#);
    glue.keys("4242424242424242#1");
    glue.keys("1*");
    let result = glue.result();
    assert_eq!(result["result"], "cancelled");
    assert!(result["encryptedCardDigits"].is_string());
    assert!(result.get("encryptedCvvDigits").is_none());
}

#[test]
fn the_application_s_text_waits_for_the_capture_and_its_end_cancels_it() {
    let mut glue = Glue::new("redact");
    glue.app(r#"{"type":"gather-seal.start","flow":"pin"}"#);
    let held = r#"{"type":"text","token":"Thanks, one moment.","last":true}"#;
    let play = r#"{"type":"play","source":"https://example.com/hold.mp3"}"#;
    glue.app(held);
    glue.app(play);
    assert_eq!(glue.to_twilio.len(), 1, "only the prompt so far");
    glue.keys("4321");
    assert_eq!(
        &glue.to_twilio[1..],
        [held, play],
        "released in order after the capture"
    );

    let mut glue = Glue::new("redact");
    glue.app(r#"{"type":"gather-seal.start","flow":"pin"}"#);
    glue.app(held);
    let end = r#"{"type":"end","handoffData":"{\"reason\":\"agent\"}"}"#;
    glue.app(end);
    assert_eq!(glue.to_twilio.last().map(String::as_str), Some(end));
    assert!(!glue.session.capturing());
    assert_eq!(glue.waiting, None);
    assert!(
        !glue.to_twilio.iter().any(|m| m == held),
        "held text is dropped with the capture"
    );
    assert_eq!(
        glue.session.tally().captures,
        [("pin".to_owned(), "cancelled-by-app")]
    );
}

#[test]
fn messages_over_64_kib_are_dropped_either_way() {
    let mut glue = Glue::new("redact");
    let huge = format!(
        r#"{{"type":"text","token":"{}","last":true}}"#,
        "a".repeat(MAX_MESSAGE)
    );
    glue.app(&huge);
    glue.twilio(&huge);
    assert!(glue.to_twilio.is_empty());
    assert_eq!(glue.to_app, [setup()]);
    assert_eq!(glue.session.tally().dropped, 2);
}

/// One relay turn of `flow` straight through the engine: the effects it asked for, in order,
/// each answered as a working world would, and its answer.
fn relay_turn(
    flow: &gather_seal::config::Flow,
    state: Option<gather_seal::flow::CallState>,
    digits: Option<&str>,
) -> (Vec<String>, gather_seal::engine::Answer) {
    turn_over(flow, state, digits, Transport::Relay)
}

/// One turn of `flow` over `transport` (see [`relay_turn`]).
fn turn_over(
    flow: &gather_seal::config::Flow,
    state: Option<gather_seal::flow::CallState>,
    digits: Option<&str>,
    transport: Transport,
) -> (Vec<String>, gather_seal::engine::Answer) {
    let ring = ring(KEY_HEX);
    let facts = Facts {
        flow,
        ring: &ring,
        counter_key: COUNTER_KEY,
        verify: None,
        signing_secret: Some(SECRET),
        call: Call {
            call_sid: CALL_SID,
            account_sid: "AC00000000000000000000000000000000",
            from: "+15005550006",
            to: "+15005550001",
        },
        state,
        digits,
        now_ms: NOW * 1000,
        transport,
    };
    let mut turn = Turn::new(facts);
    let mut effects = Vec::new();
    let mut step = turn.step(None);
    loop {
        match step {
            Step::Answer(answer) => return (effects, answer),
            Step::Do(effect) => {
                let name = format!("{effect:?}");
                effects.push(name.split([' ', '{', '(']).next().unwrap_or("").to_owned());
                step = turn.step(Some(working(&effect)));
            }
        }
    }
}

#[test]
fn with_limits_a_relay_capture_that_succeeds_gives_its_try_back_and_one_that_fails_keeps_it() {
    let flows = Flows::from_json(
        r#"{"pin": {
            "fields": [{"name": "pin", "kind": "digits", "length": 4, "prompt": "PIN?"}],
            "attempts": 1,
            "limits": {"failures": 3, "window_minutes": 10},
            "then": {"redirect": "https://app.example.com/unused"}
        }}"#,
    )
    .expect("flows");
    let flow = flows.get("pin").expect("pin");
    let (effects, answer) = relay_turn(flow, None, None);
    assert_eq!(
        effects,
        ["TakeTry"],
        "entering takes a try, as on a webhook"
    );
    let (_, state) = answer.asking.expect("asks for the PIN");

    let (effects, answer) = relay_turn(flow, Some(state.clone()), Some("4321"));
    assert_eq!(
        effects,
        ["GiveBack"],
        "nobody answers for the values: success gives back"
    );
    assert!(
        answer.handed.is_some(),
        "the result still goes to the application"
    );
    assert_eq!(answer.result.map(|r| r.as_str()), Some("success"));

    let (effects, answer) = relay_turn(flow, Some(state), Some("12"));
    assert!(
        effects.is_empty(),
        "a failed capture keeps its try: {effects:?}"
    );
    assert_eq!(answer.result.map(|r| r.as_str()), Some("too-many-attempts"));
    assert!(answer.handed.is_some());
}

#[test]
fn a_flow_without_then_runs_in_a_relay_and_is_unknown_on_the_webhook_route() {
    let text = r#"{"card": {
        "fields": [{"name": "pin", "kind": "digits", "length": 4, "prompt": "PIN?"}]
    }}"#;
    let err = Flows::from_json(text).expect_err("a webhook-only reading needs then");
    assert_eq!(err.setting, "GATHER_FLOWS.card.then");
    let flows = Flows::relay_json(text).expect("flows for relays");
    let listing = |flow: &str| {
        Relays::from_json(
            &format!(
                r#"{{"agent": {{"upstream": "wss://agent.example.com/ws", "flows": ["{flow}"]}}}}"#
            ),
            &flows,
        )
    };
    assert!(flows
        .require_then(Some(&listing("card").expect("relays")))
        .is_ok());
    assert!(flows.require_then(None).is_err(), "no relay runs it");
    let flow = flows.get("card").expect("card");

    let (_, answer) = turn_over(
        flow,
        None,
        None,
        Transport::Webhook {
            action_base: "https://ivr.example.com/gather/card",
        },
    );
    assert_eq!(answer.status, 404);
    assert_eq!(answer.outcome.as_str(), "unknown-flow");
    assert!(answer.asking.is_none() && answer.handed.is_none());

    let (_, answer) = relay_turn(flow, None, None);
    let (_, state) = answer.asking.expect("a relay asks for the PIN");
    let (_, answer) = relay_turn(flow, Some(state), Some("4321"));
    assert_eq!(answer.result.map(|r| r.as_str()), Some("success"));
    assert!(answer.handed.is_some());
}

#[test]
fn a_capture_under_way_when_the_session_ends_is_tallied_abandoned() {
    let mut glue = Glue::new("redact");
    glue.app(r#"{"type":"gather-seal.start","flow":"pin"}"#);
    glue.keys("43");
    glue.app(r#"{"type":"text","token":"Thanks, one moment.","last":true}"#);
    let said = glue.to_twilio.len();
    glue.session.ended();
    assert!(!glue.session.capturing());
    assert_eq!(
        glue.session.tally().captures,
        [("pin".to_owned(), "abandoned")]
    );
    assert_eq!(glue.to_twilio.len(), said, "nothing held is released");
    assert!(!glue.to_app.iter().any(|m| m.contains("gather-seal.")));

    // Between captures, ending adds nothing.
    let mut glue = Glue::new("redact");
    glue.app(r#"{"type":"gather-seal.start","flow":"pin"}"#);
    glue.keys("4321");
    glue.session.ended();
    assert_eq!(
        glue.session.tally().captures,
        [("pin".to_owned(), "success")]
    );
}
