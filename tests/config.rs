//! `GATHER_FLOWS`: every key a flow takes, accepted with a valid value and defaulted when
//! absent; every bad value refused with the path at fault and a fixed problem that never
//! repeats the value. The refused settings are data files under `tests/data/config/`, one per
//! case, each with a header saying what it must be refused with and why (see [`Case`]); one
//! harness runs them all and names each case that fails.

mod common;

use common::{leaks, testkit};
use gather_seal::config::{
    is_published_dev_secret, Anonymous, CardTypes, Channel, CodeLength, CountBy, Field, Flow,
    Flows, Kind, Limits, Messages, Then,
};
use gather_seal::kinds::Brand;
use gather_seal::SettingError;
use serde_json::{json, Value};

/// A valid flow named `login` that every rejection below changes in one place.
fn base() -> Value {
    json!({"login": {
        "fields": [
            {"name": "card", "prompt": "Enter your card number, then press pound.", "kind": "card-number"},
            {"name": "expiry", "prompt": "Enter the expiry date.", "kind": "expiry"},
            {"name": "pin", "prompt": "Enter your PIN.", "kind": "digits", "length": 4}
        ],
        "then": {"action": "https://app.example.com/gather-done"}
    }})
}

/// How a case changes [`base`].
enum Change {
    /// Sets the member at this JSON pointer (adding it when absent).
    Set(&'static str, Value),
    /// Replaces the whole setting by this text.
    Text(String),
}
use Change::{Set, Text};

fn text_of(change: &Change) -> String {
    let mut value = base();
    match change {
        Text(text) => return text.clone(),
        Set(pointer, new) => {
            let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
            match value.pointer_mut(parent) {
                Some(Value::Object(map)) => {
                    map.insert(key.to_owned(), new.clone());
                }
                Some(Value::Array(list)) => {
                    let index: usize = key.parse().expect("array index");
                    list[index] = new.clone();
                }
                _ => panic!("no parent at {pointer}"),
            }
        }
    }
    value.to_string()
}

fn parsed(text: &str) -> Flows {
    match Flows::from_json(text) {
        Ok(flows) => flows,
        Err(e) => panic!("{text} refused: {e}"),
    }
}

fn login(text: &str) -> Flow {
    match parsed(text).get("login") {
        Some(flow) => flow.clone(),
        None => panic!("no flow login in {text}"),
    }
}

fn field(name: &str, prompt: &str, kind: Kind) -> Field {
    Field {
        name: name.to_owned(),
        prompt: prompt.to_owned(),
        kind,
        confirm: false,
        repeat: false,
    }
}

// ------------------------------------------------------------------------------------------
// Accepted
// ------------------------------------------------------------------------------------------

#[test]
fn a_minimal_flow_takes_every_default() {
    let text = r#"{"default": {
        "fields": [{"name": "pin", "prompt": "Your PIN?", "kind": "digits", "length": 4}],
        "then": {"redirect": "https://example.com/next"}
    }}"#;
    let flows = parsed(text);
    let expected = Flow {
        name: "default".into(),
        fields: vec![field("pin", "Your PIN?", Kind::Digits(4))],
        then: Then::Redirect {
            url: "https://example.com/next".into(),
        },
        attempts: 3,
        timeout_secs: 10,
        language: None,
        voice: None,
        messages: Messages {
            retry: None,
            timeout: None,
            invalid: None,
            card_type: None,
            expired: None,
            mismatch: None,
            confirm: None,
            repeat: None,
            goodbye: "Sorry, we could not get your details. Goodbye.".into(),
            apology: "Sorry, we cannot take your call right now. Please try again later. Goodbye."
                .into(),
            locked: "Sorry, there have been too many attempts. Please try again later. Goodbye."
                .into(),
            thanks: "Thank you. Your account number is {account} and your balance is {balance}"
                .into(),
        },
        limits: None,
        count_by: Vec::new(),
        anonymous: Anonymous::Refuse,
        status_callback: None,
    };
    assert_eq!(flows.get("default"), Some(&expected));
    assert_eq!(flows.iter().count(), 1);
    assert!(!flows.any_signed());
    // An empty messages object is the same as none.
    let with_empty_messages = text.replace(r#""then""#, r#""messages": {}, "then""#);
    assert_eq!(parsed(&with_empty_messages).get("default"), Some(&expected));
}

