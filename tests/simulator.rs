//! The call simulator's pure side (`gather_seal::simulator`): what the page may know of the
//! flows, what its signing step signs, and its bounded per-call records.

mod common;

use common::CALL_SID;
use gather_seal::config::{Flows, Relays};
use gather_seal::simulator::{
    bridge_origin_ok, flows_json, handoffs_json, handset_url, log_json, relay_app_json,
    relay_handshake, relay_of_query, relays_json, sign_request, signable, status_json,
    verify_code_json, AppMessage, ByCall, Handoff, SentNotice, SignRefusal, MAX_APP_MESSAGE_LEN,
};
use gather_seal::twilio_signature;
use zeroize::Zeroizing;

const ORIGIN: &str = "http://127.0.0.1:8787";
const TOKEN: &str = "b7e4c2a9f1d3e5a7c9b1d3f5a7c9e1b3";

fn flows(json: &str) -> Flows {
    Flows::relay_json(json).unwrap_or_else(|e| panic!("{e}"))
}

fn parse(json: &str) -> serde_json::Value {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

#[test]
fn the_page_sees_names_routes_language_timeout_and_field_kinds_only() {
    let flows = flows(
        r#"{
        "default": {
            "then": {"action": "http://127.0.0.1:8787/decrypt-gather"},
            "limits": {"failures": 5, "window_minutes": 10, "by": ["caller", "card"]},
            "fields": [
                {"name": "card", "kind": "digits", "length": 4, "prompt": "Your card digits?"},
                {"name": "pin", "kind": "digits", "min": 4, "max": 6, "prompt": "Your PIN?"}
            ]
        },
        "fr": {
            "then": {"redirect": "https://studio.example.com/return"},
            "language": "fr-FR", "voice": "Polly.Celine", "timeout": 7, "attempts": 2,
            "messages": {"goodbye": "Au revoir."},
            "fields": [{"name": "pin", "kind": "digits", "length": 4, "prompt": "Votre code ?"}]
        },
        "pay": {
            "then": {"redirect": "https://app.example.com/paid"},
            "status_callback": "https://app.example.com/status",
            "fields": [
                {"name": "card", "kind": "card-number", "prompt": "Card?"},
                {"name": "cvv", "kind": "security-code", "card": "card", "prompt": "Code?"},
                {"name": "expiry", "kind": "expiry", "prompt": "Expiry?"},
                {"name": "routing", "kind": "routing-number", "prompt": "Routing?"}
            ]
        },
        "card": {
            "fields": [{"name": "card", "kind": "card-number", "prompt": "Card?"}]
        }
    }"#,
    );
    let json = flows_json(&flows);
    assert_eq!(
        parse(&json),
        serde_json::json!({"flows": [
            {"name": "default", "route": "/gather", "language": null, "timeout": 10, "attempts": 3,
             "then": "action", "limits": {"failures": 5, "windowMinutes": 10, "by": ["caller", "card"]},
             "events": false,
             "fields": [{"name": "card", "kind": "digits"}, {"name": "pin", "kind": "digits"}]},
            {"name": "fr", "route": "/gather/fr", "language": "fr-FR", "timeout": 7, "attempts": 2,
             "then": "redirect", "limits": null, "events": false,
             "fields": [{"name": "pin", "kind": "digits"}]},
            {"name": "pay", "route": "/gather/pay", "language": null, "timeout": 10, "attempts": 3,
             "then": "redirect", "limits": null, "events": true, "fields": [
                {"name": "card", "kind": "card-number"}, {"name": "cvv", "kind": "security-code"},
                {"name": "expiry", "kind": "expiry"}, {"name": "routing", "kind": "routing-number"}]}
        ]})
    );
    // No URL, sentence or voice: only what the page needs.
    for absent in [
        "http",
        "example.com",
        "Polly",
        "Your",
        "Au revoir",
        "status",
    ] {
        assert!(!json.contains(absent), "{absent} in {json}");
    }
}

