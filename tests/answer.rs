//! The application's answer to an `action` POST (`handoff::answer`): which answers are read
//! (status, content type, well-formed TwiML through `twilio::wellformed`, a speakable account)
//! and the TwiML the call continues with.

mod common;

use common::XML;
use gather_seal::config::{Anonymous, Field, Flow, Kind, Messages, Then};
use gather_seal::flow::GatherResult;
use gather_seal::handoff::{answer_twiml, read_answer, unusable_twiml, Answer, ANSWER_CAP};
use gather_seal::outcome::Outcome;

// ------------------------------------------------------------------------------------------
// The application's answer
// ------------------------------------------------------------------------------------------

const TWIML: &str =
    r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say>Welcome back.</Say></Response>"#;

fn twiml(body: &str) -> Answer {
    read_answer(200, Some("text/xml"), Some(body))
}

#[test]
fn status_and_size_come_first() {
    for status in [200, 201, 204, 299] {
        assert_eq!(
            read_answer(status, Some("text/xml"), Some(TWIML)),
            Answer::Twiml(TWIML.into()),
            "{status}"
        );
    }
    for status in [0, 100, 199, 300, 302, 400, 401, 404, 500, 503] {
        assert_eq!(
            read_answer(status, Some("text/xml"), Some(TWIML)),
            Answer::Unusable(Outcome::AppErrorStatus),
            "{status}"
        );
        assert_eq!(
            read_answer(status, Some("text/xml"), None),
            Answer::Unusable(Outcome::AppErrorStatus),
            "{status}, too large"
        );
    }
    assert_eq!(
        read_answer(200, Some("text/xml"), None),
        Answer::Unusable(Outcome::AppAnswerTooLarge)
    );
    assert_eq!(ANSWER_CAP, 65_536);
}

#[test]
fn only_xml_and_json_content_types_are_read() {
    for content_type in [
        "text/xml",
        "application/xml",
        "TEXT/XML",
        "text/xml; charset=utf-8",
        "  application/xml ;charset=UTF-8",
    ] {
        assert_eq!(
            read_answer(200, Some(content_type), Some(TWIML)),
            Answer::Twiml(TWIML.into()),
            "{content_type}"
        );
    }
    for content_type in [
        None,
        Some(""),
        Some("text/html"),
        Some("text/plain"),
        Some("application/twiml+xml"),
        Some("application/octet-stream"),
        Some("text/xml-ish"),
        Some("xml"),
    ] {
        assert_eq!(
            read_answer(200, content_type, Some(TWIML)),
            Answer::Unusable(Outcome::AppWrongContentType),
            "{content_type:?}"
        );
    }
}

#[test]
fn twiml_is_relayed_when_well_formed_with_a_response_root() {
    for body in [
        TWIML,
        "<Response/>",
        "<Response></Response>",
        "\n  <Response>\n  <Say>Hi</Say>\n</Response>\n",
        r#"<?xml version="1.0"?><!-- a comment --><Response><Say voice="alice">A &amp; B &lt; C &#233; &#x263A;</Say></Response>"#,
        "<Response><Say><![CDATA[a < b]]></Say><Hangup/></Response>",
        r#"<Response><Say>x</Say><?pi data?><Redirect method="POST">https://a.example/?x=1&amp;y=2</Redirect></Response>"#,
        // The same attribute name on two elements is fine; only within one tag is it not.
        r#"<Response><Say voice="alice" language="en-US">a</Say><Say voice="alice">b</Say></Response>"#,
    ] {
        assert_eq!(twiml(body), Answer::Twiml(body.into()), "{body}");
    }
}

