//! One turn of a call, sequenced as the worker does it (src/worker/routes.rs): the webhook's
//! form body and the action URL's query parsed with `form_urlencoded`, the signature checked,
//! `CallState::from_query` against a fixed valid flow, `flow::code_to_check` and what Twilio
//! Verify said of the code (or any answer at all), `flow::advance` with the posted `Digits`
//! and `CallSid`, `flow::code_to_send` and the caller's number for it, then the TwiML or the
//! hand-off. The carried state holds garbage, genuine sealed values and `verified` markers,
//! and sealed values that must not open here (another call, another field, a key the ring does
//! not hold, a flipped digit, a verify field's marker that is not `verified`).
//!
//! Every step is checked against an oracle written here: `from_query` and `advance` give
//! exactly what the README's rules say (a verify field goes on only with a well-formed code
//! Verify approved, carrying a marker that opens to `verified`; a wrong or malformed code is
//! tried again up to `attempts`, then `verify-failed`; no answer is `verify-unavailable` at
//! once), a value that is not genuine for this call and field always stops the call, the
//! hand-off lists exactly the verify fields carried in `verified` and none in `sealed`, and
//! every TwiML is well-formed XML.
#![no_main]

use std::borrow::Cow;
use std::collections::HashMap;

use arbitrary::{Arbitrary, Unstructured};
use fuzz_support::{
    check_redirect_url, check_twiml, digit_string, flip_hex, flows, form_get, is_code, keys,
    luhn_complete, luhn_ok, submission_json, xml_roundtrip, AUTH_TOKEN, VERIFIED_MARKER,
};
use gather_seal::config::{Channel, Flow, Kind};
use gather_seal::flow::{
    self, advance, code_to_check, code_to_send, context, is_call_sid, CallState, CodeCheck,
    GatherResult, Turn,
};
use gather_seal::handoff::{self, Submission};
use gather_seal::{
    kinds, open_bytes, otp, seal, twilio_signature, verify_twilio_signature, BadCallState,
    CallError,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    flow: u8,
    call_sid: Sid<'a>,
    digits: Option<Digits<'a>>,
    /// What Twilio Verify said of the code typed.
    check: Check,
    /// The caller's `From`, posted after `Digits` (the body may hold another).
    from: Option<Caller<'a>>,
    /// The rest of the form body, as Twilio (or anyone) posts it.
    body: &'a [u8],
    query: Query<'a>,
    now: Now,
    action_base: &'a str,
}

#[derive(Arbitrary, Debug)]
enum Sid<'a> {
    Typical(u128),
    Any(&'a str),
    /// Whatever the raw body carries, if anything.
    FromBody,
}

#[derive(Arbitrary, Debug)]
enum Digits<'a> {
    /// Digits shaped for the field being asked (its length, a Luhn-valid card, a date).
    Fit(Vec<u8>, u8, u8),
    Num(Vec<u8>),
    Any(&'a str),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Said {
    Approved,
    Denied,
    Unavailable,
}

#[derive(Arbitrary, Debug)]
enum Check {
    /// As the worker does: Verify's answer when `code_to_check` gives a code and the caller
    /// has a number to check it for (otherwise unavailable), no answer when there is no code.
    AsWorker(Said),
    /// Any answer or none, whatever was typed.
    Given(Option<Said>),
}

fn code_check(said: Said) -> CodeCheck {
    match said {
        Said::Approved => CodeCheck::Approved,
        Said::Denied => CodeCheck::Denied,
        Said::Unavailable => CodeCheck::Unavailable,
    }
}

#[derive(Arbitrary, Debug)]
enum Caller<'a> {
    /// `+` and 7 to 15 digits.
    Number(u64, u8),
    /// One of the withheld numbers and words, or nothing.
    Withheld(u8),
    Any(&'a str),
}

/// What Twilio posts as `From`.
fn from_text(from: &Caller<'_>) -> String {
    match from {
        Caller::Number(n, len) => {
            let digits = format!("{n:020}");
            format!("+{}", &digits[..5 + usize::from(*len) % 13])
        }
        Caller::Withheld(i) => [
            "",
            "anonymous",
            "Restricted",
            "+266696687",
            " +7378742833 ",
            "UNKNOWN",
            "client:alice",
            "sip:alice@example.com",
        ][usize::from(*i) % 8]
            .to_owned(),
        Caller::Any(s) => (*s).to_owned(),
    }
}

