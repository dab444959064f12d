//! One turn of a call, sequenced as the worker does it (src/worker/routes.rs): the webhook's
//! form body and the action URL's query parsed with `form_urlencoded`, the signature checked,
//! `CallState::from_query` against a fixed valid flow, `flow::advance` with the posted
//! `Digits` and `CallSid`, then the TwiML or the hand-off. The carried state holds garbage,
//! genuine sealed values, and sealed values that must not open here (another call, another
//! field, a key the ring does not hold, a flipped digit).
//!
//! Every step is checked against an oracle written here: `from_query` and `advance` give
//! exactly what the README's rules say, a value that is not genuine for this call and field
//! always stops the call, and every TwiML is well-formed XML.
#![no_main]

use std::borrow::Cow;
use std::collections::HashMap;

use arbitrary::{Arbitrary, Unstructured};
use fuzz_support::{
    check_twiml, digit_string, flip_hex, flows, form_get, keys, luhn_complete, luhn_ok,
    xml_roundtrip, AUTH_TOKEN,
};
use gather_seal::config::{Flow, Kind};
use gather_seal::flow::{self, advance, context, is_call_sid, CallState, GatherResult, Turn};
use gather_seal::handoff::{self, Submission};
use gather_seal::{kinds, open, seal, twilio_signature, verify_twilio_signature, Error};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    flow: u8,
    call_sid: Sid<'a>,
    digits: Option<Digits<'a>>,
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
        digits: Vec<u8>,
        upper: bool,
        flip: Option<(u16, u8)>,
    },
    Garbage(&'a str),
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum KeyChoice {
    Current,
    Previous,
    Foreign,
}

/// Sealed values made for this input: value → (field it was sealed for, whether it must open
/// for this call under that field).
type Made = HashMap<String, (String, bool)>;

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
            digits,
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
            let plain = digit_string(digits);
            let mut sealed = seal(plain.as_bytes(), with, context(&sid, &field).as_bytes())
                .unwrap_or_else(|e| panic!("seal: {e}"));
            if *upper {
                sealed = sealed.to_ascii_uppercase();
            }
            let mut good = !*other_call && *key != KeyChoice::Foreign;
            if let Some((at, by)) = flip {
                sealed = flip_hex(&sealed, usize::from(*at), *by);
                good = false;
            }
            made.insert(sealed.clone(), (field, good));
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
        Kind::DigitRange { min, max } => usize::from(min) <= b.len() && b.len() <= usize::from(max),
        Kind::CardNumber => (12..=19).contains(&b.len()) && luhn_ok(&values),
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
        Kind::CardNumber => {
            let len = 11 + usize::from(a) % 8;
            let body: Vec<u8> = seed.iter().map(|d| d % 10).cycle().take(len).collect();
            let body = if body.len() < len { vec![4; len] } else { body };
            digit_string(&luhn_complete(body))
        }
        Kind::Expiry => format!("{:02}{:02}", a % 13, b % 100),
        _ => unreachable!(),
    }
}

