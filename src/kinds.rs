//! What each field kind accepts, and how `<Gather>` asks for it. One small check per kind.
//!
//! Card brands come from a small table of issuer prefixes (IIN ranges) and lengths,
//! [`card_brand`]; a security code's length follows the brand of the card it belongs to,
//! [`security_code_length`]; a US bank routing number passes the ABA checksum,
//! [`aba_checksum`].

use crate::config::{CodeLength, Kind};

/// The shortest and longest one-time code Twilio Verify sends (a service's code length).
pub const CODE_MIN: usize = 4;
/// See [`CODE_MIN`].
pub const CODE_MAX: usize = 10;

/// What was wrong with an entry, as the caller is told ([`crate::config::Messages`]) and a
/// status event says (`error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mistake {
    /// Nothing was typed.
    Timeout,
    /// The wrong length or format, a failed check (Luhn, ABA), or a code that was not right.
    Invalid,
    /// A valid card number of a brand the field does not take.
    CardType,
    /// An expiry date in the past.
    Expired,
    /// A `repeat` field's two entries differ.
    Mismatch,
}

impl Mistake {
    /// `timeout`, `invalid`, `card-type`, `expired`, `mismatch`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mistake::Timeout => "timeout",
            Mistake::Invalid => "invalid",
            Mistake::CardType => "card-type",
            Mistake::Expired => "expired",
            Mistake::Mismatch => "mismatch",
        }
    }
}

/// The digits a caller typed are a valid entry of `kind`. `now_unix` (seconds, UTC) dates
/// [`Kind::Expiry`].
pub fn accepts(kind: Kind, digits: &str, now_unix: u64) -> bool {
    check(kind, digits, now_unix).is_ok()
}

/// Whether the digits a caller typed are a valid entry of `kind`, and if not, what was wrong:
/// nothing typed, a card of a brand not taken, an expiry date in the past, or else invalid.
pub fn check(kind: Kind, digits: &str, now_unix: u64) -> Result<(), Mistake> {
    let len = digits.len();
    if len == 0 {
        return Err(Mistake::Timeout);
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Mistake::Invalid);
    }
    let valid = match kind {
        Kind::Digits(length) => len == usize::from(length),
        Kind::DigitRange { min, max } => (usize::from(min)..=usize::from(max)).contains(&len),
        Kind::CardNumber(types) => {
            if !((12..=19).contains(&len) && luhn(digits)) {
                return Err(Mistake::Invalid);
            }
            return match types.allows(card_brand(digits)) {
                true => Ok(()),
                false => Err(Mistake::CardType),
            };
        }
        Kind::SecurityCode(CodeLength::Fixed(length)) => len == usize::from(length),
        // Unresolved, only the lengths any card can have: a call resolves it first ([`resolve`]).
        Kind::SecurityCode(CodeLength::OfCard(_)) => len == 3 || len == 4,
        Kind::RoutingNumber => aba_checksum(digits),
        Kind::Expiry => {
            if len != 4 || !(1..=12).contains(&expiry_month(digits)) {
                return Err(Mistake::Invalid);
            }
            return match expiry_valid(digits, now_unix) {
                true => Ok(()),
                false => Err(Mistake::Expired),
            };
        }
        Kind::Verify(_) => (CODE_MIN..=CODE_MAX).contains(&len),
    };
    valid.then_some(()).ok_or(Mistake::Invalid)
}

/// What the caller hears before a field of this kind is asked again after `mistake`, unless
/// the flow says: the kind's own sentence, but for a card of a brand not taken and two
/// entries that differ.
pub fn mistake_sentence(kind: Kind, mistake: Mistake) -> String {
    match mistake {
        Mistake::CardType => "Sorry, we do not accept that card.".to_owned(),
        Mistake::Mismatch => "Sorry, the two entries did not match.".to_owned(),
        Mistake::Timeout | Mistake::Invalid | Mistake::Expired => retry_sentence(kind),
    }
}

/// What an application may show of a card number: its last four digits and its brand (where
/// the table knows it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Masked {
    /// The last four digits.
    pub last4: String,
    /// The brand, `None` for a card of no brand in the table.
    pub brand: Option<Brand>,
}

impl Masked {
    /// The masked form of a card number's digits; `None` for text that is not 12 to 19 ASCII
    /// digits (never a card this crate accepted).
    pub fn of_card(digits: &[u8]) -> Option<Masked> {
        let digits = core::str::from_utf8(digits).ok()?;
        if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Masked {
            last4: digits[digits.len() - 4..].to_owned(),
            brand: card_brand(digits),
        })
    }
}

