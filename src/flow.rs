//! The gather call flow as a pure state machine.
//!
//! A call asks for each field of its [`Flow`] in turn. Digits are checked by the field's kind
//! and sealed the moment they arrive, bound to the call and the field (context
//! `"<CallSid>:<field>"`), and from then on travel only as ciphertext in the next action URL's
//! query: `step` names the field being asked, `attempt` counts tries at it, and every field
//! already gathered rides along under its name. After the last field, or when a field has had
//! all its tries, the call is handed off with a [`GatherResult`] and the sealed values so far.
//!
//! A `verify` field is a one-time code checked with Twilio Verify by the glue, which tells
//! [`advance`] what Verify said ([`CodeCheck`]). The code itself is never sealed or carried:
//! once approved, the field rides along as a sealed marker (the bytes `verified`, bound to the
//! call and field like any value), and the hand-off names it in `verified`.

use zeroize::Zeroizing;

use subtle::ConstantTimeEq;

use crate::config::{Channel, CodeLength, Flow, Kind};
use crate::kinds::{self, Masked, Mistake, Readback};
use crate::status::{Event, EventKind};
use crate::twilio::twiml::{Gather, Response, Speech};
use crate::{open_bytes, seal, BadCallState, CallError, KeyRing};

/// How the gather ended, as the hand-off reports it (`result`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GatherResult {
    /// Every field was gathered.
    Success,
    /// A field had all its tries without a valid entry; the fields before it are handed on.
    TooManyAttempts,
    /// The caller has reached the flow's `limits`: nothing was asked.
    Locked,
    /// The caller's number is withheld and the flow refuses withheld numbers: nothing was asked.
    Anonymous,
    /// The lockout counter could not be reached, so the flow failed closed: nothing was asked.
    Unavailable,
    /// A `verify` field's code was wrong (or not a code) on every try.
    VerifyFailed,
    /// The caller pressed `*`: the fields before are handed on.
    Cancelled,
    /// Twilio Verify could not send or check a code (an error, a timeout, no number to send
    /// to); the fields before are handed on.
    VerifyUnavailable,
}

impl GatherResult {
    /// `success`, `too-many-attempts`.
    pub fn as_str(self) -> &'static str {
        match self {
            GatherResult::Success => "success",
            GatherResult::TooManyAttempts => "too-many-attempts",
            GatherResult::Locked => "locked",
            GatherResult::Anonymous => "anonymous",
            GatherResult::Unavailable => "unavailable",
            GatherResult::VerifyFailed => "verify-failed",
            GatherResult::Cancelled => "cancelled",
            GatherResult::VerifyUnavailable => "verify-unavailable",
        }
    }
}

/// The context a field's value is sealed with: `"<CallSid>:<field name>"`.
pub fn context(call_sid: &str, field: &str) -> String {
    format!("{call_sid}:{field}")
}

/// Where a call stands, as carried in the action URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallState {
    /// Index of the field being asked for.
    pub field: usize,
    /// Which try at it this is, from 1.
    pub attempt: u8,
    /// Sealed values of the fields before `field`, in order: (field name, sealed hex).
    pub sealed: Vec<(String, String)>,
    /// A valid entry of `field` waiting to be typed again or confirmed.
    pub pending: Option<Pending>,
}

/// A valid entry waiting for the caller: sealed with the context
/// `"<CallSid>:<field>:<phase>"`, so it opens only at that step of that call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// What the caller is asked next.
    pub phase: Phase,
    /// The entry, sealed hex.
    pub sealed: String,
}

/// What a [`Pending`] entry waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The caller types the value again (`repeat`): query `pending-repeat=<hex>`.
    Repeat,
    /// The caller presses 1 to keep it (`confirm`): query `pending-confirm=<hex>`.
    Confirm,
}

impl Phase {
    /// `repeat`, `confirm`: the last part of the pending entry's context.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Repeat => "repeat",
            Phase::Confirm => "confirm",
        }
    }

    /// The query parameter that carries the entry (no field name has a `-`).
    fn parameter(self) -> &'static str {
        match self {
            Phase::Repeat => "pending-repeat",
            Phase::Confirm => "pending-confirm",
        }
    }
}

