//! Card capture (issue 16) as others see it: the masked card (last four and brand) in the
//! submission and the redirect, the status events a flow's `status_callback` receives (in
//! order, signed like a submission, never a digit beyond a card's last four), and the lockout
//! counter of a `confirm` or `repeat` field, named from the value kept. Through the engine as
//! the worker drives it ([`common::caller`]); every expected value is written out.

mod common;

use common::caller::{
    pay, redirected_to, Caller, AMEX, COUNTER_KEY, EXPIRED, EXPIRY, MASTERCARD, NEXT, SECRET,
    STATUS, VISA,
};
use common::{ring, CALL_SID, KEY_HEX};
use gather_seal::config::{Flow, Limits};
use gather_seal::engine::{Answer, Effect};
use gather_seal::flow::GatherResult;
use gather_seal::handoff::{redirect_url, verify_submission, Submission};
use gather_seal::kinds::{card_brand, Brand, Masked};
use gather_seal::lockout::{counter_name, field_counter, Subject};
use serde_json::{json, Value};

/// Luhn-valid, 16 digits, and of no brand in the table (nothing issues cards starting with 9).
const NO_BRAND: &str = "9000000000001231";
const APP: &str = "https://app.example.com/paid";

/// Whether `text` is a string anywhere in `json`.
fn holds_value(json: &Value, text: &str) -> bool {
    match json {
        Value::String(s) => s == text,
        Value::Array(items) => items.iter().any(|v| holds_value(v, text)),
        Value::Object(map) => map.values().any(|v| holds_value(v, text)),
        _ => false,
    }
}

// ------------------------------------------------------------------------------------------
// The masked card
// ------------------------------------------------------------------------------------------

#[test]
fn a_card_is_masked_to_its_last_four_and_its_brand_when_known() {
    let masked = |last4: &str, brand| {
        Some(Masked {
            last4: last4.into(),
            brand,
        })
    };
    assert_eq!(
        Masked::of_card(VISA.as_bytes()),
        masked("4242", Some(Brand::Visa))
    );
    assert_eq!(
        Masked::of_card(AMEX.as_bytes()),
        masked("0005", Some(Brand::Amex))
    );
    assert_eq!(card_brand(NO_BRAND), None);
    assert_eq!(Masked::of_card(NO_BRAND.as_bytes()), masked("1231", None));
    // Never anything that is not a card's digits.
    for not_a_card in [
        "4242",
        "42424242424",
        "42424242424242424242",
        "4242 4242 4242 4242",
    ] {
        assert_eq!(Masked::of_card(not_a_card.as_bytes()), None, "{not_a_card}");
    }
}

/// (field, sealed hex) of each value handed on.
type Sealed = Vec<(String, String)>;

/// A Visa and a card of no known brand, sealed (as stand-in hex) and masked.
fn two_cards() -> (Sealed, Vec<(String, Masked)>) {
    let sealed = vec![
        ("card".to_owned(), "ab".repeat(4)),
        ("spare".to_owned(), "cd".repeat(4)),
    ];
    let masked = vec![
        (
            "card".to_owned(),
            Masked {
                last4: "4242".into(),
                brand: Some(Brand::Visa),
            },
        ),
        (
            "spare".to_owned(),
            Masked {
                last4: "1231".into(),
                brand: None,
            },
        ),
    ];
    (sealed, masked)
}

#[test]
fn the_submission_carries_masked_cards_after_the_result_and_leaves_them_out_when_none() {
    let (sealed, masked) = two_cards();
    let submission = |masked: &[(String, Masked)]| {
        Submission {
            call_sid: CALL_SID,
            account_sid: "AC1",
            from: "+15005550006",
            to: "+15005550001",
            flow: "pay",
            result: GatherResult::Success,
            sealed: &sealed,
            verified: &[],
            masked,
        }
        .to_json()
    };
    assert_eq!(
        submission(&masked),
        format!(
            r#"{{"callSid":"{CALL_SID}","accountSid":"AC1","from":"+15005550006","to":"+15005550001","flow":"pay","result":"success","masked":{{"card":{{"last4":"4242","brand":"visa"}},"spare":{{"last4":"1231"}}}},"encryptedCardDigits":"abababab","encryptedSpareDigits":"cdcdcdcd"}}"#
        )
    );
    assert_eq!(
        submission(&[]),
        format!(
            r#"{{"callSid":"{CALL_SID}","accountSid":"AC1","from":"+15005550006","to":"+15005550001","flow":"pay","result":"success","encryptedCardDigits":"abababab","encryptedSpareDigits":"cdcdcdcd"}}"#
        )
    );
}

