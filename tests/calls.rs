//! Whole calls through the engine (`engine::Turn`), one webhook after another, as data files
//! under `tests/data/calls/`: what the caller types, what each effect the engine asks for came
//! to (a lockout counter, Twilio Verify, the application), and what the call does next. They
//! are the readable, whole-call view; tests/engine.rs pins each decision on its own.
//!
//! A walk is a header, a blank line, then a table of one line per webhook:
//!
//! ```text
//! why: the articles' call, each entry right the first time …
//! flow: articles
//! from: +15005550006
//!
//! # typed    | what each effect asked came to                 | expected
//! (comes in) | counter caller: open                           | asked -> card
//! 1234       | counter card: open                             | sealed -> pin
//! 4321       | mark: first; app: 200 text/xml accepted; give-back | handed-off result=success sealed=card,pin
//! ```
//!
//! The header:
//! - `why:` what the call shows, and why it ends as it does;
//! - `flow:` a flow's name in `tests/data/calls/GATHER_FLOWS.json`, or a flow's own JSON
//!   (`{"fields": …}`) on the line;
//! - `from:` the caller, as Twilio posts `From` (`anonymous` for a withheld number).
//!
//! Each webhook line has three cells separated by `|` (spaces around them are not read; blank
//! lines and lines starting with `#` are comments):
//!
//! 1. What the caller typed: digits as Twilio posts them; `(comes in)` for the webhook that
//!    starts the call; `(nothing)` for a `<Gather>` that timed out with no digits; `(again)` for
//!    the previous webhook sent again (Twilio retrying it).
//! 2. What each effect the engine asks for came to, in the order it asks, separated by `;`
//!    (so a Verify body here holds no `;` or `|`). Each names the effect it answers, and the
//!    harness fails if the engine asks for another, or for fewer or more:
//!    - `counter caller: open|locked|unavailable`, `counter <field>: …`: a try taken from the
//!      caller's counter, or from the counter of the value just typed at a field the flow
//!      counts by;
//!    - `mark: first|replayed|none`: the hand-off marked in the call's first counter (`none`:
//!      the counter could not be reached);
//!    - `send-code: <status> [<body>]|none` and `check-code: …`: Twilio Verify asked to send a
//!      code, or to check the one typed (`none`: no answer);
//!    - `app: <status> <content-type> [<X-Gather-Seal-Result>]`, `app: timeout`,
//!      `app: unreachable`: the application's answer to the submission; its body is
//!      `<Response><Say>Welcome back.</Say></Response>`, or for `application/json`
//!      `{"account": "AC1", "balance": 3}`;
//!    - `give-back`: the call's tries given back.
//! 3. What comes of the webhook: the log's outcome word, then either `-> <field>` (the field
//!    asked next) or, when the call hands off, `result=<word>` with `sealed=<field>,…` (the
//!    fields whose sealed values the application gets, in the flow's order) and
//!    `verified=<field>,…` (the approved `verify` fields); no `sealed=` or `verified=` means
//!    none. An outcome alone (`replayed`) says the call ended without handing off.
//!
//! The harness also checks that each value handed off opens, for this call and its field, to
//! what the caller last typed there, and that every code checked is the one typed.

mod common;

use common::{ring, testkit, verify_settings, CALL_SID, KEY_HEX};
use gather_seal::config::{Flow, Flows};
use gather_seal::engine::{
    AppAnswer, Call, CounterAnswer, Effect, Facts, Feedback, Step, Transport, Turn,
};
use gather_seal::flow::CallState;
use gather_seal::handoff::field_name;
use gather_seal::lockout::{caller_counter, field_counter, CallerCounter, HandOffMark};
use gather_seal::outcome::Outcome;
use gather_seal::{open, otp, KeyRing};
use std::collections::HashMap;
use std::path::Path;

const COUNTER_KEY: &[u8] = b"the counter key";
const SECRET: &[u8] = b"whsec-0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_796_083_200;
/// What the application answers with `text/xml` (or any type but JSON).
const WELCOME: &str = "<Response><Say>Welcome back.</Say></Response>";
/// What it answers with `application/json`.
const ACCOUNT: &str = r#"{"account": "AC1", "balance": 3}"#;