#[test]
fn every_key_is_read() {
    let text = r#"{"login": {
        "fields": [
            {"name": "card", "prompt": "Numéro de carte, puis dièse.", "kind": "card-number", "confirm": true},
            {"name": "expiry", "prompt": "Date d'expiration.", "kind": "expiry", "confirm": false},
            {"name": "last_four", "prompt": "Quatre chiffres.", "kind": "digits", "length": 4, "repeat": true},
            {"name": "account2", "prompt": "Compte.", "kind": "digits", "min": 6, "max": 10}
        ],
        "then": {"action": "https://app.example.com/done?src=ivr", "fallback": "https://app.example.com/sorry"},
        "attempts": 5,
        "timeout": 25,
        "language": "fr-FR",
        "voice": "Polly.Celine",
        "messages": {
            "retry": "Désolé, encore une fois.",
            "goodbye": "Au revoir.",
            "apology": "Désolé, le service est indisponible.",
            "locked": "Trop d'essais. Au revoir.",
            "thanks": "Merci. Compte {account}, solde {balance}.",
            "timeout": "Nous n'avons rien reçu.",
            "invalid": "Ce n'est pas valide.",
            "card_type": "Nous n'acceptons pas cette carte.",
            "expired": "Cette carte a expiré.",
            "mismatch": "Les deux saisies diffèrent.",
            "confirm": "Vous avez saisi une carte finissant par {last4}. Tapez 1 pour confirmer.",
            "repeat": "Saisissez-le de nouveau."
        },
        "status_callback": "https://app.example.com/status",
        "limits": {"failures": 5, "window_minutes": 60, "by": ["account2", "caller"]},
        "anonymous": "shared"
    }}"#;
    let expected = Flow {
        name: "login".into(),
        fields: vec![
            Field {
                confirm: true,
                ..field(
                    "card",
                    "Numéro de carte, puis dièse.",
                    Kind::CardNumber(CardTypes::ANY),
                )
            },
            field("expiry", "Date d'expiration.", Kind::Expiry),
            Field {
                repeat: true,
                ..field("last_four", "Quatre chiffres.", Kind::Digits(4))
            },
            field("account2", "Compte.", Kind::DigitRange { min: 6, max: 10 }),
        ],
        then: Then::Action {
            url: "https://app.example.com/done?src=ivr".into(),
            fallback: Some("https://app.example.com/sorry".into()),
        },
        attempts: 5,
        timeout_secs: 25,
        language: Some("fr-FR".into()),
        voice: Some("Polly.Celine".into()),
        messages: Messages {
            retry: Some("Désolé, encore une fois.".into()),
            timeout: Some("Nous n'avons rien reçu.".into()),
            invalid: Some("Ce n'est pas valide.".into()),
            card_type: Some("Nous n'acceptons pas cette carte.".into()),
            expired: Some("Cette carte a expiré.".into()),
            mismatch: Some("Les deux saisies diffèrent.".into()),
            confirm: Some(
                "Vous avez saisi une carte finissant par {last4}. Tapez 1 pour confirmer.".into(),
            ),
            repeat: Some("Saisissez-le de nouveau.".into()),
            goodbye: "Au revoir.".into(),
            apology: "Désolé, le service est indisponible.".into(),
            locked: "Trop d'essais. Au revoir.".into(),
            thanks: "Merci. Compte {account}, solde {balance}.".into(),
        },
        limits: Some(Limits {
            failures: 5,
            window_ms: 3_600_000,
        }),
        count_by: vec![CountBy::Field("account2".into()), CountBy::Caller],
        anonymous: Anonymous::Shared,
        status_callback: Some("https://app.example.com/status".into()),
    };
    assert_eq!(login(text), expected);
    assert_eq!(login(text).field(3), Some(&expected.fields[3]));
    assert_eq!(login(text).field(4), None);
}

#[test]
fn each_message_defaults_on_its_own() {
    let text = r#"{"login": {
        "fields": [{"name": "pin", "prompt": "PIN?", "kind": "digits", "length": 4}],
        "then": {"redirect": "https://example.com/next"},
        "messages": {"goodbye": "Bye now."}
    }}"#;
    let messages = login(text).messages;
    assert_eq!(messages.retry, None);
    assert_eq!(messages.goodbye, "Bye now.");
    assert_eq!(
        messages.apology,
        "Sorry, we cannot take your call right now. Please try again later. Goodbye."
    );
    assert_eq!(
        messages.thanks,
        "Thank you. Your account number is {account} and your balance is {balance}"
    );
}

