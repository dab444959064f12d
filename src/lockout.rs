//! Lockout across calls: who the caller is, which counter is theirs, and how failures count.
//!
//! Each flow with `limits` keeps one counter per caller, in a Durable Object named by a keyed
//! hash of the flow and the caller's number ([`counter_name`]), so neither the object's name
//! nor its storage holds a phone number. The counter keeps the times of failed tries inside the
//! window. A call that enters the flow takes a try ([`Counter::begin`]): refused when the
//! window already holds `failures` of them, otherwise recorded at once, so parallel calls from
//! one number cannot each start with a clean slate. A call that ends well gives its try back
//! ([`Counter::succeed`]); one that ends `too-many-attempts`, fails its one-time code, is
//! rejected by the application, or is abandoned keeps it as a failure.
//!
//! The counting here is pure and tested on the host; the Durable Object only stores the times.

use hmac::{Hmac, Mac};
use sha2::Sha256;

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

/// The name of the counter of `caller` in `flow`: lowercase hex of
/// HMAC-SHA256(`key`, `"gather-seal lockout v1" ‖ 0 ‖ flow ‖ 0 ‖ caller`). `None` as the
/// caller is the one bucket all withheld callers share (`anonymous = "shared"`), which no
/// number can hash to.
pub fn counter_name(key: &[u8], flow: &str, caller: Option<&str>) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"gather-seal lockout v1\0");
    mac.update(flow.as_bytes());
    match caller {
        Some(number) => {
            mac.update(b"\0");
            mac.update(number.as_bytes());
        }
        None => mac.update(b"\x01withheld"),
    }
    hex::encode(mac.finalize().into_bytes())
}

/// A flow's `limits`: at most `failures` failed tries per caller inside `window_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Failed tries that lock a caller out, 1 to 100.
    pub failures: u32,
    /// How long a failed try counts, in milliseconds.
    pub window_ms: u64,
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
