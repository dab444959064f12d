//! What each field kind accepts, and how `<Gather>` asks for it. One small check per kind.

use crate::config::Kind;

/// The shortest and longest one-time code Twilio Verify sends (a service's code length).
pub const CODE_MIN: usize = 4;
/// See [`CODE_MIN`].
pub const CODE_MAX: usize = 10;

/// The digits a caller typed are a valid entry of `kind`. `now_unix` (seconds, UTC) dates
/// [`Kind::Expiry`].
pub fn accepts(kind: Kind, digits: &str, now_unix: u64) -> bool {
    let len = digits.len();
    if len == 0 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    match kind {
        Kind::Digits(length) => len == usize::from(length),
        Kind::DigitRange { min, max } => (usize::from(min)..=usize::from(max)).contains(&len),
        Kind::CardNumber => (12..=19).contains(&len) && luhn(digits),
        Kind::Expiry => len == 4 && expiry_valid(digits, now_unix),
        Kind::Verify(_) => (CODE_MIN..=CODE_MAX).contains(&len),
    }
}

/// How `<Gather>` asks for a kind: `numDigits`, and whether `#` ends the entry.
pub fn gather_shape(kind: Kind) -> (u8, bool) {
    match kind {
        Kind::Digits(length) => (length, false),
        Kind::DigitRange { max, .. } => (max, true),
        Kind::CardNumber => (19, true),
        Kind::Expiry => (4, false),
        Kind::Verify(_) => (CODE_MAX as u8, true),
    }
}

/// What the caller hears before a field of this kind is asked again, unless the flow says.
pub fn retry_sentence(kind: Kind) -> String {
    match kind {
        Kind::Digits(1) => "Sorry, that was not 1 digit.".to_owned(),
        Kind::Digits(n) => format!("Sorry, that was not {n} digits."),
        Kind::DigitRange { min, max } => {
            format!("Sorry, that was not {min} to {max} digits. Press pound when you are done.")
        }
        Kind::CardNumber => {
            "Sorry, that was not a valid card number. Press pound when you are done.".to_owned()
        }
        Kind::Expiry => "Sorry, that was not a valid expiry date.".to_owned(),
        Kind::Verify(_) => {
            "Sorry, that code was not right. Enter the code we sent you, then press pound."
                .to_owned()
        }
    }
}

/// The Luhn check (ISO/IEC 7812-1): from the right, every second digit doubled.
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let d = u32::from(b - b'0');
        sum += if i % 2 == 1 {
            let doubled = 2 * d;
            if doubled > 9 {
                doubled - 9
            } else {
                doubled
            }
        } else {
            d
        };
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// `MMYY`: a month from 01 to 12, in 2000-2099, not before the current month (UTC). A card is
/// valid to the end of its expiry month.
pub fn expiry_valid(mmyy: &str, now_unix: u64) -> bool {
    let b = mmyy.as_bytes();
    if b.len() != 4 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let month = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
    let year = 2000 + u32::from(b[2] - b'0') * 10 + u32::from(b[3] - b'0');
    let (now_year, now_month) = year_month(now_unix);
    (1..=12).contains(&month) && (year, month) >= (now_year, now_month)
}

/// The UTC year and month (1-12) of a Unix time, by the days-to-civil algorithm of Howard
/// Hinnant's "chrono-Compatible Low-Level Date Algorithms".
pub fn year_month(now_unix: u64) -> (u32, u32) {
    let days = now_unix / 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (
        u32::try_from(year).unwrap_or(u32::MAX),
        u32::try_from(month).unwrap_or(1),
    )
}