impl CallState {
    /// Reads the state from an action URL's query pairs. No `step` means the call has just
    /// come in (`Ok(None)`). Parameters the flow does not know are ignored.
    ///
    /// Fails with [`BadCallState`] when `step` names no field, `attempt` is out of
    /// range, or the fields before `step` are not each carried exactly once (and no later one).
    pub fn from_query<K: AsRef<str>, V: AsRef<str>>(
        flow: &Flow,
        query: &[(K, V)],
    ) -> Result<Option<CallState>, BadCallState> {
        let single = |name: &str| -> Result<Option<&str>, BadCallState> {
            let mut found = query
                .iter()
                .filter(|(k, _)| k.as_ref() == name)
                .map(|(_, v)| v.as_ref());
            match (found.next(), found.next()) {
                (None, _) => Ok(None),
                (Some(v), None) => Ok(Some(v)),
                (Some(_), Some(_)) => Err(BadCallState),
            }
        };
        let Some(step) = single("step")? else {
            return Ok(None);
        };
        let field = flow
            .fields
            .iter()
            .position(|f| f.name == step)
            .ok_or(BadCallState)?;
        let attempt = match single("attempt")? {
            Some(a) if a.len() == 1 && a.as_bytes()[0].is_ascii_digit() => a.as_bytes()[0] - b'0',
            Some(_) => return Err(BadCallState),
            None => 1,
        };
        if attempt == 0 || attempt > flow.attempts {
            return Err(BadCallState);
        }
        let mut sealed = Vec::with_capacity(field);
        for (i, f) in flow.fields.iter().enumerate() {
            match (single(&f.name)?, i < field) {
                (Some(v), true) => sealed.push((f.name.clone(), v.to_owned())),
                (None, false) => {}
                _ => return Err(BadCallState),
            }
        }
        let mut pending = None;
        for phase in [Phase::Repeat, Phase::Confirm] {
            if let Some(value) = single(phase.parameter())? {
                let replaced = pending.replace(Pending {
                    phase,
                    sealed: value.to_owned(),
                });
                if replaced.is_some() {
                    return Err(BadCallState);
                }
            }
        }
        Ok(Some(CallState {
            field,
            attempt,
            sealed,
            pending,
        }))
    }

    /// The query string that carries this state (hex and field names need no escaping).
    pub fn to_query(&self, flow: &Flow) -> String {
        let step = flow.field(self.field).map_or("", |f| f.name.as_str());
        let mut query = format!("step={step}&attempt={}", self.attempt);
        let pending = self
            .pending
            .iter()
            .map(|p| (p.phase.parameter(), &p.sealed));
        for (name, value) in self
            .sealed
            .iter()
            .map(|(n, v)| (n.as_str(), v))
            .chain(pending)
        {
            query.push('&');
            query.push_str(name);
            query.push('=');
            query.push_str(value);
        }
        query
    }
}

/// What to do next in a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Turn {
    /// Ask for a field, or for its entry again, or to confirm it.
    Ask {
        /// The state the action URL will carry.
        state: CallState,
        /// Whether the field is asked again, after a wrong try or an entry the caller did not
        /// confirm (a try used).
        retry: bool,
        /// What was wrong with the last try, when something was.
        mistake: Option<Mistake>,
        /// What the caller is asked.
        prompt: Prompt,
    },
    /// The gather is over: hand the sealed values on with this result.
    HandOff {
        /// How the gather ended.
        result: GatherResult,
        /// (field name, sealed hex) of every field gathered, in the flow's order; no `verify`
        /// field.
        sealed: Vec<(String, String)>,
        /// The `verify` fields whose code Twilio Verify approved, in the flow's order.
        verified: Vec<String>,
    },
}

/// What a [`Turn::Ask`] asks the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prompt {
    /// The field's own prompt (after the mistake's sentence, when there was one).
    Field,
    /// `messages.repeat`: the same value again.
    Repeat,
    /// `messages.confirm`, with these parts of the entry read back; 1 keeps it.
    Confirm(Readback),
}