#[derive(Arbitrary, Debug)]
enum Now {
    /// Around the present: 2023 to 2063.
    Near(u32),
    Any(u64),
}

#[derive(Arbitrary, Debug)]
enum Query<'a> {
    /// The action URL's query as given.
    Raw(&'a str),
    /// Pairs built from choices, percent-encoded.
    Built {
        step: Option<Name<'a>>,
        attempt: Option<Attempt<'a>>,
        values: Vec<(Name<'a>, Value<'a>)>,
        extra: Vec<(&'a str, &'a str)>,
        extra_first: bool,
    },
    /// A genuine call so far: the step at the field `step` (modulo the fields), every field
    /// before it sealed for this call, then perhaps one value swapped for another.
    Walk {
        step: u8,
        attempt: Option<u8>,
        swap: Option<(u8, Value<'a>)>,
    },
    /// A state made directly, as if a query had given it.
    Direct {
        field: u8,
        attempt: u8,
        sealed: Vec<(Name<'a>, Value<'a>)>,
    },
}

#[derive(Arbitrary, Debug)]
enum Name<'a> {
    /// The name of the flow's field at this index.
    Field(u8),
    Any(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Attempt<'a> {
    Digit(u8),
    Any(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Value<'a> {
    /// A sealed value: for the field it is carried under (or another), this call (or
    /// another), under a key of the ring (or not), perhaps with a digit changed.
    Sealed {
        for_field: Option<u8>,
        other_call: bool,
        key: KeyChoice,
        plain: Plain<'a>,
        upper: bool,
        flip: Option<(u16, u8)>,
    },
    Garbage(&'a str),
}

/// What a sealed value holds.
#[derive(Arbitrary, Debug)]
enum Plain<'a> {
    Digits(Vec<u8>),
    /// `verified`, or a near miss of it.
    Marker(u8),
    Bytes(&'a [u8]),
}

/// The marker and near misses of it; only the first is genuine.
const MARKERS: [&[u8]; 7] = [
    b"verified",
    b"Verified",
    b"verified ",
    b"verifie",
    b"verified\0",
    b"",
    b"123456",
];

fn plaintext(plain: &Plain<'_>) -> Vec<u8> {
    match plain {
        Plain::Digits(d) => digit_string(d).into_bytes(),
        Plain::Marker(i) => MARKERS[usize::from(*i) % MARKERS.len()].to_vec(),
        Plain::Bytes(b) => b.to_vec(),
    }
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum KeyChoice {
    Current,
    Previous,
    Foreign,
}

/// Sealed values made for this input: value → (field it was sealed for, whether it must open
/// for this call under that field, what it holds).
type Made = HashMap<String, (String, bool, Vec<u8>)>;

fn field_name(flow: &Flow, name: &Name<'_>) -> String {
    match name {
        Name::Field(i) => flow.fields[usize::from(*i) % flow.fields.len()]
            .name
            .clone(),
        Name::Any(s) => (*s).to_owned(),
    }
}

fn make_value(
    flow: &Flow,
    slot: &str,
    value: &Value<'_>,
    call_sid: &str,
    made: &mut Made,
) -> String {
    match value {
        Value::Garbage(s) => (*s).to_owned(),
        Value::Sealed {
            for_field,
            other_call,
            key,
            plain,
            upper,
            flip,
        } => {
            let k = keys();
            let field = match for_field {
                Some(i) => flow.fields[usize::from(*i) % flow.fields.len()]
                    .name
                    .clone(),
                None => slot.to_owned(),
            };
            let sid = if *other_call {
                format!("{call_sid}0")
            } else {
                call_sid.to_owned()
            };
            let with = match key {
                KeyChoice::Current => &k.current,
                KeyChoice::Previous => &k.previous,
                KeyChoice::Foreign => &k.foreign,
            };
            let plain = plaintext(plain);
            let mut sealed = seal(&plain, with, context(&sid, &field).as_bytes())
                .unwrap_or_else(|e| panic!("seal: {e}"));
            if *upper {
                sealed = sealed.to_ascii_uppercase();
            }
            let mut good = !*other_call && *key != KeyChoice::Foreign;
            if let Some((at, by)) = flip {
                sealed = flip_hex(&sealed, usize::from(*at), *by);
                good = false;
            }
            made.insert(sealed.clone(), (field, good, plain));
            sealed
        }
    }
}

/// The time, seconds since 1970.
fn now_of(now: &Now) -> u64 {
    match now {
        Now::Near(n) => 1_672_531_200 + u64::from(*n) % (40 * 365 * 86_400),
        Now::Any(n) => *n,
    }
}

/// UTC year and month, counted out day by day in years (near times only).
fn year_month_slow(now: u64) -> (u64, u64) {
    let mut days = now / 86_400;
    let mut year = 1970;
    loop {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let len = if leap { 366 } else { 365 };
        if days < len {
            let months = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            let mut month = 1;
            for m in months {
                if days < m {
                    break;
                }
                days -= m;
                month += 1;
            }
            return (year, month);
        }
        days -= len;
        year += 1;
    }
}

/// What a field of this kind accepts, by the README's rules.
fn accepts(kind: Kind, digits: &str, now: u64) -> bool {
    let b = digits.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let values: Vec<u8> = b.iter().map(|d| d - b'0').collect();
    match kind {
        Kind::Digits(n) => b.len() == usize::from(n),
        Kind::Verify(_) => is_code(digits),
        Kind::DigitRange { min, max } => usize::from(min) <= b.len() && b.len() <= usize::from(max),
        // The fixed flows take any brand (no `card_types`).
        Kind::CardNumber(_) => (12..=19).contains(&b.len()) && luhn_ok(&values),
        Kind::Expiry => {
            if b.len() != 4 {
                return false;
            }
            let month = u64::from(values[0] * 10 + values[1]);
            let year = 2000 + u64::from(values[2] * 10 + values[3]);
            let (now_year, now_month) = if now < 4_000_000_000 {
                year_month_slow(now)
            } else {
                let (y, m) = kinds::year_month(now);
                (u64::from(y), u64::from(m))
            };
            (1..=12).contains(&month) && (year, month) >= (now_year, now_month)
        }
        _ => unreachable!("a kind the fixed flows do not use"),
    }
}

fn fit_digits(kind: Kind, seed: &[u8], a: u8, b: u8) -> String {
    match kind {
        Kind::Digits(n) => digit_string(
            &seed
                .iter()
                .copied()
                .cycle()
                .take(usize::from(n))
                .collect::<Vec<_>>(),
        ),
        Kind::DigitRange { min, max } => {
            let len = usize::from(min) + usize::from(a) % (usize::from(max - min) + 1);
            digit_string(&seed.iter().copied().cycle().take(len).collect::<Vec<_>>())
        }
        Kind::CardNumber(_) => {
            let len = 11 + usize::from(a) % 8;
            let body: Vec<u8> = seed.iter().map(|d| d % 10).cycle().take(len).collect();
            let body = if body.len() < len { vec![4; len] } else { body };
            digit_string(&luhn_complete(body))
        }
        Kind::Expiry => format!("{:02}{:02}", a % 13, b % 100),
        // 3 to 11 digits: a code, or one short or long.
        Kind::Verify(_) => {
            let len = 3 + usize::from(a) % 9;
            digit_string(&seed.iter().copied().cycle().take(len).collect::<Vec<_>>())
        }
        _ => unreachable!(),
    }
}

/// `from_query` by the README's rules: no `step`, a call coming in; otherwise `step` names a
/// field, `attempt` (default 1) is one digit from 1 to the flow's attempts, and each field
/// before `step` is carried exactly once, none from `step` on. Each of these at most once.
fn expected_state(
    flow: &Flow,
    query: &[(Cow<'_, str>, Cow<'_, str>)],
) -> Result<Option<CallState>, BadCallState> {
    let all = |name: &str| -> Vec<&str> {
        query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
            .collect()
    };
    let steps = all("step");
    let step = match steps.as_slice() {
        [] => return Ok(None),
        [one] => *one,
        _ => return Err(BadCallState),
    };
    let field = flow
        .fields
        .iter()
        .position(|f| f.name == step)
        .ok_or(BadCallState)?;
    let attempt = match all("attempt").as_slice() {
        [] => 1,
        [a] if a.len() == 1 && a.as_bytes()[0].is_ascii_digit() => a.as_bytes()[0] - b'0',
        _ => return Err(BadCallState),
    };
    if !(1..=flow.attempts).contains(&attempt) {
        return Err(BadCallState);
    }
    let mut sealed = Vec::new();
    for (i, f) in flow.fields.iter().enumerate() {
        match (all(&f.name).as_slice(), i < field) {
            ([v], true) => sealed.push((f.name.clone(), (*v).to_owned())),
            ([], false) => {}
            _ => return Err(BadCallState),
        }
    }
    Ok(Some(CallState {
        field,
        attempt,
        sealed,
    }))
}

fn check_ask(flow: &Flow, state: &CallState, retry: bool, action_base: &str) {
    let query = state.to_query(flow);
    // The query carries the state back unchanged.
    let pairs: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
    assert_eq!(
        CallState::from_query(flow, &pairs),
        Ok(Some(state.clone())),
        "{query:?}"
    );
    let xml = flow::ask_twiml(flow, state, retry, action_base)
        .unwrap_or_else(|| panic!("no TwiML for a state advance gave: {state:?}"));
    let doc = check_twiml(&xml);
    let gather = doc
        .root_element()
        .first_element_child()
        .unwrap_or_else(|| panic!("{xml}"));
    assert_eq!(gather.tag_name().name(), "Gather");
    let action = format!("{action_base}?{query}");
    assert_eq!(
        gather.attribute("action"),
        Some(xml_roundtrip(&action).as_str())
    );
    assert_eq!(gather.children().count(), if retry { 2 } else { 1 });
}

/// Whether the flow's field of this name is a `verify` field.
fn is_verify_field(flow: &Flow, name: &str) -> bool {
    flow.fields
        .iter()
        .any(|f| f.name == name && matches!(f.kind, Kind::Verify(_)))
}

/// The hand-off of what a call carried, by the README: the verify fields carried are named in
/// `verified` (in order), every other value is handed on sealed.
fn expected_hand_off(flow: &Flow, result: GatherResult, carried: &[(String, String)]) -> Turn {
    let mut sealed = Vec::new();
    let mut verified = Vec::new();
    for (name, value) in carried {
        if is_verify_field(flow, name) {
            verified.push(name.clone());
        } else {
            sealed.push((name.clone(), value.clone()));
        }
    }
    Turn::HandOff {
        result,
        sealed,
        verified,
    }
}

/// The channel a turn sends a code on, by the README: when it asks a verify field for the
/// first time (not a retry, which asks again for the code already sent).
fn expected_send(flow: &Flow, turn: &Turn) -> Option<Channel> {
    match turn {
        Turn::Ask {
            state,
            retry: false,
        } => match flow.fields.get(state.field)?.kind {
            Kind::Verify(channel) => Some(channel),
            _ => None,
        },
        _ => None,
    }
}

fn check_hand_off(
    flow: &Flow,
    call_sid: &str,
    result: GatherResult,
    sealed: &[(String, String)],
    verified: &[String],
    form: &[(Cow<'_, str>, Cow<'_, str>)],
) {
    let k = keys();
    for (name, value) in sealed {
        assert!(
            !is_verify_field(flow, name),
            "a verify field handed on sealed: {name}"
        );
        assert!(open_bytes(value, &k.ring, context(call_sid, name).as_bytes()).is_ok());
    }
    for name in verified {
        assert!(is_verify_field(flow, name), "{name} is not a verify field");
    }
    let (account_sid, from, to) = (
        form_get(form, "AccountSid").unwrap_or(""),
        form_get(form, "From").unwrap_or(""),
        form_get(form, "To").unwrap_or(""),
    );
    let submission = Submission {
        call_sid,
        account_sid,
        from,
        to,
        flow: &flow.name,
        result,
        sealed,
        verified,
    };
    let json = submission.to_json();
    assert_eq!(
        json,
        submission_json(
            call_sid,
            account_sid,
            from,
            to,
            &flow.name,
            result.as_str(),
            verified,
            sealed
        )
    );
    let value: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json:?}"));
    for (name, v) in sealed {
        assert_eq!(value[handoff::json_key(name)], v.as_str());
    }
    let signature = handoff::sign(b"secret", 1_700_000_000, json.as_bytes());
    assert_eq!(
        handoff::verify_submission(
            json.as_bytes(),
            Some(&signature),
            &[b"secret"],
            300,
            1_700_000_000
        ),
        Ok(())
    );
    if let gather_seal::config::Then::Redirect { url } = &flow.then {
        let out = handoff::redirect_url(url, result, sealed, verified);
        check_redirect_url(&out, url, result.as_str(), sealed, verified);
        check_twiml(&handoff::redirect_twiml(url, result, sealed, verified));
    }
    check_twiml(&handoff::unusable_twiml(flow, result));
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let flows = flows();
    let flow = &flows[usize::from(input.flow) % flows.len()];
    let k = keys();
    let now = now_of(&input.now);

    // The CallSid the request will carry first.
    let raw_form: Vec<_> = form_urlencoded::parse(input.body).collect();
    let call_sid: String = match input.call_sid {
        Sid::Typical(n) => format!("CA{n:032x}"),
        Sid::Any(s) => s.to_owned(),
        Sid::FromBody => form_get(&raw_form, "CallSid").unwrap_or("").to_owned(),
    };

    // The action URL's query, and the state it gives.
    let mut made = Made::new();
    let path = format!("/gather/{}", flow.name);
    let (path_and_query, state) = match &input.query {
        Query::Direct {
            field,
            attempt,
            sealed,
        } => {
            let sealed = sealed
                .iter()
                .map(|(n, v)| {
                    let name = field_name(flow, n);
                    let value = make_value(flow, &name, v, &call_sid, &mut made);
                    (name, value)
                })
                .collect();
            let state = CallState {
                field: usize::from(*field % 8),
                attempt: *attempt,
                sealed,
            };
            (path.clone(), Some(state))
        }
        query => {
            let query = match query {
                Query::Raw(q) => (*q).to_owned(),
                Query::Built {
                    step,
                    attempt,
                    values,
                    extra,
                    extra_first,
                } => {
                    let mut out = form_urlencoded::Serializer::new(String::new());
                    let extras = |out: &mut form_urlencoded::Serializer<String>| {
                        for (name, value) in extra {
                            out.append_pair(name, value);
                        }
                    };
                    if *extra_first {
                        extras(&mut out);
                    }
                    if let Some(step) = step {
                        out.append_pair("step", &field_name(flow, step));
                    }
                    match attempt {
                        Some(Attempt::Digit(d)) => {
                            out.append_pair("attempt", &(d % 10).to_string());
                        }
                        Some(Attempt::Any(a)) => {
                            out.append_pair("attempt", a);
                        }
                        None => {}
                    }
                    for (name, value) in values {
                        let name = field_name(flow, name);
                        let value = make_value(flow, &name, value, &call_sid, &mut made);
                        out.append_pair(&name, &value);
                    }
                    if !*extra_first {
                        extras(&mut out);
                    }
                    out.finish()
                }
                Query::Walk {
                    step,
                    attempt,
                    swap,
                } => {
                    let step = usize::from(*step) % flow.fields.len();
                    let mut out = form_urlencoded::Serializer::new(String::new());
                    out.append_pair("step", &flow.fields[step].name);
                    if let Some(a) = attempt {
                        out.append_pair("attempt", &(a % 10).to_string());
                    }
                    let swapped = swap
                        .as_ref()
                        .filter(|_| step > 0)
                        .map(|(i, v)| (usize::from(*i) % step, v));
                    for (i, f) in flow.fields[..step].iter().enumerate() {
                        // A verify field passed rides along as the marker.
                        let plain = match f.kind {
                            Kind::Verify(_) => Plain::Marker(0),
                            _ => Plain::Digits(vec![i as u8; 4]),
                        };
                        let genuine = Value::Sealed {
                            for_field: None,
                            other_call: false,
                            key: if i % 2 == 0 {
                                KeyChoice::Current
                            } else {
                                KeyChoice::Previous
                            },
                            plain,
                            upper: false,
                            flip: None,
                        };
                        let value = match swapped {
                            Some((at, v)) if at == i => v,
                            _ => &genuine,
                        };
                        let value = make_value(flow, &f.name, value, &call_sid, &mut made);
                        out.append_pair(&f.name, &value);
                    }
                    out.finish()
                }
                Query::Direct { .. } => unreachable!(),
            };
            let path_and_query = format!("{path}?{query}");
            // As the worker splits and parses it.
            let (_, q) = path_and_query
                .split_once('?')
                .unwrap_or((&path_and_query, ""));
            let pairs: Vec<_> = form_urlencoded::parse(q.as_bytes()).collect();
            let state = CallState::from_query(flow, &pairs);
            assert_eq!(state, expected_state(flow, &pairs), "{q:?}");
            let Ok(state) = state else {
                return;
            };
            (path_and_query, state)
        }
    };

    // The digits the caller typed, for the field the state asks.
    let kind = state
        .as_ref()
        .and_then(|s| flow.field(s.field))
        .unwrap_or(&flow.fields[0])
        .kind;
    let digits = input.digits.as_ref().map(|d| match d {
        Digits::Fit(seed, a, b) => fit_digits(kind, seed, *a, *b),
        Digits::Num(n) => digit_string(n),
        Digits::Any(s) => (*s).to_owned(),
    });

    // The form body as posted: CallSid and Digits first (the first of a name counts), then the
    // rest as given.
    let mut body = form_urlencoded::Serializer::new(String::new());
    if !matches!(input.call_sid, Sid::FromBody) {
        body.append_pair("CallSid", &call_sid);
    }
    if let Some(d) = &digits {
        body.append_pair("Digits", d);
    }
    if let Some(from) = &input.from {
        body.append_pair("From", &from_text(from));
    }
    let mut body = body.finish().into_bytes();
    if !body.is_empty() {
        body.push(b'&');
    }
    body.extend_from_slice(input.body);
    let form: Vec<(Cow<'_, str>, Cow<'_, str>)> = form_urlencoded::parse(&body).collect();
    let posted_sid = form_get(&form, "CallSid").unwrap_or("");
    assert_eq!(posted_sid, call_sid);
    let posted_digits = form_get(&form, "Digits");
    if digits.is_some() {
        assert_eq!(posted_digits, digits.as_deref());
    }

    // The signature over exactly these pairs verifies.
    let url = format!("{}{path_and_query}", input.action_base);
    let signature = twilio_signature(AUTH_TOKEN, &url, &form);
    assert!(verify_twilio_signature(AUTH_TOKEN, &url, &form, &signature));

    // The code to check with Verify, by the README: a verify field asked, 4-10 digits typed.
    let asked = state.as_ref().and_then(|s| flow.fields.get(s.field));
    let to_check = code_to_check(flow, state.as_ref(), posted_digits);
    let want_check = match (asked, posted_digits) {
        (Some(f), Some(d)) if matches!(f.kind, Kind::Verify(_)) && is_code(d) => Some(d),
        _ => None,
    };
    assert_eq!(to_check, want_check, "{state:?} {posted_digits:?}");
    let from = form_get(&form, "From").unwrap_or("");
    let recipient = otp::recipient(from);
    let check = match input.check {
        Check::AsWorker(said) => to_check.map(|_| match recipient {
            Some(_) => code_check(said),
            None => CodeCheck::Unavailable,
        }),
        Check::Given(said) => said.map(code_check),
    };

    // The hand-off of whatever a state carries splits verify markers from sealed values.
    if let Some(state) = &state {
        for result in [GatherResult::VerifyUnavailable, GatherResult::Success] {
            assert_eq!(
                flow::hand_off(flow, result, state.sealed.clone()),
                expected_hand_off(flow, result, &state.sealed)
            );
        }
    }

    // One turn.
    let turn = advance(
        flow,
        &k.ring,
        posted_sid,
        state.clone(),
        posted_digits,
        now,
        check,
    );
    let sid_ok = !posted_sid.is_empty()
        && posted_sid.len() <= 64
        && posted_sid.bytes().all(|b| b.is_ascii_alphanumeric());
    assert_eq!(is_call_sid(posted_sid), sid_ok);
    if !sid_ok {
        assert_eq!(turn, Err(CallError::MissingCallSid));
        return;
    }
    let action_base = input.action_base;
    let Some(state) = state else {
        let first = CallState {
            field: 0,
            attempt: 1,
            sealed: Vec::new(),
        };
        let turn = turn.unwrap_or_else(|e| panic!("{e} for a call coming in"));
        assert_eq!(
            turn,
            Turn::Ask {
                state: first.clone(),
                retry: false
            }
        );
        finish(flow, turn, posted_sid, recipient, &form, action_base);
        return;
    };
    let shape_ok = state.field < flow.fields.len()
        && state.sealed.len() == state.field
        && state
            .sealed
            .iter()
            .zip(&flow.fields)
            .all(|((name, _), f)| *name == f.name);
    // Genuine: sealed for this call and field under a key of the ring, and a verify field's
    // value is the marker.
    let genuine = state.sealed.iter().all(|(name, value)| {
        made.get(value).is_some_and(|(field, good, plain)| {
            *good
                && field == name
                && (!is_verify_field(flow, name) || plain.as_slice() == VERIFIED_MARKER)
        })
    });
    if !shape_ok || !genuine {
        assert_eq!(turn, Err(CallError::BadCallState), "{state:?}");
        return;
    }
    let turn = turn.unwrap_or_else(|e| panic!("{e} for a genuine state {state:?}"));
    let field = &flow.fields[state.field];
    let typed = posted_digits.unwrap_or("");
    let valid = accepts(field.kind, typed, now);
    let is_verify = matches!(field.kind, Kind::Verify(_));
    enum Next {
        /// Asked again, or handed off with this result when out of tries.
        Retry(GatherResult),
        /// Sealed (a verify field: the marker) and carried on.
        Carry,
        /// Handed off at once.
        HandOff(GatherResult),
    }
    let next = match (is_verify, valid, check) {
        (false, true, _) => Next::Carry,
        (false, false, _) => Next::Retry(GatherResult::TooManyAttempts),
        (true, false, _) | (true, true, Some(CodeCheck::Denied)) => {
            Next::Retry(GatherResult::VerifyFailed)
        }
        (true, true, Some(CodeCheck::Approved)) => Next::Carry,
        (true, true, Some(CodeCheck::Unavailable) | None) => {
            Next::HandOff(GatherResult::VerifyUnavailable)
        }
    };
    let expected = match next {
        Next::HandOff(result) => expected_hand_off(flow, result, &state.sealed),
        Next::Retry(result) if state.attempt >= flow.attempts => {
            expected_hand_off(flow, result, &state.sealed)
        }
        Next::Retry(_) => Turn::Ask {
            state: CallState {
                attempt: state.attempt + 1,
                ..state.clone()
            },
            retry: true,
        },
        Next::Carry => {
            let last = state.field + 1 == flow.fields.len();
            // The new value is sealed for this call and field, and opens to what was typed;
            // a verify field's to the marker, never the code. (A verify field's marker is only
            // seen while it is carried; handed off, it is named in `verified`.)
            let sealed_now = match &turn {
                Turn::Ask { state: s, .. } => s.sealed.last(),
                Turn::HandOff { sealed, .. } if !is_verify => sealed.last(),
                Turn::HandOff { .. } => None,
            };
            let mut carried = state.sealed.clone();
            match sealed_now {
                Some((name, value)) => {
                    assert_eq!(name, &field.name);
                    let opened = open_bytes(value, &k.ring, context(posted_sid, name).as_bytes())
                        .unwrap_or_else(|e| panic!("{e}: the new value does not open"));
                    let want = if is_verify {
                        VERIFIED_MARKER
                    } else {
                        typed.as_bytes()
                    };
                    assert_eq!(opened, want);
                    if is_verify {
                        assert_ne!(opened, typed.as_bytes(), "the code was sealed");
                    }
                    carried.push((name.clone(), value.clone()));
                }
                None if last && is_verify => carried.push((field.name.clone(), String::new())),
                None => panic!("nothing sealed: {turn:?}"),
            }
            if !last {
                Turn::Ask {
                    state: CallState {
                        field: state.field + 1,
                        attempt: 1,
                        sealed: carried,
                    },
                    retry: false,
                }
            } else {
                expected_hand_off(flow, GatherResult::Success, &carried)
            }
        }
    };
    assert_eq!(turn, expected, "{check:?} {typed:?}");
    finish(flow, turn, posted_sid, recipient, &form, action_base);
});

/// The rest of the turn as the worker does it: a code sent when a verify field is first asked
/// (no number to send it to: `verify-unavailable` at once), then the TwiML or the hand-off.
fn finish(
    flow: &Flow,
    mut turn: Turn,
    call_sid: &str,
    recipient: Option<&str>,
    form: &[(Cow<'_, str>, Cow<'_, str>)],
    action_base: &str,
) {
    let send = code_to_send(flow, &turn);
    assert_eq!(send, expected_send(flow, &turn), "{turn:?}");
    if let (Some(_), Turn::Ask { state, .. }) = (send, &turn) {
        if recipient.is_none() {
            let sealed = state.sealed.clone();
            turn = flow::hand_off(flow, GatherResult::VerifyUnavailable, sealed.clone());
            assert_eq!(
                turn,
                expected_hand_off(flow, GatherResult::VerifyUnavailable, &sealed)
            );
        }
    }
    match turn {
        Turn::Ask { state, retry } => check_ask(flow, &state, retry, action_base),
        Turn::HandOff {
            result,
            sealed,
            verified,
        } => check_hand_off(flow, call_sid, result, &sealed, &verified, form),
    }
}