#[test]
fn the_defaults_are_the_published_constants() {
    use gather_seal::config::{
        APOLOGY, DEFAULT_ATTEMPTS, DEFAULT_FLOW, DEFAULT_TIMEOUT, GOODBYE, SETTING, THANKS,
    };
    assert_eq!(SETTING, "GATHER_FLOWS");
    assert_eq!(DEFAULT_FLOW, "default");
    assert_eq!((DEFAULT_ATTEMPTS, DEFAULT_TIMEOUT), (3, 10));
    let messages = Messages::default();
    assert_eq!(
        (
            messages.goodbye.as_str(),
            messages.apology.as_str(),
            messages.thanks.as_str()
        ),
        (GOODBYE, APOLOGY, THANKS)
    );
}

/// Values at the edge of what each key takes, each accepted.
#[test]
fn values_at_the_edges_are_accepted() {
    let name_32 = format!("a{}", "b".repeat(31));
    let cases: Vec<(&str, Change)> = vec![
        ("attempts 1", Set("/login/attempts", json!(1))),
        ("attempts 9", Set("/login/attempts", json!(9))),
        ("timeout 1", Set("/login/timeout", json!(1))),
        ("timeout 60", Set("/login/timeout", json!(60))),
        ("length 1", Set("/login/fields/2/length", json!(1))),
        ("length 32", Set("/login/fields/2/length", json!(32))),
        (
            "min 1 max 32",
            Set(
                "/login/fields/2",
                json!({"name": "pin", "prompt": "P", "kind": "digits", "min": 1, "max": 32}),
            ),
        ),
        (
            "min equal to max",
            Set(
                "/login/fields/2",
                json!({"name": "pin", "prompt": "P", "kind": "digits", "min": 5, "max": 5}),
            ),
        ),
        (
            "a 32-character field name",
            Set("/login/fields/2/name", json!(name_32)),
        ),
        (
            "a field name of words and digits",
            Set("/login/fields/2/name", json!("card2_pin3_x")),
        ),
        (
            "a 4000-character prompt",
            Set("/login/fields/0/prompt", json!("a".repeat(4000))),
        ),
        (
            "a 4000-character prompt of two-byte characters",
            Set("/login/fields/0/prompt", json!("é".repeat(4000))),
        ),
        (
            "a 4000-character message",
            Set("/login/messages", json!({"apology": "z".repeat(4000)})),
        ),
        (
            "a 64-character flow name",
            Text(
                base()
                    .to_string()
                    .replace("\"login\"", &format!("\"{}\"", "a-_0".repeat(16))),
            ),
        ),
        ("language en", Set("/login/language", json!("en"))),
        (
            "language cmn-Hans-CN",
            Set("/login/language", json!("cmn-Hans-CN")),
        ),
        ("voice alice", Set("/login/voice", json!("alice"))),
        (
            "voice Google.fr-FR-Standard-A",
            Set("/login/voice", json!("Google.fr-FR-Standard-A")),
        ),
        (
            "http to localhost",
            Set(
                "/login/then/action",
                json!("http://localhost:8787/decrypt-gather"),
            ),
        ),
        (
            "http to 127.0.0.1",
            Set("/login/then/action", json!("http://127.0.0.1/x")),
        ),
        (
            "http to [::1]",
            Set("/login/then/fallback", json!("http://[::1]:9/x")),
        ),
        (
            "a Studio flow's URL with a query",
            Set(
                "/login/then",
                json!({"redirect": "https://webhooks.twilio.com/v1/Accounts/AC1/Flows/FW1?FlowEvent=return"}),
            ),
        ),
        (
            "explicit null for an optional key",
            Set("/login/language", Value::Null),
        ),
    ];
    for (why, change) in &cases {
        let text = text_of(change);
        if let Err(e) = Flows::from_json(&text) {
            panic!("{why}: refused with {e}");
        }
    }
}

