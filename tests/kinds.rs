//! What each field kind accepts: exact digit counts and ranges, card numbers (length, Luhn and
//! brand), security codes by the card's brand, routing numbers by the ABA checksum, expiry dates
//! against the calendar, and the UTC calendar itself.
//!
//! Timestamps were computed with GNU date, e.g. `date -u -d 2026-11-30T23:59:59Z +%s`.

use gather_seal::config::{CardTypes, CodeLength, Kind};
use gather_seal::kinds::{
    aba_checksum, accepts, card_brand, expiry_valid, gather_shape, luhn, resolve, retry_sentence,
    security_code_length, year_month, Brand,
};

/// 2026-11-30T23:59:59Z, the last second of November 2026.
const NOV_30_2026_LAST: u64 = 1_796_083_199;
/// 2026-12-01T00:00:00Z.
const DEC_01_2026: u64 = 1_796_083_200;
/// 2026-12-31T23:59:59Z.
const DEC_31_2026_LAST: u64 = 1_798_761_599;
/// 2027-01-01T00:00:00Z.
const JAN_01_2027: u64 = 1_798_761_600;

/// The Luhn check written another way: a table of doubled digits, weights from the right.
fn luhn_by_table(digits: &str) -> bool {
    const DOUBLED: [u32; 10] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let total: u32 = digits
        .bytes()
        .rev()
        .map(|b| usize::from(b - b'0'))
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d as u32 } else { DOUBLED[d] })
        .sum();
    total.is_multiple_of(10)
}

/// Test card numbers published by the card networks and payment processors.
const PUBLISHED_CARDS: [&str; 5] = [
    "4111111111111111", // Visa
    "5500005555555559", // Mastercard
    "378282246310005",  // American Express
    "6011111111111117", // Discover
    "4012888888881881", // Visa
];
/// 12 digits: `12345678901` and its check digit 5.
const CARD_12: &str = "123456789015";
/// 19 digits: `601100000000000000` and its check digit 1.
const CARD_19: &str = "6011000000000000001";
/// 11 digits, Luhn-valid (the example in ISO/IEC 7812's usual explanations).
const LUHN_11: &str = "79927398713";
/// 20 digits, Luhn-valid: `6011000000000000000` and its check digit 4.
const LUHN_20: &str = "60110000000000000004";

#[test]
fn the_independent_luhn_agrees_with_known_answers() {
    // So that the comparisons below rest on something: the table version is right on
    // textbook cases, both ways.
    assert!(luhn_by_table("79927398713"));
    assert!(!luhn_by_table("79927398710"));
    assert!(luhn_by_table("0"));
    assert!(!luhn_by_table("1"));
    assert!(luhn_by_table("18"));
    assert!(!luhn_by_table("81"));
}

#[test]
fn published_and_constructed_card_numbers_pass_luhn() {
    let all = PUBLISHED_CARDS
        .iter()
        .chain(&[CARD_12, CARD_19, LUHN_11, LUHN_20]);
    for number in all {
        assert!(luhn_by_table(number), "{number} is not valid by the table");
        assert!(luhn(number), "{number}");
    }
    assert_eq!((CARD_12.len(), CARD_19.len()), (12, 19));
    assert_eq!((LUHN_11.len(), LUHN_20.len()), (11, 20));
}

#[test]
fn every_single_digit_change_fails_luhn() {
    for number in PUBLISHED_CARDS.iter().chain(&[CARD_12, CARD_19]) {
        for i in 0..number.len() {
            for d in b'0'..=b'9' {
                let mut changed = number.as_bytes().to_vec();
                if changed[i] == d {
                    continue;
                }
                changed[i] = d;
                let changed = String::from_utf8(changed).expect("ASCII");
                assert!(!luhn(&changed), "{changed} (from {number})");
                assert!(!luhn_by_table(&changed), "{changed}");
                assert!(
                    !accepts(Kind::CardNumber(CardTypes::ANY), &changed, 0),
                    "{changed}"
                );
            }
        }
    }
}