#[test]
fn a_verify_field_is_named_by_its_kind() {
    let flows = flows(
        r#"{"otp": {"then": {"redirect": "https://app.example.com/next"}, "fields": [
        {"name": "otp", "kind": "verify", "channel": "sms", "prompt": "Code?"}]}}"#,
    );
    let json = parse(&flows_json(&flows));
    assert_eq!(json["flows"][0]["fields"][0]["kind"], "verify");
}

#[test]
fn only_this_workers_gather_routes_are_signable() {
    for url in [
        "http://127.0.0.1:8787/gather",
        "http://127.0.0.1:8787/gather?step=pin&attempt=1&card=00ff",
        "http://127.0.0.1:8787/gather/fr",
        "http://127.0.0.1:8787/gather/pay?step=cvv",
    ] {
        assert!(signable(url, ORIGIN), "{url}");
    }
    for url in [
        "http://127.0.0.1:8788/gather",
        "http://127.0.0.1:87870/gather",
        "https://127.0.0.1:8787/gather",
        "http://localhost:8787/gather",
        "http://127.0.0.1:8787@evil.example/gather",
        "http://evil.example/?http://127.0.0.1:8787/gather",
        "http://127.0.0.1:8787/decrypt-gather",
        "http://127.0.0.1:8787/simulator/sign",
        "http://127.0.0.1:8787/gathering",
        "http://127.0.0.1:8787/gather/",
        "http://127.0.0.1:8787/gather/fr/x",
        "http://127.0.0.1:8787/gather#x",
        "http://127.0.0.1:8787/gather?x=1 2",
        "http://127.0.0.1:8787/gather\n",
        "/gather",
        "",
    ] {
        assert!(!signable(url, ORIGIN), "{url:?}");
    }
    assert!(!signable("/gather", ""));
}

#[test]
fn the_signing_step_signs_as_twilio_does() {
    let url = "http://127.0.0.1:8787/gather?step=pin&attempt=1";
    let body = format!(
        r#"{{"url": "{url}", "params": {{"CallSid": "{CALL_SID}", "Digits": "4321", "From": "+15005550001", "FinishedOnKey": ""}}}}"#
    );
    let signed = sign_request(body.as_bytes(), ORIGIN, TOKEN).unwrap_or_else(|e| panic!("{e:?}"));
    let expected = twilio_signature(
        TOKEN,
        url,
        &[
            ("CallSid", CALL_SID),
            ("Digits", "4321"),
            ("From", "+15005550001"),
            ("FinishedOnKey", ""),
        ],
    );
    assert_eq!(parse(&signed), serde_json::json!({ "signature": expected }));
    assert!(!signed.contains(TOKEN));
}

#[test]
fn the_signing_step_refuses_other_urls_and_other_shapes() {
    let other = r#"{"url": "http://127.0.0.1:8787/decrypt-gather", "params": {}}"#;
    assert_eq!(
        sign_request(other.as_bytes(), ORIGIN, TOKEN),
        Err(SignRefusal::NotThisWorker)
    );
    for body in [
        "not json",
        "{}",
        r#"{"url": "http://127.0.0.1:8787/gather"}"#,
        r#"{"url": "http://127.0.0.1:8787/gather", "params": {"Digits": 1234}}"#,
        r#"{"url": "http://127.0.0.1:8787/gather", "params": [["Digits", "1"]]}"#,
        r#"{"url": "http://127.0.0.1:8787/gather", "params": {}, "token": "x"}"#,
    ] {
        assert_eq!(
            sign_request(body.as_bytes(), ORIGIN, TOKEN),
            Err(SignRefusal::NotARequest),
            "{body}"
        );
    }
    for refusal in [SignRefusal::NotARequest, SignRefusal::NotThisWorker] {
        assert!(!refusal.as_str().is_empty());
    }
}