/// A turn of the call, what happened in it, and the value it gathered.
pub struct Advanced {
    /// What to do next.
    pub turn: Turn,
    /// What happened, in order, for the flow's `status_callback` ([`crate::status`]); the
    /// engine adds `asked` and `handed-off`.
    pub events: Vec<Event>,
    /// The field whose value this turn added to the call, and the value (wiped on drop), for
    /// a lockout counter by that field.
    pub gathered: Option<(usize, Zeroizing<Vec<u8>>)>,
}

/// The gathered value is never printed: only its field.
impl core::fmt::Debug for Advanced {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Advanced")
            .field("turn", &self.turn)
            .field("events", &self.events)
            .field("gathered", &self.gathered.as_ref().map(|(field, _)| field))
            .finish()
    }
}

impl Advanced {
    fn turn(turn: Turn) -> Advanced {
        Advanced {
            turn,
            events: Vec::new(),
            gathered: None,
        }
    }
}

/// What Twilio Verify said of the code typed at a `verify` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeCheck {
    /// `status = approved`.
    Approved,
    /// Any other status, or no pending verification (expired, too many checks): a wrong code.
    Denied,
    /// Verify could not be asked (an error or a timeout).
    Unavailable,
}

/// What a carried `verify` field opens to: proof that its code was approved in this call.
const VERIFIED: &[u8] = b"verified";

/// The hand-off of what `carried` holds: sealed values apart from the `verify` markers.
pub fn hand_off(flow: &Flow, result: GatherResult, carried: Vec<(String, String)>) -> Turn {
    let (markers, sealed): (Vec<_>, Vec<_>) = carried.into_iter().partition(|(name, _)| {
        flow.fields
            .iter()
            .any(|f| f.name == *name && matches!(f.kind, Kind::Verify(_)))
    });
    Turn::HandOff {
        result,
        sealed,
        verified: markers.into_iter().map(|(name, _)| name).collect(),
    }
}

/// The code to check with Twilio Verify before [`advance`]: `digits` when `state` points at a
/// `verify` field and they have the shape of a code (4 to 10 digits).
pub fn code_to_check<'d>(
    flow: &Flow,
    state: Option<&CallState>,
    digits: Option<&'d str>,
) -> Option<&'d str> {
    let field = flow.field(state?.field)?;
    let digits = digits?;
    (matches!(field.kind, Kind::Verify(_)) && kinds::accepts(field.kind, digits, 0))
        .then_some(digits)
}

/// The channel to send a code on before answering `turn`: it first asks a `verify` field (a
/// retry asks again for the code already sent).
pub fn code_to_send(flow: &Flow, turn: &Turn) -> Option<Channel> {
    match turn {
        Turn::Ask {
            state,
            retry: false,
            ..
        } => match flow.field(state.field)?.kind {
            Kind::Verify(channel) => Some(channel),
            _ => None,
        },
        _ => None,
    }
}