#[test]
fn adjacent_transpositions_fail_luhn_except_09_and_90() {
    let mut caught = 0;
    for number in PUBLISHED_CARDS.iter().chain(&[CARD_12, CARD_19]) {
        let digits = number.as_bytes();
        for i in 0..digits.len() - 1 {
            let (a, b) = (digits[i], digits[i + 1]);
            if a == b {
                continue;
            }
            let mut swapped = digits.to_vec();
            swapped.swap(i, i + 1);
            let swapped = String::from_utf8(swapped).expect("ASCII");
            // Luhn's one known blind spot: 09 and 90 weigh the same.
            let blind = matches!((a, b), (b'0', b'9') | (b'9', b'0'));
            assert_eq!(luhn(&swapped), blind, "{swapped} (from {number})");
            assert_eq!(luhn_by_table(&swapped), blind, "{swapped}");
            caught += usize::from(!blind);
        }
    }
    assert!(caught > 30, "too few transpositions were tried: {caught}");
    // The blind spot itself: 091 and 901 both pass.
    assert!(luhn_by_table("091") && luhn_by_table("901"));
    assert!(luhn("091") && luhn("901"));
}

#[test]
fn luhn_agrees_with_the_table_on_short_strings_and_refuses_non_digits() {
    for n in 0..100_000u32 {
        for text in [n.to_string(), format!("{n:06}")] {
            assert_eq!(luhn(&text), luhn_by_table(&text), "{text}");
        }
    }
    for bad in [
        "",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "411111111111111a",
        "+4111111111111111",
        "４１１１１１１１１１１１１１１１",
    ] {
        assert!(!luhn(bad), "{bad:?}");
    }
}

#[test]
fn card_numbers_are_12_to_19_digits() {
    for (number, ok) in [
        (LUHN_11, false),
        (CARD_12, true),
        ("378282246310005", true),
        ("4111111111111111", true),
        (CARD_19, true),
        (LUHN_20, false),
        ("4111111111111112", false), // Luhn fails
        ("4111 1111 1111 1111", false),
        ("", false),
    ] {
        assert_eq!(
            accepts(Kind::CardNumber(CardTypes::ANY), number, 0),
            ok,
            "{number:?}"
        );
    }
}

#[test]
fn digits_take_exactly_their_length() {
    let cases: [(Kind, &str, bool); 16] = [
        (Kind::Digits(4), "1234", true),
        (Kind::Digits(4), "0000", true),
        (Kind::Digits(4), "123", false),
        (Kind::Digits(4), "12345", false),
        (Kind::Digits(4), "", false),
        (Kind::Digits(4), "12a4", false),
        (Kind::Digits(4), " 123", false),
        (Kind::Digits(4), "123#", false),
        (Kind::Digits(4), "*123", false),
        (Kind::Digits(4), "１２３４", false), // fullwidth: not ASCII digits
        (Kind::Digits(4), "١٢٣٤", false),     // Arabic-Indic digits
        (Kind::Digits(1), "7", true),
        (Kind::Digits(1), "77", false),
        (Kind::Digits(32), &"9".repeat(32), true),
        (Kind::Digits(32), &"9".repeat(31), false),
        (Kind::Digits(32), &"9".repeat(33), false),
    ];
    for (kind, digits, ok) in cases {
        assert_eq!(accepts(kind, digits, 0), ok, "{kind:?} {digits:?}");
    }
}

#[test]
fn digit_ranges_take_min_to_max() {
    let range = Kind::DigitRange { min: 6, max: 10 };
    for len in 0..=12 {
        let digits = "5".repeat(len);
        assert_eq!(
            accepts(range, &digits, 0),
            (6..=10).contains(&len),
            "{len} digits"
        );
    }
    assert!(!accepts(range, "12345a", 0));
    let one = Kind::DigitRange { min: 3, max: 3 };
    assert!(accepts(one, "123", 0));
    assert!(!accepts(one, "12", 0));
    assert!(!accepts(one, "1234", 0));
    let wide = Kind::DigitRange { min: 1, max: 32 };
    assert!(accepts(wide, "0", 0));
    assert!(accepts(wide, &"0".repeat(32), 0));
    assert!(!accepts(wide, &"0".repeat(33), 0));
    assert!(!accepts(wide, "", 0));
}