#[test]
fn records_are_kept_per_call_within_bounds() {
    let mut store: ByCall<u32> = ByCall::new(3, 2);
    assert!(store.get(CALL_SID).is_empty());
    assert!(store.push(CALL_SID, 1));
    assert!(store.push(CALL_SID, 2));
    assert!(store.push(CALL_SID, 3));
    assert_eq!(
        store.get(CALL_SID),
        [2, 3],
        "the oldest record of a call goes first"
    );
    // Malformed SIDs are not filed.
    for sid in ["", "CA 1", "CA/1", &"C".repeat(65)] {
        assert!(!store.push(sid, 9), "{sid}");
    }
    // A fourth call drops the oldest call.
    for sid in ["CAb", "CAc", "CAd"] {
        assert!(store.push(sid, 7));
    }
    assert_eq!(store.calls(), 3);
    assert!(store.get(CALL_SID).is_empty());
    assert_eq!(store.get("CAd"), [7]);
    let mut none: ByCall<u32> = ByCall::new(0, 1);
    assert!(!none.push(CALL_SID, 1));
}

#[test]
fn the_records_as_the_page_reads_them() {
    let handoff = Handoff {
        submission: r#"{"callSid":"CA1"}"#.to_owned(),
        signature: Some("t=1,v1=ab".to_owned()),
        signature_valid: true,
        verdict: "valid".to_owned(),
        opened: vec![("card".to_owned(), Zeroizing::new("1234".to_owned()))],
        status: 200,
        result: Some("accepted"),
        twiml: Some("<Response/>".to_owned()),
    };
    assert_eq!(
        parse(&handoffs_json(CALL_SID, &[handoff])),
        serde_json::json!({"callSid": CALL_SID, "handoffs": [{
            "submission": r#"{"callSid":"CA1"}"#, "signature": "t=1,v1=ab", "signatureValid": true,
            "verdict": "valid", "opened": [{"name": "card", "value": "1234"}], "status": 200,
            "result": "accepted", "twiml": "<Response/>"
        }]})
    );
    assert_eq!(
        parse(&handoffs_json(CALL_SID, &[])),
        serde_json::json!({"callSid": CALL_SID, "handoffs": []})
    );
    let lines = [r#"{"outcome":"asked"}"#.to_owned()];
    assert_eq!(
        parse(&log_json(CALL_SID, &lines)),
        serde_json::json!({"callSid": CALL_SID, "lines": [r#"{"outcome":"asked"}"#]})
    );
}

#[test]
fn limits_are_shown_in_whole_minutes_and_by_what_they_count() {
    let flows = flows(
        r#"{"otp": {
            "then": {"action": "http://127.0.0.1:8787/decrypt-gather"},
            "limits": {"failures": 1, "window_minutes": 1440},
            "fields": [{"name": "pin", "kind": "digits", "length": 4, "prompt": "PIN?"}]
        }}"#,
    );
    let json = parse(&flows_json(&flows));
    assert_eq!(
        json["flows"][0]["limits"],
        serde_json::json!({"failures": 1, "windowMinutes": 1440, "by": ["caller"]})
    );
}

#[test]
fn status_events_as_the_page_reads_them() {
    let sent = [
        SentNotice {
            body: r#"{"event":"asked","field":"card","attempt":1}"#.to_owned(),
            signature: "t=1,v1=aa".to_owned(),
        },
        SentNotice {
            body: r#"{"event":"accepted","masked":{"last4":"4242","brand":"visa"}}"#.to_owned(),
            signature: "t=1,v1=bb".to_owned(),
        },
    ];
    assert_eq!(
        parse(&status_json(CALL_SID, &sent)),
        serde_json::json!({"callSid": CALL_SID, "events": [
            {"body": r#"{"event":"asked","field":"card","attempt":1}"#, "signature": "t=1,v1=aa"},
            {"body": r#"{"event":"accepted","masked":{"last4":"4242","brand":"visa"}}"#,
             "signature": "t=1,v1=bb"}
        ]})
    );
    assert_eq!(
        parse(&status_json(CALL_SID, &[])),
        serde_json::json!({"callSid": CALL_SID, "events": []})
    );
}

#[test]
fn the_handset_is_read_only_from_a_loopback_verify() {
    assert_eq!(
        handset_url("http://127.0.0.1:4010", "+15005550001").as_deref(),
        Some("http://127.0.0.1:4010/handset/messages?To=%2B15005550001")
    );
    assert_eq!(
        handset_url("http://localhost:4010/", " client:alice ").as_deref(),
        Some("http://localhost:4010/handset/messages?To=client%3Aalice")
    );
    assert!(handset_url("http://127.1.2.3:9", "+1").is_some());
    assert!(handset_url("http://[::1]:4010", "+1").is_some());
    for refused in [
        "https://verify.twilio.com",
        "",
        "http://127.0.0.1.example.com:4010",
        "http://user@127.0.0.1:4010",
        "http://10.0.0.1:4010",
        "http://128.0.0.1",
        "ftp://127.0.0.1",
        "http://127.0.0.1:4010?x=1",
        "http://127.0.0.1:4010#x",
        "127.0.0.1:4010",
    ] {
        assert_eq!(handset_url(refused, "+15005550001"), None, "{refused}");
    }
    assert_eq!(handset_url("http://127.0.0.1:4010", " "), None);
    assert_eq!(handset_url("http://127.0.0.1:4010", &"1".repeat(129)), None);
    assert_eq!(handset_url("http://127.0.0.1:4010", "+1\n2"), None);
}

#[test]
fn the_latest_code_sent_to_the_number_is_shown() {
    let handset = r#"{"to":"+15005550001","messages":[
        {"to":"+15005550001","channel":"sms","code":"111111","sid":"VE1","at":1},
        {"to":"+15005550002","channel":"sms","code":"222222"},
        {"to":"+15005550001","channel":"call","code":"123456","body":"Your code"}
    ]}"#;
    assert_eq!(
        parse(&verify_code_json("+15005550001", handset).unwrap_or_default()),
        serde_json::json!({"to": "+15005550001", "channel": "call", "code": "123456"})
    );
    assert!(verify_code_json("+15005550003", handset).is_none());
    for odd in [
        "not json",
        r#"{"messages":[{"to":"+1","channel":"sms","code":"12a456"}]}"#,
        r#"{"messages":[{"to":"+1","channel":"sms","code":"123"}]}"#,
        r#"{"messages":[{"to":"+1","channel":"sms","code":"12345678901"}]}"#,
        r#"{"messages":[{"to":"+1","channel":"<b>","code":"123456"}]}"#,
        r#"{"messages":[{"to":"+1","code":"123456"}]}"#,
    ] {
        assert!(verify_code_json("+1", odd).is_none(), "{odd}");
    }
}

#[test]
fn the_page_sees_each_relays_name_flows_and_speech_rule_never_its_upstream() {
    let flows = flows(
        r#"{"card": {"fields": [{"name": "card", "kind": "card-number", "prompt": "Card?"}]}}"#,
    );
    let relays = Relays::from_json(
        r#"{"agent": {"upstream": "ws://127.0.0.1:8789/agent", "flows": ["card"]},
            "open": {"upstream": "wss://app.example.com/x", "flows": ["card"], "speech": "pass"}}"#,
        &flows,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let json = relays_json(Some(&relays));
    assert!(
        !json.contains("8789") && !json.contains("example.com"),
        "{json}"
    );
    let names: Vec<_> = parse(&json)["relays"]
        .as_array()
        .unwrap_or_else(|| panic!("{json}"))
        .iter()
        .map(|r| (r["name"].clone(), r["flows"].clone(), r["speech"].clone()))
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&("agent".into(), serde_json::json!(["card"]), "redact".into())));
    assert!(names.contains(&("open".into(), serde_json::json!(["card"]), "pass".into())));
    assert_eq!(relays_json(None), r#"{"relays":[]}"#);
}

