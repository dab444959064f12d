//! The gather call's fixtures, shared by the tests of `flow` (flow.rs, call_state.rs, ask.rs,
//! verify_fields.rs): a card, expiry and PIN flow and flows with `verify` fields, call states,
//! values sealed for a call, and a whole call walked through `flow::advance` as the worker does.

use gather_seal::config::{Anonymous, CardTypes, Channel, Field, Flow, Kind, Messages, Then};
use gather_seal::flow::{
    advance, ask_twiml_as, code_to_check, code_to_send, CallState, CodeCheck, Turn,
};
use gather_seal::{open, seal, CallError, Error, KeyRing};

// ------------------------------------------------------------------------------------------
// Values and flows
// ------------------------------------------------------------------------------------------

/// The route's absolute URL, as the worker would pass it.
pub const BASE: &str = "https://ivr.example.com/gather/login";

/// 2026-12-01T00:00:00Z (`date -u -d 2026-12-01T00:00:00Z +%s`): expiry 1226 is still good.
pub const NOW: u64 = 1_796_083_200;

/// What the caller types at the card, expiry and PIN fields of [`flow`].
pub const CARD: &str = "4111111111111111";
pub const EXPIRY: &str = "1227";
pub const PIN: &str = "4321";

/// A code the caller types.
pub const CODE: &str = "123456";

pub fn field(name: &str, prompt: &str, kind: Kind) -> Field {
    Field {
        name: name.to_owned(),
        prompt: prompt.to_owned(),
        kind,
        confirm: false,
        repeat: false,
    }
}

/// A card number, its expiry and a PIN, three tries each, plain speech.
pub fn flow() -> Flow {
    Flow {
        name: "login".into(),
        fields: vec![
            field(
                "card",
                "Enter your card number, then press pound.",
                Kind::CardNumber(CardTypes::ANY),
            ),
            field("expiry", "Enter the expiry date.", Kind::Expiry),
            field("pin", "Enter your PIN.", Kind::Digits(4)),
        ],
        then: Then::Action {
            url: "https://app.example.com/done".into(),
            fallback: None,
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

pub fn verify_flow(fields: Vec<Field>) -> Flow {
    let mut flow = flow();
    flow.name = "otp".into();
    flow.fields = fields;
    flow
}

pub fn pin() -> Field {
    field("pin", "Enter your PIN.", Kind::Digits(4))
}

pub fn otp(channel: Channel) -> Field {
    field(
        "otp",
        "Enter the code we sent you, then press pound.",
        Kind::Verify(channel),
    )
}

/// A PIN, then a code sent by SMS.
pub fn pin_then_otp() -> Flow {
    verify_flow(vec![pin(), otp(Channel::Sms)])
}

/// A code read out by a voice call, then a PIN.
pub fn otp_then_pin() -> Flow {
    verify_flow(vec![otp(Channel::Call), pin()])
}

/// A code, a PIN, and a second code.
pub fn two_codes() -> Flow {
    verify_flow(vec![
        otp(Channel::Sms),
        pin(),
        field(
            "backup",
            "Enter the second code.",
            Kind::Verify(Channel::Call),
        ),
    ])
}

// ------------------------------------------------------------------------------------------
// Call states and sealed values
// ------------------------------------------------------------------------------------------

pub fn state(field: usize, attempt: u8, sealed: &[(&str, &str)]) -> CallState {
    CallState {
        field,
        attempt,
        sealed: sealed
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        pending: None,
    }
}

/// The context a value is bound to, written out here rather than taken from the crate.
pub fn bound_to(call_sid: &str, field: &str) -> Vec<u8> {
    format!("{call_sid}:{field}").into_bytes()
}

pub fn sealed_for(ring: &KeyRing, call_sid: &str, field: &str, digits: &str) -> String {
    match seal(
        digits.as_bytes(),
        ring.current(),
        &bound_to(call_sid, field),
    ) {
        Ok(sealed) => sealed,
        Err(e) => panic!("seal failed: {e:?}"),
    }
}

pub fn opened(sealed: &str, ring: &KeyRing, call_sid: &str, field: &str) -> Result<String, Error> {
    open(sealed, ring, &bound_to(call_sid, field))
}

/// [`gather_seal::flow::advance`], its turn only.
pub fn advance_turn(
    flow: &Flow,
    ring: &KeyRing,
    call_sid: &str,
    state: Option<CallState>,
    digits: Option<&str>,
    now_unix: u64,
    check: Option<CodeCheck>,
) -> Result<Turn, CallError> {
    advance(flow, ring, call_sid, state, digits, now_unix, check).map(|advanced| advanced.turn)
}

pub fn step(
    flow: &Flow,
    ring: &KeyRing,
    call_sid: &str,
    state: Option<CallState>,
    digits: Option<&str>,
) -> Turn {
    match advance(flow, ring, call_sid, state, digits, NOW, None) {
        Ok(advanced) => advanced.turn,
        Err(e) => panic!("advance failed: {e:?}"),
    }
}

/// Splits a query string as the worker's URL parser would (no escapes occur in it).
pub fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect()
}

pub fn from_query(flow: &Flow, query: &str) -> Result<Option<CallState>, CallError> {
    CallState::from_query(flow, &pairs(query)).map_err(CallError::from)
}

// ------------------------------------------------------------------------------------------
// A whole call
// ------------------------------------------------------------------------------------------

/// Runs a call through action URLs as the worker does, typing `typed` in turn: each asked
/// field's TwiML carries the next action URL; a code is sent when [`code_to_send`] says and
/// checked when [`code_to_check`] says, by a stand-in for Verify that approves only [`CODE`].
/// Returns the hand-off, the channels codes were sent on and the codes checked.
pub fn walk(
    flow: &Flow,
    ring: &KeyRing,
    call_sid: &str,
    typed: &[&str],
) -> (Turn, Vec<Channel>, Vec<String>) {
    let (mut sends, mut checks) = (Vec::new(), Vec::new());
    let mut query = String::new();
    let mut typed = typed.iter();
    loop {
        let state = match from_query(flow, &query) {
            Ok(state) => state,
            Err(e) => panic!("{query:?} did not parse back: {e:?}"),
        };
        let digits = match state {
            Some(_) => typed.next().copied(),
            None => None,
        };
        let check = code_to_check(flow, state.as_ref(), digits).map(|code| {
            checks.push(code.to_owned());
            match code == CODE {
                true => CodeCheck::Approved,
                false => CodeCheck::Denied,
            }
        });
        let turn = match advance(flow, ring, call_sid, state, digits, NOW, check) {
            Ok(advanced) => advanced.turn,
            Err(e) => panic!("advance failed: {e:?}"),
        };
        if let Some(channel) = code_to_send(flow, &turn) {
            sends.push(channel);
        }
        match turn {
            Turn::Ask {
                state,
                mistake,
                prompt,
                ..
            } => {
                let kind = flow.field(state.field).expect("a field to ask").kind;
                let twiml = ask_twiml_as(flow, &state, mistake, &prompt, BASE, kind)
                    .expect("a field to ask");
                let action =
                    format!("action=\"{BASE}?{}\"", state.to_query(flow)).replace('&', "&amp;");
                assert!(twiml.contains(&action), "{twiml} lacks {action}");
                // No value the action URL carries is a code.
                query = state.to_query(flow);
                assert!(
                    !query
                        .split('&')
                        .filter_map(|pair| pair.split_once('='))
                        .any(|(_, value)| checks.iter().any(|c| c == value)),
                    "{query}"
                );
            }
            handoff @ Turn::HandOff { .. } => return (handoff, sends, checks),
        }
    }
}