#[test]
fn expiry_holds_to_the_end_of_its_month() {
    let cases: [(u64, &str, bool); 16] = [
        (NOV_30_2026_LAST, "1126", true),
        (NOV_30_2026_LAST, "1026", false),
        (NOV_30_2026_LAST, "1226", true),
        (NOV_30_2026_LAST, "1125", false),
        (NOV_30_2026_LAST, "1127", true),
        (DEC_01_2026, "1126", false),
        (DEC_01_2026, "1226", true),
        (DEC_31_2026_LAST, "1226", true),
        (DEC_31_2026_LAST, "0127", true),
        (DEC_31_2026_LAST, "1126", false),
        (JAN_01_2027, "1226", false),
        (JAN_01_2027, "0127", true),
        (JAN_01_2027, "1227", true),
        (JAN_01_2027, "0126", false),
        (JAN_01_2027, "1299", true), // December 2099: two-digit years are 20YY
        (JAN_01_2027, "0100", false), // January 2000, not 2100
    ];
    for (now, mmyy, ok) in cases {
        assert_eq!(expiry_valid(mmyy, now), ok, "{mmyy} at {now}");
        assert_eq!(accepts(Kind::Expiry, mmyy, now), ok, "{mmyy} at {now}");
    }
}

#[test]
fn expiry_needs_a_real_month_and_four_digits() {
    // At 1970 every 20YY date is in the future, so only the shape decides.
    for bad in [
        "0027",
        "1327",
        "9927",
        "0000",
        "",
        "126",
        "12266",
        "12/6",
        "12a6",
        "1 26",
        "１２２６",
    ] {
        assert!(!expiry_valid(bad, 0), "{bad:?}");
        assert!(!accepts(Kind::Expiry, bad, 0), "{bad:?}");
    }
    for good in ["0127", "0927", "1027", "1227", "0100", "1299"] {
        assert!(expiry_valid(good, 0), "{good}");
        assert!(accepts(Kind::Expiry, good, 0), "{good}");
    }
}

#[test]
fn year_month_of_known_instants() {
    // (unix seconds, year, month), each from `date -u -d <instant>Z +%s`.
    let known: [(u64, u32, u32); 24] = [
        (0, 1970, 1),             // 1970-01-01T00:00:00
        (2_678_399, 1970, 1),     // 1970-01-31T23:59:59
        (2_678_400, 1970, 2),     // 1970-02-01T00:00:00
        (946_684_799, 1999, 12),  // 1999-12-31T23:59:59
        (946_684_800, 2000, 1),   // 2000-01-01T00:00:00
        (951_782_400, 2000, 2),   // 2000-02-29T00:00:00 (a leap day: 2000 is divisible by 400)
        (951_868_799, 2000, 2),   // 2000-02-29T23:59:59
        (951_868_800, 2000, 3),   // 2000-03-01T00:00:00
        (1_677_628_799, 2023, 2), // 2023-02-28T23:59:59
        (1_677_628_800, 2023, 3), // 2023-03-01T00:00:00
        (1_709_164_799, 2024, 2), // 2024-02-28T23:59:59
        (1_709_164_800, 2024, 2), // 2024-02-29T00:00:00
        (1_709_208_000, 2024, 2), // 2024-02-29T12:00:00
        (1_709_251_199, 2024, 2), // 2024-02-29T23:59:59
        (1_709_251_200, 2024, 3), // 2024-03-01T00:00:00
        (NOV_30_2026_LAST, 2026, 11),
        (DEC_01_2026, 2026, 12),
        (DEC_31_2026_LAST, 2026, 12),
        (JAN_01_2027, 2027, 1),
        (2_147_483_648, 2038, 1),  // 2038-01-19T03:14:08, past i32
        (4_102_444_799, 2099, 12), // 2099-12-31T23:59:59
        (4_107_542_399, 2100, 2),  // 2100-02-28T23:59:59 (2100 is not a leap year)
        (4_107_542_400, 2100, 3),  // 2100-03-01T00:00:00
        (13_574_563_200, 2400, 2), // 2400-02-29T00:00:00
    ];
    for (unix, year, month) in known {
        assert_eq!(year_month(unix), (year, month), "{unix}");
    }
}