/// The parts of an entry a `confirm` field reads back to the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readback {
    /// A card or routing number: its last four digits, spaced to be spoken one by one
    /// (`4 2 4 2`).
    Last4(String),
    /// An expiry date: the month (`3`) and the year (`2029`).
    Date {
        /// 1 to 12, without a leading zero.
        month: String,
        /// Four digits.
        year: String,
    },
}

impl Readback {
    /// What a `confirm` field of `kind` reads back of `digits` (a valid entry of it).
    pub fn of(kind: Kind, digits: &str) -> Readback {
        match kind {
            Kind::Expiry if digits.len() == 4 => Readback::Date {
                month: expiry_month(digits).to_string(),
                year: format!("20{}", digits.get(2..).unwrap_or("")),
            },
            _ => {
                let last4 = digits.get(digits.len().saturating_sub(4)..).unwrap_or("");
                let spaced: Vec<String> = last4.chars().map(String::from).collect();
                Readback::Last4(spaced.join(" "))
            }
        }
    }

    /// `sentence` with `{last4}`, `{month}` and `{year}` replaced, in one pass (a value is
    /// never read as a placeholder).
    pub fn fill(&self, sentence: &str) -> String {
        let (last4, month, year) = match self {
            Readback::Last4(last4) => (last4.as_str(), "", ""),
            Readback::Date { month, year } => ("", month.as_str(), year.as_str()),
        };
        let mut out = String::with_capacity(sentence.len() + 8);
        let mut rest = sentence;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open..];
            let (value, len) = [("{last4}", last4), ("{month}", month), ("{year}", year)]
                .into_iter()
                .find(|(name, _)| after.starts_with(name))
                .map_or(("{", 1), |(name, value)| (value, name.len()));
            out.push_str(value);
            rest = &after[len..];
        }
        out.push_str(rest);
        out
    }

    /// The sentence a `confirm` field of `kind` says when the flow does not.
    pub fn default_sentence(kind: Kind) -> &'static str {
        match kind {
            Kind::Expiry => {
                "You entered an expiry date of month {month}, {year}. Press 1 to confirm, or any other key to enter it again."
            }
            Kind::RoutingNumber => {
                "You entered a routing number ending in {last4}. Press 1 to confirm, or any other key to enter it again."
            }
            _ => {
                "You entered a card ending in {last4}. Press 1 to confirm, or any other key to enter it again."
            }
        }
    }
}

/// `kind` as a call asks it once the brand of the card it follows is known: a security code
/// that follows a card becomes as long as that card's brand makes it ([`security_code_length`];
/// `card` is `None` for a card of no brand in the table). Any other kind is itself.
pub fn resolve(kind: Kind, card: Option<Brand>) -> Kind {
    match kind {
        Kind::SecurityCode(CodeLength::OfCard(_)) => {
            Kind::SecurityCode(CodeLength::Fixed(security_code_length(card)))
        }
        other => other,
    }
}