/// Advances a call by one webhook.
///
/// `state` is what the action URL carried (`None` when the call has just come in), `digits`
/// what Twilio posted as `Digits`, and `now_unix` the time (seconds, UTC) that dates expiry
/// fields. Valid digits are sealed at once with the ring's current key and context
/// `"<CallSid>:<field>"`; everything already carried is checked to open for this call before
/// it is carried further, so a value that was tampered with or copied from another call stops
/// the call here.
///
/// An entry holding `*` ends the call (`cancelled`, with the fields before). A `repeat` field's
/// first valid entry waits, sealed, for the second, which must match it; a `confirm` field's
/// valid entry waits for the caller to press 1. Any other answer to either uses a try.
///
/// At a `verify` field, `check` is what Twilio Verify said of the [`code_to_check`]: approved
/// goes on, denied is a wrong try, unavailable (or no check) hands off `verify-unavailable`.
///
/// Fails with [`CallError::MissingCallSid`] for a `CallSid` that is empty, over 64 characters or
/// not alphanumeric, [`CallError::BadCallState`] for a carried value that does not open, and
/// [`CallError::SealFailed`] when a value cannot be sealed.
pub fn advance(
    flow: &Flow,
    ring: &KeyRing,
    call_sid: &str,
    state: Option<CallState>,
    digits: Option<&str>,
    now_unix: u64,
    check: Option<CodeCheck>,
) -> Result<Advanced, CallError> {
    if !is_call_sid(call_sid) {
        return Err(CallError::MissingCallSid);
    }
    let Some(mut state) = state else {
        let first = CallState {
            field: 0,
            attempt: 1,
            sealed: Vec::new(),
            pending: None,
        };
        return Ok(Advanced::turn(ask(first, false, None, Prompt::Field)));
    };
    // The state must carry exactly the fields before the one asked, in order.
    let earlier = flow
        .fields
        .get(..state.field)
        .ok_or(CallError::BadCallState)?;
    if state.sealed.len() != earlier.len()
        || state
            .sealed
            .iter()
            .zip(earlier)
            .any(|((name, _), f)| *name != f.name)
    {
        return Err(CallError::BadCallState);
    }
    let field = flow.field(state.field).ok_or(CallError::BadCallState)?;
    // A security code that follows a card: the index of that card, whose brand is read below.
    let follows = match field.kind {
        Kind::SecurityCode(CodeLength::OfCard(card)) => Some(card),
        _ => None,
    };
    let mut card_brand = None;
    for (i, ((name, value), f)) in state.sealed.iter().zip(earlier).enumerate() {
        let opened = open_carried(ring, call_sid, name, value)?;
        if matches!(f.kind, Kind::Verify(_)) && opened.as_slice() != VERIFIED {
            return Err(CallError::BadCallState);
        }
        if follows == Some(i) {
            card_brand = Some(brand_of(&opened));
        }
    }
    // What this field accepts in this call; a code that follows no earlier card is refused.
    let kind = match (follows, card_brand) {
        (Some(_), None) => return Err(CallError::BadCallState),
        (_, brand) => kinds::resolve(field.kind, brand.flatten()),
    };
    // A pending entry opens only at its own step of this call, and only for fields that wait.
    let pending = match state.pending.take() {
        Some(pending) => {
            let waits = match pending.phase {
                Phase::Repeat => field.repeat,
                Phase::Confirm => field.confirm,
            };
            if !waits {
                return Err(CallError::BadCallState);
            }
            let context = pending_context(call_sid, &field.name, pending.phase);
            let opened = open_bytes(&pending.sealed, ring, context.as_bytes())
                .map(Zeroizing::new)
                .map_err(|_| CallError::BadCallState)?;
            Some((pending.phase, opened))
        }
        None => None,
    };
    let digits = digits.unwrap_or("");
    let attempt = state.attempt;
    let event = |kind: EventKind| Event::new(kind, Some(field.name.clone()), attempt);
    if digits.contains('*') {
        let mut advanced = Advanced::turn(hand_off(flow, GatherResult::Cancelled, state.sealed));
        advanced.events.push(event(EventKind::Cancelled));
        return Ok(advanced);
    }
    let is_code = matches!(field.kind, Kind::Verify(_));
    let mut events = Vec::new();
    let entry: Zeroizing<Vec<u8>> = match pending {
        Some((Phase::Confirm, entry)) => {
            if digits != "1" {
                // Not kept: the field is asked again, with no mistake to name.
                return Ok(Advanced::turn(again(flow, state, None, is_code)));
            }
            let mut confirmed = event(EventKind::Confirmed);
            confirmed.masked = masked_of(field.kind, &entry);
            events.push(confirmed);
            return accept(flow, ring, call_sid, state, entry, events);
        }
        Some((Phase::Repeat, first)) => {
            let same = first.len() == digits.len() && bool::from(first.ct_eq(digits.as_bytes()));
            if !same {
                // Nothing typed the second time is a timeout; anything else a mismatch.
                let mistake = match digits.is_empty() {
                    true => Mistake::Timeout,
                    false => Mistake::Mismatch,
                };
                let mut advanced = Advanced::turn(again(flow, state, Some(mistake), false));
                advanced
                    .events
                    .push(event(EventKind::Invalid).with_error(mistake));
                return Ok(advanced);
            }
            first
        }
        None => {
            // A try is wrong when it is not a valid entry, or a code Verify did not approve.
            let checked = match (kinds::check(kind, digits, now_unix), is_code, check) {
                (Err(mistake), _, _) => Err(mistake),
                (Ok(()), true, Some(CodeCheck::Denied)) => Err(Mistake::Invalid),
                (Ok(()), false, _) | (Ok(()), true, Some(CodeCheck::Approved)) => Ok(()),
                // A well-formed code Verify could not check.
                (Ok(()), true, Some(CodeCheck::Unavailable) | None) => {
                    return Ok(Advanced::turn(hand_off(
                        flow,
                        GatherResult::VerifyUnavailable,
                        state.sealed,
                    )));
                }
            };
            if let Err(mistake) = checked {
                let mut advanced = Advanced::turn(again(flow, state, Some(mistake), is_code));
                advanced
                    .events
                    .push(event(EventKind::Invalid).with_error(mistake));
                return Ok(advanced);
            }
            let entry = Zeroizing::new(digits.as_bytes().to_vec());
            if field.repeat {
                state.pending = Some(Pending {
                    phase: Phase::Repeat,
                    sealed: seal_pending(ring, call_sid, &field.name, Phase::Repeat, &entry)?,
                });
                return Ok(Advanced::turn(ask(state, false, None, Prompt::Repeat)));
            }
            entry
        }
    };
    // A valid entry (typed twice when the field says so).
    let mut accepted = event(EventKind::Accepted);
    accepted.masked = masked_of(field.kind, &entry);
    events.push(accepted);
    if field.confirm {
        let readback = Readback::of(kind, core::str::from_utf8(&entry).unwrap_or(""));
        state.pending = Some(Pending {
            phase: Phase::Confirm,
            sealed: seal_pending(ring, call_sid, &field.name, Phase::Confirm, &entry)?,
        });
        let mut advanced = Advanced::turn(ask(state, false, None, Prompt::Confirm(readback)));
        advanced.events = events;
        return Ok(advanced);
    }
    accept(flow, ring, call_sid, state, entry, events)
}

