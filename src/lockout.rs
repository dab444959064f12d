//! Lockout across calls: who the caller is, which counter is theirs, and how failures count.
//!
//! Each flow with `limits` keeps counters in Durable Objects named by a keyed hash
//! ([`counter_name`]), so neither an object's name nor its storage holds a phone number or a
//! gathered value. What is counted is the flow's `limits.by` ([`CountBy`]): the caller (one
//! counter per number) and/or a gathered field (one counter per value of that field, an
//! account or a card), so that spoofing caller IDs does not multiply the guesses at one
//! account.
//!
//! A counter keeps the times of failed tries inside the window. A call takes a try from its
//! caller's counter as it comes in, and from a field's counter as soon as that field is
//! gathered ([`Counter::begin`]): refused when the window already holds `failures` of them,
//! otherwise recorded at once, so parallel calls cannot each start with a clean slate. A call
//! gives its tries back ([`Counter::succeed`]) only when [`gives_back`] says so: it ended
//! `success` and the application said `X-Gather-Seal-Result: accepted` (or, for a redirect
//! flow, which cannot hear its application, it ended `success`). Everything else keeps them as
//! failures: too-many-attempts, a failed code, a rejection, a missing answer header, an
//! abandoned call.
//!
//! The object holding a call's first counter also remembers, for [`HAND_OFF_MEMORY_MS`], that
//! the call's flow handed off ([`HandOffMark`]), so a replayed last-step webhook cannot hand off
//! a second time.
//!
//! The counting here is pure and tested on the host; the Durable Object only stores it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{Anonymous, Flow};
pub use crate::config::{CountBy, Limits};
use crate::flow::{open_carried, GatherResult};
use crate::outcome::Outcome;
use crate::KeyRing;

/// What Twilio sends as `From` when the caller's number is withheld or unknown, besides the
/// words themselves: the keypad spellings of ANONYMOUS, RESTRICTED, BLOCKED, UNKNOWN and
/// UNAVAIL that some carriers pass on.
const WITHHELD_NUMBERS: [&str; 5] = [
    "+266696687",
    "+7378742833",
    "+2562533",
    "+86282452253",
    "+8656696",
];
const WITHHELD_WORDS: [&str; 7] = [
    "anonymous",
    "restricted",
    "blocked",
    "unknown",
    "unavailable",
    "private",
    "withheld",
];

/// Who is calling, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller<'a> {
    /// A number (or client or SIP identity) to count by, trimmed.
    Known(&'a str),
    /// The number is withheld or unknown.
    Withheld,
}

/// Reads Twilio's `From`: empty, one of the words carriers use for a withheld number (any
/// case), or one of their keypad spellings is [`Caller::Withheld`].
pub fn caller(from: &str) -> Caller<'_> {
    let from = from.trim();
    let withheld = from.is_empty()
        || WITHHELD_NUMBERS.contains(&from)
        || WITHHELD_WORDS.iter().any(|w| from.eq_ignore_ascii_case(w));
    if withheld {
        Caller::Withheld
    } else {
        Caller::Known(from)
    }
}

/// Whose tries a counter holds, for [`counter_name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A caller's number, or `None` for the one bucket all withheld callers share
    /// (`anonymous = "shared"`).
    Caller(Option<&'a str>),
    /// The value gathered at a field (`limits.by` names the field).
    Field {
        /// The field's name.
        name: &'a str,
        /// What the caller typed there.
        value: &'a [u8],
    },
}

/// The name of the counter of `subject` in `flow`: lowercase hex of HMAC-SHA256(`key`,
/// `"gather-seal lockout v1" ‖ 0 ‖ flow ‖ …`), followed by `0 ‖ number` for a caller,
/// `1 ‖ "withheld"` for the shared bucket of withheld callers, and `2 ‖ field ‖ 0 ‖ value` for a
/// field's value. The three can never hash alike, and a caller's name is what it was before
/// fields could be counted.
pub fn counter_name(key: &[u8], flow: &str, subject: Subject<'_>) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"gather-seal lockout v1\0");
    mac.update(flow.as_bytes());
    match subject {
        Subject::Caller(Some(number)) => {
            mac.update(b"\0");
            mac.update(number.as_bytes());
        }
        Subject::Caller(None) => mac.update(b"\x01withheld"),
        Subject::Field { name, value } => {
            mac.update(b"\x02");
            mac.update(name.as_bytes());
            mac.update(b"\0");
            mac.update(value);
        }
    }
    hex::encode(mac.finalize().into_bytes())
}

/// The caller's counter in a flow, as a call comes in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerCounter {
    /// The flow has no `limits`, or does not count by caller.
    NotCounted,
    /// The number is withheld and the flow refuses withheld callers (`anonymous = "refuse"`).
    Refused,
    /// The counter's name.
    Named(String),
}

/// The counter of the caller `from` in `flow` ([`caller`] reads it), named with `key`.
pub fn caller_counter(key: &[u8], flow: &Flow, from: &str) -> CallerCounter {
    if flow.limits.is_none() || !flow.count_by.contains(&CountBy::Caller) {
        return CallerCounter::NotCounted;
    }
    let number = match caller(from) {
        Caller::Known(number) => Some(number),
        Caller::Withheld if flow.anonymous == Anonymous::Shared => None,
        Caller::Withheld => return CallerCounter::Refused,
    };
    CallerCounter::Named(counter_name(key, &flow.name, Subject::Caller(number)))
}

