//! The application's answer to an `action` POST (`handoff::answer`): which answers are read
//! (status, content type, well-formed TwiML through `twilio::wellformed`, a speakable account)
//! and the TwiML the call continues with. The answers read are data files under
//! `tests/data/answers/`, one per case, each with a header saying its verdict and why (see
//! [`AnswerCase`]); one harness runs them all and names each case that fails.

mod common;

use common::{testkit, XML};
use gather_seal::config::{Anonymous, Field, Flow, Kind, Messages, Then};
use gather_seal::flow::GatherResult;
use gather_seal::handoff::{answer_twiml, read_answer, unusable_twiml, Answer, ANSWER_CAP};
use gather_seal::outcome::Outcome;

// ------------------------------------------------------------------------------------------
// The application's answer, read: the cases under tests/data/answers/
// ------------------------------------------------------------------------------------------

/// One application answer from `tests/data/answers/`: a file per case, a header of `key: value`
/// lines, a blank line, then the body the application sent.
///
/// - `why:` what the case shows, and why its verdict is the right one;
/// - `status:` the HTTP status the application answered with;
/// - `content-type:` its `Content-Type` exactly as sent, `(none)` when it sent none; a value in
///   double quotes is read as a JSON string, for one that is empty or has spaces at its ends;
/// - `body: over the cap` (only then): the answer was longer than [`ANSWER_CAP`], so the glue
///   hands `read_answer` no body at all; the file's body part is then empty;
/// - `expect:` the verdict: `twiml` (relayed to Twilio as it is, byte for byte), `account
///   <account> / <balance>` (the caller hears the flow's `thanks` with these two; the account
///   is what comes before the first ` / `), or the log's outcome word when the answer cannot
///   continue the call (`app-bad-twiml`, …, as [`Outcome::as_str`] spells it).
///
/// The body is every byte after the blank line up to the end of the file, less the file's final
/// newline, which every case file must end with (so that an editor adding one changes nothing,
/// and one removing it is caught): a body that itself ends with a newline ends its file with
/// two, and an empty body leaves the blank line followed by one more newline.
#[derive(Clone, Debug)]
struct AnswerCase {
    file: String,
    why: String,
    status: u16,
    content_type: Option<String>,
    /// `None` for `body: over the cap`.
    body: Option<String>,
    expect: String,
}

/// Every case under `tests/data/answers/`, by file name.
fn answer_cases() -> Vec<AnswerCase> {
    testkit::data_files("answers", &[])
        .iter()
        .map(|(file, content)| {
            read_answer_case(file, content).unwrap_or_else(|e| panic!("{file}: {e}"))
        })
        .collect()
}

/// A case from its file's text; `Err` says what is wrong with the file.
fn read_answer_case(file: &str, content: &str) -> Result<AnswerCase, String> {
    let known = ["why", "status", "content-type", "body", "expect"];
    let (values, rest) = testkit::header(content, &known)?;
    let body = rest
        .strip_suffix('\n')
        .ok_or("the file does not end with a newline")?;
    let get = |key: &str| values.get(key).map(|v| (*v).to_owned());
    let (why, status, content_type, over, expect) = (
        get("why"),
        get("status"),
        get("content-type"),
        get("body"),
        get("expect"),
    );
    let need = |value: Option<String>, key: &str| value.ok_or(format!("the header has no {key}"));
    let status = need(status, "status")?;
    let status = status
        .parse()
        .map_err(|_| format!("status {status:?} is not a number"))?;
    let content_type = match need(content_type, "content-type")?.as_str() {
        "(none)" => None,
        quoted if quoted.starts_with('"') => Some(
            serde_json::from_str(quoted)
                .map_err(|e| format!("content-type {quoted}: not a JSON string: {e}"))?,
        ),
        value => Some(value.to_owned()),
    };
    let body = match over.as_deref() {
        None => Some(body.to_owned()),
        Some("over the cap") if body.is_empty() => None,
        Some("over the cap") => return Err("a body over the cap, yet text after the header".into()),
        Some(other) => return Err(format!("body: {other:?} (only `over the cap` is known)")),
    };
    let expect = need(expect, "expect")?;
    let known = expect == "twiml"
        || expect
            .strip_prefix("account ")
            .is_some_and(|rest| rest.contains(" / "))
        || Outcome::ALL.iter().any(|o| o.as_str() == expect);
    if !known {
        return Err(format!("expect: {expect:?} is no verdict"));
    }
    Ok(AnswerCase {
        file: file.to_owned(),
        why: need(why, "why")?,
        status,
        content_type,
        body,
        expect,
    })
}

/// The verdict on an answer, in the words of `expect:`. TwiML relayed with any change is not
/// `twiml`.
fn verdict(answer: &Answer, body: Option<&str>) -> String {
    match answer {
        Answer::Twiml(xml) if Some(xml.as_str()) == body => "twiml".to_owned(),
        Answer::Twiml(xml) => format!("twiml changed to {xml:?}"),
        Answer::Account { account, balance } => format!("account {account} / {balance}"),
        Answer::Unusable(outcome) => outcome.as_str().to_owned(),
    }
}