/// One walk, read from its file.
#[derive(Clone, Debug)]
struct Walk {
    file: String,
    why: String,
    flow: Flow,
    from: String,
    webhooks: Vec<Webhook>,
}

/// One line of a walk: one webhook.
#[derive(Clone, Debug)]
struct Webhook {
    /// The line in the file, from 1.
    line: usize,
    typed: Typed,
    /// What each effect came to, with its text in the file.
    said: Vec<(String, Said)>,
    expect: Expect,
}

#[derive(Clone, Debug, PartialEq)]
enum Typed {
    ComesIn,
    Nothing,
    Again,
    Digits(String),
}

/// What one effect came to.
#[derive(Clone, Debug)]
enum Said {
    /// `counter <subject>: …`: `None` for the caller, else the field.
    Counter(Option<String>, CounterAnswer),
    Mark(Option<HandOffMark>),
    SendCode(Option<(u16, String)>),
    CheckCode(Option<(u16, String)>),
    App(AppAnswer),
    GiveBack,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Expect {
    outcome: String,
    asks: Option<String>,
    result: Option<String>,
    sealed: Vec<String>,
    verified: Vec<String>,
}

// ------------------------------------------------------------------------------------------
// Reading a walk
// ------------------------------------------------------------------------------------------

/// The named flows walks refer to.
fn named_flows() -> Flows {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/calls/GATHER_FLOWS.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Flows::from_json(&text).unwrap_or_else(|e| panic!("GATHER_FLOWS.json: {e}"))
}

/// Every walk under `tests/data/calls/`, by file name (all but GATHER_FLOWS.json).
fn walks() -> Vec<Walk> {
    let flows = named_flows();
    testkit::data_files("calls", &["GATHER_FLOWS.json"])
        .iter()
        .map(|(file, text)| read_walk(file, text, &flows).unwrap_or_else(|e| panic!("{file}:{e}")))
        .collect()
}

/// A walk from its file's text; `Err` starts with the line at fault (`3: …`).
fn read_walk(file: &str, text: &str, flows: &Flows) -> Result<Walk, String> {
    let (values, table) = testkit::header(text, &["why", "flow", "from"])?;
    let header_lines = text.len() - table.len();
    let header = text.get(..header_lines).unwrap_or("").trim_end();
    let need = |key: &str| testkit::needed(&values, key).map(str::to_owned);
    let (why, flow, from) = (need("why"), need("flow"), need("from"));
    let flow = flow?;
    let flow = match flow.starts_with('{') {
        true => Flows::from_json(&format!(r#"{{"walk": {flow}}}"#))
            .map_err(|e| format!("1: the flow is refused: {e}"))?
            .get("walk")
            .cloned(),
        false => flows.get(&flow).cloned(),
    }
    .ok_or_else(|| format!("1: no flow {flow:?} in GATHER_FLOWS.json"))?;
    let first_line = header.lines().count() + 2;
    let mut webhooks = Vec::new();
    for (index, line) in table.lines().enumerate() {
        let at = first_line + index;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        webhooks.push(read_webhook(line).map_err(|e| format!("{at}: {e}")).map(
            |(typed, said, expect)| Webhook {
                line: at,
                typed,
                said,
                expect,
            },
        )?);
    }
    if webhooks.is_empty() {
        return Err(format!("{first_line}: no webhook"));
    }
    Ok(Walk {
        file: file.to_owned(),
        why: why?,
        flow,
        from: from?,
        webhooks,
    })
}

type Line = (Typed, Vec<(String, Said)>, Expect);

fn read_webhook(line: &str) -> Result<Line, String> {
    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
    let [typed, said, expect] = cells[..] else {
        return Err(format!("{} cells, not 3: {line:?}", cells.len()));
    };
    let typed = match typed {
        "(comes in)" => Typed::ComesIn,
        "(nothing)" => Typed::Nothing,
        "(again)" => Typed::Again,
        digits if !digits.is_empty() && !digits.starts_with('(') => {
            Typed::Digits(digits.to_owned())
        }
        other => {
            return Err(format!(
                "typed {other:?} is neither digits nor a known word"
            ))
        }
    };
    let said = said
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| read_said(s).map(|said| (s.to_owned(), said)))
        .collect::<Result<_, _>>()?;
    Ok((typed, said, read_expect(expect)?))
}

fn read_said(said: &str) -> Result<Said, String> {
    if said == "give-back" {
        return Ok(Said::GiveBack);
    }
    let (what, value) = said
        .split_once(": ")
        .ok_or_else(|| format!("{said:?} is not `effect: what it came to`"))?;
    let verify = |value: &str| -> Result<Option<(u16, String)>, String> {
        if value == "none" {
            return Ok(None);
        }
        let (status, body) = value.split_once(' ').unwrap_or((value, ""));
        let status = status
            .parse()
            .map_err(|_| format!("{what}: {status:?} is not a status"))?;
        Ok(Some((status, body.to_owned())))
    };
    Ok(match what {
        "mark" => Said::Mark(match value {
            "first" => Some(HandOffMark::First),
            "replayed" => Some(HandOffMark::Replayed),
            "none" => None,
            _ => return Err(format!("mark: {value:?} (first, replayed or none)")),
        }),
        "send-code" => Said::SendCode(verify(value)?),
        "check-code" => Said::CheckCode(verify(value)?),
        "app" => Said::App(match value {
            "timeout" => AppAnswer::TimedOut,
            "unreachable" => AppAnswer::Unreachable,
            _ => {
                let words: Vec<&str> = value.split(' ').collect();
                let (status, content_type, header) = match words[..] {
                    [status, content_type] => (status, content_type, None),
                    [status, content_type, header] => (status, content_type, Some(header)),
                    _ => return Err(format!("app: {value:?} is not `status type [result]`")),
                };
                let body = match content_type {
                    "application/json" => ACCOUNT,
                    _ => WELCOME,
                };
                AppAnswer::Answered {
                    status: status
                        .parse()
                        .map_err(|_| format!("app: {status:?} is not a status"))?,
                    content_type: Some(content_type.to_owned()),
                    body: Some(body.to_owned()),
                    result_header: header.map(str::to_owned),
                }
            }
        }),
        counter => {
            let subject = counter
                .strip_prefix("counter ")
                .ok_or_else(|| format!("{what:?} is no effect"))?;
            let answer = match value {
                "open" => CounterAnswer::Open,
                "locked" => CounterAnswer::Locked,
                "unavailable" => CounterAnswer::Unavailable,
                _ => return Err(format!("{what}: {value:?} (open, locked or unavailable)")),
            };
            Said::Counter((subject != "caller").then(|| subject.to_owned()), answer)
        }
    })
}

fn read_expect(expect: &str) -> Result<Expect, String> {
    let mut words = expect.split_whitespace();
    let outcome = words.next().ok_or("nothing expected")?;
    if !Outcome::ALL.iter().any(|o| o.as_str() == outcome) {
        return Err(format!("{outcome:?} is no outcome word"));
    }
    let mut expect = Expect {
        outcome: outcome.to_owned(),
        ..Expect::default()
    };
    let list = |value: &str| value.split(',').map(str::to_owned).collect();
    while let Some(word) = words.next() {
        match word.split_once('=') {
            None if word == "->" && expect.asks.is_none() => {
                expect.asks = Some(words.next().ok_or("-> names no field")?.to_owned());
            }
            Some(("result", value)) => expect.result = Some(value.to_owned()),
            Some(("sealed", value)) => expect.sealed = list(value),
            Some(("verified", value)) => expect.verified = list(value),
            _ => return Err(format!("{word:?} in what is expected")),
        }
    }
    let hands_off = expect.result.is_some();
    if expect.asks.is_some() && hands_off {
        return Err("a webhook either asks a field or hands off".into());
    }
    let lists = !expect.sealed.is_empty() || !expect.verified.is_empty();
    if lists && !hands_off {
        return Err("sealed= or verified= without result=".into());
    }
    Ok(expect)
}

// ------------------------------------------------------------------------------------------
// Walking a call
// ------------------------------------------------------------------------------------------

/// The call state the `<Gather action>` of `twiml` carries.
fn state_of(flow: &Flow, twiml: &str) -> Result<CallState, String> {
    let url = attribute_or_text(twiml, "action=\"", "\"").ok_or("no <Gather action> to go on")?;
    let query = url.split_once('?').map_or("", |(_, q)| q);
    match CallState::from_query(flow, &pairs(query)) {
        Ok(Some(state)) => Ok(state),
        other => Err(format!("the action URL does not carry a state: {other:?}")),
    }
}

/// What lies between `start` and `end` in TwiML, with `&amp;` read back.
fn attribute_or_text(twiml: &str, start: &str, end: &str) -> Option<String> {
    let from = twiml.find(start)? + start.len();
    let to = from + twiml[from..].find(end)?;
    Some(twiml[from..to].replace("&amp;", "&"))
}

fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// What a hand-off gave the application: the result word, the sealed values by field, and
/// the approved fields; from the submission, or from the `<Redirect>` URL.
type Delivered = (String, Vec<(String, String)>, Vec<String>);

fn from_submission(body: &str) -> Result<Delivered, String> {
    let json: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("the submission is not JSON: {e}"))?;
    let members = json.as_object().ok_or("the submission is not an object")?;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let sealed = members
        .iter()
        .filter_map(|(key, value)| field_name(key).map(|name| (name, text(value))))
        .collect();
    let verified = members
        .get("verified")
        .and_then(|v| v.as_array())
        .map(|list| list.iter().map(text).collect())
        .unwrap_or_default();
    Ok((
        members.get("result").map(text).unwrap_or_default(),
        sealed,
        verified,
    ))
}

fn from_redirect(twiml: &str) -> Option<Delivered> {
    let url = attribute_or_text(twiml, "<Redirect method=\"POST\">", "</Redirect>")?;
    let (mut result, mut sealed, mut verified) = (String::new(), Vec::new(), Vec::new());
    for (key, value) in pairs(url.split_once('?')?.1) {
        match (key.as_str(), field_name(&key)) {
            ("result", _) => result = value,
            ("verified", _) => verified = value.split(',').map(str::to_owned).collect(),
            (_, Some(name)) => sealed.push((name, value)),
            _ => {}
        }
    }
    Some((result, sealed, verified))
}

/// Whether `said` answers `effect`, given what was typed and who calls.
fn answers(
    (text, said): &(String, Said),
    effect: &Effect,
    walk: &Walk,
    typed: Option<&str>,
) -> Result<(), String> {
    let counter_of = |subject: &Option<String>| match subject {
        None => match caller_counter(COUNTER_KEY, &walk.flow, &walk.from) {
            CallerCounter::Named(name) => Some(name),
            _ => None,
        },
        Some(field) => field_counter(
            COUNTER_KEY,
            &walk.flow,
            field,
            typed.unwrap_or_default().as_bytes(),
        ),
    };
    let fits = match (said, effect) {
        (Said::Counter(subject, _), Effect::TakeTry { counter, .. }) => {
            counter_of(subject).as_ref() == Some(counter)
        }
        (Said::CheckCode(_), Effect::CheckCode { body, .. }) => {
            typed.is_some_and(|code| body.ends_with(&format!("&Code={code}")))
        }
        (Said::Mark(_), Effect::MarkHandOff { .. })
        | (Said::SendCode(_), Effect::SendCode { .. })
        | (Said::App(_), Effect::Submit { .. })
        | (Said::GiveBack, Effect::GiveBack { .. }) => true,
        _ => false,
    };
    match fits {
        true => Ok(()),
        false => Err(format!(
            "the engine asked {}, the line answers `{text}`",
            name(effect)
        )),
    }
}

/// An effect in the words of the walk files.
fn name(effect: &Effect) -> &'static str {
    match effect {
        Effect::TakeTry { .. } => "to take a try (counter …)",
        Effect::SendCode { .. } => "to send a code (send-code)",
        Effect::CheckCode { .. } => "to check the code typed (check-code)",
        Effect::MarkHandOff { .. } => "to mark the hand-off (mark)",
        Effect::Submit { .. } => "to post the submission (app)",
        Effect::GiveBack { .. } => "to give the tries back (give-back)",
    }
}

