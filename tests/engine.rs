//! The call engine, on the host: every decision the worker's glue used to make, driven by
//! scripted feedback instead of a Durable Object, Twilio Verify or an application. Each test
//! plays whole turns and checks the effects asked for, in order, and the answer.

mod common;

use common::{ring, verify_settings, CALL_SID, KEY_HEX};
use gather_seal::config::{Flow, Flows};
use gather_seal::engine::{
    Answer, AppAnswer, Call, CounterAnswer, Effect, Facts, Feedback, Step, Transport, Turn,
};
use gather_seal::flow::{CallState, GatherResult};
use gather_seal::lockout::{counter_name, HandOffMark, Subject};
use gather_seal::outcome::Outcome;
use gather_seal::{open, otp, KeyRing};

const COUNTER_KEY: &[u8] = b"the counter key";
const SECRET: &[u8] = b"whsec-0123456789abcdef0123456789abcdef";
const BASE: &str = "https://ivr.example.com/gather/login";
const APP: &str = "https://app.example.com/done";
const FROM: &str = "+15005550006";
const NOW: u64 = 1_796_083_200;
const WELCOME: &str = "<Response><Say>Welcome.</Say></Response>";
const APOLOGY: &str = "Sorry, we cannot take your call right now. Please try again later. Goodbye.";

/// One flow named `login` from the JSON of its table.
fn flow(json: &str) -> Flow {
    let flows = Flows::from_json(&format!(r#"{{"login": {json}}}"#)).expect("a valid flow");
    flows.get("login").expect("the flow").clone()
}

/// Card digits then PIN, handed to APP, with these extra keys (`"limits": …,`).
fn card_and_pin(extra: &str) -> Flow {
    flow(&format!(
        r#"{{ {extra}
        "fields": [
            {{"name": "card", "prompt": "Card?", "kind": "digits", "length": 4}},
            {{"name": "pin", "prompt": "PIN?", "kind": "digits", "length": 4}}
        ],
        "then": {{"action": "{APP}"}} }}"#
    ))
}

/// PIN then a one-time code.
fn pin_and_code(extra: &str) -> Flow {
    flow(&format!(
        r#"{{ {extra}
        "fields": [
            {{"name": "pin", "prompt": "PIN?", "kind": "digits", "length": 4}},
            {{"name": "otp", "prompt": "Code?", "kind": "verify"}}
        ],
        "then": {{"action": "{APP}"}} }}"#
    ))
}

/// A webhook of the call: from FROM, in `state`, with `digits` typed.
struct Webhook<'a> {
    flow: &'a Flow,
    ring: &'a KeyRing,
    verify: Option<&'a otp::Settings>,
    secret: Option<&'a [u8]>,
    from: &'a str,
    call_sid: &'a str,
    state: Option<CallState>,
    digits: Option<&'a str>,
}

impl<'a> Webhook<'a> {
    fn new(flow: &'a Flow, ring: &'a KeyRing) -> Webhook<'a> {
        Webhook {
            flow,
            ring,
            verify: None,
            secret: Some(SECRET),
            from: FROM,
            call_sid: CALL_SID,
            state: None,
            digits: None,
        }
    }

    fn facts(&self) -> Facts<'a> {
        Facts {
            flow: self.flow,
            ring: self.ring,
            counter_key: COUNTER_KEY,
            verify: self.verify,
            signing_secret: self.secret,
            call: Call {
                call_sid: self.call_sid,
                account_sid: "ACeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
                from: self.from,
                to: "+15005550001",
            },
            state: self.state.clone(),
            digits: self.digits,
            now_ms: NOW * 1000,
            transport: Transport::Webhook { action_base: BASE },
        }
    }

    /// Plays the turn, answering each effect with `respond`: the effects asked, and the answer.
    fn play(&self, mut respond: impl FnMut(&Effect) -> Option<Feedback>) -> (Vec<Effect>, Answer) {
        let mut turn = Turn::new(self.facts());
        let mut step = turn.step(None);
        let mut effects = Vec::new();
        for _ in 0..10 {
            match step {
                Step::Answer(answer) => return (effects, answer),
                Step::Do(effect) => {
                    let feedback = respond(&effect);
                    effects.push(effect);
                    step = turn.step(feedback);
                }
            }
        }
        panic!("a turn asked for more than ten effects: {effects:?}");
    }
}