#[test]
fn anything_else_in_xml_is_bad_twiml() {
    let cases = [
        ("empty", ""),
        ("text", "Hello"),
        ("unclosed root", "<Response>"),
        ("unclosed child", "<Response><Say>Hi</Response>"),
        (
            "crossed tags",
            "<Response><Say><Play></Say></Play></Response>",
        ),
        ("a close without an open", "</Response>"),
        ("a wrong root", "<Reply><Say>Hi</Say></Reply>"),
        ("a lowercase root", "<response/>"),
        (
            "a prefixed root",
            r#"<tw:Response xmlns:tw="https://www.twilio.com/twiml"/>"#,
        ),
        (
            "a root in a default namespace",
            r#"<Response xmlns="urn:example:other"><Say>Hi</Say></Response>"#,
        ),
        ("two roots", "<Response/><Response/>"),
        (
            "an attribute given twice",
            r#"<Response><Say voice="alice" voice="man">Hi</Say></Response>"#,
        ),
        (
            "an attribute given twice on an empty element",
            r#"<Response><Pause length="1" length="2"/></Response>"#,
        ),
        ("text after the root", "<Response/>trailing"),
        ("text before the root", "leading<Response/>"),
        ("a DTD", "<!DOCTYPE Response><Response/>"),
        (
            "an entity declared",
            r#"<!DOCTYPE Response [<!ENTITY x "boom">]><Response><Say>&x;</Say></Response>"#,
        ),
        (
            "an undefined entity",
            "<Response><Say>&nbsp;</Say></Response>",
        ),
        ("a bare ampersand", "<Response><Say>A & B</Say></Response>"),
        ("a reference to NUL", "<Response><Say>&#0;</Say></Response>"),
        (
            "a reference past Unicode",
            "<Response><Say>&#x110000;</Say></Response>",
        ),
        (
            "a reference to a surrogate",
            "<Response><Say>&#xD800;</Say></Response>",
        ),
        (
            "a reference to U+FFFE, not an XML character",
            "<Response><Say>&#xFFFE;</Say></Response>",
        ),
        (
            "a reference to U+FFFF, not an XML character",
            "<Response><Say>&#65535;</Say></Response>",
        ),
        (
            "a signed decimal reference",
            "<Response><Say>&#+65;</Say></Response>",
        ),
        (
            "a signed hex reference",
            "<Response><Say>&#x+41;</Say></Response>",
        ),
        (
            "an uppercase X reference",
            "<Response><Say>&#X41;</Say></Response>",
        ),
        ("an empty reference", "<Response><Say>&#;</Say></Response>"),
        (
            "a bad reference in an attribute",
            r#"<Response><Say voice="&bogus;">Hi</Say></Response>"#,
        ),
        (
            "an unquoted attribute",
            "<Response><Say voice=alice>Hi</Say></Response>",
        ),
        ("CDATA outside the root", "<![CDATA[x]]><Response/>"),
        ("a JSON body", r#"{"account": "AC1", "balance": "1"}"#),
    ];
    for (why, body) in cases {
        assert_eq!(
            twiml(body),
            Answer::Unusable(Outcome::AppBadTwiml),
            "{why}: {body}"
        );
    }
}

fn json(body: &str) -> Answer {
    read_answer(200, Some("application/json; charset=utf-8"), Some(body))
}

fn account(account: &str, balance: &str) -> Answer {
    Answer::Account {
        account: account.into(),
        balance: balance.into(),
    }
}

#[test]
fn json_with_a_speakable_account_and_balance_is_read() {
    let sixty_four = "9".repeat(64);
    let cases = [
        (
            r#"{"account":"AC12345678","balance":"12.55"}"#,
            account("AC12345678", "12.55"),
        ),
        (
            r#"{"account":12345678,"balance":12.55}"#,
            account("12345678", "12.55"),
        ),
        (
            r#"{"account":"A","balance":-3,"currency":"USD"}"#,
            account("A", "-3"),
        ),
        (r#" {"balance":"0","account":"x y"} "#, account("x y", "0")),
        // A number is said as the shortest text that reads back the same, less ".0".
        (r#"{"account":"A","balance":12.50}"#, account("A", "12.5")),
        (r#"{"account":"A","balance":3.0}"#, account("A", "3")),
        (r#"{"account":"A","balance":-0.25}"#, account("A", "-0.25")),
        (r#"{"account":"A","balance":1.5e3}"#, account("A", "1500")),
        (
            r#"{"account":18446744073709551615,"balance":-9223372036854775808}"#,
            account("18446744073709551615", "-9223372036854775808"),
        ),
        (
            &format!(r#"{{"account":"{sixty_four}","balance":"1"}}"#),
            account(&sixty_four, "1"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(json(body), expected, "{body}");
    }
}

#[test]
fn json_that_cannot_be_spoken_is_bad_json() {
    let sixty_five = "9".repeat(65);
    for body in [
        "",
        "not json",
        "[]",
        "null",
        r#""AC1""#,
        r#"{"account":"AC1"}"#,
        r#"{"balance":"1"}"#,
        r#"{"account":"","balance":"1"}"#,
        r#"{"account":"AC1","balance":null}"#,
        r#"{"account":true,"balance":"1"}"#,
        r#"{"account":["AC1"],"balance":"1"}"#,
        r#"{"account":{"id":1},"balance":"1"}"#,
        r#"{"account":"AC\n1","balance":"1"}"#,
        r#"{"account":"AC\u0000","balance":"1"}"#,
        r#"{"account":"AC1","balance":1e300}"#,
        r#"{"account":"AC1","balance":1e-7}"#,
        r#"{"account":"AC1","account":"AC2","balance":"1"}"#,
        r#"{"account":"AC1","balance":"1","balance":"2"}"#,
        &format!(r#"{{"account":"{sixty_five}","balance":"1"}}"#),
        r#"{"account":"AC1","balance":"1"} trailing"#,
    ] {
        assert_eq!(json(body), Answer::Unusable(Outcome::AppBadJson), "{body}");
    }
}

// ------------------------------------------------------------------------------------------
// The TwiML after an action
// ------------------------------------------------------------------------------------------

fn action_flow(fallback: Option<&str>) -> Flow {
    Flow {
        name: "login".into(),
        fields: vec![Field {
            name: "pin".into(),
            prompt: "PIN?".into(),
            kind: Kind::Digits(4),
        }],
        then: Then::Action {
            url: "https://app.example.com/done".into(),
            fallback: fallback.map(str::to_owned),
        },
        attempts: 3,
        timeout_secs: 10,
        language: None,
        voice: None,
        messages: Messages::default(),
        limits: None,
        count_by: Vec::new(),
        anonymous: Anonymous::Refuse,
    }
}

#[test]
fn application_twiml_is_relayed_as_it_is() {
    let flow = action_flow(Some("https://app.example.com/sorry"));
    for result in [GatherResult::Success, GatherResult::TooManyAttempts] {
        assert_eq!(
            answer_twiml(&flow, result, Answer::Twiml(TWIML.into())),
            (Outcome::HandedOff, TWIML.to_owned())
        );
    }
}

#[test]
fn an_account_is_thanked_in_the_flow_s_words() {
    let mut flow = action_flow(None);
    assert_eq!(
        answer_twiml(&flow, GatherResult::Success, account("AC12345678", "12.55")),
        (
            Outcome::HandedOffAccount,
            format!("{XML}<Response><Say>Thank you. Your account number is AC12345678 and your balance is 12.55</Say></Response>")
        )
    );
    flow.language = Some("fr-FR".into());
    flow.voice = Some("Polly.Celine".into());
    flow.messages.thanks = "Solde {balance} & compte {account}, je répète : {account}.".into();
    assert_eq!(
        answer_twiml(&flow, GatherResult::Success, account("<AC1>", "3")),
        (
            Outcome::HandedOffAccount,
            format!(
                r#"{XML}<Response><Say voice="Polly.Celine" language="fr-FR">Solde 3 &amp; compte &lt;AC1&gt;, je répète : &lt;AC1&gt;.</Say></Response>"#
            )
        )
    );
    flow.messages.thanks = "Merci.".into();
    assert_eq!(
        answer_twiml(&flow, GatherResult::Success, account("AC1", "3")).1,
        format!(
            r#"{XML}<Response><Say voice="Polly.Celine" language="fr-FR">Merci.</Say></Response>"#
        )
    );
}

#[test]
fn an_account_is_spoken_as_written_not_read_as_a_placeholder() {
    let flow = action_flow(None);
    let (_, xml) = answer_twiml(&flow, GatherResult::Success, account("{balance}", "12.55"));
    assert_eq!(
        xml,
        format!("{XML}<Response><Say>Thank you. Your account number is {{balance}} and your balance is 12.55</Say></Response>")
    );
}

#[test]
fn an_unusable_answer_redirects_to_the_fallback() {
    let flow = action_flow(Some("https://app.example.com/sorry?a=1&b=2"));
    let redirect = format!(
        r#"{XML}<Response><Redirect method="POST">https://app.example.com/sorry?a=1&amp;b=2</Redirect></Response>"#
    );
    for result in [GatherResult::Success, GatherResult::TooManyAttempts] {
        assert_eq!(unusable_twiml(&flow, result), redirect);
        assert_eq!(
            answer_twiml(&flow, result, Answer::Unusable(Outcome::AppBadJson)),
            (Outcome::AppBadJson, redirect.clone())
        );
    }
}

#[test]
fn without_a_fallback_the_caller_hears_goodbye_or_the_apology() {
    let mut flow = action_flow(None);
    assert_eq!(
        unusable_twiml(&flow, GatherResult::TooManyAttempts),
        format!("{XML}<Response><Say>Sorry, we could not get your details. Goodbye.</Say><Hangup/></Response>")
    );
    assert_eq!(
        unusable_twiml(&flow, GatherResult::Success),
        format!("{XML}<Response><Say>Sorry, we cannot take your call right now. Please try again later. Goodbye.</Say><Hangup/></Response>")
    );
    assert_eq!(
        answer_twiml(
            &flow,
            GatherResult::Success,
            Answer::Unusable(Outcome::AppErrorStatus)
        ),
        (
            Outcome::AppErrorStatus,
            unusable_twiml(&flow, GatherResult::Success)
        )
    );
    flow.language = Some("es-MX".into());
    flow.voice = Some("Polly.Mia".into());
    flow.messages.goodbye = "Adiós.".into();
    flow.messages.apology = "Lo sentimos.".into();
    let say = r#"<Say voice="Polly.Mia" language="es-MX">"#;
    assert_eq!(
        unusable_twiml(&flow, GatherResult::TooManyAttempts),
        format!("{XML}<Response>{say}Adiós.</Say><Hangup/></Response>")
    );
    assert_eq!(
        unusable_twiml(&flow, GatherResult::Success),
        format!("{XML}<Response>{say}Lo sentimos.</Say><Hangup/></Response>")
    );
    // A redirect flow has no fallback either.
    flow.then = Then::Redirect {
        url: "https://app.example.com/next".into(),
    };
    assert_eq!(
        unusable_twiml(&flow, GatherResult::Success),
        format!("{XML}<Response>{say}Lo sentimos.</Say><Hangup/></Response>")
    );
}

#[test]
fn a_failed_code_says_goodbye_and_an_unreachable_verify_apologises() {
    let flow = action_flow(None);
    assert_eq!(
        unusable_twiml(&flow, GatherResult::VerifyFailed),
        unusable_twiml(&flow, GatherResult::TooManyAttempts),
        "the caller gave no valid code"
    );
    assert_eq!(
        unusable_twiml(&flow, GatherResult::VerifyUnavailable),
        format!("{XML}<Response><Say>Sorry, we cannot take your call right now. Please try again later. Goodbye.</Say><Hangup/></Response>")
    );
    assert_eq!(
        unusable_twiml(&flow, GatherResult::VerifyFailed),
        format!("{XML}<Response><Say>Sorry, we could not get your details. Goodbye.</Say><Hangup/></Response>")
    );
}