/// Every month boundary from 1970 to 2199, counted month by month from the epoch: the first
/// second of each month is in it, the second before is in the month before.
#[test]
fn year_month_at_every_month_boundary() {
    fn days_in(year: u32, month: u32) -> u64 {
        let leap =
            (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }
    let mut start = 0u64;
    let mut previous = None;
    for year in 1970..2200 {
        for month in 1..=12 {
            assert_eq!(year_month(start), (year, month), "start of {year}-{month}");
            assert_eq!(
                year_month(start + 86_399),
                (year, month),
                "{year}-{month}-01 23:59:59"
            );
            if let Some(before) = previous {
                assert_eq!(year_month(start - 1), before, "before {year}-{month}");
            }
            previous = Some((year, month));
            start += days_in(year, month) * 86_400;
        }
    }
    // The count above is itself right: 2200-01-01T00:00:00Z per GNU date.
    assert_eq!(start, 7_258_118_400);
}

#[test]
fn year_month_does_not_panic_at_the_end_of_time() {
    let (year, month) = year_month(u64::MAX);
    assert!((1..=12).contains(&month));
    assert!(year > 2_000_000, "{year}");
    assert!(!expiry_valid("1299", u64::MAX));
}

#[test]
fn how_gather_asks_for_each_kind() {
    assert_eq!(gather_shape(Kind::Digits(4)), (4, false));
    assert_eq!(gather_shape(Kind::Digits(32)), (32, false));
    assert_eq!(
        gather_shape(Kind::DigitRange { min: 6, max: 10 }),
        (10, true)
    );
    assert_eq!(gather_shape(Kind::CardNumber(CardTypes::ANY)), (19, true));
    assert_eq!(gather_shape(Kind::Expiry), (4, false));
}

#[test]
fn retry_sentences_name_what_was_wanted() {
    assert_eq!(
        retry_sentence(Kind::Digits(1)),
        "Sorry, that was not 1 digit."
    );
    assert_eq!(
        retry_sentence(Kind::Digits(4)),
        "Sorry, that was not 4 digits."
    );
    assert_eq!(
        retry_sentence(Kind::DigitRange { min: 6, max: 10 }),
        "Sorry, that was not 6 to 10 digits. Press pound when you are done."
    );
    assert_eq!(
        retry_sentence(Kind::CardNumber(CardTypes::ANY)),
        "Sorry, that was not a valid card number. Press pound when you are done."
    );
    assert_eq!(
        retry_sentence(Kind::Expiry),
        "Sorry, that was not a valid expiry date."
    );
}

// ------------------------------------------------------------------------------------------
// Card brands
// ------------------------------------------------------------------------------------------

/// Test card numbers the payment processors publish, with the brand they give each.
const BRANDED_TEST_CARDS: [(&str, Brand); 24] = [
    // Stripe's testing docs, "Cards by brand" (docs.stripe.com/testing).
    ("4242424242424242", Brand::Visa),
    ("4000056655665556", Brand::Visa),
    ("5555555555554444", Brand::Mastercard),
    ("2223003122003222", Brand::Mastercard),
    ("5200828282828210", Brand::Mastercard),
    ("5105105105105100", Brand::Mastercard),
    ("378282246310005", Brand::Amex),
    ("371449635398431", Brand::Amex),
    ("6011111111111117", Brand::Discover),
    ("6011000990139424", Brand::Discover),
    ("6011981111111113", Brand::Discover),
    ("3056930009020004", Brand::DinersClub),
    ("36227206271667", Brand::DinersClub),
    ("3566002020360505", Brand::Jcb),
    ("6200000000000005", Brand::UnionPay),
    ("6200000000000047", Brand::UnionPay),
    ("6205500000000000004", Brand::UnionPay),
    // Braintree's sandbox "Valid card numbers" (developer.paypal.com/braintree/docs/reference/
    // general/testing).
    ("36259600000004", Brand::DinersClub),
    ("6011000991300009", Brand::Discover),
    ("3530111333300000", Brand::Jcb),
    ("6304000000000000", Brand::Maestro),
    // The networks' own, as listed above in PUBLISHED_CARDS.
    ("4111111111111111", Brand::Visa),
    ("5500005555555559", Brand::Mastercard),
    ("4012888888881881", Brand::Visa),
];

/// `prefix` padded with zeros to `length - 1` digits, then its Luhn check digit.
fn card(prefix: &str, length: usize) -> String {
    let body = format!("{prefix:0<width$}", width = length - 1);
    let check = (0..10)
        .map(|d| format!("{body}{d}"))
        .find(|n| luhn(n))
        .expect("some check digit");
    assert_eq!(check.len(), length);
    check
}

#[test]
fn published_test_cards_are_of_their_brand() {
    for (number, brand) in BRANDED_TEST_CARDS {
        assert!(luhn(number), "{number}");
        assert_eq!(card_brand(number), Some(brand), "{number}");
        assert!(accepts(Kind::CardNumber(CardTypes::ANY), number, 0));
        assert!(accepts(
            Kind::CardNumber(CardTypes::only(&[brand])),
            number,
            0
        ));
        let others: Vec<Brand> = Brand::ALL.into_iter().filter(|b| *b != brand).collect();
        assert!(
            !accepts(Kind::CardNumber(CardTypes::only(&others)), number, 0),
            "{number} is taken by a list without {}",
            brand.as_str()
        );
    }
    // Every brand has a published number here.
    for brand in Brand::ALL {
        let count = BRANDED_TEST_CARDS
            .iter()
            .filter(|(_, b)| *b == brand)
            .count();
        assert!(count >= 1, "{brand:?}");
    }
}

#[test]
fn the_prefix_edges_of_every_brand() {
    use Brand::*;
    let cases: &[(&str, usize, Option<Brand>)] = &[
        // American Express: 34 and 37, 15 digits.
        ("33", 15, None),
        ("34", 15, Some(Amex)),
        ("35", 15, None),
        ("37", 15, Some(Amex)),
        ("34", 16, None),
        ("37", 14, None),
        // Mastercard: 2221-2720 and 51-55, 16 digits.
        ("2220", 16, None),
        ("2221", 16, Some(Mastercard)),
        ("2720", 16, Some(Mastercard)),
        ("2721", 16, None),
        ("50", 16, None),
        ("51", 16, Some(Mastercard)),
        ("55", 16, Some(Mastercard)),
        ("56", 16, None),
        ("51", 15, None),
        ("55", 19, None),
        // Discover: 6011, 644-649 and 65, 16 to 19 digits.
        ("6010", 16, None),
        ("6011", 16, Some(Discover)),
        ("6011", 19, Some(Discover)),
        ("6012", 16, None),
        ("643", 16, None),
        ("644", 16, Some(Discover)),
        ("649", 16, Some(Discover)),
        ("65", 16, Some(Discover)),
        ("6599", 19, Some(Discover)),
        ("66", 16, None),
        ("6011", 15, None),
        // JCB: 3528-3589, 16 to 19 digits.
        ("3527", 16, None),
        ("3528", 16, Some(Jcb)),
        ("3589", 16, Some(Jcb)),
        ("3589", 19, Some(Jcb)),
        ("3590", 16, None),
        ("3528", 15, None),
        // Diners Club: 300-305, 3095, 36, 38 and 39, 14 to 19 digits.
        ("299", 14, None),
        ("300", 14, Some(DinersClub)),
        ("305", 14, Some(DinersClub)),
        ("305", 16, Some(DinersClub)),
        ("306", 14, None),
        ("3094", 14, None),
        ("3095", 14, Some(DinersClub)),
        ("3096", 14, None),
        ("36", 14, Some(DinersClub)),
        ("38", 16, Some(DinersClub)),
        ("39", 16, Some(DinersClub)),
        ("36", 13, None),
        // UnionPay: 62, 16 to 19 digits (Discover's co-branded 622126-622925 included).
        ("61", 16, None),
        ("62", 16, Some(UnionPay)),
        ("622126", 16, Some(UnionPay)),
        ("62", 19, Some(UnionPay)),
        ("62", 15, None),
        ("63", 16, None),
        // Maestro: 5018, 5020, 5038, 5893, 6304, 6759, 6761-6763, 676770, 676774; 12 to 19.
        ("5018", 12, Some(Maestro)),
        ("5019", 16, None),
        ("5020", 19, Some(Maestro)),
        ("5038", 16, Some(Maestro)),
        ("5893", 16, Some(Maestro)),
        ("5894", 16, None),
        ("6304", 16, Some(Maestro)),
        ("6759", 16, Some(Maestro)),
        ("6760", 16, None),
        ("6761", 16, Some(Maestro)),
        ("6763", 18, Some(Maestro)),
        ("6764", 16, None),
        ("676770", 16, Some(Maestro)),
        ("676771", 16, None),
        ("676774", 16, Some(Maestro)),
        // Visa: 4, 13, 16 or 19 digits.
        ("4", 12, None),
        ("4", 13, Some(Visa)),
        ("4", 14, None),
        ("4", 15, None),
        ("4", 16, Some(Visa)),
        ("4", 17, None),
        ("4", 19, Some(Visa)),
        // No brand at all.
        ("1", 16, None),
        ("7", 16, None),
        ("8", 16, None),
        ("9", 16, None),
    ];
    for &(prefix, length, brand) in cases {
        let number = card(prefix, length);
        assert_eq!(
            card_brand(&number),
            brand,
            "{number} ({prefix}, {length} digits)"
        );
    }
}

#[test]
fn card_brand_refuses_what_is_not_a_card_number() {
    for bad in [
        "",
        "4",
        "42424242424",          // 11 digits
        "42424242424242424242", // 20 digits
        "4242 4242 4242 4242",
        "424242424242424a",
        "４２４２４２４２４２４２４２４２",
    ] {
        assert_eq!(card_brand(bad), None, "{bad:?}");
    }
    // The brand is read from the prefix and length alone; the Luhn check is accepts'.
    assert_eq!(card_brand("4242424242424241"), Some(Brand::Visa));
    assert!(!accepts(
        Kind::CardNumber(CardTypes::ANY),
        "4242424242424241",
        0
    ));
}

#[test]
fn card_types_take_only_the_brands_listed() {
    let visa_mc = Kind::CardNumber(CardTypes::only(&[Brand::Visa, Brand::Mastercard]));
    assert!(accepts(visa_mc, "4242424242424242", 0));
    assert!(accepts(visa_mc, "5555555555554444", 0));
    assert!(
        !accepts(visa_mc, "378282246310005", 0),
        "Luhn-valid, but Amex"
    );
    // A Luhn-valid number of no known brand: taken by any, refused by a list.
    assert_eq!(card_brand(CARD_12), None);
    assert!(accepts(Kind::CardNumber(CardTypes::ANY), CARD_12, 0));
    assert!(!accepts(visa_mc, CARD_12, 0));
    let every = Kind::CardNumber(CardTypes::only(&Brand::ALL));
    assert!(!accepts(every, CARD_12, 0), "every brand listed is not any");
    assert!(accepts(every, "6304000000000000", 0));
    // What the list holds reads back in Brand::ALL's order; ANY lists nothing.
    let listed: Vec<Brand> = CardTypes::only(&[Brand::Jcb, Brand::Visa])
        .listed()
        .expect("a list")
        .collect();
    assert_eq!(listed, [Brand::Visa, Brand::Jcb]);
    assert!(CardTypes::ANY.listed().is_none());
    assert!(CardTypes::ANY.allows(None));
    assert!(!CardTypes::only(&[Brand::Visa]).allows(None));
}

#[test]
fn brand_names_are_those_card_types_takes() {
    let names: Vec<&str> = Brand::ALL.iter().map(|b| b.as_str()).collect();
    assert_eq!(
        names,
        [
            "visa",
            "mastercard",
            "amex",
            "discover",
            "diners-club",
            "jcb",
            "maestro",
            "unionpay"
        ]
    );
    for brand in Brand::ALL {
        assert_eq!(Brand::from_name(brand.as_str()), Some(brand));
    }
    for bad in [
        "Visa",
        "VISA",
        "american-express",
        "diners_club",
        "union-pay",
        "",
        " visa",
    ] {
        assert_eq!(Brand::from_name(bad), None, "{bad:?}");
    }
}

// ------------------------------------------------------------------------------------------
// Security codes
// ------------------------------------------------------------------------------------------

#[test]
fn a_security_code_is_4_digits_for_amex_and_3_for_every_other_card() {
    for brand in Brand::ALL {
        let expected = if brand == Brand::Amex { 4 } else { 3 };
        assert_eq!(security_code_length(Some(brand)), expected, "{brand:?}");
    }
    assert_eq!(security_code_length(None), 3, "a card of no known brand");
    // By the published cards: each one's code length, resolved as a call does.
    for (number, brand) in BRANDED_TEST_CARDS {
        let kind = resolve(
            Kind::SecurityCode(CodeLength::OfCard(0)),
            card_brand(number),
        );
        let (three, four) = (accepts(kind, "123", 0), accepts(kind, "1234", 0));
        assert_eq!(
            (three, four),
            (brand != Brand::Amex, brand == Brand::Amex),
            "{number}"
        );
        let shape = if brand == Brand::Amex {
            (4, false)
        } else {
            (3, false)
        };
        assert_eq!(gather_shape(kind), shape, "{number}");
    }
}

#[test]
fn what_a_security_code_accepts() {
    let three = Kind::SecurityCode(CodeLength::Fixed(3));
    let four = Kind::SecurityCode(CodeLength::Fixed(4));
    let of_card = Kind::SecurityCode(CodeLength::OfCard(0));
    for (digits, by_three, by_four, by_card) in [
        ("123", true, false, true),
        ("000", true, false, true),
        ("1234", false, true, true),
        ("12", false, false, false),
        ("12345", false, false, false),
        ("", false, false, false),
        ("12a", false, false, false),
        ("12*4", false, false, false),
    ] {
        assert_eq!(accepts(three, digits, 0), by_three, "{digits:?}");
        assert_eq!(accepts(four, digits, 0), by_four, "{digits:?}");
        assert_eq!(accepts(of_card, digits, 0), by_card, "{digits:?}");
    }
    // Resolving touches only a code that follows a card.
    assert_eq!(resolve(of_card, Some(Brand::Amex)), four);
    assert_eq!(resolve(of_card, Some(Brand::Visa)), three);
    assert_eq!(resolve(of_card, None), three);
    for kind in [
        three,
        four,
        Kind::Digits(4),
        Kind::RoutingNumber,
        Kind::Expiry,
    ] {
        assert_eq!(resolve(kind, Some(Brand::Amex)), kind);
    }
}

// ------------------------------------------------------------------------------------------
// Routing numbers
// ------------------------------------------------------------------------------------------

/// Routing numbers in use, which pass the ABA checksum: 011000015 (the Federal Reserve Bank of
/// Boston), 021000021 (JPMorgan Chase, New York), 111000025 (the Federal Reserve Bank of
/// Dallas) and 026009593 (Bank of America, New York).
const ROUTING_NUMBERS: [&str; 4] = ["011000015", "021000021", "111000025", "026009593"];

/// The checksum written out as the ABA states it: 3(d1 + d4 + d7) + 7(d2 + d5 + d8) +
/// (d3 + d6 + d9) ≡ 0 (mod 10).
fn aba_by_formula(digits: &str) -> bool {
    if digits.len() != 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
    (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])).is_multiple_of(10)
}