/// A [`Turn::Ask`].
fn ask(state: CallState, retry: bool, mistake: Option<Mistake>, prompt: Prompt) -> Turn {
    Turn::Ask {
        state,
        retry,
        mistake,
        prompt,
    }
}

/// The field asked again after a wrong try (or an entry not confirmed), or the hand-off when
/// that was its last try.
fn again(flow: &Flow, mut state: CallState, mistake: Option<Mistake>, is_code: bool) -> Turn {
    state.pending = None;
    if state.attempt >= flow.attempts {
        let result = match is_code {
            true => GatherResult::VerifyFailed,
            false => GatherResult::TooManyAttempts,
        };
        return hand_off(flow, result, state.sealed);
    }
    state.attempt += 1;
    ask(state, true, mistake, Prompt::Field)
}

/// The field's value is kept: sealed into the call, then the next field or the hand-off.
fn accept(
    flow: &Flow,
    ring: &KeyRing,
    call_sid: &str,
    mut state: CallState,
    entry: Zeroizing<Vec<u8>>,
    events: Vec<Event>,
) -> Result<Advanced, CallError> {
    let field = flow.field(state.field).ok_or(CallError::BadCallState)?;
    let context = context(call_sid, &field.name);
    // The code itself is never sealed: an approved one is carried as the marker.
    let value = match field.kind {
        Kind::Verify(_) => VERIFIED,
        _ => entry.as_slice(),
    };
    let sealed_value =
        seal(value, ring.current(), context.as_bytes()).map_err(|_| CallError::SealFailed)?;
    state.sealed.push((field.name.clone(), sealed_value));
    let turn = if state.field + 1 < flow.fields.len() {
        let next = CallState {
            field: state.field + 1,
            attempt: 1,
            sealed: state.sealed,
            pending: None,
        };
        ask(next, false, None, Prompt::Field)
    } else {
        hand_off(flow, GatherResult::Success, state.sealed)
    };
    Ok(Advanced {
        turn,
        events,
        gathered: Some((state.field, entry)),
    })
}