#[test]
fn the_bridge_takes_a_relay_name_and_this_workers_pages_only() {
    assert_eq!(relay_of_query("relay=agent").as_deref(), Some("agent"));
    assert_eq!(relay_of_query("x=1&relay=a-b_2").as_deref(), Some("a-b_2"));
    for query in [
        "",
        "relay=",
        "relay=a/b",
        "relay=..%2Fgather",
        "relay=a%20b",
        "other=agent",
    ] {
        assert_eq!(relay_of_query(query), None, "{query}");
    }
    assert!(bridge_origin_ok(None, ORIGIN), "not a browser");
    assert!(bridge_origin_ok(Some(ORIGIN), ORIGIN));
    for other in ["http://127.0.0.1:8788", "https://evil.example", "null", ""] {
        assert!(!bridge_origin_ok(Some(other), ORIGIN), "{other}");
    }
    assert!(!bridge_origin_ok(Some(""), ""));
}

#[test]
fn the_bridge_signs_the_handshake_as_conversation_relay_does() {
    let (url, signature) =
        relay_handshake(ORIGIN, ORIGIN, "agent", TOKEN).unwrap_or_else(|| panic!("no handshake"));
    assert_eq!(url, "http://127.0.0.1:8787/relay/agent");
    let none: [(&str, &str); 0] = [];
    assert_eq!(
        signature,
        twilio_signature(TOKEN, "ws://127.0.0.1:8787/relay/agent", &none)
    );
    // Behind PUBLIC_URL: opened on the origin, signed over the public wss:// URL.
    let (url, signature) = relay_handshake(ORIGIN, "https://ivr.example.com/", "agent", TOKEN)
        .unwrap_or_else(|| panic!("no handshake"));
    assert_eq!(url, "http://127.0.0.1:8787/relay/agent");
    assert_eq!(
        signature,
        twilio_signature(TOKEN, "wss://ivr.example.com/relay/agent", &none)
    );
    for (origin, base, name) in [
        (ORIGIN, ORIGIN, ""),
        (ORIGIN, ORIGIN, "a/b"),
        (ORIGIN, ORIGIN, "a?b"),
        ("ftp://127.0.0.1", ORIGIN, "agent"),
        (ORIGIN, "ws://127.0.0.1:8787", "agent"),
        (ORIGIN, "http://127.0.0.1:8787/base", "agent"),
        ("", ORIGIN, "agent"),
    ] {
        assert_eq!(
            relay_handshake(origin, base, name, TOKEN),
            None,
            "{origin} {base} {name}"
        );
    }
}