#[test]
fn published_routing_numbers_pass_and_their_neighbours_do_not() {
    for number in ROUTING_NUMBERS {
        assert!(aba_by_formula(number), "{number}");
        assert!(aba_checksum(number), "{number}");
        assert!(accepts(Kind::RoutingNumber, number, 0), "{number}");
    }
    for neighbour in [
        "011000016",
        "011000014",
        "021000022",
        "021000020",
        "111000024",
        "111000026",
    ] {
        assert!(!aba_checksum(neighbour), "{neighbour}");
        assert!(!accepts(Kind::RoutingNumber, neighbour, 0), "{neighbour}");
    }
}

#[test]
fn every_single_digit_change_fails_the_aba_checksum() {
    // The weights 3, 7 and 1 are each prime to 10, so one changed digit always shows.
    for number in ROUTING_NUMBERS {
        for i in 0..9 {
            for d in b'0'..=b'9' {
                let mut changed = number.as_bytes().to_vec();
                if changed[i] == d {
                    continue;
                }
                changed[i] = d;
                let changed = String::from_utf8(changed).expect("ASCII");
                assert!(!aba_checksum(&changed), "{changed} (from {number})");
            }
        }
    }
}

#[test]
fn the_aba_checksum_agrees_with_the_formula_and_wants_9_digits() {
    for n in (0..1_000_000_000u32).step_by(9_973) {
        let text = format!("{n:09}");
        assert_eq!(aba_checksum(&text), aba_by_formula(&text), "{text}");
    }
    for bad in [
        "",
        "01100001",
        "0110000150",
        "01100001a",
        "011 000015",
        "０11000015",
        "-11000015",
    ] {
        assert!(!aba_checksum(bad), "{bad:?}");
        assert!(!accepts(Kind::RoutingNumber, bad, 0), "{bad:?}");
    }
    // 000000000 passes the arithmetic; the checksum is all the kind asks, as the issue says.
    assert!(aba_checksum("000000000"));
}