#[test]
fn several_flows_are_kept_by_name() {
    let text = r#"{
        "b-flow": {"fields": [{"name": "pin", "prompt": "P", "kind": "digits", "length": 4}],
                   "then": {"redirect": "https://example.com/b"}},
        "a_flow": {"fields": [{"name": "code", "prompt": "C", "kind": "digits", "length": 6}],
                   "then": {"action": "https://example.com/a"}}
    }"#;
    let flows = parsed(text);
    let names: Vec<&str> = flows.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["b-flow", "a_flow"], "in the order given");
    assert_eq!(
        flows.get("a_flow").map(|f| f.fields[0].name.as_str()),
        Some("code")
    );
    assert_eq!(
        flows.get("b-flow").map(|f| f.fields[0].name.as_str()),
        Some("pin")
    );
    assert!(flows.get("c").is_none());
    assert!(flows.any_signed());
    // Its negative twin: only redirects need no signing secret.
    let redirects_only = text.replace(
        r#"{"action": "https://example.com/a"}"#,
        r#"{"redirect": "https://example.com/a"}"#,
    );
    assert!(!parsed(&redirects_only).any_signed());
}

#[test]
fn a_payment_flow_reads_card_types_security_codes_and_routing_numbers() {
    let text = r#"{"pay": {
        "fields": [
            {"name": "account", "prompt": "Account?", "kind": "digits", "min": 6, "max": 10},
            {"name": "card", "prompt": "Card?", "kind": "card-number", "card_types": ["amex", "visa", "diners-club"]},
            {"name": "cvv", "prompt": "Code?", "kind": "security-code", "card": "card"},
            {"name": "other_card", "prompt": "Another card?", "kind": "card-number"},
            {"name": "other_cvv", "prompt": "Its code?", "kind": "security-code", "card": "other_card"},
            {"name": "cid", "prompt": "Four digits?", "kind": "security-code", "length": 4},
            {"name": "cvc", "prompt": "Three digits?", "kind": "security-code", "length": 3},
            {"name": "routing", "prompt": "Routing number?", "kind": "routing-number"}
        ],
        "then": {"redirect": "https://example.com/next"}
    }}"#;
    let flows = parsed(text);
    let flow = flows.get("pay").expect("the flow");
    assert_eq!(
        flow.fields,
        [
            field("account", "Account?", Kind::DigitRange { min: 6, max: 10 }),
            field(
                "card",
                "Card?",
                Kind::CardNumber(CardTypes::only(&[
                    Brand::Visa,
                    Brand::Amex,
                    Brand::DinersClub
                ]))
            ),
            // The card it follows, by its index among the flow's fields.
            field("cvv", "Code?", Kind::SecurityCode(CodeLength::OfCard(1))),
            field(
                "other_card",
                "Another card?",
                Kind::CardNumber(CardTypes::ANY)
            ),
            field(
                "other_cvv",
                "Its code?",
                Kind::SecurityCode(CodeLength::OfCard(3))
            ),
            field(
                "cid",
                "Four digits?",
                Kind::SecurityCode(CodeLength::Fixed(4))
            ),
            field(
                "cvc",
                "Three digits?",
                Kind::SecurityCode(CodeLength::Fixed(3))
            ),
            field("routing", "Routing number?", Kind::RoutingNumber),
        ]
    );
    // Every brand by its name; the order written does not matter.
    let with_types = |types: Value| {
        let mut value = base();
        value["login"]["fields"][0]["card_types"] = types;
        login(&value.to_string()).fields[0].kind
    };
    let every: Vec<&str> = Brand::ALL.iter().map(|b| b.as_str()).collect();
    assert_eq!(
        with_types(json!(every)),
        Kind::CardNumber(CardTypes::only(&Brand::ALL))
    );
    assert_eq!(
        with_types(json!([
            "unionpay",
            "maestro",
            "jcb",
            "discover",
            "mastercard"
        ])),
        with_types(json!([
            "mastercard",
            "discover",
            "jcb",
            "maestro",
            "unionpay"
        ])),
    );
    assert_eq!(
        with_types(json!(["visa"])),
        Kind::CardNumber(CardTypes::only(&[Brand::Visa]))
    );
    // Listing every brand is not the default: a number of no brand in the table is refused.
    assert_ne!(with_types(json!(every)), Kind::CardNumber(CardTypes::ANY));
    assert_eq!(
        login(&base().to_string()).fields[0].kind,
        Kind::CardNumber(CardTypes::ANY)
    );
}