/// The call state the `<Gather action>` of `twiml` carries.
fn state_of(flow: &Flow, twiml: &str) -> CallState {
    let start = twiml.find("action=\"").expect("a Gather action") + 8;
    let end = start + twiml[start..].find('"').expect("the action's end");
    let url = twiml[start..end].replace("&amp;", "&");
    let query = url.split_once('?').expect("a query").1;
    let pairs: Vec<(String, String)> = query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').expect("name=value");
            (k.to_owned(), v.to_owned())
        })
        .collect();
    CallState::from_query(flow, &pairs)
        .expect("a valid state")
        .expect("a step")
}

/// A responder for calls that need nothing from outside: it fails every effect.
fn nothing(_: &Effect) -> Option<Feedback> {
    None
}

/// The application's answer with this result header.
fn app(header: Option<&str>) -> Feedback {
    Feedback::Application(AppAnswer::Answered {
        status: 200,
        content_type: Some("text/xml".into()),
        body: Some(WELCOME.into()),
        result_header: header.map(str::to_owned),
    })
}

/// A responder for a call with limits: counters open, first hand-off, the application answers
/// WELCOME with `header`, give-backs done.
fn open_counters(header: Option<&'static str>) -> impl FnMut(&Effect) -> Option<Feedback> {
    move |effect| {
        Some(match effect {
            Effect::TakeTry { .. } => Feedback::Counter(CounterAnswer::Open),
            Effect::MarkHandOff { .. } => Feedback::Marked(Some(HandOffMark::First)),
            Effect::Submit { .. } => app(header),
            Effect::GiveBack { .. } => Feedback::Done,
            Effect::SendCode { .. } | Effect::CheckCode { .. } => Feedback::Verify(None),
        })
    }
}

fn caller_counter(flow: &Flow, from: &str) -> String {
    counter_name(COUNTER_KEY, &flow.name, Subject::Caller(Some(from)))
}

fn card_counter(flow: &Flow, card: &str) -> String {
    let subject = Subject::Field {
        name: "card",
        value: card.as_bytes(),
    };
    counter_name(COUNTER_KEY, &flow.name, subject)
}

/// The state after the card step of `flow` (its first field typed as `card`).
fn after_card(flow: &Flow, ring: &KeyRing, card: &str) -> CallState {
    let first = Webhook::new(flow, ring).play(open_counters(None)).1;
    let mut webhook = Webhook::new(flow, ring);
    webhook.state = Some(state_of(flow, &first.twiml));
    webhook.digits = Some(card);
    let (_, second) = webhook.play(open_counters(None));
    state_of(flow, &second.twiml)
}

/// The submission an effect posts, parsed.
fn submitted(effects: &[Effect]) -> serde_json::Value {
    let body = effects.iter().find_map(|e| match e {
        Effect::Submit { body, .. } => Some(body.clone()),
        _ => None,
    });
    serde_json::from_str(&body.expect("a submission")).expect("JSON")
}

fn limits(failures: u32) -> gather_seal::config::Limits {
    gather_seal::config::Limits {
        failures,
        window_ms: 3_600_000,
    }
}

// ------------------------------------------------------------------------------------------
// Coming in
// ------------------------------------------------------------------------------------------

