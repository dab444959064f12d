//! A caller driven through the engine (`engine::Turn`) as the worker drives it, for the card
//! capture tests (capture_caller.rs, capture_reports.rs): each webhook goes back to the action
//! URL the last `<Gather>` named, every effect is answered as a working world would (counters
//! open, the hand-off marked first, Verify sends and approves [`super::gather::CODE`], the
//! application answers `accepted`), and the TwiML is read back with a few small readers.

use gather_seal::config::{Flow, Flows};
use gather_seal::engine::{
    Answer, AppAnswer, Call, CounterAnswer, Effect, Facts, Feedback, Step, Transport, Turn,
};
use gather_seal::flow::CallState;
use gather_seal::lockout::HandOffMark;
use gather_seal::{otp, KeyRing};

use super::gather::opened;

use super::gather::{pairs, BASE, CODE, NOW};
use super::{verify_settings, CALL_SID};

/// Test card numbers of their brands (Stripe's published test numbers), all Luhn-valid.
pub const AMEX: &str = "378282246310005";
pub const VISA: &str = "4242424242424242";
pub const MASTERCARD: &str = "5555555555554444";
/// Fails the Luhn check (the last digit of VISA, one off).
pub const NOT_LUHN: &str = "4242424242424241";
/// A valid ABA routing number (JPMorgan Chase, New York).
pub const ROUTING: &str = "021000021";
/// March 2029: still good at NOW (2026-12-01).
pub const EXPIRY: &str = "0329";
/// November 2026: a real month, the one before NOW's.
pub const EXPIRED: &str = "1126";
/// Where a flow that hands off with `redirect` sends the call.
pub const NEXT: &str = "https://app.example.com/next";

/// The values a redirect hands on: (field, what its sealed value opens to), in order, each
/// opened for this call and its field; and the `result`.
pub fn handed_on(answer: &Answer, ring: &KeyRing) -> (String, Vec<(String, String)>) {
    let url =
        redirected_to(&answer.twiml).unwrap_or_else(|| panic!("no hand-off in {}", answer.twiml));
    let query = url
        .strip_prefix(NEXT)
        .and_then(|q| q.strip_prefix('?'))
        .unwrap_or_else(|| panic!("{url} is not to {NEXT}"));
    let mut result = String::new();
    let mut values = Vec::new();
    for (key, value) in pairs(query) {
        if key == "result" {
            result = value;
        } else if let Some(field) = gather_seal::handoff::field_name(&key) {
            let digits = opened(&value, ring, CALL_SID, &field)
                .unwrap_or_else(|e| panic!("{field} does not open: {e:?}"));
            values.push((field, digits));
        }
    }
    (result, values)
}

/// Expected hand-off values, written as pairs.
pub fn values(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(f, v)| ((*f).to_owned(), (*v).to_owned()))
        .collect()
}

/// The step and attempt the last `<Gather>` of `caller` goes back with.
pub fn at(caller: &Caller<'_>) -> (String, String) {
    let query = caller.query.as_deref().expect("a field asked");
    (
        query_value(query, "step").expect("step"),
        query_value(query, "attempt").expect("attempt"),
    )
}

/// `<Gather numDigits>`.
pub fn num_digits(answer: &Answer) -> String {
    attribute(&answer.twiml, "numDigits").expect("numDigits")
}

/// The key that names lockout counters.
pub const COUNTER_KEY: &[u8] = b"the counter key";
/// `BACKEND_SIGNING_SECRET`.
pub const SECRET: &[u8] = b"whsec-0123456789abcdef0123456789abcdef";
/// Where status events go.
pub const STATUS: &str = "https://app.example.com/status";
/// The caller.
pub const FROM: &str = "+15005550006";
/// What the application answers a submission with.
pub const WELCOME: &str = "<Response><Say>Welcome.</Say></Response>";

/// The flow named `pay` written as this JSON object.
pub fn pay(json: &str) -> Flow {
    let flows = match Flows::from_json(&format!(r#"{{"pay": {json}}}"#)) {
        Ok(flows) => flows,
        Err(e) => panic!("{json} refused: {e}"),
    };
    flows.get("pay").expect("the flow").clone()
}

/// One call of a flow, webhook after webhook.
pub struct Caller<'a> {
    pub flow: &'a Flow,
    pub ring: &'a KeyRing,
    pub verify: otp::Settings,
    pub secret: Option<&'a [u8]>,
    /// The query the last `<Gather action>` carried; `None` before the call comes in and after
    /// it hands off.
    pub query: Option<String>,
    /// The effects the last webhook asked for, in order.
    pub effects: Vec<Effect>,
}