#[test]
fn what_the_application_received_is_kept_cut_to_size() {
    let received = AppMessage::received(r#"{"type":"prompt","voicePrompt":"[redacted]"}"#);
    assert!(!received.sent && !received.cut);
    let start = AppMessage::sent(r#"{"type":"gather-seal.start","flow":"card"}"#);
    assert!(start.as_ref().is_some_and(|m| m.sent && !m.cut));
    for other in [
        r#"{"type":"text","token":"Hi","last":true}"#,
        "not json",
        r#"{"x":1}"#,
    ] {
        assert_eq!(AppMessage::sent(other), None, "{other}");
    }
    let long = format!("{}é", "a".repeat(MAX_APP_MESSAGE_LEN - 1));
    let cut = AppMessage::received(&long);
    assert!(cut.cut);
    assert_eq!(
        cut.text.len(),
        MAX_APP_MESSAGE_LEN - 1,
        "cut at a character boundary"
    );

    let mut kept = ByCall::new(2, 64);
    assert!(kept.push(CALL_SID, received));
    kept.push(CALL_SID, start.unwrap_or_else(|| panic!("kept")));
    let json = parse(&relay_app_json(CALL_SID, kept.get(CALL_SID)));
    assert_eq!(json["callSid"], CALL_SID);
    assert_eq!(
        json["messages"],
        serde_json::json!([
            {"direction": "to-app", "text": r#"{"type":"prompt","voicePrompt":"[redacted]"}"#, "cut": false},
            {"direction": "from-app", "text": r#"{"type":"gather-seal.start","flow":"card"}"#, "cut": false},
        ])
    );
}