#[test]
fn a_verify_field_sends_its_code_by_sms_unless_it_says_call() {
    let with = |otp: Value| {
        let mut value = base();
        value["login"]["fields"][2] = otp;
        login(&value.to_string())
    };
    let cases = [
        (
            json!({"name": "otp", "kind": "verify", "prompt": "Enter the code we sent you."}),
            Channel::Sms,
        ),
        (
            json!({"name": "otp", "kind": "verify", "prompt": "Enter the code we sent you.", "channel": "sms"}),
            Channel::Sms,
        ),
        (
            json!({"name": "otp", "kind": "verify", "prompt": "Enter the code we sent you.", "channel": "call"}),
            Channel::Call,
        ),
        (
            json!({"name": "otp", "kind": "verify", "prompt": "Enter the code we sent you.", "channel": null}),
            Channel::Sms,
        ),
    ];
    for (otp, channel) in cases {
        let flow = with(otp.clone());
        assert_eq!(
            flow.fields[2],
            field("otp", "Enter the code we sent you.", Kind::Verify(channel)),
            "{otp}"
        );
        assert_eq!(
            flow.fields[0].kind,
            Kind::CardNumber(CardTypes::ANY),
            "the other fields stay"
        );
    }
    assert_eq!(Channel::Sms.as_str(), "sms");
    assert_eq!(Channel::Call.as_str(), "call");
}

#[test]
fn any_verify_says_whether_some_flow_has_a_verify_field() {
    assert!(!parsed(&base().to_string()).any_verify());
    // A verify field in the second flow, not the first, and not first among its fields.
    let mut value = base();
    let mut other = value["login"].clone();
    other["fields"][1] =
        json!({"name": "otp", "kind": "verify", "prompt": "Code?", "channel": "call"});
    value["other"] = other;
    let flows = parsed(&value.to_string());
    assert!(flows.any_verify());
    assert!(!flows
        .get("login")
        .is_some_and(|f| f.fields.iter().any(|f| matches!(f.kind, Kind::Verify(_)))));
    // Its twin: the same two flows without it.
    value["other"]["fields"][1] = json!({"name": "expiry", "kind": "expiry", "prompt": "Expiry?"});
    assert!(!parsed(&value.to_string()).any_verify());
}

// ------------------------------------------------------------------------------------------
// Refused
// ------------------------------------------------------------------------------------------

/// Every case under `tests/data/config/` ([`testkit::SettingCase`]).
fn cases() -> Vec<testkit::SettingCase> {
    testkit::setting_cases("config", &[])
}