#[test]
fn the_redirect_names_each_card_last_four_and_brand_when_known() {
    let (sealed, masked) = two_cards();
    assert_eq!(
        redirect_url(NEXT, GatherResult::Success, &sealed, &[], &masked),
        "https://app.example.com/next?result=success&card_last4=4242&card_brand=visa&spare_last4=1231&encryptedCardDigits=abababab&encryptedSpareDigits=cdcdcdcd"
    );
    assert_eq!(
        redirect_url(
            "https://x.example/flow?FlowEvent=return",
            GatherResult::Cancelled,
            &sealed[..1],
            &[],
            &masked[..1]
        ),
        "https://x.example/flow?FlowEvent=return&result=cancelled&card_last4=4242&card_brand=visa&encryptedCardDigits=abababab"
    );
}

/// A card and its code, a routing number, an expiry, a card of no known brand and a PIN,
/// handed on as `then` says.
fn every_kind(then: &str) -> Flow {
    pay(&format!(
        r#"{{"fields": [
            {{"name": "card", "prompt": "Card?", "kind": "card-number"}},
            {{"name": "cvv", "prompt": "Code?", "kind": "security-code", "card": "card"}},
            {{"name": "routing", "prompt": "Routing?", "kind": "routing-number"}},
            {{"name": "expiry", "prompt": "Expiry?", "kind": "expiry"}},
            {{"name": "spare", "prompt": "Another card?", "kind": "card-number"}},
            {{"name": "pin", "prompt": "PIN?", "kind": "digits", "length": 4}}
        ],
        "then": {then} }}"#
    ))
}