#[test]
fn how_gather_asks_for_the_new_kinds_and_what_a_retry_says() {
    assert_eq!(
        gather_shape(Kind::SecurityCode(CodeLength::Fixed(3))),
        (3, false)
    );
    assert_eq!(
        gather_shape(Kind::SecurityCode(CodeLength::Fixed(4))),
        (4, false)
    );
    // Before the card is known: up to 4 digits, or 3 ended by pound.
    assert_eq!(
        gather_shape(Kind::SecurityCode(CodeLength::OfCard(0))),
        (4, true)
    );
    assert_eq!(gather_shape(Kind::RoutingNumber), (9, false));
    let only_visa = Kind::CardNumber(CardTypes::only(&[Brand::Visa]));
    assert_eq!(gather_shape(only_visa), (19, true));
    assert_eq!(
        retry_sentence(Kind::SecurityCode(CodeLength::Fixed(4))),
        "Sorry, that was not a 4-digit security code."
    );
    assert_eq!(
        retry_sentence(Kind::SecurityCode(CodeLength::OfCard(0))),
        "Sorry, that was not a valid security code. Press pound when you are done."
    );
    assert_eq!(
        retry_sentence(Kind::RoutingNumber),
        "Sorry, that was not a valid routing number."
    );
    assert_eq!(
        retry_sentence(only_visa),
        retry_sentence(Kind::CardNumber(CardTypes::ANY))
    );
}