#[test]
fn each_bad_value_is_refused_by_its_path_without_repeating_it() {
    let cases = cases();
    // As many as when the table moved from this file into data files.
    assert!(cases.len() >= 163, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        if let Some(marker) = &case.marker {
            // The marker is really in what was given, so that the leak check can fail.
            assert!(
                case.text.contains(marker.as_str()),
                "{}: marker not in the text",
                case.file
            );
        }
        if let Some(miss) = testkit::setting_misses(case, Flows::from_json(&case.text)) {
            failures.push(format!("{} ({}): {miss}", case.file, case.why));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The same cases read from an already-deserialized value (as the worker reads a
/// `wrangler.toml` table) give the same errors, whenever that value says what the text says: a
/// `serde_json::Value` keeps one of a repeated key and sorts keys, so cases that rely on either
/// are left to the test above.
#[test]
fn a_deserialized_value_is_refused_as_its_text_is() {
    let mut compared = 0;
    let mut failures = Vec::new();
    for case in cases() {
        let Ok(value) = serde_json::from_str::<Value>(&case.text) else {
            continue;
        };
        if Flows::from_json(&value.to_string()) != Flows::from_json(&case.text) {
            continue;
        }
        compared += 1;
        if let Some(miss) = testkit::setting_misses(&case, Flows::from_deserializer(value)) {
            failures.push(format!("{} ({}): {miss}", case.file, case.why));
        }
    }
    assert!(compared >= 100, "only {compared} cases compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The leak check itself catches an echo, so its silence above means something.
#[test]
fn the_leak_check_catches_an_echo() {
    assert!(leaks("setting GATHER_FLOWS.leakq7: bad", "LeakQ7", 5));
    assert!(leaks("value 73519 is bad", "73519", 5));
    assert!(!leaks("setting GATHER_FLOWS.login: bad", "LeakQ7", 5));
}

/// The first fault is reported even when the text has several, and a later flow's fault is
/// found after earlier flows pass.
#[test]
fn faults_are_found_in_any_flow() {
    let mut value = base();
    let second = value["login"].clone();
    value["other"] = second;
    value["other"]["timeout"] = json!(0);
    assert_eq!(
        Flows::from_json(&value.to_string()),
        Err(SettingError {
            setting: "GATHER_FLOWS.other.timeout".into(),
            problem: "must be a whole number of seconds from 1 to 60",
        })
    );
    value["other"]["timeout"] = json!(60);
    assert!(Flows::from_json(&value.to_string()).is_ok());
}

#[test]
fn limits_count_by_caller_unless_they_say_otherwise() {
    let with_limits = |limits: Value| {
        let mut value = base();
        value["login"]["limits"] = limits;
        login(&value.to_string())
    };
    let default = with_limits(json!({"failures": 5, "window_minutes": 60}));
    assert_eq!(default.count_by, vec![CountBy::Caller]);
    let card_only = with_limits(json!({"failures": 5, "window_minutes": 60, "by": ["card"]}));
    assert_eq!(card_only.count_by, vec![CountBy::Field("card".into())]);
    let both = with_limits(json!({"failures": 3, "window_minutes": 10, "by": ["caller", "pin"]}));
    assert_eq!(
        both.count_by,
        vec![CountBy::Caller, CountBy::Field("pin".into())]
    );
    // No limits: nothing is counted.
    assert_eq!(login(&base().to_string()).count_by, vec![]);
}

/// Every value in `.dev.vars.example` is published with the repository: the production build
/// must refuse each of them, in any case, alone or in a list, and nothing else.
#[test]
fn every_published_development_secret_is_refused() {
    let example = include_str!("../.dev.vars.example");
    let values: Vec<&str> = example
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
        .collect();
    assert!(values.len() >= 4, "the example file has its values");
    for value in &values {
        assert!(
            is_published_dev_secret(value),
            "a published value is refused"
        );
        assert!(is_published_dev_secret(&value.to_ascii_uppercase()));
        assert!(is_published_dev_secret(&format!(" {value} ")));
        let listed = format!("{},{value}", "ab".repeat(32));
        assert!(is_published_dev_secret(&listed), "inside a key list too");
    }
    for own in [
        "",
        "a154eb4c759711bc2538a7cc021e9e9f17dd8aa63151c62ca28a82a4a404203d",
        "b7e4c2a9f1d3e5a7c9b1d3f5a7c9e1b3",
        &values[0][1..],
    ] {
        assert!(!is_published_dev_secret(own), "a value of one's own runs");
    }
}

/// A value nested deeper than any setting needs, where any value is read (a `channel`), is
/// refused at its path rather than followed down: an object from the runtime has no nesting
/// limit of its own.
#[test]
fn a_deeply_nested_value_is_refused_without_following_it_down() {
    let mut deep = json!("sms");
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let mut value = base();
    value["login"]["fields"][2] =
        json!({"name": "otp", "prompt": "P", "kind": "verify", "channel": deep});
    assert_eq!(
        Flows::from_deserializer(value),
        Err(SettingError {
            setting: "GATHER_FLOWS.login.fields[2].channel".into(),
            problem: "has the wrong type",
        })
    );
}

#[test]
fn outbound_waits_default_to_five_and_three_seconds_and_only_shorten() {
    use gather_seal::config::Waits;
    let default = Waits {
        application_ms: 5000,
        verify_ms: 5000,
        lockout_ms: 3000,
        status_ms: 5000,
    };
    assert_eq!(Waits::from_setting(None), Ok(default));
    assert_eq!(Waits::default(), default);
    let short = Waits::from_setting(Some(" 300 ")).expect("a valid wait");
    assert_eq!(
        (short.application_ms, short.verify_ms, short.lockout_ms),
        (300, 300, 300)
    );
    let longer_than_lockout = Waits::from_setting(Some("4000")).expect("a valid wait");
    assert_eq!(
        longer_than_lockout.lockout_ms, 3000,
        "a wait only ever shortens"
    );
    assert_eq!(Waits::from_setting(Some("5000")), Ok(default));
    for bad in ["", "99", "5001", "1.5", "-300", "3e3", "soon", "300ms"] {
        let refused = Waits::from_setting(Some(bad));
        assert_eq!(
            refused.map_err(|e| (e.setting, e.problem)),
            Err((
                "OUTBOUND_TIMEOUT_MS".to_owned(),
                "must be a whole number of milliseconds from 100 to 5000"
            )),
            "{bad:?}"
        );
    }
}