#[test]
fn the_engine_hands_on_a_mask_for_each_card_field_and_for_nothing_else() {
    let ring = ring(KEY_HEX);
    let entries = [VISA, "123", "021000021", EXPIRY, NO_BRAND, "4321"];
    let action = every_kind(&format!(r#"{{"action": "{APP}"}}"#));
    let mut caller = Caller::new(&action, &ring);
    caller.comes_in();
    let answer = caller.types_all(&entries);
    assert_eq!(answer.result, Some(GatherResult::Success));
    let body = caller.submitted();
    assert_eq!(
        body["masked"],
        json!({"card": {"last4": "4242", "brand": "visa"}, "spare": {"last4": "1231"}})
    );
    // No value in it is what the caller typed (ciphertext may hold the same digits inside).
    for entry in entries {
        assert!(!holds_value(&body, entry), "{entry} in {body}");
    }
    assert!(holds_value(&body, "4242"), "the check finds a value");

    // Handed off early: only the card gathered so far is masked.
    let mut caller = Caller::new(&action, &ring);
    caller.comes_in();
    caller.types_all(&[VISA, "123", "021000021"]);
    caller.types(Some("*"));
    let body = caller.submitted();
    assert_eq!(body["result"], "cancelled");
    assert_eq!(
        body["masked"],
        json!({"card": {"last4": "4242", "brand": "visa"}})
    );

    // Before any card: no masked member at all.
    let mut caller = Caller::new(&action, &ring);
    caller.comes_in();
    caller.types(Some("*"));
    assert_eq!(caller.submitted().get("masked"), None);

    // Redirected: the same, in the query.
    let redirect = every_kind(&format!(r#"{{"redirect": "{NEXT}"}}"#));
    let mut caller = Caller::new(&redirect, &ring);
    caller.comes_in();
    let answer = caller.types_all(&entries);
    let url = redirected_to(&answer.twiml).expect("a redirect");
    assert!(
        url.starts_with(
            "https://app.example.com/next?result=success&card_last4=4242&card_brand=visa&spare_last4=1231&encryptedCardDigits="
        ),
        "{url}"
    );
    assert!(!url.contains("spare_brand"), "{url}");
}

// ------------------------------------------------------------------------------------------
// Status events
// ------------------------------------------------------------------------------------------

/// A Visa or Mastercard read back, its code and its expiry, with `status_callback` when asked.
fn card_call(status_callback: bool) -> Flow {
    let callback = match status_callback {
        true => format!(r#""status_callback": "{STATUS}","#),
        false => String::new(),
    };
    pay(&format!(
        r#"{{"fields": [
            {{"name": "card", "prompt": "Card?", "kind": "card-number", "card_types": ["visa", "mastercard"], "confirm": true}},
            {{"name": "cvv", "prompt": "Code?", "kind": "security-code", "card": "card"}},
            {{"name": "expiry", "prompt": "Expiry?", "kind": "expiry"}}
        ],
        {callback}
        "then": {{"action": "{APP}"}} }}"#
    ))
}

/// (event, field, error, attempt) of each notice, its masked card and result apart.
type Seen = (String, Option<String>, Option<String>, u64);

fn seen(answer: &Answer) -> Vec<Seen> {
    answer
        .notices
        .iter()
        .map(|notice| {
            let body: Value = serde_json::from_str(&notice.body).expect("JSON");
            let text = |key: &str| body[key].as_str().map(str::to_owned);
            (
                text("event").expect("an event"),
                text("field"),
                text("error"),
                body["attempt"].as_u64().expect("an attempt"),
            )
        })
        .collect()
}

fn event(kind: &str, field: Option<&str>, error: Option<&str>, attempt: u64) -> Seen {
    (
        kind.to_owned(),
        field.map(str::to_owned),
        error.map(str::to_owned),
        attempt,
    )
}

/// Every string in a notice but its `callSid` holds no digit, but a masked card's last four.
fn digits_beyond_last_four(body: &Value) -> Vec<String> {
    let mut found = Vec::new();
    if let Value::Object(map) = body {
        for (key, value) in map {
            match (key.as_str(), value) {
                ("callSid", _) => {}
                ("masked", Value::Object(masked)) => {
                    for (key, value) in masked {
                        let text = value.as_str().unwrap_or("");
                        let allowed = key == "last4"
                            && text.len() == 4
                            && text.bytes().all(|b| b.is_ascii_digit());
                        if !allowed && text.bytes().any(|b| b.is_ascii_digit()) {
                            found.push(format!("masked.{key}={text}"));
                        }
                    }
                }
                (_, Value::String(text)) if text.bytes().any(|b| b.is_ascii_digit()) => {
                    found.push(format!("{key}={text}"));
                }
                (_, Value::String(_) | Value::Null | Value::Number(_)) => {}
                (_, other) => found.push(format!("{key}={other}")),
            }
        }
    }
    found
}

#[test]
fn a_whole_card_call_sends_each_step_in_order_signed_and_masked() {
    let (flow, ring) = (card_call(true), ring(KEY_HEX));
    let mut caller = Caller::new(&flow, &ring);
    // (typed, the events of that webhook, in order)
    let steps: Vec<(Option<&str>, Vec<Seen>)> = vec![
        (None, vec![event("asked", Some("card"), None, 1)]),
        (
            Some(AMEX),
            vec![
                event("invalid", Some("card"), Some("card-type"), 1),
                event("asked", Some("card"), None, 2),
            ],
        ),
        (Some(VISA), vec![event("accepted", Some("card"), None, 2)]),
        (
            Some("1"),
            vec![
                event("confirmed", Some("card"), None, 2),
                event("asked", Some("cvv"), None, 1),
            ],
        ),
        (
            Some(""),
            vec![
                event("invalid", Some("cvv"), Some("timeout"), 1),
                event("asked", Some("cvv"), None, 2),
            ],
        ),
        (
            Some("1234"),
            vec![
                event("invalid", Some("cvv"), Some("invalid"), 2),
                event("asked", Some("cvv"), None, 3),
            ],
        ),
        (
            Some("123"),
            vec![
                event("accepted", Some("cvv"), None, 3),
                event("asked", Some("expiry"), None, 1),
            ],
        ),
        (
            Some(EXPIRED),
            vec![
                event("invalid", Some("expiry"), Some("expired"), 1),
                event("asked", Some("expiry"), None, 2),
            ],
        ),
        (
            Some(EXPIRY),
            vec![
                event("accepted", Some("expiry"), None, 2),
                event("handed-off", None, None, 0),
            ],
        ),
    ];
    let typed = [AMEX, VISA, "1234", "123", EXPIRED, EXPIRY];
    for (i, (digits, expected)) in steps.into_iter().enumerate() {
        let answer = match i {
            0 => caller.comes_in(),
            _ => caller.types(digits),
        };
        assert_eq!(seen(&answer), expected, "webhook {i} ({digits:?})");
        for notice in &answer.notices {
            let body: Value = serde_json::from_str(&notice.body).expect("JSON");
            assert_eq!(notice.url, STATUS);
            assert_eq!(body["callSid"], CALL_SID);
            assert_eq!(body["flow"], "pay");
            // Signed as a submission is, and checked the same way.
            let header = Some(notice.signature.as_str());
            let body_bytes = notice.body.as_bytes();
            assert_eq!(
                verify_submission(body_bytes, header, &[SECRET], 300, common::gather::NOW),
                Ok(())
            );
            let mut flipped = notice.body.clone().into_bytes();
            flipped[2] ^= 1;
            assert!(
                verify_submission(&flipped, header, &[SECRET], 300, common::gather::NOW).is_err()
            );
            assert!(verify_submission(
                body_bytes,
                header,
                &[b"another secret"],
                300,
                common::gather::NOW
            )
            .is_err());
            // A card's last four and brand on its accepted and confirmed events, nothing more.
            let carded = matches!(body["event"].as_str(), Some("accepted" | "confirmed"))
                && body["field"] == "card";
            let masked = carded.then(|| json!({"last4": "4242", "brand": "visa"}));
            assert_eq!(body.get("masked"), masked.as_ref(), "{}", notice.body);
            let result = (body["event"] == "handed-off").then(|| json!("success"));
            assert_eq!(body.get("result"), result.as_ref(), "{}", notice.body);
            assert_eq!(
                digits_beyond_last_four(&body),
                Vec::<String>::new(),
                "{}",
                notice.body
            );
            let text = notice.body.replace(CALL_SID, "");
            for entry in typed {
                assert!(!text.contains(entry), "{entry} in {text}");
            }
        }
    }
    // The digit check itself finds a digit where none belongs.
    assert_eq!(
        digits_beyond_last_four(
            &json!({"callSid": CALL_SID, "field": "card", "masked": {"last4": "4242", "brand": "visa1"}, "error": "x42"})
        ),
        ["error=x42", "masked.brand=visa1"]
    );
}

#[test]
fn repeat_and_confirm_report_a_mismatch_and_a_confirmation_not_given() {
    let flow = pay(&format!(
        r#"{{"fields": [
            {{"name": "pin", "prompt": "PIN?", "kind": "digits", "length": 4, "repeat": true}},
            {{"name": "card", "prompt": "Card?", "kind": "card-number", "confirm": true}}
        ],
        "status_callback": "{STATUS}",
        "then": {{"redirect": "{NEXT}"}} }}"#
    ));
    let ring = ring(KEY_HEX);
    let mut caller = Caller::new(&flow, &ring);
    caller.comes_in();
    let steps: Vec<(&str, Vec<Seen>)> = vec![
        // The first entry of a repeat field waits: nothing to report yet.
        ("1234", vec![]),
        (
            "1243",
            vec![
                event("invalid", Some("pin"), Some("mismatch"), 1),
                event("asked", Some("pin"), None, 2),
            ],
        ),
        ("1243", vec![]),
        (
            "1243",
            vec![
                event("accepted", Some("pin"), None, 2),
                event("asked", Some("card"), None, 1),
            ],
        ),
        (MASTERCARD, vec![event("accepted", Some("card"), None, 1)]),
        // Not confirmed: the card is asked again, with no error to name.
        ("2", vec![event("asked", Some("card"), None, 2)]),
        (VISA, vec![event("accepted", Some("card"), None, 2)]),
        (
            "1",
            vec![
                event("confirmed", Some("card"), None, 2),
                event("handed-off", None, None, 0),
            ],
        ),
    ];
    for (typed, expected) in steps {
        let answer = caller.types(Some(typed));
        assert_eq!(seen(&answer), expected, "{typed}");
    }
}