/// The context a pending entry is sealed with: `"<CallSid>:<field>:<phase>"`.
fn pending_context(call_sid: &str, field: &str, phase: Phase) -> String {
    format!("{call_sid}:{field}:{}", phase.as_str())
}

fn seal_pending(
    ring: &KeyRing,
    call_sid: &str,
    field: &str,
    phase: Phase,
    entry: &[u8],
) -> Result<String, CallError> {
    let context = pending_context(call_sid, field, phase);
    seal(entry, ring.current(), context.as_bytes()).map_err(|_| CallError::SealFailed)
}

/// What an application may show of a `card-number` field's value; `None` for other kinds.
fn masked_of(kind: Kind, value: &[u8]) -> Option<Masked> {
    match kind {
        Kind::CardNumber(_) => Masked::of_card(value),
        _ => None,
    }
}

/// The masked form ([`Masked`]) of every `card-number` field among the carried values, by
/// field name, in the flow's order: each opened for this call and wiped. A value that does not
/// open is left out (the call was checked before it got here).
pub fn masked(
    flow: &Flow,
    ring: &KeyRing,
    call_sid: &str,
    sealed: &[(String, String)],
) -> Vec<(String, Masked)> {
    sealed
        .iter()
        .filter(|(name, _)| {
            flow.fields
                .iter()
                .any(|f| f.name == *name && matches!(f.kind, Kind::CardNumber(_)))
        })
        .filter_map(|(name, value)| {
            let opened = open_carried(ring, call_sid, name, value).ok()?;
            Some((name.clone(), Masked::of_card(&opened)?))
        })
        .collect()
}

/// The brand of a card number as opened from its sealed value (`None`: no brand in the table).
fn brand_of(opened: &[u8]) -> Option<kinds::Brand> {
    core::str::from_utf8(opened)
        .ok()
        .and_then(kinds::card_brand)
}

/// What the field `state` points at accepts in this call, as [`ask_twiml_as`] asks it: its kind,
/// with a `security-code` that follows a card resolved to that card's length
/// ([`kinds::resolve`]) by opening the card's carried value. Nothing but that value's brand is
/// kept; the digits are zeroized.
///
/// Fails with [`CallError::BadCallState`] when `state` points past the flow's fields, or the
/// card it follows is not carried or does not open for this call.
pub fn asked_kind(
    flow: &Flow,
    ring: &KeyRing,
    call_sid: &str,
    state: &CallState,
) -> Result<Kind, CallError> {
    let field = flow.field(state.field).ok_or(CallError::BadCallState)?;
    let Kind::SecurityCode(CodeLength::OfCard(card)) = field.kind else {
        return Ok(field.kind);
    };
    let card_field = flow.field(card).ok_or(CallError::BadCallState)?;
    let (name, value) = state
        .sealed
        .get(card)
        .filter(|(name, _)| *name == card_field.name && card < state.field)
        .ok_or(CallError::BadCallState)?;
    let opened = open_carried(ring, call_sid, name, value)?;
    Ok(kinds::resolve(field.kind, brand_of(&opened)))
}

/// A value the call carries, opened with its context `"<CallSid>:<field>"` into a buffer wiped on
/// drop; [`BadCallState`] when it does not open for this call (tampered, or from another call).
pub fn open_carried(
    ring: &KeyRing,
    call_sid: &str,
    field: &str,
    sealed: &str,
) -> Result<Zeroizing<Vec<u8>>, BadCallState> {
    let context = context(call_sid, field);
    open_bytes(sealed, ring, context.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| BadCallState)
}