/// `from_query` by the README's rules: no `step`, a call coming in; otherwise `step` names a
/// field, `attempt` (default 1) is one digit from 1 to the flow's attempts, and each field
/// before `step` is carried exactly once, none from `step` on. Each of these at most once.
fn expected_state(
    flow: &Flow,
    query: &[(Cow<'_, str>, Cow<'_, str>)],
) -> Result<Option<CallState>, Error> {
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
        _ => return Err(Error::BadCallState),
    };
    let field = flow
        .fields
        .iter()
        .position(|f| f.name == step)
        .ok_or(Error::BadCallState)?;
    let attempt = match all("attempt").as_slice() {
        [] => 1,
        [a] if a.len() == 1 && a.as_bytes()[0].is_ascii_digit() => a.as_bytes()[0] - b'0',
        _ => return Err(Error::BadCallState),
    };
    if !(1..=flow.attempts).contains(&attempt) {
        return Err(Error::BadCallState);
    }
    let mut sealed = Vec::new();
    for (i, f) in flow.fields.iter().enumerate() {
        match (all(&f.name).as_slice(), i < field) {
            ([v], true) => sealed.push((f.name.clone(), (*v).to_owned())),
            ([], false) => {}
            _ => return Err(Error::BadCallState),
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

fn check_hand_off(
    flow: &Flow,
    call_sid: &str,
    result: GatherResult,
    sealed: &[(String, String)],
    form: &[(Cow<'_, str>, Cow<'_, str>)],
) {
    let k = keys();
    for (name, value) in sealed {
        assert!(open(value, &k.ring, context(call_sid, name).as_bytes()).is_ok());
    }
    let submission = Submission {
        call_sid,
        account_sid: form_get(form, "AccountSid").unwrap_or(""),
        from: form_get(form, "From").unwrap_or(""),
        to: form_get(form, "To").unwrap_or(""),
        flow: &flow.name,
        result,
        sealed,
        verified: &[],
    };
    let json = submission.to_json();
    let value: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json:?}"));
    for (name, v) in sealed {
        assert_eq!(value[handoff::json_key(name)], v.as_str());
    }
    let signature = handoff::sign(b"secret", 1_700_000_000, json.as_bytes());
    assert_eq!(
        handoff::verify(
            json.as_bytes(),
            Some(&signature),
            &[b"secret"],
            300,
            1_700_000_000
        ),
        Ok(())
    );
    if let gather_seal::config::Then::Redirect { url } = &flow.then {
        check_twiml(&handoff::redirect_twiml(url, result, sealed, &[]));
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
                        let genuine = Value::Sealed {
                            for_field: None,
                            other_call: false,
                            key: if i % 2 == 0 {
                                KeyChoice::Current
                            } else {
                                KeyChoice::Previous
                            },
                            digits: vec![i as u8; 4],
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

    // One turn.
    let turn = advance(flow, &k.ring, posted_sid, state.clone(), posted_digits, now, None);
    let sid_ok = !posted_sid.is_empty()
        && posted_sid.len() <= 64
        && posted_sid.bytes().all(|b| b.is_ascii_alphanumeric());
    assert_eq!(is_call_sid(posted_sid), sid_ok);
    if !sid_ok {
        assert_eq!(turn, Err(Error::MissingCallSid));
        return;
    }
    let action_base = input.action_base;
    let Some(state) = state else {
        let first = CallState {
            field: 0,
            attempt: 1,
            sealed: Vec::new(),
        };
        assert_eq!(
            turn,
            Ok(Turn::Ask {
                state: first.clone(),
                retry: false
            })
        );
        check_ask(flow, &first, false, action_base);
        return;
    };
    let shape_ok = state.field < flow.fields.len()
        && state.sealed.len() == state.field
        && state
            .sealed
            .iter()
            .zip(&flow.fields)
            .all(|((name, _), f)| *name == f.name);
    let genuine = state.sealed.iter().all(|(name, value)| {
        made.get(value)
            .is_some_and(|(field, good)| *good && field == name)
    });
    if !shape_ok || !genuine {
        assert_eq!(turn, Err(Error::BadCallState), "{state:?}");
        return;
    }
    let turn = turn.unwrap_or_else(|e| panic!("{e} for a genuine state {state:?}"));
    let field = &flow.fields[state.field];
    let typed = posted_digits.unwrap_or("");
    let valid = accepts(field.kind, typed, now);
    let expected = if !valid {
        if state.attempt >= flow.attempts {
            Turn::HandOff {
                result: GatherResult::TooManyAttempts,
                sealed: state.sealed.clone(),
                verified: Vec::new(),
            }
        } else {
            Turn::Ask {
                state: CallState {
                    attempt: state.attempt + 1,
                    ..state.clone()
                },
                retry: true,
            }
        }
    } else {
        // The new value is sealed for this call and field, and opens to what was typed.
        let sealed_now = match &turn {
            Turn::Ask { state: s, .. } => s.sealed.last(),
            Turn::HandOff { sealed, .. } => sealed.last(),
        };
        let (name, value) = sealed_now.unwrap_or_else(|| panic!("nothing sealed: {turn:?}"));
        assert_eq!(name, &field.name);
        assert_eq!(
            open(value, &k.ring, context(posted_sid, name).as_bytes()).as_deref(),
            Ok(typed)
        );
        let mut sealed = state.sealed.clone();
        sealed.push((name.clone(), value.clone()));
        if state.field + 1 < flow.fields.len() {
            Turn::Ask {
                state: CallState {
                    field: state.field + 1,
                    attempt: 1,
                    sealed,
                },
                retry: false,
            }
        } else {
            Turn::HandOff {
                result: GatherResult::Success,
                sealed,
                verified: Vec::new(),
            }
        }
    };
    assert_eq!(turn, expected);
    match turn {
        Turn::Ask { state, retry } => check_ask(flow, &state, retry, action_base),
        Turn::HandOff { result, sealed, .. } => {
            check_hand_off(flow, posted_sid, result, &sealed, &form)
        }
    }
});