/// What is wrong with the verdict `read_answer` gives `case`, if anything.
fn misses(case: &AnswerCase) -> Option<String> {
    let body = case.body.as_deref();
    let answer = read_answer(case.status, case.content_type.as_deref(), body);
    let got = verdict(&answer, body);
    (got != case.expect).then(|| format!("got {got:?}, expected {:?}", case.expect))
}

#[test]
fn each_application_answer_gets_its_verdict() {
    let cases = answer_cases();
    // As many as when the tables moved from this file into data files.
    assert!(cases.len() >= 108, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        if let Some(miss) = misses(case) {
            failures.push(format!("{} ({}): {miss}", case.file, case.why));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every verdict read_answer can give is among the cases.
    for verdict in [
        "twiml",
        "account ",
        "app-error-status",
        "app-answer-too-large",
        "app-bad-twiml",
        "app-bad-json",
        "app-wrong-content-type",
    ] {
        assert!(
            cases.iter().any(|c| c.expect.starts_with(verdict)),
            "no case expects {verdict}"
        );
    }
}

/// The harness fails a case whose verdict differs, so its silence above means something.
#[test]
fn the_harness_reports_a_verdict_that_differs() {
    for case in answer_cases() {
        let mut wrong = case.clone();
        wrong.expect = match case.expect.as_str() {
            "twiml" => "app-bad-twiml".to_owned(),
            _ => "twiml".to_owned(),
        };
        assert!(misses(&wrong).is_some(), "{}: {}", case.file, wrong.expect);
    }
    let relayed = Answer::Twiml("<Response/>".into());
    assert_eq!(verdict(&relayed, Some("<Response/>")), "twiml");
    assert_ne!(verdict(&relayed, Some("<Response/>\n")), "twiml");
}

#[test]
fn a_case_file_is_read_exactly() {
    let head = "why: w\nstatus: 200\ncontent-type: text/xml\nexpect: twiml\n\n";
    let read = |text: &str| read_answer_case("f", text);
    let body = |text: &str| read(text).map(|c| c.body);
    // The file's final newline is not the body's; a second one is.
    assert_eq!(
        body(&format!("{head}<Response/>\n")),
        Ok(Some("<Response/>".into()))
    );
    assert_eq!(
        body(&format!("{head}<Response/>\n\n")),
        Ok(Some("<Response/>\n".into()))
    );
    assert_eq!(body(&format!("{head}\n")), Ok(Some(String::new())));
    assert_eq!(
        body(&format!("{head}\n<Response/>\n")),
        Ok(Some("\n<Response/>".into()))
    );
    assert!(
        body(&format!("{head}<Response/>")).is_err(),
        "no final newline"
    );
    // Content types: as written, absent, or quoted.
    let content_type = |value: &str| {
        let text = head.replace("content-type: text/xml", &format!("content-type: {value}"));
        read(&format!("{text}\n")).map(|c| c.content_type)
    };
    assert_eq!(
        content_type("text/xml; a=b"),
        Ok(Some("text/xml; a=b".into()))
    );
    assert_eq!(content_type("(none)"), Ok(None));
    assert_eq!(content_type(r#""""#), Ok(Some(String::new())));
    assert_eq!(content_type(r#"" a ""#), Ok(Some(" a ".into())));
    assert!(content_type(r#""a"#).is_err());
    // A body over the cap has no text.
    let over = head.replace("expect:", "body: over the cap\nexpect:");
    assert_eq!(body(&format!("{over}\n")), Ok(None));
    assert!(body(&format!("{over}x\n")).is_err());
    assert!(read(&format!(
        "{}\n",
        head.replace("expect:", "body: huge\nexpect:")
    ))
    .is_err());
    // A header that is not whole, or not known, is refused rather than guessed at.
    for bad in [
        head.replace("why: w\n", ""),
        head.replace("status: 200", "status: OK"),
        head.replace("expect: twiml", "expect: relayed"),
        head.replace("expect: twiml", "expect: account AC1"),
        head.replace("why: w", "why: w\nwhy: again"),
        head.replace("why: w", "reason: w"),
        head.replace("\n\n", "\n"),
    ] {
        assert!(read(&format!("{bad}\n")).is_err(), "{bad:?}");
    }
}

#[test]
fn the_answer_cap_is_64_kib() {
    assert_eq!(ANSWER_CAP, 65_536);
}

// ------------------------------------------------------------------------------------------
// The TwiML after an action
// ------------------------------------------------------------------------------------------

const TWIML: &str =
    r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say>Welcome back.</Say></Response>"#;

fn account(account: &str, balance: &str) -> Answer {
    Answer::Account {
        account: account.into(),
        balance: balance.into(),
    }
}

fn action_flow(fallback: Option<&str>) -> Flow {
    Flow {
        name: "login".into(),
        fields: vec![Field {
            name: "pin".into(),
            prompt: "PIN?".into(),
            kind: Kind::Digits(4),
            confirm: false,
            repeat: false,
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
        status_callback: None,
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