/// Whether a `CallSid` can bind values and be logged: 1 to 64 ASCII letters and digits.
pub fn is_call_sid(sid: &str) -> bool {
    !sid.is_empty() && sid.len() <= 64 && sid.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The TwiML that asks for the field `state` points at, its prompt after `mistake`'s sentence
/// when there was one; `action_base` is the absolute URL of the flow's route (e.g.
/// `https://ivr.example.com/gather/login`). `None` when `state` points past the flow's fields.
///
/// The field is asked as its kind is written: a `security-code` that follows a card takes up
/// to 4 digits, or 3 ended by `#`. [`ask_twiml_as`] asks it as long as the card makes it.
pub fn ask_twiml(
    flow: &Flow,
    state: &CallState,
    mistake: Option<Mistake>,
    action_base: &str,
) -> Option<String> {
    let kind = flow.field(state.field)?.kind;
    ask_twiml_as(flow, state, mistake, &Prompt::Field, action_base, kind)
}

/// What a [`Turn::Ask`] asks, whatever carries it: the sentences in order (the mistake's, then
/// the prompt, the repeat or the confirmation), and how the entry is gathered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asking {
    /// Said in order before the caller types.
    pub sentences: Vec<String>,
    /// The most digits taken (`<Gather numDigits>`).
    pub num_digits: u8,
    /// Whether `#` ends the entry before `num_digits`.
    pub finish_on_pound: bool,
    /// Seconds to wait for the caller.
    pub timeout_secs: u8,
    /// The flow's `language`, for the sentences.
    pub language: Option<String>,
}

/// What a [`Turn::Ask`] asks, with the field asked as `kind`: what [`asked_kind`] says it
/// accepts in this call, so that the entry's length and the sentences fit a security code's
/// length. A confirmation takes one key. `None` when `state` points past the flow's fields.
pub fn asking(
    flow: &Flow,
    state: &CallState,
    mistake: Option<Mistake>,
    prompt: &Prompt,
    kind: Kind,
) -> Option<Asking> {
    let field = flow.field(state.field)?;
    let messages = &flow.messages;
    let (num_digits, finish_on_pound) = match prompt {
        Prompt::Confirm(_) => (1, false),
        Prompt::Field | Prompt::Repeat => kinds::gather_shape(kind),
    };
    let sorry = mistake.map(|mistake| {
        let own = match mistake {
            Mistake::Timeout => &messages.timeout,
            Mistake::Invalid => &messages.invalid,
            Mistake::CardType => &messages.card_type,
            Mistake::Expired => &messages.expired,
            Mistake::Mismatch => &messages.mismatch,
        };
        own.as_ref()
            .or(messages.retry.as_ref())
            .cloned()
            .unwrap_or_else(|| kinds::mistake_sentence(kind, mistake))
    });
    let asked = match prompt {
        Prompt::Field => field.prompt.clone(),
        Prompt::Repeat => messages
            .repeat
            .clone()
            .unwrap_or_else(|| crate::config::REPEAT.to_owned()),
        Prompt::Confirm(readback) => readback.fill(
            messages
                .confirm
                .as_deref()
                .unwrap_or(Readback::default_sentence(kind)),
        ),
    };
    Some(Asking {
        sentences: sorry.into_iter().chain([asked]).collect(),
        num_digits,
        finish_on_pound,
        timeout_secs: flow.timeout_secs,
        language: flow.language.clone(),
    })
}

/// The TwiML for a [`Turn::Ask`] ([`asking`]): a `<Gather>` whose action goes back to
/// `action_base` with the call state in its query.
pub fn ask_twiml_as(
    flow: &Flow,
    state: &CallState,
    mistake: Option<Mistake>,
    prompt: &Prompt,
    action_base: &str,
    kind: Kind,
) -> Option<String> {
    let asking = asking(flow, state, mistake, prompt, kind)?;
    let action = format!("{action_base}?{}", state.to_query(flow));
    let gather = Gather {
        action: &action,
        num_digits: asking.num_digits,
        finish_on_pound: asking.finish_on_pound,
        timeout_secs: asking.timeout_secs,
    };
    let prompts: Vec<&str> = asking.sentences.iter().map(String::as_str).collect();
    Some(
        Response::new()
            .gather(&gather, &speech(flow), &prompts)
            .finish(),
    )
}

/// How the flow's sentences are spoken.
pub fn speech(flow: &Flow) -> Speech<'_> {
    Speech {
        voice: flow.voice.as_deref(),
        language: flow.language.as_deref(),
    }
}

/// `<Say>message</Say><Hangup/>`, spoken as `speech` says.
pub fn goodbye_twiml(speech: &Speech<'_>, message: &str) -> String {
    Response::new().say(speech, message).hangup().finish()
}