/// The counter of the value `typed` at the field `field` of `flow`, when the flow counts by
/// that field.
pub fn field_counter(key: &[u8], flow: &Flow, field: &str, typed: &[u8]) -> Option<String> {
    counts_field(flow, field).then(|| {
        let subject = Subject::Field {
            name: field,
            value: typed,
        };
        counter_name(key, &flow.name, subject)
    })
}

/// Whether `flow` has `limits` counted by the field `field`.
fn counts_field(flow: &Flow, field: &str) -> bool {
    flow.limits.is_some()
        && flow
            .count_by
            .iter()
            .any(|by| matches!(by, CountBy::Field(name) if name == field))
}

/// Every counter a call that hands off `sealed` (field name, sealed hex) took a try from, in
/// the order it took them: its caller's, then each counted field's (opened from `sealed` with
/// the call's context, and wiped once named). A value that does not open names no counter; the
/// core opened every carried value before, so that happens only to values it never carried.
pub fn call_counters(
    key: &[u8],
    flow: &Flow,
    ring: &KeyRing,
    call_sid: &str,
    from: &str,
    sealed: &[(String, String)],
) -> Vec<String> {
    let mut names = Vec::new();
    if let CallerCounter::Named(name) = caller_counter(key, flow, from) {
        names.push(name);
    }
    // Only the values a counter is named by are opened.
    for (field, value) in sealed.iter().filter(|(field, _)| counts_field(flow, field)) {
        let Ok(typed) = open_carried(ring, call_sid, field, value) else {
            continue;
        };
        names.extend(field_counter(key, flow, field, &typed));
    }
    names
}

/// What an `action` application said of the values in its answer's
/// `X-Gather-Seal-Result` header ([`crate::handoff::RESULT_HEADER`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppVerdict {
    /// `accepted` (any case): the values were right.
    Accepted,
    /// `rejected` (any case): the values were wrong.
    Rejected,
    /// No header, or another word: nothing was confirmed, so the try stays a failure.
    Unconfirmed,
}

impl AppVerdict {
    /// Reads the header's value.
    pub fn from_header(header: Option<&str>) -> AppVerdict {
        match header.map(str::trim) {
            Some(h) if h.eq_ignore_ascii_case("accepted") => AppVerdict::Accepted,
            Some(h) if h.eq_ignore_ascii_case("rejected") => AppVerdict::Rejected,
            _ => AppVerdict::Unconfirmed,
        }
    }

    /// The header's value: `accepted`, `rejected`; `None` for no header.
    pub fn as_header(self) -> Option<&'static str> {
        match self {
            AppVerdict::Accepted => Some("accepted"),
            AppVerdict::Rejected => Some("rejected"),
            AppVerdict::Unconfirmed => None,
        }
    }
}

/// Whether a call that handed off with `result` gives its tries back. `verdict` is what the
/// `action` application answered; `None` for a `redirect` flow, whose application the worker
/// cannot hear (there a `success` hand-off gives the tries back).
pub fn gives_back(result: GatherResult, verdict: Option<AppVerdict>) -> bool {
    result == GatherResult::Success && matches!(verdict, None | Some(AppVerdict::Accepted))
}

/// What a counter says to a call entering the flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The call may go on; its try is recorded as a failure until it succeeds.
    Open,
    /// The caller has `failures` failed tries inside the window: ask nothing.
    Locked,
}

/// The times (Unix milliseconds) of the failed tries a counter holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    /// Oldest first, as [`Counter::begin`] appends them (and as storage must give them back).
    pub times: Vec<u64>,
}

impl Counter {
    /// Forgets tries older than the window, then takes a try at `now_ms` unless the caller is
    /// locked out. A try at exactly `window_ms` old has expired.
    pub fn begin(&mut self, limits: Limits, now_ms: u64) -> Verdict {
        self.expire(limits, now_ms);
        if self.times.len() >= limits.failures as usize {
            return Verdict::Locked;
        }
        self.times.push(now_ms);
        Verdict::Open
    }

    /// A call that began ended well: its try, the newest, is given back.
    pub fn succeed(&mut self, limits: Limits, now_ms: u64) {
        self.expire(limits, now_ms);
        self.times.pop();
    }

    /// Drops the tries that have left the window, and any from the future (a clock set back
    /// must not lock a caller out for longer than the window).
    fn expire(&mut self, limits: Limits, now_ms: u64) {
        self.times
            .retain(|&t| t <= now_ms && now_ms - t < limits.window_ms);
    }
}

/// The log's outcome for a `success` hand-off of a flow with `limits`, given what the
/// application said (`None` for a redirect flow) and `delivery`, how the hand-off went:
/// `rejected`, or `unconfirmed` when an `action` application's TwiML came back without an
/// `X-Gather-Seal-Result` header (so an operator sees the missing header in the first test call).
/// An unusable answer keeps its own outcome; every other hand-off keeps `delivery`.
pub fn hand_off_outcome(
    result: GatherResult,
    verdict: Option<AppVerdict>,
    delivery: Outcome,
) -> Outcome {
    let answered = delivery.is_answered_hand_off();
    match (result, verdict) {
        (GatherResult::Success, Some(AppVerdict::Rejected)) if answered => Outcome::Rejected,
        (GatherResult::Success, Some(AppVerdict::Unconfirmed)) if answered => Outcome::Unconfirmed,
        _ => delivery,
    }
}

/// How long a counter's object remembers that a call's flow handed off: a week, the longest
/// window. A replay of a last-step webhook later than that is not recognised.
pub const HAND_OFF_MEMORY_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// What a counter's object says when a call's flow is about to hand off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandOffMark {
    /// The first hand-off of this call in this flow: go on.
    First,
    /// This call's flow has handed off before: a replayed webhook. Hand nothing off.
    Replayed,
}