/// How `<Gather>` asks for a kind: `numDigits`, and whether `#` ends the entry.
pub fn gather_shape(kind: Kind) -> (u8, bool) {
    match kind {
        Kind::Digits(length) => (length, false),
        Kind::DigitRange { max, .. } => (max, true),
        Kind::CardNumber(_) => (19, true),
        Kind::SecurityCode(CodeLength::Fixed(length)) => (length, false),
        // Not yet resolved ([`resolve`]): up to 4 digits, or 3 ended by `#`.
        Kind::SecurityCode(CodeLength::OfCard(_)) => (4, true),
        Kind::RoutingNumber => (9, false),
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
        Kind::CardNumber(_) => {
            "Sorry, that was not a valid card number. Press pound when you are done.".to_owned()
        }
        Kind::SecurityCode(CodeLength::Fixed(n)) => {
            format!("Sorry, that was not a {n}-digit security code.")
        }
        Kind::SecurityCode(CodeLength::OfCard(_)) => {
            "Sorry, that was not a valid security code. Press pound when you are done.".to_owned()
        }
        Kind::RoutingNumber => "Sorry, that was not a valid routing number.".to_owned(),
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

/// The ABA routing number checksum: 9 ASCII digits with
/// 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) a multiple of 10 (the American Bankers
/// Association's routing number check digit).
pub fn aba_checksum(digits: &str) -> bool {
    let b = digits.as_bytes();
    if b.len() != 9 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b
        .iter()
        .zip([3, 7, 1, 3, 7, 1, 3, 7, 1])
        .map(|(d, weight)| weight * u32::from(d - b'0'))
        .sum();
    sum.is_multiple_of(10)
}

/// A card network, as `card_types` names it. More may come as the table grows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Brand {
    /// `visa`
    Visa,
    /// `mastercard`
    Mastercard,
    /// `amex`: American Express.
    Amex,
    /// `discover`
    Discover,
    /// `diners-club`: Diners Club International.
    DinersClub,
    /// `jcb`
    Jcb,
    /// `maestro`
    Maestro,
    /// `unionpay`: China UnionPay.
    UnionPay,
}

impl Brand {
    /// Every brand, in the order the README lists them.
    pub const ALL: [Brand; 8] = [
        Brand::Visa,
        Brand::Mastercard,
        Brand::Amex,
        Brand::Discover,
        Brand::DinersClub,
        Brand::Jcb,
        Brand::Maestro,
        Brand::UnionPay,
    ];

    /// Its name in `card_types`: `visa`, `mastercard`, `amex`, `discover`, `diners-club`,
    /// `jcb`, `maestro`, `unionpay`.
    pub fn as_str(self) -> &'static str {
        match self {
            Brand::Visa => "visa",
            Brand::Mastercard => "mastercard",
            Brand::Amex => "amex",
            Brand::Discover => "discover",
            Brand::DinersClub => "diners-club",
            Brand::Jcb => "jcb",
            Brand::Maestro => "maestro",
            Brand::UnionPay => "unionpay",
        }
    }

    /// The brand of that name ([`Brand::as_str`]), exactly as written.
    pub fn from_name(name: &str) -> Option<Brand> {
        Brand::ALL.into_iter().find(|b| b.as_str() == name)
    }

    fn bit(self) -> u8 {
        match self {
            Brand::Visa => 1,
            Brand::Mastercard => 1 << 1,
            Brand::Amex => 1 << 2,
            Brand::Discover => 1 << 3,
            Brand::DinersClub => 1 << 4,
            Brand::Jcb => 1 << 5,
            Brand::Maestro => 1 << 6,
            Brand::UnionPay => 1 << 7,
        }
    }
}

/// The brands a `card-number` field takes (`card_types`): [`CardTypes::ANY`] unless listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardTypes(Option<u8>);

impl CardTypes {
    /// Every Luhn-valid number, of a brand in the table or not (no `card_types`).
    pub const ANY: CardTypes = CardTypes(None);

    /// Only numbers of these brands (a number of no known brand is refused).
    pub fn only(brands: &[Brand]) -> CardTypes {
        CardTypes(Some(brands.iter().fold(0, |set, b| set | b.bit())))
    }

    /// Whether a number of this brand (`None`: of no brand in the table) is taken.
    pub fn allows(self, brand: Option<Brand>) -> bool {
        match (self.0, brand) {
            (None, _) => true,
            (Some(set), Some(brand)) => set & brand.bit() != 0,
            (Some(_), None) => false,
        }
    }

    /// The brands listed, in [`Brand::ALL`]'s order; `None` for [`CardTypes::ANY`].
    pub fn listed(self) -> Option<impl Iterator<Item = Brand>> {
        let set = self.0?;
        Some(Brand::ALL.into_iter().filter(move |b| set & b.bit() != 0))
    }
}

/// One row of the IIN table: numbers whose first digits, read as a number of as many digits as
/// `low`, lie from `low` to `high`, and whose length is in `lengths`, are of `brand`.
struct IinRange {
    brand: Brand,
    low: u32,
    high: u32,
    lengths: &'static [u8],
}

const FOURTEEN_UP: &[u8] = &[14, 15, 16, 17, 18, 19];
const SIXTEEN_UP: &[u8] = &[16, 17, 18, 19];
const TWELVE_UP: &[u8] = &[12, 13, 14, 15, 16, 17, 18, 19];

const fn iin(brand: Brand, low: u32, high: u32, lengths: &'static [u8]) -> IinRange {
    IinRange {
        brand,
        low,
        high,
        lengths,
    }
}