fn feedback(said: &Said) -> Feedback {
    match said {
        Said::Counter(_, answer) => Feedback::Counter(*answer),
        Said::Mark(mark) => Feedback::Marked(*mark),
        Said::SendCode(answer) | Said::CheckCode(answer) => Feedback::Verify(answer.clone()),
        Said::App(answer) => Feedback::Application(answer.clone()),
        Said::GiveBack => Feedback::Done,
    }
}

/// Plays a walk; `Err` names the line at fault and what went otherwise.
fn play(walk: &Walk, ring: &KeyRing, verify: &otp::Settings) -> Result<(), String> {
    let action_base = format!("https://ivr.example.com/gather/{}", walk.flow.name);
    // Where the call stands: `None` before it comes in and after it hands off.
    let mut state: Option<CallState> = None;
    let mut last: Option<(Option<CallState>, Option<String>)> = None;
    // What the caller last typed at each field.
    let mut typed_at: HashMap<String, String> = HashMap::new();
    for webhook in &walk.webhooks {
        let at = webhook.line;
        let (this_state, digits) = match &webhook.typed {
            Typed::ComesIn => (None, None),
            Typed::Again => last
                .clone()
                .ok_or(format!("{at}: (again) before any webhook"))?,
            Typed::Nothing | Typed::Digits(_) => {
                let asked = state
                    .clone()
                    .ok_or(format!("{at}: no field is asked here: the call is over"))?;
                let digits = match &webhook.typed {
                    Typed::Digits(d) => Some(d.clone()),
                    _ => None,
                };
                (Some(asked), digits)
            }
        };
        if let (Some(asked), Some(d)) = (&this_state, &digits) {
            if let Some(field) = walk.flow.fields.get(asked.field) {
                typed_at.insert(field.name.clone(), d.clone());
            }
        }
        last = Some((this_state.clone(), digits.clone()));
        let facts = Facts {
            flow: &walk.flow,
            ring,
            counter_key: COUNTER_KEY,
            verify: Some(verify),
            signing_secret: Some(SECRET),
            call: Call {
                call_sid: CALL_SID,
                account_sid: "ACeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
                from: &walk.from,
                to: "+15005550001",
            },
            state: this_state,
            digits: digits.as_deref(),
            now_ms: NOW * 1000,
            transport: Transport::Webhook {
                action_base: &action_base,
            },
        };
        let mut turn = Turn::new(facts);
        let mut step = turn.step(None);
        let mut said = webhook.said.iter();
        let mut submission = None;
        let answer = loop {
            match step {
                Step::Answer(answer) => break answer,
                Step::Do(effect) => {
                    let Some(next) = said.next() else {
                        return Err(format!(
                            "{at}: the engine asked {}; the line answers nothing more",
                            name(&effect)
                        ));
                    };
                    answers(next, &effect, walk, digits.as_deref())
                        .map_err(|e| format!("{at}: {e}"))?;
                    if let Effect::Submit { body, .. } = &effect {
                        submission = Some(body.clone());
                    }
                    step = turn.step(Some(feedback(&next.1)));
                }
            }
        };
        let unasked: Vec<&str> = said.map(|(text, _)| text.as_str()).collect();
        if !unasked.is_empty() {
            return Err(format!(
                "{at}: the engine asked for nothing more, yet the line answers `{}`",
                unasked.join("; ")
            ));
        }
        // What came of it.
        let expect = &webhook.expect;
        if answer.outcome.as_str() != expect.outcome {
            return Err(format!(
                "{at}: outcome {}, expected {}",
                answer.outcome.as_str(),
                expect.outcome
            ));
        }
        let result = answer.result.map(|r| r.as_str().to_owned());
        if result != expect.result {
            let word = |r: &Option<String>| r.clone().unwrap_or_else(|| "none".into());
            return Err(format!(
                "{at}: result {}, expected {}",
                word(&result),
                word(&expect.result)
            ));
        }
        state = None;
        if let Some(field) = &expect.asks {
            let next = state_of(&walk.flow, &answer.twiml).map_err(|e| format!("{at}: {e}"))?;
            let asked = walk.flow.fields.get(next.field).map(|f| f.name.as_str());
            if asked != Some(field.as_str()) {
                let asked = asked.unwrap_or("nothing");
                return Err(format!("{at}: asks {asked}, expected {field}"));
            }
            state = Some(next);
        }
        if let Some(result) = &expect.result {
            let delivered = match &submission {
                Some(body) => from_submission(body).map_err(|e| format!("{at}: {e}"))?,
                None => from_redirect(&answer.twiml).ok_or(format!(
                    "{at}: a hand-off with no submission and no redirect"
                ))?,
            };
            let (told, sealed, verified) = delivered;
            if &told != result {
                return Err(format!(
                    "{at}: the application was told {told:?}, not {result}"
                ));
            }
            let names: Vec<&str> = sealed.iter().map(|(n, _)| n.as_str()).collect();
            if names != expect.sealed {
                return Err(format!(
                    "{at}: sealed {names:?}, expected {:?}",
                    expect.sealed
                ));
            }
            if verified != expect.verified {
                return Err(format!(
                    "{at}: verified {verified:?}, expected {:?}",
                    expect.verified
                ));
            }
            for (name, value) in &sealed {
                let context = format!("{CALL_SID}:{name}");
                let opened = open(value, ring, context.as_bytes());
                if opened.as_deref().ok() != typed_at.get(name).map(String::as_str) {
                    return Err(format!(
                        "{at}: {name} does not open to what was typed there"
                    ));
                }
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// The walks
// ------------------------------------------------------------------------------------------

#[test]
fn each_call_walks_as_written() {
    let walks = walks();
    assert!(walks.len() >= 12, "only {} walks", walks.len());
    let (ring, verify) = (ring(KEY_HEX), verify_settings());
    let failures: Vec<String> = walks
        .iter()
        .filter_map(|walk| {
            play(walk, &ring, &verify)
                .err()
                .map(|e| format!("{}:{e} ({})", walk.file, walk.why))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The harness fails a walk that says anything else, and names the line, so its silence above
/// means something.
#[test]
fn the_harness_reports_a_walk_that_differs() {
    let flows = named_flows();
    let (ring, verify) = (ring(KEY_HEX), verify_settings());
    let text = "why: w\nflow: articles\nfrom: +15005550006\n\n\
        (comes in) | counter caller: open | asked -> card\n\
        # a comment\n\
        1234 | counter card: open | sealed -> pin\n\
        4321 | mark: first; app: 200 text/xml accepted; give-back | handed-off result=success sealed=card,pin\n";
    let walk = |text: &str| read_walk("w", text, &flows).expect("a walk");
    assert_eq!(play(&walk(text), &ring, &verify), Ok(()));
    let cases = [
        (
            "asked -> card",
            "asked -> pin",
            "5: asks card, expected pin",
        ),
        ("sealed -> pin", "reprompted -> pin", "7: outcome sealed"),
        (
            "sealed=card,pin",
            "sealed=pin",
            "8: sealed [\"card\", \"pin\"]",
        ),
        (
            "result=success",
            "result=locked",
            "8: result success, expected locked",
        ),
        (
            "; give-back",
            "",
            "8: the engine asked to give the tries back",
        ),
        (
            "give-back |",
            "give-back; give-back |",
            "8: the engine asked for nothing more",
        ),
        (
            "counter card: open",
            "counter pin: open",
            "7: the engine asked to take a try",
        ),
        (
            "accepted; give-back",
            "rejected; give-back",
            "8: the engine asked for nothing more",
        ),
        (
            "mark: first",
            "mark: replayed",
            "8: the engine asked for nothing more",
        ),
        (
            "4321 |",
            "(nothing) |",
            "8: the engine asked for nothing more",
        ),
    ];
    for (from, to, error) in cases {
        assert!(text.contains(from), "{from}");
        let changed = walk(&text.replacen(from, to, 1));
        let got = play(&changed, &ring, &verify);
        assert!(
            got.as_ref().is_err_and(|e| e.starts_with(error)),
            "{from} -> {to}: {got:?}"
        );
    }
    // A walk file that is not whole or not known is refused rather than guessed at.
    for (from, to) in [
        ("why: w\n", ""),
        ("flow: articles", "flow: nowhere"),
        ("from: +15005550006", "from: +1\nfrom: +2"),
        ("| asked -> card", "asked -> card"),
        ("asked -> card", "queried -> card"),
        ("asked -> card", "asked -> card result=success"),
        ("counter caller: open", "counter caller: maybe"),
        ("mark: first", "mark: second"),
        ("(comes in)", "(rings)"),
        ("\n\n", "\n"),
    ] {
        assert!(
            read_walk("w", &text.replacen(from, to, 1), &flows).is_err(),
            "{from} -> {to}"
        );
    }
}