#[test]
fn a_star_reports_cancelled_then_the_hand_off_cancelled() {
    let (flow, ring) = (card_call(true), ring(KEY_HEX));
    let mut caller = Caller::new(&flow, &ring);
    caller.comes_in();
    caller.types_all(&[VISA, "1"]);
    let answer = caller.types(Some("*"));
    assert_eq!(
        seen(&answer),
        [
            event("cancelled", Some("cvv"), None, 1),
            event("handed-off", None, None, 0)
        ]
    );
    let last: Value = serde_json::from_str(&answer.notices[1].body).expect("JSON");
    assert_eq!(last["result"], "cancelled");
    let body = caller.submitted();
    assert_eq!(body["result"], "cancelled");
    assert!(body.get("encryptedCardDigits").is_some());
    assert_eq!(body.get("encryptedCvvDigits"), None);
}

#[test]
fn no_status_callback_no_notices() {
    let (flow, ring) = (card_call(false), ring(KEY_HEX));
    let mut caller = Caller::new(&flow, &ring);
    let mut answers = vec![caller.comes_in()];
    for typed in [AMEX, VISA, "2", VISA, "1", "12", "123", EXPIRED, EXPIRY] {
        answers.push(caller.types(Some(typed)));
    }
    assert_eq!(
        answers.last().and_then(|a| a.result),
        Some(GatherResult::Success)
    );
    assert!(answers.iter().all(|a| a.notices.is_empty()));
    // Its twin, with status_callback, has notices on every webhook.
    let flow = card_call(true);
    let mut caller = Caller::new(&flow, &ring);
    assert!(!caller.comes_in().notices.is_empty());
    // Nor any without a secret to sign them (the worker refuses to start so).
    caller.secret = None;
    caller.query = Some("step=card&attempt=1".into());
    assert!(caller.types(Some(AMEX)).notices.is_empty());
}