/// Issuer prefixes and lengths by brand, from the "Issuer identification number (IIN)" table of
/// Wikipedia's "Payment card number" article (en.wikipedia.org/wiki/Payment_card_number, as of
/// 2025), which collects the networks' published ranges (Mastercard's 2-series 2221-2720 from
/// Mastercard's 2016 announcement; Discover's, Diners Club's and JCB's from Discover Global
/// Network's IIN ranges). Choices where that table overlaps or is wider than this list:
/// Discover's co-branded 622126-622925 is left to UnionPay (all of 62), as card networks
/// route it; Diners Club's US & Canada 54-55 are Mastercard numbers; RuPay, Dankort, Mir,
/// Verve and other networks are not listed, so their numbers have no brand.
const IIN_TABLE: [IinRange; 23] = [
    iin(Brand::Amex, 34, 34, &[15]),
    iin(Brand::Amex, 37, 37, &[15]),
    iin(Brand::DinersClub, 300, 305, FOURTEEN_UP),
    iin(Brand::DinersClub, 3095, 3095, FOURTEEN_UP),
    iin(Brand::DinersClub, 36, 36, FOURTEEN_UP),
    iin(Brand::DinersClub, 38, 39, FOURTEEN_UP),
    iin(Brand::Discover, 6011, 6011, SIXTEEN_UP),
    iin(Brand::Discover, 644, 649, SIXTEEN_UP),
    iin(Brand::Discover, 65, 65, SIXTEEN_UP),
    iin(Brand::Jcb, 3528, 3589, SIXTEEN_UP),
    iin(Brand::Maestro, 5018, 5018, TWELVE_UP),
    iin(Brand::Maestro, 5020, 5020, TWELVE_UP),
    iin(Brand::Maestro, 5038, 5038, TWELVE_UP),
    iin(Brand::Maestro, 5893, 5893, TWELVE_UP),
    iin(Brand::Maestro, 6304, 6304, TWELVE_UP),
    iin(Brand::Maestro, 6759, 6759, TWELVE_UP),
    iin(Brand::Maestro, 6761, 6763, TWELVE_UP),
    iin(Brand::Maestro, 676770, 676770, TWELVE_UP),
    iin(Brand::Maestro, 676774, 676774, TWELVE_UP),
    iin(Brand::Mastercard, 2221, 2720, &[16]),
    iin(Brand::Mastercard, 51, 55, &[16]),
    iin(Brand::UnionPay, 62, 62, SIXTEEN_UP),
    iin(Brand::Visa, 4, 4, &[13, 16, 19]),
];

/// The brand of a card number by its issuer prefix and length (from the IIN table in this
/// module, whose source its comment names): `None` for a number of no brand in the table, of a length its brand does not issue,
/// or that is not 12 to 19 ASCII digits. The Luhn check is [`luhn`]'s, not this.
///
/// ```
/// use gather_seal::kinds::{card_brand, Brand};
/// assert_eq!(card_brand("378282246310005"), Some(Brand::Amex));
/// assert_eq!(card_brand("4242424242424242").map(Brand::as_str), Some("visa"));
/// assert_eq!(card_brand("9999999999999995"), None);
/// ```
pub fn card_brand(digits: &str) -> Option<Brand> {
    let b = digits.as_bytes();
    if !(12..=19).contains(&b.len()) || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let length = u8::try_from(b.len()).ok()?;
    IIN_TABLE.iter().find_map(|row| {
        let width = row.low.checked_ilog10()? as usize + 1;
        let prefix = b
            .get(..width)?
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        let in_range = (row.low..=row.high).contains(&prefix);
        (in_range && row.lengths.contains(&length)).then_some(row.brand)
    })
}

/// How many digits a card's security code has: 4 for American Express (its CID), 3 for every
/// other brand and for a card of no known brand (CVV2, CVC2).
pub fn security_code_length(card: Option<Brand>) -> u8 {
    match card {
        Some(Brand::Amex) => 4,
        _ => 3,
    }
}

/// `MMYY`: a month from 01 to 12, in 2000-2099, not before the current month (UTC). A card is
/// valid to the end of its expiry month.
pub fn expiry_valid(mmyy: &str, now_unix: u64) -> bool {
    let b = mmyy.as_bytes();
    if b.len() != 4 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let month = expiry_month(mmyy);
    let year = 2000 + u32::from(b[2] - b'0') * 10 + u32::from(b[3] - b'0');
    let (now_year, now_month) = year_month(now_unix);
    (1..=12).contains(&month) && (year, month) >= (now_year, now_month)
}

/// The month of a well-formed `MMYY` (0 to 99; only 1 to 12 is a month).
fn expiry_month(mmyy: &str) -> u32 {
    let b = mmyy.as_bytes();
    u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0')
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
