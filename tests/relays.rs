//! `GATHER_RELAYS`: the ConversationRelay relays a worker serves, read against the flows of
//! `GATHER_FLOWS` they may start. Accepted settings are written out below; the refused ones are
//! data files under `tests/data/relays/`, one per case, each with a header saying what it must
//! be refused with and why (see [`Case`]), all read against the flows of
//! `tests/data/relays/GATHER_FLOWS.json`; one harness runs them and names each case that fails.

mod common;

use common::testkit;
use gather_seal::config::{Flows, Relay, Relays, SpeechRule, RELAYS};

/// The flows every relay below may name (`login` and `pay`).
const FLOWS_FILE: &str = "GATHER_FLOWS.json";

fn flows() -> Flows {
    let path = format!(
        "{}/tests/data/relays/{FLOWS_FILE}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Flows::from_json(&text).unwrap_or_else(|e| panic!("{path} refused: {e}"))
}

fn parsed(text: &str) -> Relays {
    Relays::from_json(text, &flows()).unwrap_or_else(|e| panic!("{text} refused: {e}"))
}

fn relay(name: &str, upstream: &str, flows: &[&str], speech: SpeechRule) -> Relay {
    Relay {
        name: name.to_owned(),
        upstream: upstream.to_owned(),
        flows: flows.iter().map(|f| (*f).to_owned()).collect(),
        speech,
    }
}

// ------------------------------------------------------------------------------------------
// Accepted
// ------------------------------------------------------------------------------------------

#[test]
fn every_key_is_read() {
    let relays = parsed(
        r#"{"agent": {"upstream": "wss://agent.example.com:8443/ws?tenant=7", "flows": ["pay", "login"], "speech": "pass"}}"#,
    );
    assert_eq!(
        relays.get("agent"),
        Some(&relay(
            "agent",
            "wss://agent.example.com:8443/ws?tenant=7",
            &["pay", "login"],
            SpeechRule::Pass
        ))
    );
    assert_eq!(relays.iter().count(), 1);
}

#[test]
fn speech_is_redacted_unless_the_relay_says_pass() {
    let defaulted = parsed(r#"{"agent": {"upstream": "wss://a.example.com/", "flows": ["pay"]}}"#);
    let said = parsed(
        r#"{"agent": {"upstream": "wss://a.example.com/", "flows": ["pay"], "speech": "redact"}}"#,
    );
    let expected = relay(
        "agent",
        "wss://a.example.com/",
        &["pay"],
        SpeechRule::Redact,
    );
    assert_eq!(defaulted.get("agent"), Some(&expected));
    assert_eq!(said, defaulted);
    assert_eq!(SpeechRule::default(), SpeechRule::Redact);
}

/// Local development: `ws://` to a loopback host, and `wss://` to one, are taken as written.
#[test]
fn a_loopback_upstream_may_be_ws() {
    for upstream in [
        "ws://127.0.0.1:8080/ws",
        "ws://localhost",
        "WS://LOCALHOST:9000/",
        "ws://[::1]:8080/",
        "wss://[::1]",
        "wss://localhost:8443/agent",
    ] {
        let text = format!(r#"{{"dev": {{"upstream": "{upstream}", "flows": ["login"]}}}}"#);
        let relays = parsed(&text);
        assert_eq!(
            relays.get("dev").map(|r| r.upstream.as_str()),
            Some(upstream)
        );
    }
}

#[test]
fn relays_keep_their_order_and_are_found_by_name() {
    let relays = parsed(
        r#"{
            "zeta": {"upstream": "wss://z.example.com/", "flows": ["login"]},
            "alpha_1": {"upstream": "wss://a.example.com/", "flows": ["pay", "login"], "speech": "pass"},
            "mid-2": {"upstream": "ws://127.0.0.1:9/", "flows": ["pay"]}
        }"#,
    );
    let names: Vec<&str> = relays.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha_1", "mid-2"]);
    assert_eq!(
        relays.get("alpha_1"),
        Some(&relay(
            "alpha_1",
            "wss://a.example.com/",
            &["pay", "login"],
            SpeechRule::Pass
        ))
    );
    assert_eq!(
        relays.get("mid-2").map(|r| r.speech),
        Some(SpeechRule::Redact)
    );
    // Names are exact: no other case, no prefix, no path.
    for missing in ["Zeta", "alpha", "", "relay/zeta", "zeta "] {
        assert_eq!(relays.get(missing), None, "{missing:?}");
    }
}

/// Two relays may start the same flow: "each flow once" is per relay.
#[test]
fn relays_may_share_a_flow() {
    let relays = parsed(
        r#"{"a": {"upstream": "wss://a.example.com/", "flows": ["pay"]},
            "b": {"upstream": "wss://b.example.com/", "flows": ["pay"]}}"#,
    );
    assert_eq!(relays.iter().count(), 2);
}

/// The longest name and the longest URL the rules allow.
#[test]
fn the_limits_themselves_are_accepted() {
    let name = "a".repeat(64);
    let base = "wss://agent.example.com/";
    let upstream = format!("{base}{}", "a".repeat(2048 - base.len()));
    assert_eq!(upstream.len(), 2048);
    let text = format!(r#"{{"{name}": {{"upstream": "{upstream}", "flows": ["pay"]}}}}"#);
    let relays = parsed(&text);
    assert_eq!(
        relays.get(&name).map(|r| r.upstream.as_str()),
        Some(upstream.as_str())
    );
}

// ------------------------------------------------------------------------------------------
// Refused
// ------------------------------------------------------------------------------------------

/// Every case under `tests/data/relays/` ([`testkit::SettingCase`]).
fn cases() -> Vec<testkit::SettingCase> {
    testkit::setting_cases("relays", &[FLOWS_FILE])
}

#[test]
fn each_bad_value_is_refused_by_its_path_without_repeating_it() {
    let cases = cases();
    assert!(cases.len() >= 34, "only {} cases", cases.len());
    let flows = flows();
    let mut failures = Vec::new();
    for case in &cases {
        assert!(
            case.path == RELAYS || case.path.starts_with(&format!("{RELAYS}.")),
            "{}: the path is not in {RELAYS}",
            case.file
        );
        if let Some(marker) = &case.marker {
            // The marker is really in what was given, so that the leak check can fail.
            assert!(
                case.text.contains(marker.as_str()),
                "{}: marker not in the text",
                case.file
            );
        }
        if let Some(miss) = testkit::setting_misses(case, Relays::from_json(&case.text, &flows)) {
            failures.push(format!("{} ({}): {miss}", case.file, case.why));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A relay is checked against the flows it is given: the same relay is refused where its flow
/// does not exist, and with no flows at all.
#[test]
fn a_relay_is_read_against_the_flows_given() {
    let text = r#"{"agent": {"upstream": "wss://agent.example.com/ws", "flows": ["pay"]}}"#;
    assert!(Relays::from_json(text, &flows()).is_ok());
    let only_login = Flows::from_json(
        r#"{"login": {"fields": [{"name": "pin", "prompt": "PIN?", "kind": "digits", "length": 4}],
            "then": {"redirect": "https://app.example.com/next"}}}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let e = Relays::from_json(text, &only_login).expect_err("pay is not a flow there");
    assert_eq!(
        (e.setting.as_str(), e.problem),
        (
            "GATHER_RELAYS.agent.flows[0]",
            "must name a flow of GATHER_FLOWS"
        )
    );
}

/// The first fault of a relay is the one reported, in the order the keys are checked
/// (upstream, flows, speech), whatever order they were written in.
#[test]
fn a_relay_with_several_faults_reports_the_first_checked() {
    let text =
        r#"{"agent": {"speech": "loud", "flows": ["nope"], "upstream": "http://a.example.com/"}}"#;
    let e = Relays::from_json(text, &flows()).expect_err("three faults");
    assert_eq!(e.setting, "GATHER_RELAYS.agent.upstream");
    let text =
        r#"{"agent": {"speech": "loud", "flows": ["nope"], "upstream": "wss://a.example.com/"}}"#;
    let e = Relays::from_json(text, &flows()).expect_err("two faults");
    assert_eq!(e.setting, "GATHER_RELAYS.agent.flows[0]");
}