#[test]
fn a_call_with_no_limits_is_asked_its_first_field_with_no_effect() {
    let (flow, ring) = (card_and_pin(""), ring(KEY_HEX));
    let (effects, answer) = Webhook::new(&flow, &ring).play(nothing);
    assert_eq!(effects, vec![]);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.outcome, Outcome::Asked);
    assert_eq!(answer.result, None);
    assert!(answer
        .twiml
        .contains(r#"action="https://ivr.example.com/gather/login?step=card&amp;attempt=1""#));
}

#[test]
fn a_call_coming_in_takes_a_try_from_its_caller_and_each_answer_decides() {
    let flow = card_and_pin(r#""limits": {"failures": 5, "window_minutes": 60},"#);
    let ring = ring(KEY_HEX);
    let counter = caller_counter(&flow, FROM);
    // (what the counter says, outcome, result)
    let cases = [
        (
            Some(Feedback::Counter(CounterAnswer::Open)),
            Outcome::Asked,
            None,
        ),
        (
            Some(Feedback::Counter(CounterAnswer::Locked)),
            Outcome::Locked,
            Some(GatherResult::Locked),
        ),
        (
            Some(Feedback::Counter(CounterAnswer::Unavailable)),
            Outcome::LockoutUnavailable,
            Some(GatherResult::Unavailable),
        ),
        // No answer, or an answer to another question, fails closed.
        (
            None,
            Outcome::LockoutUnavailable,
            Some(GatherResult::Unavailable),
        ),
        (
            Some(Feedback::Done),
            Outcome::LockoutUnavailable,
            Some(GatherResult::Unavailable),
        ),
    ];
    for (said, outcome, result) in cases {
        let mut first = true;
        let (effects, answer) = Webhook::new(&flow, &ring).play(|effect| {
            if std::mem::take(&mut first) {
                return said.clone();
            }
            open_counters(Some("accepted"))(effect)
        });
        assert_eq!(
            effects[0],
            Effect::TakeTry {
                counter: counter.clone(),
                limits: limits(5)
            },
            "{said:?}"
        );
        assert_eq!(answer.outcome, outcome, "{said:?}");
        assert_eq!(answer.result, result, "{said:?}");
        if result.is_some() {
            // Handed off at once with no fields, whatever the application says.
            let submission = submitted(&effects);
            assert_eq!(submission["result"], result.map_or("", |r| r.as_str()));
            assert_eq!(submission.get("encryptedCardDigits"), None);
            assert!(!effects.iter().any(|e| matches!(e, Effect::GiveBack { .. })));
            assert_eq!(answer.twiml, WELCOME, "the application's TwiML is relayed");
        }
    }
}

#[test]
fn a_withheld_caller_is_refused_or_counted_in_the_shared_bucket() {
    let ring = ring(KEY_HEX);
    let refuse = card_and_pin(r#""limits": {"failures": 5, "window_minutes": 60},"#);
    let mut webhook = Webhook::new(&refuse, &ring);
    webhook.from = "anonymous";
    let (effects, answer) = webhook.play(open_counters(Some("accepted")));
    assert!(
        matches!(effects.as_slice(), [Effect::Submit { .. }]),
        "{effects:?}"
    );
    assert_eq!(answer.outcome, Outcome::AnonymousRefused);
    assert_eq!(answer.result, Some(GatherResult::Anonymous));

    let shared =
        card_and_pin(r#""limits": {"failures": 5, "window_minutes": 60}, "anonymous": "shared","#);
    let mut webhook = Webhook::new(&shared, &ring);
    webhook.from = "restricted";
    let (effects, answer) = webhook.play(open_counters(None));
    let bucket = counter_name(COUNTER_KEY, "login", Subject::Caller(None));
    assert_eq!(
        effects,
        vec![Effect::TakeTry {
            counter: bucket,
            limits: limits(5)
        }]
    );
    assert_eq!(answer.outcome, Outcome::Asked);
}

#[test]
fn errors_in_what_twilio_posted_end_the_call_with_the_apology() {
    let (flow, ring) = (card_and_pin(""), ring(KEY_HEX));
    let mut webhook = Webhook::new(&flow, &ring);
    webhook.call_sid = "";
    let (_, answer) = webhook.play(nothing);
    assert_eq!(
        (answer.status, answer.outcome),
        (400, Outcome::MissingCallSid)
    );
    assert!(answer.twiml.contains(APOLOGY));

    // A carried value that does not open for this call.
    let state = after_card(&flow, &ring, "1234");
    let mut webhook = Webhook::new(&flow, &ring);
    webhook.call_sid = "CAfedcba9876543210fedcba9876543210";
    webhook.state = Some(state);
    webhook.digits = Some("4321");
    let (effects, answer) = webhook.play(nothing);
    assert_eq!(effects, vec![]);
    assert_eq!((answer.status, answer.outcome), (400, Outcome::BadState));
}

// ------------------------------------------------------------------------------------------
// Fields
// ------------------------------------------------------------------------------------------

#[test]
fn entries_are_sealed_or_asked_again() {
    let (flow, ring) = (card_and_pin(""), ring(KEY_HEX));
    let first = Webhook::new(&flow, &ring).play(nothing).1;
    let mut webhook = Webhook::new(&flow, &ring);
    webhook.state = Some(state_of(&flow, &first.twiml));
    webhook.digits = Some("12");
    let (_, again) = webhook.play(nothing);
    assert_eq!(again.outcome, Outcome::Reprompted);
    webhook.digits = Some("1234");
    let (_, next) = webhook.play(nothing);
    assert_eq!(next.outcome, Outcome::Sealed);
    let state = state_of(&flow, &next.twiml);
    let (name, sealed) = &state.sealed[0];
    assert_eq!(name, "card");
    assert_eq!(
        open(sealed, &ring, format!("{CALL_SID}:card").as_bytes()).as_deref(),
        Ok("1234")
    );
    assert!(!next.twiml.contains("1234"));
}

#[test]
fn a_counted_field_takes_its_try_as_soon_as_it_is_gathered() {
    let flow = card_and_pin(r#""limits": {"failures": 5, "window_minutes": 60, "by": ["card"]},"#);
    let ring = ring(KEY_HEX);
    let first = Webhook::new(&flow, &ring).play(nothing).1;
    assert_eq!(first.outcome, Outcome::Asked, "the caller is not counted");
    let mut webhook = Webhook::new(&flow, &ring);
    webhook.state = Some(state_of(&flow, &first.twiml));
    // An invalid entry takes no try.
    webhook.digits = Some("12");
    let (effects, _) = webhook.play(nothing);
    assert_eq!(effects, vec![]);
    webhook.digits = Some("1234");
    let take = Effect::TakeTry {
        counter: card_counter(&flow, "1234"),
        limits: limits(5),
    };
    let cases = [
        (CounterAnswer::Open, Outcome::Sealed, None),
        (
            CounterAnswer::Locked,
            Outcome::AccountLocked,
            Some(GatherResult::Locked),
        ),
        (
            CounterAnswer::Unavailable,
            Outcome::LockoutUnavailable,
            Some(GatherResult::Unavailable),
        ),
    ];
    for (said, outcome, result) in cases {
        let (effects, answer) = webhook.play(|effect| match effect {
            Effect::TakeTry { .. } => Some(Feedback::Counter(said)),
            other => open_counters(Some("accepted"))(other),
        });
        assert_eq!(effects[0], take, "{said:?}");
        assert_eq!(
            (answer.outcome, answer.result),
            (outcome, result),
            "{said:?}"
        );
        if result == Some(GatherResult::Locked) {
            // The hand-off carries no field; the counted card's own object marks it.
            assert_eq!(
                effects[1],
                Effect::MarkHandOff {
                    counter: card_counter(&flow, "1234"),
                    call_sid: CALL_SID.into()
                }
            );
        }
        if result == Some(GatherResult::Unavailable) {
            // A counter that could not be reached is not asked again to mark the hand-off.
            assert!(matches!(effects[1], Effect::Submit { .. }), "{effects:?}");
        }
        if result.is_some() {
            assert_eq!(submitted(&effects).get("encryptedCardDigits"), None);
        }
    }
}

// ------------------------------------------------------------------------------------------
// Hand-off
// ------------------------------------------------------------------------------------------

/// The last webhook of a card-and-PIN call (card 1234 already carried), PIN `pin`.
fn last_step<'a>(flow: &'a Flow, ring: &'a KeyRing, pin: &'a str) -> Webhook<'a> {
    let mut webhook = Webhook::new(flow, ring);
    webhook.state = Some(after_card(flow, ring, "1234"));
    webhook.digits = Some(pin);
    webhook
}

#[test]
fn only_an_accepted_success_gives_the_tries_back() {
    let flow = card_and_pin(
        r#""limits": {"failures": 5, "window_minutes": 60, "by": ["caller", "card"]},"#,
    );
    let ring = ring(KEY_HEX);
    let counters = vec![caller_counter(&flow, FROM), card_counter(&flow, "1234")];
    let webhook = last_step(&flow, &ring, "4321");
    // (the application's header, outcome, whether the tries come back)
    let cases = [
        (Some("accepted"), Outcome::HandedOff, true),
        (Some(" ACCEPTED "), Outcome::HandedOff, true),
        (Some("rejected"), Outcome::Rejected, false),
        (None, Outcome::Unconfirmed, false),
        (Some("ok"), Outcome::Unconfirmed, false),
    ];
    for (header, outcome, back) in cases {
        let (effects, answer) = webhook.play(open_counters(header));
        let mark = Effect::MarkHandOff {
            counter: counters[0].clone(),
            call_sid: CALL_SID.into(),
        };
        assert_eq!(effects[0], mark, "{header:?}");
        assert!(matches!(effects[1], Effect::Submit { .. }));
        let gave_back = effects.iter().any(|e| {
            *e == Effect::GiveBack {
                counters: counters.clone(),
                limits: limits(5),
            }
        });
        assert_eq!(gave_back, back, "{header:?}");
        assert_eq!(answer.outcome, outcome, "{header:?}");
        assert_eq!(answer.result, Some(GatherResult::Success));
        assert_eq!(answer.twiml, WELCOME);
    }
}

#[test]
fn the_submission_is_signed_and_holds_only_ciphertext() {
    let flow = card_and_pin("");
    let ring = ring(KEY_HEX);
    let (effects, _) = last_step(&flow, &ring, "4321").play(open_counters(Some("accepted")));
    let [Effect::Submit {
        url,
        body,
        signature,
    }] = effects.as_slice()
    else {
        panic!("one submission and nothing else without limits: {effects:?}");
    };
    assert_eq!(url, APP);
    assert_eq!(
        *signature,
        gather_seal::handoff::sign(SECRET, NOW, body.as_bytes())
    );
    let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(json["result"], "success");
    let pin = json["encryptedPinDigits"].as_str().expect("the PIN");
    assert_eq!(
        open(pin, &ring, format!("{CALL_SID}:pin").as_bytes()).as_deref(),
        Ok("4321")
    );
    // Apart from the sealed values (whose hex may hold any digits), the PIN appears nowhere
    // (the call SID fixture holds "1234", so the card is checked value by value).
    let card = json["encryptedCardDigits"].as_str().expect("the card");
    let rest = body.replace(pin, "").replace(card, "");
    assert!(!rest.contains("4321"), "{rest}");
    let members = json.as_object().expect("an object");
    assert!(members.values().all(|v| v != "1234" && v != "4321"));
}

#[test]
fn a_replayed_last_step_hands_off_no_second_time() {
    let flow = card_and_pin(r#""limits": {"failures": 5, "window_minutes": 60},"#);
    let ring = ring(KEY_HEX);
    let (effects, answer) = last_step(&flow, &ring, "4321").play(|effect| match effect {
        Effect::MarkHandOff { .. } => Some(Feedback::Marked(Some(HandOffMark::Replayed))),
        other => open_counters(Some("accepted"))(other),
    });
    assert_eq!(
        effects.len(),
        1,
        "nothing is posted or given back: {effects:?}"
    );
    assert_eq!(
        (answer.status, answer.outcome, answer.result),
        (200, Outcome::Replayed, None)
    );
    assert!(answer.twiml.contains(APOLOGY));
}

#[test]
fn an_unreachable_mark_hands_off_unavailable_without_fields() {
    let flow = card_and_pin(r#""limits": {"failures": 5, "window_minutes": 60},"#);
    let ring = ring(KEY_HEX);
    let (effects, answer) = last_step(&flow, &ring, "4321").play(|effect| match effect {
        Effect::MarkHandOff { .. } => None,
        other => open_counters(Some("accepted"))(other),
    });
    let submission = submitted(&effects);
    assert_eq!(submission["result"], "unavailable");
    assert_eq!(submission.get("encryptedCardDigits"), None);
    assert_eq!(submission.get("encryptedPinDigits"), None);
    assert!(!effects.iter().any(|e| matches!(e, Effect::GiveBack { .. })));
    assert_eq!(answer.outcome, Outcome::LockoutUnavailable);
    assert_eq!(answer.result, Some(GatherResult::Unavailable));
}

#[test]
fn an_unusable_answer_says_why_and_falls_back() {
    let ring = ring(KEY_HEX);
    let plain = card_and_pin("");
    let fallback = flow(&format!(
        r#"{{"fields": [{{"name": "card", "prompt": "Card?", "kind": "digits", "length": 4}},
            {{"name": "pin", "prompt": "PIN?", "kind": "digits", "length": 4}}],
            "then": {{"action": "{APP}", "fallback": "https://app.example.com/sorry"}} }}"#
    ));
    let answered = |status: u16, content_type: &str, body: Option<&str>| {
        Feedback::Application(AppAnswer::Answered {
            status,
            content_type: Some(content_type.into()),
            body: body.map(str::to_owned),
            result_header: None,
        })
    };
    let cases = [
        (
            answered(500, "text/xml", Some(WELCOME)),
            Outcome::AppErrorStatus,
        ),
        (
            answered(302, "text/xml", Some(WELCOME)),
            Outcome::AppErrorStatus,
        ),
        (answered(200, "text/xml", None), Outcome::AppAnswerTooLarge),
        (
            answered(200, "text/xml", Some("<Response>")),
            Outcome::AppBadTwiml,
        ),
        (
            answered(200, "application/json", Some("{}")),
            Outcome::AppBadJson,
        ),
        (
            answered(200, "text/plain", Some(WELCOME)),
            Outcome::AppWrongContentType,
        ),
        (
            Feedback::Application(AppAnswer::TimedOut),
            Outcome::AppTimeout,
        ),
        (
            Feedback::Application(AppAnswer::Unreachable),
            Outcome::AppUnreachable,
        ),
        (Feedback::Done, Outcome::AppUnreachable),
    ];
    for (said, outcome) in cases {
        let (_, answer) = last_step(&plain, &ring, "4321").play(|_| Some(said.clone()));
        assert_eq!(answer.outcome, outcome, "{said:?}");
        assert!(answer.twiml.contains(APOLOGY), "{said:?}");
        assert!(answer.twiml.contains("<Hangup/>"), "{said:?}");
        let (_, answer) = last_step(&fallback, &ring, "4321").play(|_| Some(said.clone()));
        assert_eq!(answer.outcome, outcome, "{said:?}");
        assert!(
            answer
                .twiml
                .contains(">https://app.example.com/sorry</Redirect>"),
            "{said:?}: {}",
            answer.twiml
        );
    }
    // An account: the flow's thanks.
    let account = answered(
        200,
        "application/json",
        Some(r#"{"account": "AC1", "balance": 3}"#),
    );
    let (_, answer) = last_step(&plain, &ring, "4321").play(|_| Some(account.clone()));
    assert_eq!(answer.outcome, Outcome::HandedOffAccount);
    assert!(answer
        .twiml
        .contains("Your account number is AC1 and your balance is 3"));
}

#[test]
fn too_many_attempts_hands_off_what_was_gathered_and_says_goodbye_when_unheard() {
    let flow = card_and_pin(r#""attempts": 2,"#);
    let ring = ring(KEY_HEX);
    let mut webhook = last_step(&flow, &ring, "1");
    let (_, again) = webhook.play(nothing);
    assert_eq!(again.outcome, Outcome::Reprompted);
    webhook.state = Some(state_of(&flow, &again.twiml));
    let (effects, answer) = webhook.play(|_| None);
    let submission = submitted(&effects);
    assert_eq!(submission["result"], "too-many-attempts");
    assert!(submission.get("encryptedCardDigits").is_some());
    assert_eq!(submission.get("encryptedPinDigits"), None);
    assert_eq!(answer.outcome, Outcome::AppUnreachable);
    assert_eq!(answer.result, Some(GatherResult::TooManyAttempts));
    assert!(answer
        .twiml
        .contains("Sorry, we could not get your details. Goodbye."));
}

#[test]
fn a_redirect_flow_gives_the_tries_back_on_success_and_asks_nothing_else() {
    let flow = flow(
        r#"{"limits": {"failures": 5, "window_minutes": 60},
            "fields": [{"name": "card", "prompt": "Card?", "kind": "digits", "length": 4},
                       {"name": "pin", "prompt": "PIN?", "kind": "digits", "length": 4}],
            "then": {"redirect": "https://app.example.com/next?FlowEvent=return"}}"#,
    );
    let ring = ring(KEY_HEX);
    let (effects, answer) = last_step(&flow, &ring, "4321").play(open_counters(None));
    assert!(matches!(effects[0], Effect::MarkHandOff { .. }));
    assert_eq!(
        effects[1],
        Effect::GiveBack {
            counters: vec![caller_counter(&flow, FROM)],
            limits: limits(5)
        }
    );
    assert_eq!(effects.len(), 2);
    assert_eq!(answer.outcome, Outcome::Redirected);
    assert!(answer
        .twiml
        .contains("FlowEvent=return&amp;result=success&amp;encryptedCardDigits="));
}

#[test]
fn an_action_flow_without_a_signing_secret_apologises() {
    let flow = card_and_pin("");
    let ring = ring(KEY_HEX);
    let mut webhook = last_step(&flow, &ring, "4321");
    webhook.secret = None;
    let (effects, answer) = webhook.play(nothing);
    assert_eq!(effects, vec![]);
    assert_eq!(answer.outcome, Outcome::NoSigningSecret);
    assert!(answer.twiml.contains(APOLOGY));
}

// ------------------------------------------------------------------------------------------
// One-time codes
// ------------------------------------------------------------------------------------------

/// The webhook that types the PIN of a PIN-and-code flow.
fn pin_typed<'a>(flow: &'a Flow, ring: &'a KeyRing, settings: &'a otp::Settings) -> Webhook<'a> {
    let first = Webhook::new(flow, ring).play(nothing).1;
    let mut webhook = Webhook::new(flow, ring);
    webhook.verify = Some(settings);
    webhook.state = Some(state_of(flow, &first.twiml));
    webhook.digits = Some("4321");
    webhook
}

#[test]
fn reaching_a_verify_field_sends_the_code_first() {
    let (flow, ring, settings) = (pin_and_code(""), ring(KEY_HEX), verify_settings());
    let webhook = pin_typed(&flow, &ring, &settings);
    let send = Effect::SendCode {
        url: "https://verify.example.com/v2/Services/VA0123456789abcdef0123456789abcdef/Verifications".into(),
        body: "To=%2B15005550006&Channel=sms".into(),
    };
    // (what Verify said, outcome, result)
    let cases = [
        (Some((201, "{}".to_owned())), Outcome::CodeSent, None),
        (
            Some((200, "{}".to_owned())),
            Outcome::AppUnreachable,
            Some(GatherResult::VerifyUnavailable),
        ),
        (
            Some((429, "{}".to_owned())),
            Outcome::AppUnreachable,
            Some(GatherResult::VerifyUnavailable),
        ),
        (
            None,
            Outcome::AppUnreachable,
            Some(GatherResult::VerifyUnavailable),
        ),
    ];
    for (said, outcome, result) in cases {
        let (effects, answer) = webhook.play(|effect| match effect {
            Effect::SendCode { .. } => Some(Feedback::Verify(said.clone())),
            _ => None,
        });
        assert_eq!(effects[0], send, "{said:?}");
        assert_eq!(
            (answer.outcome, answer.result),
            (outcome, result),
            "{said:?}"
        );
        if result.is_some() {
            // The PIN gathered before is handed on.
            assert!(submitted(&effects).get("encryptedPinDigits").is_some());
        }
    }
    // A caller with no number to send to: no request, verify-unavailable.
    let mut withheld = pin_typed(&flow, &ring, &settings);
    withheld.from = "client:alice";
    let (effects, answer) = withheld.play(|_| None);
    assert!(
        matches!(effects.as_slice(), [Effect::Submit { .. }]),
        "{effects:?}"
    );
    assert_eq!(answer.result, Some(GatherResult::VerifyUnavailable));
}

#[test]
fn a_typed_code_is_checked_and_only_approved_goes_on() {
    let (flow, ring, settings) = (
        pin_and_code(r#""attempts": 2,"#),
        ring(KEY_HEX),
        verify_settings(),
    );
    let sent = pin_typed(&flow, &ring, &settings)
        .play(|_| Some(Feedback::Verify(Some((201, String::new())))))
        .1;
    assert_eq!(sent.outcome, Outcome::CodeSent);
    let mut webhook = Webhook::new(&flow, &ring);
    webhook.verify = Some(&settings);
    webhook.state = Some(state_of(&flow, &sent.twiml));
    webhook.digits = Some("864209");
    let approved = r#"{"status": "approved"}"#;
    // (what Verify said, outcome, result)
    let cases = [
        (
            Some((200, approved)),
            Outcome::AppUnreachable,
            Some(GatherResult::Success),
        ),
        (
            Some((200, r#"{"status": "pending"}"#)),
            Outcome::CodeDenied,
            None,
        ),
        (Some((404, "{}")), Outcome::CodeDenied, None),
        (Some((429, r#"{"code": 60202}"#)), Outcome::CodeDenied, None),
        (
            Some((429, r#"{"code": 20429}"#)),
            Outcome::AppUnreachable,
            Some(GatherResult::VerifyUnavailable),
        ),
        (
            Some((500, "{}")),
            Outcome::AppUnreachable,
            Some(GatherResult::VerifyUnavailable),
        ),
        (
            None,
            Outcome::AppUnreachable,
            Some(GatherResult::VerifyUnavailable),
        ),
    ];
    for (said, outcome, result) in cases {
        let said = said.map(|(status, body)| (status, body.to_owned()));
        let (effects, answer) = webhook.play(|effect| match effect {
            Effect::CheckCode { .. } => Some(Feedback::Verify(said.clone())),
            _ => None,
        });
        let Effect::CheckCode { url, body } = &effects[0] else {
            panic!("the code is checked first: {effects:?}");
        };
        assert!(url.ends_with("/VerificationCheck"));
        assert_eq!(body.as_str(), "To=%2B15005550006&Code=864209");
        assert_eq!(
            (answer.outcome, answer.result),
            (outcome, result),
            "{said:?}"
        );
        if let Some(GatherResult::Success) = result {
            let submission = submitted(&effects);
            assert_eq!(submission["verified"], serde_json::json!(["otp"]));
            assert!(!effects
                .iter()
                .any(|e| matches!(e, Effect::Submit { body, .. } if body.contains("864209"))));
        }
    }
    // A wrong code on the last try: verify-failed.
    webhook.state = Some(state_of(
        &flow,
        &webhook
            .play(|_| Some(Feedback::Verify(Some((404, String::new())))))
            .1
            .twiml,
    ));
    let (effects, answer) = webhook.play(|effect| match effect {
        Effect::CheckCode { .. } => Some(Feedback::Verify(Some((404, String::new())))),
        _ => None,
    });
    assert_eq!(answer.result, Some(GatherResult::VerifyFailed));
    assert!(submitted(&effects).get("verified").is_none());
    // Not a code at all is a wrong try that asks Verify nothing.
    webhook.state = Some(state_of(&flow, &sent.twiml));
    webhook.digits = Some("12");
    let (effects, answer) = webhook.play(nothing);
    assert_eq!(effects, vec![]);
    assert_eq!(answer.outcome, Outcome::Reprompted);
}