// ------------------------------------------------------------------------------------------
// A counted field's try
// ------------------------------------------------------------------------------------------

fn limits() -> Limits {
    Limits {
        failures: 5,
        window_ms: 3_600_000,
    }
}

fn card_counter(flow: &Flow, name: &str, digits: &str) -> String {
    let subject = Subject::Field {
        name,
        value: digits.as_bytes(),
    };
    let written_out = counter_name(COUNTER_KEY, "pay", subject);
    assert_eq!(
        field_counter(COUNTER_KEY, flow, name, digits.as_bytes()),
        Some(written_out.clone())
    );
    written_out
}

#[test]
fn a_counted_confirm_field_takes_its_try_when_1_keeps_it_named_from_the_kept_card() {
    let flow = pay(&format!(
        r#"{{"fields": [
            {{"name": "card", "prompt": "Card?", "kind": "card-number", "confirm": true}},
            {{"name": "pin", "prompt": "PIN?", "kind": "digits", "length": 4, "repeat": true}}
        ],
        "limits": {{"failures": 5, "window_minutes": 60, "by": ["card", "pin"]}},
        "then": {{"action": "{APP}"}} }}"#
    ));
    let ring = ring(KEY_HEX);
    let mut caller = Caller::new(&flow, &ring);
    caller.comes_in();
    assert_eq!(caller.effects, [], "not counted by caller");
    // Typed, not yet kept: no try taken. Refused and typed again: still none.
    for typed in [MASTERCARD, "2", VISA] {
        caller.types(Some(typed));
        assert_eq!(caller.effects, [], "{typed}");
    }
    let kept = card_counter(&flow, "card", VISA);
    assert_ne!(kept, card_counter(&flow, "card", MASTERCARD));
    assert_ne!(kept, card_counter(&flow, "card", "1"));
    caller.types(Some("1"));
    assert_eq!(
        caller.effects,
        [Effect::TakeTry {
            counter: kept.clone(),
            limits: limits()
        }]
    );
    // A repeat field likewise: on the entry that matched.
    caller.types(Some("4321"));
    assert_eq!(caller.effects, []);
    let pin = card_counter(&flow, "pin", "4321");
    let answer = caller.types(Some("4321"));
    assert_eq!(answer.result, Some(GatherResult::Success));
    assert_eq!(
        caller.effects[0],
        Effect::TakeTry {
            counter: pin.clone(),
            limits: limits()
        }
    );
    // The hand-off is marked in, and gives back, the counters of the kept values.
    assert_eq!(
        caller.effects[1],
        Effect::MarkHandOff {
            counter: kept.clone(),
            call_sid: CALL_SID.into()
        }
    );
    assert_eq!(
        caller.effects.last(),
        Some(&Effect::GiveBack {
            counters: vec![kept, pin],
            limits: limits()
        })
    );
}
