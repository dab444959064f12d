//! `GATHER_FLOWS`: every key a flow takes, accepted with a valid value and defaulted when
//! absent; every bad value refused with the path at fault and a fixed problem that never
//! repeats the value.

mod common;

use common::leaks;
use gather_seal::config::{
    check_url, is_published_dev_secret, Anonymous, Channel, CountBy, Field, Flow, Flows, Kind,
    Limits, Messages, Then,
};
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
    /// Removes the member at this JSON pointer.
    Remove(&'static str),
    /// Replaces the whole setting by this text.
    Text(String),
}
use Change::{Remove, Set, Text};

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
        Remove(pointer) => {
            let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
            match value.pointer_mut(parent) {
                Some(Value::Object(map)) => assert!(map.remove(key).is_some(), "{pointer}"),
                _ => panic!("no object at {parent}"),
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
    };
    assert_eq!(flows.get("default"), Some(&expected));
    assert_eq!(flows.iter().count(), 1);
    assert!(!flows.any_action());
    // An empty messages object is the same as none.
    let with_empty_messages = text.replace(r#""then""#, r#""messages": {}, "then""#);
    assert_eq!(parsed(&with_empty_messages).get("default"), Some(&expected));
}

#[test]
fn every_key_is_read() {
    let text = r#"{"login": {
        "fields": [
            {"name": "card", "prompt": "Numéro de carte, puis dièse.", "kind": "card-number"},
            {"name": "expiry", "prompt": "Date d'expiration.", "kind": "expiry"},
            {"name": "last_four", "prompt": "Quatre chiffres.", "kind": "digits", "length": 4},
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
            "thanks": "Merci. Compte {account}, solde {balance}."
        },
        "limits": {"failures": 5, "window_minutes": 60, "by": ["account2", "caller"]},
        "anonymous": "shared"
    }}"#;
    let expected = Flow {
        name: "login".into(),
        fields: vec![
            field("card", "Numéro de carte, puis dièse.", Kind::CardNumber),
            field("expiry", "Date d'expiration.", Kind::Expiry),
            field("last_four", "Quatre chiffres.", Kind::Digits(4)),
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
    assert!(flows.any_action());
    // Its negative twin: only redirects need no signing secret.
    let redirects_only = text.replace(
        r#"{"action": "https://example.com/a"}"#,
        r#"{"redirect": "https://example.com/a"}"#,
    );
    assert!(!parsed(&redirects_only).any_action());
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
            Kind::CardNumber,
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

/// One bad setting: what it is, the change to [`base`], the path and problem expected, and a
/// piece of the bad value that must not appear in the message (`None` when the value is too
/// short to tell apart from the message's own words, such as `0`).
struct Bad {
    why: &'static str,
    change: Change,
    path: &'static str,
    problem: &'static str,
    marker: Option<&'static str>,
}

fn bad(
    why: &'static str,
    change: Change,
    path: &'static str,
    problem: &'static str,
    marker: Option<&'static str>,
) -> Bad {
    Bad {
        why,
        change,
        path,
        problem,
        marker,
    }
}

const NOT_JSON: &str = "is not valid JSON";
const WRONG_TYPE: &str = "has the wrong type";
const UNKNOWN_KEY: &str = "is not a known key";
const REQUIRED: &str = "is required";
const FLOW_NAME: &str = "flow names must be 1 to 64 of a-z, 0-9, - and _";
const FIELD_NAME: &str =
    "must be a-z and 0-9 words joined by single _ (at most 32 characters, not step or attempt)";
const ATTEMPTS: &str = "must be a whole number from 1 to 9";
const TIMEOUT: &str = "must be a whole number of seconds from 1 to 60";
const ONE_TO_32: &str = "must be a whole number from 1 to 32";
const LENGTH_OR_RANGE: &str = "is required for kind digits, or else both min and max";
const DIGITS_ONLY: &str = "is only for kind digits";
const VERIFY_ONLY: &str = "is only for kind verify";
const SENTENCE: &str = "must be a sentence of 1 to 4000 characters";
const URL: &str = "must be an https:// URL (http:// only to localhost or 127.0.0.1)";
const ONE_OF_KINDS: &str = "is not one of the allowed values";
const ONE_OF: &str = "must have exactly one of action and redirect";
const LANGUAGE: &str = "must be a language tag such as en-US or fr-FR";
const VOICE: &str = "must be a Twilio voice name such as Polly.Celine";
const FAILURES: &str = "must be a whole number from 1 to 100";
const WINDOW: &str = "must be a number of minutes from 0.01 to 10080 (a week)";
const BY_NOTHING: &str = "must list \"caller\" and/or field names";
const BY_FIELD: &str = "must be \"caller\" or the name of a field of this flow";

/// A string that lives as long as the table of cases.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

fn renamed_flow(name: &str) -> Change {
    Text(
        base()
            .to_string()
            .replace("\"login\"", &format!("{}", json!(name))),
    )
}

#[rustfmt::skip]
fn rejections() -> Vec<Bad> {
    let long_name = leak(format!("{}leakq7x", "abcdefghijklmnopqrstuvwxyz"));
    let long_prompt = leak(format!("LeakQ7{}", "a".repeat(3995)));
    let long_flow = leak(format!("{}abcde", "leakq7".repeat(10)));
    let pin_range = |min: Value, max: Value| {
        let mut field = json!({"name": "pin", "prompt": "P", "kind": "digits"});
        if !min.is_null() { field["min"] = min; }
        if !max.is_null() { field["max"] = max; }
        Set("/login/fields/2", field)
    };
    let otp = |key: &str, value: Value| {
        let mut field = json!({"name": "otp", "prompt": "P", "kind": "verify"});
        field[key] = value;
        Set("/login/fields/2", field)
    };
    vec![
        // The text as a whole.
        bad("invalid JSON", Text(r#"{"login": {"fields": [LeakQ7"#.into()), "GATHER_FLOWS", NOT_JSON, Some("LeakQ7")),
        bad("truncated JSON", Text(r#"{"login": "#.into()), "GATHER_FLOWS", NOT_JSON, None),
        bad("empty text", Text(String::new()), "GATHER_FLOWS", NOT_JSON, None),
        bad("text after the object", Text(format!("{} LeakQ7", base())), "GATHER_FLOWS", NOT_JSON, Some("LeakQ7")),
        bad("two objects", Text(format!("{} {}", base(), base())), "GATHER_FLOWS", NOT_JSON, None),
        bad("an array", Text(r#"["LeakQ7"]"#.into()), "GATHER_FLOWS", WRONG_TYPE, Some("LeakQ7")),
        bad("a string", Text(r#""LeakQ7""#.into()), "GATHER_FLOWS", WRONG_TYPE, Some("LeakQ7")),
        bad("null", Text("null".into()), "GATHER_FLOWS", WRONG_TYPE, None),
        bad("an empty object", Text("{}".into()), "GATHER_FLOWS", "must describe at least one flow", None),
        bad("a flow that is a string", Set("/login", json!("LeakQ7")), "GATHER_FLOWS.login", WRONG_TYPE, Some("LeakQ7")),
        bad("a flow that is a number", Set("/login", json!(73519)), "GATHER_FLOWS.login", WRONG_TYPE, Some("73519")),
        bad("a flow that is an empty list", Set("/login", json!([])), "GATHER_FLOWS.login", WRONG_TYPE, None),
        bad("a flow given as a list of its values", Set("/login", json!([[{"name": "leakq7", "prompt": "P", "kind": "expiry"}], {"redirect": "https://example.com/"}])), "GATHER_FLOWS.login", WRONG_TYPE, Some("leakq7")),
        bad("a flow name given twice", Text(format!(r#"{{"login": {0}, "login": {0}}}"#, base()["login"])), "GATHER_FLOWS.login", "is given twice", None),
        // Flow names.
        bad("an uppercase flow name", renamed_flow("LeakQ7"), "GATHER_FLOWS", FLOW_NAME, Some("LeakQ7")),
        bad("a flow name with a space", renamed_flow("leakq7 x"), "GATHER_FLOWS", FLOW_NAME, Some("leakq7")),
        bad("a flow name with a dot", renamed_flow("leakq7.x"), "GATHER_FLOWS", FLOW_NAME, Some("leakq7")),
        bad("a flow name with a slash", renamed_flow("leakq7/x"), "GATHER_FLOWS", FLOW_NAME, Some("leakq7")),
        bad("a non-ASCII flow name", renamed_flow("léakq7"), "GATHER_FLOWS", FLOW_NAME, Some("akq7")),
        bad("an empty flow name", renamed_flow(""), "GATHER_FLOWS", FLOW_NAME, None),
        bad("a 65-character flow name", renamed_flow(long_flow), "GATHER_FLOWS", FLOW_NAME, Some("leakq7")),
        bad("a bad flow name over a bad flow", Text(r#"{"LeakQ7": {"fields": 5}}"#.into()), "GATHER_FLOWS", FLOW_NAME, Some("LeakQ7")),
        bad("a bad flow name over a flow with a bad key", Text(r#"{"Leak Q7!": {"colour": 5}}"#.into()), "GATHER_FLOWS", FLOW_NAME, Some("Leak Q7")),
        // Keys of a flow.
        bad("an unknown key in a flow", Set("/login/colour", json!("LeakQ7")), "GATHER_FLOWS.login.colour", UNKNOWN_KEY, Some("LeakQ7")),
        bad("an unknown key that is not a plain word", Set("/login/LeakQ7 !", json!(1)), "GATHER_FLOWS.login.?", UNKNOWN_KEY, Some("LeakQ7")),
        bad("a key given twice in a field", Text(base().to_string().replace(r#""kind":"expiry""#, r#""kind":"expiry","kind":"expiry""#)), "GATHER_FLOWS.login.fields[1].kind", "is given twice", None),
        bad("a key given twice in then", Text(base().to_string().replace(r#""then":{"#, r#""then":{"action":"https://example.com/leakq7","#)), "GATHER_FLOWS.login.then.action", "is given twice", Some("leakq7")),
        bad("a key in the wrong case", Set("/login/Attempts", json!(3)), "GATHER_FLOWS.login.Attempts", UNKNOWN_KEY, None),
        bad("a key given twice", Text(base().to_string().replace(r#""then""#, r#""attempts": 2, "attempts": 3, "then""#)), "GATHER_FLOWS.login.attempts", "is given twice", None),
        bad("no fields", Remove("/login/fields"), "GATHER_FLOWS.login.fields", REQUIRED, None),
        bad("no then", Remove("/login/then"), "GATHER_FLOWS.login.then", REQUIRED, None),
        bad("fields that are an object", Set("/login/fields", json!({"name": "LeakQ7"})), "GATHER_FLOWS.login.fields", WRONG_TYPE, Some("LeakQ7")),
        bad("fields empty", Set("/login/fields", json!([])), "GATHER_FLOWS.login.fields", "must list at least one field", None),
        bad("attempts 0", Set("/login/attempts", json!(0)), "GATHER_FLOWS.login.attempts", ATTEMPTS, None),
        bad("attempts 10", Set("/login/attempts", json!(10)), "GATHER_FLOWS.login.attempts", ATTEMPTS, Some("10")),
        bad("attempts 73519", Set("/login/attempts", json!(73519)), "GATHER_FLOWS.login.attempts", ATTEMPTS, Some("73519")),
        bad("attempts past u32", Set("/login/attempts", json!(73_519_000_000u64)), "GATHER_FLOWS.login.attempts", ATTEMPTS, Some("73519")),
        bad("attempts past u64", Text(base().to_string().replace(r#""then""#, r#""attempts": 735190000000000000000000, "then""#)), "GATHER_FLOWS.login.attempts", WRONG_TYPE, Some("73519")),
        bad("attempts negative", Set("/login/attempts", json!(-73519)), "GATHER_FLOWS.login.attempts", ATTEMPTS, Some("73519")),
        bad("attempts written with a fraction of zero", Text(base().to_string().replace(r#""then""#, r#""attempts": 3.0, "then""#)), "GATHER_FLOWS.login.attempts", WRONG_TYPE, None),
        bad("attempts as text", Set("/login/attempts", json!("73519")), "GATHER_FLOWS.login.attempts", WRONG_TYPE, Some("73519")),
        bad("attempts as a fraction", Set("/login/attempts", json!(3.73519)), "GATHER_FLOWS.login.attempts", WRONG_TYPE, Some("73519")),
        // Lockout across calls.
        bad("limits with no failures", Set("/login/limits", json!({"window_minutes": 60})), "GATHER_FLOWS.login.limits.failures", REQUIRED, None),
        bad("limits with no window", Set("/login/limits", json!({"failures": 5})), "GATHER_FLOWS.login.limits.window_minutes", REQUIRED, None),
        bad("limits with an unknown key", Set("/login/limits", json!({"failures": 5, "window_minutes": 60, "per": "LeakQ7"})), "GATHER_FLOWS.login.limits.per", UNKNOWN_KEY, Some("LeakQ7")),
        bad("failures 0", Set("/login/limits", json!({"failures": 0, "window_minutes": 60})), "GATHER_FLOWS.login.limits.failures", FAILURES, None),
        bad("failures 101", Set("/login/limits", json!({"failures": 101, "window_minutes": 60})), "GATHER_FLOWS.login.limits.failures", FAILURES, Some("101")),
        bad("failures as text", Set("/login/limits", json!({"failures": "73519", "window_minutes": 60})), "GATHER_FLOWS.login.limits.failures", WRONG_TYPE, Some("73519")),
        bad("a window of 0 minutes", Set("/login/limits", json!({"failures": 5, "window_minutes": 0})), "GATHER_FLOWS.login.limits.window_minutes", WINDOW, None),
        bad("a window too short", Set("/login/limits", json!({"failures": 5, "window_minutes": 0.00973519})), "GATHER_FLOWS.login.limits.window_minutes", WINDOW, Some("73519")),
        bad("a window over a week", Set("/login/limits", json!({"failures": 5, "window_minutes": 73519})), "GATHER_FLOWS.login.limits.window_minutes", WINDOW, Some("73519")),
        bad("a negative window", Set("/login/limits", json!({"failures": 5, "window_minutes": -60})), "GATHER_FLOWS.login.limits.window_minutes", WINDOW, None),
        bad("anonymous without limits", Set("/login/anonymous", json!("shared")), "GATHER_FLOWS.login.anonymous", "goes only with limits", None),
        bad("limits by nothing", Set("/login/limits", json!({"failures": 5, "window_minutes": 60, "by": []})), "GATHER_FLOWS.login.limits.by", BY_NOTHING, None),
        bad("limits by a word", Set("/login/limits", json!({"failures": 5, "window_minutes": 60, "by": "caller"})), "GATHER_FLOWS.login.limits.by", WRONG_TYPE, None),
        bad("limits by a table", Set("/login/limits", json!({"failures": 5, "window_minutes": 60, "by": {"caller": true}})), "GATHER_FLOWS.login.limits.by", WRONG_TYPE, None),
        bad("limits by an unknown field", Set("/login/limits", json!({"failures": 5, "window_minutes": 60, "by": ["caller", "LeakQ7"]})), "GATHER_FLOWS.login.limits.by[1]", BY_FIELD, Some("LeakQ7")),
        bad("limits by a number", Set("/login/limits", json!({"failures": 5, "window_minutes": 60, "by": [73519]})), "GATHER_FLOWS.login.limits.by[0]", WRONG_TYPE, Some("73519")),
        bad("limits by caller twice", Set("/login/limits", json!({"failures": 5, "window_minutes": 60, "by": ["caller", "caller"]})), "GATHER_FLOWS.login.limits.by[1]", "is given twice", None),
        bad("limits by a field twice", Set("/login/limits", json!({"failures": 5, "window_minutes": 60, "by": ["card", "caller", "card"]})), "GATHER_FLOWS.login.limits.by[2]", "is given twice", None),
        bad("limits by a field in another case", Set("/login/limits", json!({"failures": 5, "window_minutes": 60, "by": ["Card"]})), "GATHER_FLOWS.login.limits.by[0]", BY_FIELD, None),
        bad("anonymous with limits not by caller", Text(base().to_string().replace(r#""then""#, r#""limits": {"failures": 5, "window_minutes": 60, "by": ["card"]}, "anonymous": "shared", "then""#)), "GATHER_FLOWS.login.anonymous", "goes only with limits that count by caller", None),
        bad("an unknown anonymous rule", Text(base().to_string().replace(r#""then""#, r#""limits": {"failures": 5, "window_minutes": 60}, "anonymous": "LeakQ7", "then""#)), "GATHER_FLOWS.login.anonymous", ONE_OF_KINDS, Some("LeakQ7")),
        bad("a blank locked message", Set("/login/messages", json!({"locked": "  "})), "GATHER_FLOWS.login.messages.locked", SENTENCE, None),
        bad("timeout 0", Set("/login/timeout", json!(0)), "GATHER_FLOWS.login.timeout", TIMEOUT, None),
        bad("timeout 61", Set("/login/timeout", json!(61)), "GATHER_FLOWS.login.timeout", TIMEOUT, Some("61")),
        bad("timeout 73519", Set("/login/timeout", json!(73519)), "GATHER_FLOWS.login.timeout", TIMEOUT, Some("73519")),
        bad("timeout as text", Set("/login/timeout", json!("10")), "GATHER_FLOWS.login.timeout", WRONG_TYPE, None),
        bad("language as a word", Set("/login/language", json!("LeakQ7")), "GATHER_FLOWS.login.language", LANGUAGE, Some("LeakQ7")),
        bad("language with an underscore", Set("/login/language", json!("en_LeakQ7")), "GATHER_FLOWS.login.language", LANGUAGE, Some("LeakQ7")),
        bad("language ending in -", Set("/login/language", json!("en-")), "GATHER_FLOWS.login.language", LANGUAGE, None),
        bad("language empty", Set("/login/language", json!("")), "GATHER_FLOWS.login.language", LANGUAGE, None),
        bad("language as a number", Set("/login/language", json!(73519)), "GATHER_FLOWS.login.language", WRONG_TYPE, Some("73519")),
        bad("voice with a space", Set("/login/voice", json!("Polly LeakQ7")), "GATHER_FLOWS.login.voice", VOICE, Some("LeakQ7")),
        bad("voice with a quote", Set("/login/voice", json!("Polly\"LeakQ7")), "GATHER_FLOWS.login.voice", VOICE, Some("LeakQ7")),
        bad("voice starting with a dot", Set("/login/voice", json!(".LeakQ7")), "GATHER_FLOWS.login.voice", VOICE, Some("LeakQ7")),
        bad("voice empty", Set("/login/voice", json!("")), "GATHER_FLOWS.login.voice", VOICE, None),
        // Keys of a field.
        bad("an unknown key in a field", Set("/login/fields/2/digits", json!("LeakQ7")), "GATHER_FLOWS.login.fields[2].digits", UNKNOWN_KEY, Some("LeakQ7")),
        bad("a field that is a string", Set("/login/fields/1", json!("LeakQ7")), "GATHER_FLOWS.login.fields[1]", WRONG_TYPE, Some("LeakQ7")),
        bad("no name", Remove("/login/fields/1/name"), "GATHER_FLOWS.login.fields[1].name", REQUIRED, None),
        bad("no prompt", Remove("/login/fields/1/prompt"), "GATHER_FLOWS.login.fields[1].prompt", REQUIRED, None),
        bad("no kind", Remove("/login/fields/1/kind"), "GATHER_FLOWS.login.fields[1].kind", REQUIRED, None),
        bad("an unknown kind", Set("/login/fields/1/kind", json!("LeakQ7")), "GATHER_FLOWS.login.fields[1].kind", ONE_OF_KINDS, Some("LeakQ7")),
        bad("a kind in the wrong case", Set("/login/fields/1/kind", json!("Expiry")), "GATHER_FLOWS.login.fields[1].kind", ONE_OF_KINDS, Some("Expiry")),
        bad("a kind in snake case", Set("/login/fields/0/kind", json!("card_number")), "GATHER_FLOWS.login.fields[0].kind", ONE_OF_KINDS, Some("card_number")),
        bad("a kind that is a number", Set("/login/fields/1/kind", json!(73519)), "GATHER_FLOWS.login.fields[1].kind", WRONG_TYPE, Some("73519")),
        bad("a kind that is null", Set("/login/fields/1/kind", Value::Null), "GATHER_FLOWS.login.fields[1].kind", REQUIRED, None),
        bad("a name that is a number", Set("/login/fields/1/name", json!(73519)), "GATHER_FLOWS.login.fields[1].name", WRONG_TYPE, Some("73519")),
        bad("a prompt that is a list", Set("/login/fields/1/prompt", json!(["LeakQ7"])), "GATHER_FLOWS.login.fields[1].prompt", WRONG_TYPE, Some("LeakQ7")),
        bad("length 0", Set("/login/fields/2/length", json!(0)), "GATHER_FLOWS.login.fields[2].length", ONE_TO_32, None),
        bad("length 33", Set("/login/fields/2/length", json!(33)), "GATHER_FLOWS.login.fields[2].length", ONE_TO_32, Some("33")),
        bad("length 73519", Set("/login/fields/2/length", json!(73519)), "GATHER_FLOWS.login.fields[2].length", ONE_TO_32, Some("73519")),
        bad("length as text", Set("/login/fields/2/length", json!("4")), "GATHER_FLOWS.login.fields[2].length", WRONG_TYPE, None),
        bad("min 0", pin_range(json!(0), json!(8)), "GATHER_FLOWS.login.fields[2].min", ONE_TO_32, None),
        bad("max 33", pin_range(json!(4), json!(33)), "GATHER_FLOWS.login.fields[2].max", ONE_TO_32, Some("33")),
        bad("min above max", pin_range(json!(9), json!(8)), "GATHER_FLOWS.login.fields[2].max", "must not be less than min", None),
        bad("length with min", Set("/login/fields/2/min", json!(2)), "GATHER_FLOWS.login.fields[2].length", "cannot go with min or max", None),
        bad("length with max", Set("/login/fields/2/max", json!(6)), "GATHER_FLOWS.login.fields[2].length", "cannot go with min or max", None),
        bad("min without max", pin_range(json!(4), Value::Null), "GATHER_FLOWS.login.fields[2].length", LENGTH_OR_RANGE, None),
        bad("max without min", pin_range(Value::Null, json!(4)), "GATHER_FLOWS.login.fields[2].length", LENGTH_OR_RANGE, None),
        bad("digits with no length", Remove("/login/fields/2/length"), "GATHER_FLOWS.login.fields[2].length", LENGTH_OR_RANGE, None),
        bad("length on a card number", Set("/login/fields/0/length", json!(16)), "GATHER_FLOWS.login.fields[0].length", DIGITS_ONLY, None),
        bad("min on a card number", Set("/login/fields/0/min", json!(12)), "GATHER_FLOWS.login.fields[0].min", DIGITS_ONLY, None),
        bad("max on a card number", Set("/login/fields/0/max", json!(19)), "GATHER_FLOWS.login.fields[0].max", DIGITS_ONLY, None),
        bad("length on an expiry", Set("/login/fields/1/length", json!(4)), "GATHER_FLOWS.login.fields[1].length", DIGITS_ONLY, None),
        bad("min on an expiry", Set("/login/fields/1/min", json!(4)), "GATHER_FLOWS.login.fields[1].min", DIGITS_ONLY, None),
        bad("max on an expiry", Set("/login/fields/1/max", json!(4)), "GATHER_FLOWS.login.fields[1].max", DIGITS_ONLY, None),
        // Verify fields.
        bad("an unknown channel", otp("channel", json!("LeakQ7")), "GATHER_FLOWS.login.fields[2].channel", ONE_OF_KINDS, Some("LeakQ7")),
        bad("a channel Verify has but a flow does not take", otp("channel", json!("whatsapp")), "GATHER_FLOWS.login.fields[2].channel", ONE_OF_KINDS, Some("whatsapp")),
        bad("a channel in the wrong case", otp("channel", json!("Call")), "GATHER_FLOWS.login.fields[2].channel", ONE_OF_KINDS, None),
        bad("an empty channel", otp("channel", json!("")), "GATHER_FLOWS.login.fields[2].channel", ONE_OF_KINDS, None),
        bad("a channel as a number", otp("channel", json!(73519)), "GATHER_FLOWS.login.fields[2].channel", WRONG_TYPE, Some("73519")),
        bad("a channel as a list", otp("channel", json!(["LeakQ7"])), "GATHER_FLOWS.login.fields[2].channel", WRONG_TYPE, Some("LeakQ7")),
        bad("a channel on a kind in the wrong case", Set("/login/fields/2", json!({"name": "otp", "prompt": "P", "kind": "Verify", "channel": "call"})), "GATHER_FLOWS.login.fields[2].kind", ONE_OF_KINDS, Some("Verify")),
        bad("a channel on a digits field", Set("/login/fields/2/channel", json!("sms")), "GATHER_FLOWS.login.fields[2].channel", VERIFY_ONLY, None),
        bad("an unknown channel on a digits field", Set("/login/fields/2/channel", json!("LeakQ7")), "GATHER_FLOWS.login.fields[2].channel", VERIFY_ONLY, Some("LeakQ7")),
        bad("a channel on a card number", Set("/login/fields/0/channel", json!("call")), "GATHER_FLOWS.login.fields[0].channel", VERIFY_ONLY, None),
        bad("a channel on an expiry", Set("/login/fields/1/channel", json!(73519)), "GATHER_FLOWS.login.fields[1].channel", VERIFY_ONLY, Some("73519")),
        bad("length on a verify field", otp("length", json!(6)), "GATHER_FLOWS.login.fields[2].length", DIGITS_ONLY, None),
        bad("min on a verify field", otp("min", json!(4)), "GATHER_FLOWS.login.fields[2].min", DIGITS_ONLY, None),
        bad("max on a verify field", otp("max", json!(10)), "GATHER_FLOWS.login.fields[2].max", DIGITS_ONLY, None),
        bad("limits by a verify field", Text({ let mut v = base(); v["login"]["fields"][2] = json!({"name": "otp", "kind": "verify", "prompt": "P"}); v["login"]["limits"] = json!({"failures": 5, "window_minutes": 60, "by": ["otp"]}); v.to_string() }), "GATHER_FLOWS.login.limits.by[0]", "names a verify field, whose code is never kept", None),
        bad("a verify field with no prompt", Set("/login/fields/2", json!({"name": "otp", "kind": "verify"})), "GATHER_FLOWS.login.fields[2].prompt", REQUIRED, None),
        bad("a verify field named like an earlier one", Set("/login/fields/2", json!({"name": "card", "prompt": "P", "kind": "verify"})), "GATHER_FLOWS.login.fields[2].name", "is the name of an earlier field", None),
        // Field names.
        bad("an uppercase field name", Set("/login/fields/2/name", json!("LeakQ7")), "GATHER_FLOWS.login.fields[2].name", FIELD_NAME, Some("LeakQ7")),
        bad("a field name with a leading digit", Set("/login/fields/2/name", json!("7leakq")), "GATHER_FLOWS.login.fields[2].name", FIELD_NAME, Some("7leakq")),
        bad("a word with a leading digit", Set("/login/fields/2/name", json!("leakq_7")), "GATHER_FLOWS.login.fields[2].name", FIELD_NAME, Some("leakq_7")),
        bad("a double underscore", Set("/login/fields/2/name", json!("leak__q7")), "GATHER_FLOWS.login.fields[2].name", FIELD_NAME, Some("leak__q7")),
        bad("a leading underscore", Set("/login/fields/2/name", json!("_leakq7")), "GATHER_FLOWS.login.fields[2].name", FIELD_NAME, Some("_leakq7")),
        bad("a trailing underscore", Set("/login/fields/2/name", json!("leakq7_")), "GATHER_FLOWS.login.fields[2].name", FIELD_NAME, Some("leakq7_")),
        bad("a hyphen", Set("/login/fields/2/name", json!("leak-q7")), "GATHER_FLOWS.login.fields[2].name", FIELD_NAME, Some("leak-q7")),
        bad("an empty field name", Set("/login/fields/2/name", json!("")), "GATHER_FLOWS.login.fields[2].name", FIELD_NAME, None),
        bad("the name step", Set("/login/fields/2/name", json!("step")), "GATHER_FLOWS.login.fields[2].name", FIELD_NAME, None),
        bad("the name attempt", Set("/login/fields/2/name", json!("attempt")), "GATHER_FLOWS.login.fields[2].name", FIELD_NAME, None),
        bad("a 33-character field name", Set("/login/fields/2/name", json!(long_name)), "GATHER_FLOWS.login.fields[2].name", FIELD_NAME, Some("leakq7")),
        bad("a field name used twice", Set("/login/fields/2/name", json!("card")), "GATHER_FLOWS.login.fields[2].name", "is the name of an earlier field", None),
        // Prompts and messages.
        bad("an empty prompt", Set("/login/fields/0/prompt", json!("")), "GATHER_FLOWS.login.fields[0].prompt", SENTENCE, None),
        bad("a blank prompt", Set("/login/fields/0/prompt", json!(" \t\n ")), "GATHER_FLOWS.login.fields[0].prompt", SENTENCE, None),
        bad("a 4001-character prompt", Set("/login/fields/0/prompt", json!(long_prompt)), "GATHER_FLOWS.login.fields[0].prompt", SENTENCE, Some("LeakQ7")),
        bad("messages as text", Set("/login/messages", json!("LeakQ7")), "GATHER_FLOWS.login.messages", WRONG_TYPE, Some("LeakQ7")),
        bad("an unknown message", Set("/login/messages", json!({"hello": "LeakQ7"})), "GATHER_FLOWS.login.messages.hello", UNKNOWN_KEY, Some("LeakQ7")),
        bad("a blank retry", Set("/login/messages", json!({"retry": "  "})), "GATHER_FLOWS.login.messages.retry", SENTENCE, None),
        bad("a blank goodbye", Set("/login/messages", json!({"goodbye": ""})), "GATHER_FLOWS.login.messages.goodbye", SENTENCE, None),
        bad("a blank apology", Set("/login/messages", json!({"apology": "\n"})), "GATHER_FLOWS.login.messages.apology", SENTENCE, None),
        bad("a blank thanks", Set("/login/messages", json!({"thanks": " "})), "GATHER_FLOWS.login.messages.thanks", SENTENCE, None),
        bad("a 4001-character retry", Set("/login/messages", json!({"retry": long_prompt})), "GATHER_FLOWS.login.messages.retry", SENTENCE, Some("LeakQ7")),
        bad("a goodbye that is a number", Set("/login/messages", json!({"goodbye": 73519})), "GATHER_FLOWS.login.messages.goodbye", WRONG_TYPE, Some("73519")),
        // then.
        bad("then as text", Set("/login/then", json!("https://leakq7.example.com/")), "GATHER_FLOWS.login.then", WRONG_TYPE, Some("leakq7")),
        bad("an unknown key in then", Set("/login/then/method", json!("LeakQ7")), "GATHER_FLOWS.login.then.method", UNKNOWN_KEY, Some("LeakQ7")),
        bad("then with neither", Set("/login/then", json!({})), "GATHER_FLOWS.login.then", ONE_OF, None),
        bad("then with a fallback only", Set("/login/then", json!({"fallback": "https://leakq7.example.com/"})), "GATHER_FLOWS.login.then", ONE_OF, Some("leakq7")),
        bad("then with both", Set("/login/then/redirect", json!("https://leakq7.example.com/")), "GATHER_FLOWS.login.then", ONE_OF, Some("leakq7")),
        bad("a fallback with redirect", Set("/login/then", json!({"redirect": "https://example.com/r", "fallback": "https://leakq7.example.com/"})), "GATHER_FLOWS.login.then.fallback", "goes only with action", Some("leakq7")),
        bad("an http action elsewhere", Set("/login/then/action", json!("http://leakq7.example.com/x")), "GATHER_FLOWS.login.then.action", URL, Some("leakq7")),
        bad("an http action to a private address", Set("/login/then/action", json!("http://10.0.0.1/leakq7")), "GATHER_FLOWS.login.then.action", URL, Some("leakq7")),
        bad("an http action to a loopback look-alike", Set("/login/then/action", json!("http://127.0.0.1.leakq7.com/")), "GATHER_FLOWS.login.then.action", URL, Some("leakq7")),
        bad("an ftp redirect", Set("/login/then", json!({"redirect": "ftp://leakq7.example.com/"})), "GATHER_FLOWS.login.then.redirect", URL, Some("leakq7")),
        bad("a relative redirect", Set("/login/then", json!({"redirect": "/leakq7"})), "GATHER_FLOWS.login.then.redirect", URL, Some("leakq7")),
        bad("an http fallback elsewhere", Set("/login/then/fallback", json!("http://leakq7.example.com/")), "GATHER_FLOWS.login.then.fallback", URL, Some("leakq7")),
        bad("an action with a password", Set("/login/then/action", json!("https://user:leakq7@example.com/")), "GATHER_FLOWS.login.then.action", "must not carry a user name or password", Some("leakq7")),
        bad("an action with a fragment", Set("/login/then/action", json!("https://example.com/#leakq7")), "GATHER_FLOWS.login.then.action", "must be at most 2048 characters with no spaces and no #fragment", Some("leakq7")),
        bad("an action with a space", Set("/login/then/action", json!("https://example.com/leakq7 x")), "GATHER_FLOWS.login.then.action", "must be at most 2048 characters with no spaces and no #fragment", Some("leakq7")),
        bad("an action that is a number", Set("/login/then/action", json!(73519)), "GATHER_FLOWS.login.then.action", WRONG_TYPE, Some("73519")),
    ]
}

#[test]
fn each_bad_value_is_refused_by_its_path_without_repeating_it() {
    let mut failures = Vec::new();
    for case in rejections() {
        let text = text_of(&case.change);
        let expected = SettingError {
            setting: case.path.to_owned(),
            problem: case.problem,
        };
        match Flows::from_json(&text) {
            Ok(_) => failures.push(format!("{}: accepted", case.why)),
            Err(e) => {
                if e != expected {
                    failures.push(format!(
                        "{}: got {:?} / {:?}, expected {:?} / {:?}",
                        case.why, e.setting, e.problem, case.path, case.problem
                    ));
                }
                let shown = e.to_string();
                if shown != format!("setting {}: {}", case.path, case.problem) {
                    failures.push(format!("{}: shown as {shown:?}", case.why));
                }
                if let Some(marker) = case.marker {
                    if leaks(&shown, marker, 5) || leaks(&format!("{e:?}"), marker, 5) {
                        failures.push(format!("{}: {shown:?} repeats {marker:?}", case.why));
                    }
                    // The marker is really in what was given, so the check above can fail.
                    assert!(
                        text.contains(marker),
                        "{}: marker not in the text",
                        case.why
                    );
                }
            }
        }
    }
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
            problem: TIMEOUT,
        })
    );
    value["other"]["timeout"] = json!(60);
    assert!(Flows::from_json(&value.to_string()).is_ok());
}

#[test]
fn check_url_takes_https_anywhere_and_http_only_to_loopback() {
    for good in [
        "https://example.com",
        "https://example.com:8443/a?b=c&d=e",
        "HTTPS://EXAMPLE.COM/",
        "https://[2001:db8::1]/x",
        "http://localhost",
        "http://LOCALHOST:8787/x",
        "http://127.0.0.1:8787/x",
        "http://127.255.0.9/x",
        "http://[::1]/x",
    ] {
        assert_eq!(check_url(good), Ok(()), "{good}");
    }
    for bad in [
        "",
        "example.com",
        "//example.com/x",
        "ftp://example.com/",
        "http://example.com/",
        "http://0.0.0.0/",
        "http://128.0.0.1/",
        "http://127.0.0/",
        "http://127.0.0.256/",
        "http://localhost.example.com/",
        "http://[::2]/",
        "https://",
        "https:///x",
        "https://user@example.com/",
        "https://example.com/a b",
        "https://example.com/#top",
        "https://example.com:https/",
        "https://example.com:123456/",
    ] {
        assert!(check_url(bad).is_err(), "{bad:?} accepted");
    }
    let long = format!("https://example.com/{}", "a".repeat(2048 - 20));
    assert_eq!(long.len(), 2048);
    assert_eq!(check_url(&long), Ok(()));
    assert!(check_url(&format!("{long}a")).is_err());
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