impl<'a> Caller<'a> {
    pub fn new(flow: &'a Flow, ring: &'a KeyRing) -> Caller<'a> {
        Caller {
            flow,
            ring,
            verify: verify_settings(),
            secret: Some(SECRET),
            query: None,
            effects: Vec::new(),
        }
    }

    /// The call comes in.
    pub fn comes_in(&mut self) -> Answer {
        self.query = None;
        self.webhook(None)
    }

    /// The caller types `digits` (`None`: the `<Gather>` timed out with nothing).
    pub fn types(&mut self, digits: Option<&str>) -> Answer {
        assert!(self.query.is_some(), "nothing was asked");
        self.webhook(digits)
    }

    /// [`Caller::types`] for a list of entries; the answer to the last.
    pub fn types_all(&mut self, entries: &[&str]) -> Answer {
        let mut last = None;
        for entry in entries {
            last = Some(self.types(Some(entry)));
        }
        last.expect("at least one entry")
    }

    fn webhook(&mut self, digits: Option<&str>) -> Answer {
        let state = self.query.as_deref().map(|query| {
            match CallState::from_query(self.flow, &pairs(query)) {
                Ok(Some(state)) => state,
                other => panic!("{query:?} did not read back: {other:?}"),
            }
        });
        let facts = Facts {
            flow: self.flow,
            ring: self.ring,
            counter_key: COUNTER_KEY,
            verify: Some(&self.verify),
            signing_secret: self.secret,
            call: Call {
                call_sid: CALL_SID,
                account_sid: "ACeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
                from: FROM,
                to: "+15005550001",
            },
            state,
            digits,
            now_ms: NOW * 1000,
            transport: Transport::Webhook { action_base: BASE },
        };
        let mut turn = Turn::new(facts);
        let mut step = turn.step(None);
        self.effects.clear();
        for _ in 0..10 {
            match step {
                Step::Answer(answer) => {
                    self.query = action_query(&answer.twiml);
                    return answer;
                }
                Step::Do(effect) => {
                    let feedback = working(&effect);
                    self.effects.push(effect);
                    step = turn.step(Some(feedback));
                }
            }
        }
        panic!("a turn asked for more than ten effects: {:?}", self.effects);
    }

    /// The body the last webhook POSTed to the application, parsed.
    pub fn submitted(&self) -> serde_json::Value {
        let body = self.effects.iter().find_map(|e| match e {
            Effect::Submit { body, .. } => Some(body.as_str()),
            _ => None,
        });
        let body = body.unwrap_or_else(|| panic!("no submission in {:?}", self.effects));
        serde_json::from_str(body).expect("JSON")
    }
}

/// What a working world answers each effect with.
fn working(effect: &Effect) -> Feedback {
    match effect {
        Effect::TakeTry { .. } => Feedback::Counter(CounterAnswer::Open),
        Effect::MarkHandOff { .. } => Feedback::Marked(Some(HandOffMark::First)),
        Effect::SendCode { .. } => Feedback::Verify(Some((201, r#"{"status":"pending"}"#.into()))),
        Effect::CheckCode { body, .. } => {
            let status = match body.contains(&format!("Code={CODE}")) {
                true => "approved",
                false => "pending",
            };
            Feedback::Verify(Some((200, format!(r#"{{"status":"{status}"}}"#))))
        }
        Effect::Submit { .. } => Feedback::Application(AppAnswer::Answered {
            status: 200,
            content_type: Some("text/xml".into()),
            body: Some(WELCOME.into()),
            result_header: Some("accepted".into()),
        }),
        Effect::GiveBack { .. } => Feedback::Done,
    }
}

/// The text of the first `name="…"` attribute in `twiml`, XML escapes undone.
pub fn attribute(twiml: &str, name: &str) -> Option<String> {
    let open = format!(" {name}=\"");
    let start = twiml.find(&open)? + open.len();
    let end = start + twiml[start..].find('"')?;
    Some(unescape(&twiml[start..end]))
}

/// The query of the `<Gather action>` in `twiml`; `None` when nothing is gathered.
pub fn action_query(twiml: &str) -> Option<String> {
    let action = attribute(twiml, "action")?;
    let rest = action.strip_prefix(BASE)?.strip_prefix('?')?;
    Some(rest.to_owned())
}

/// The text of each `<Say>` in `twiml`, in order.
pub fn says(twiml: &str) -> Vec<String> {
    let mut said = Vec::new();
    let mut rest = twiml;
    while let Some(at) = rest.find("<Say") {
        let Some(open_end) = rest[at..].find('>') else {
            break;
        };
        let text_start = at + open_end + 1;
        let Some(len) = rest[text_start..].find("</Say>") else {
            break;
        };
        said.push(unescape(&rest[text_start..text_start + len]));
        rest = &rest[text_start + len..];
    }
    said
}

/// The URL of the `<Redirect>` in `twiml`, XML escapes undone.
pub fn redirected_to(twiml: &str) -> Option<String> {
    let start = twiml.find(r#"<Redirect method="POST">"#)? + 24;
    let end = start + twiml[start..].find("</Redirect>")?;
    Some(unescape(&twiml[start..end]))
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of `name` in a query (`None` when absent).
pub fn query_value(query: &str, name: &str) -> Option<String> {
    pairs(query)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}
