//! The relay's pure parts: what `redact` makes of the caller's speech, written out case by case
//! and then as properties over arbitrary text, and the signature the relay opens the
//! application's WebSocket with, against vectors made outside this crate and through the
//! application's own check (`handoff::verify_submission` over the URL's bytes).

use gather_seal::handoff::{verify_submission, DEFAULT_TOLERANCE_SECS};
use gather_seal::relay::{redact, sign_upstream, MIN_RUN, REDACTED};
use gather_seal::SignatureError;
use proptest::prelude::*;

// ------------------------------------------------------------------------------------------
// redact, case by case
// ------------------------------------------------------------------------------------------

/// (what the caller said, what reaches the application, how many runs were redacted).
const SPEECH: &[(&str, &str, usize)] = &[
    // A card number (Stripe's test Visa) as speech-to-text writes it.
    (
        "my card is 4242 4242 4242 4242 thanks",
        "my card is [redacted] thanks",
        1,
    ),
    ("4242-4242-4242-4242", "[redacted]", 1),
    ("it's 4242.4242.4242.4242.", "it's [redacted].", 1),
    ("4242424242424242", "[redacted]", 1),
    // A routing number (JPMorgan Chase, New York): 9 digits.
    (
        "routing number 021000021, account 12345",
        "routing number [redacted], account 12345",
        1,
    ),
    // Two runs in one text, each counted.
    (
        "card 4242424242424242 and account 12-34-56-78",
        "card [redacted] and account [redacted]",
        2,
    ),
    // Five digits stay, six go.
    ("code 12345", "code 12345", 0),
    ("code 123456", "code [redacted]", 1),
    ("1 2 3 4 5", "1 2 3 4 5", 0),
    ("1 2 3 4 5 6", "[redacted]", 1),
    // A separator after a run's last digit is not part of it.
    ("123456 ", "[redacted] ", 1),
    ("123456-", "[redacted]-", 1),
    ("call 555-123-4567. now", "call [redacted]. now", 1),
    ("-123456", "-[redacted]", 1),
    // Two separators in a row end a run, so neither side reaches six.
    ("123  456", "[redacted]", 1),
    ("123--456", "[redacted]", 1),
    ("123 -456", "[redacted]", 1),
    ("123456  7", "[redacted]", 1),
    // Any of the three separators, mixed.
    ("4242 4242-4242.4242", "[redacted]", 1),
    ("1.2-3 4.5-6", "[redacted]", 1),
    // Other separators are not separators: a comma, a slash, an underscore.
    ("123,456", "[redacted]", 1),
    ("12/25/26", "12/25/26", 0),
    ("123_456", "123_456", 0),
    // Letters around the digits do not hide them.
    ("abc123456def", "abc[redacted]def", 1),
    ("x1y2z3a4b5c6", "x1y2z3a4b5c6", 0),
    // Text outside ASCII around a run is kept as it is.
    (
        "número 4242 4242 4242 4242 — merci ✓",
        "número [redacted] — merci ✓",
        1,
    ),
    ("€123456€", "€[redacted]€", 1),
    // Only ASCII digits are digits: other scripts' digits and spoken words pass.
    ("١٢٣٤٥٦", "١٢٣٤٥٦", 0),
    ("１２３４５６", "１２３４５６", 0),
    ("four two four two", "four two four two", 0),
    // Nothing, and nothing but digits.
    ("", "", 0),
    ("0123456789", "[redacted]", 1),
    // What was already redacted stays so.
    ("[redacted] and 12345", "[redacted] and 12345", 0),
];

#[test]
fn runs_of_six_or_more_digits_are_redacted() {
    assert_eq!((MIN_RUN, REDACTED), (6, "[redacted]"));
    let mut failures = Vec::new();
    for &(said, heard, runs) in SPEECH {
        let got = redact(said);
        if got != (heard.to_owned(), runs) {
            failures.push(format!(
                "{said:?}: got {got:?}, expected {heard:?} / {runs}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------------------------------------------------
// redact, as properties
// ------------------------------------------------------------------------------------------

/// The most digits in one run of `text`: digits next to each other, or with spaces, dashes,
/// dots or commas between two of them. Written from that sentence, not from `redact`:
/// separators standing between two digits are dropped, then the longest stretch of digits
/// counted.
fn longest_run(text: &str) -> usize {
    let chars: Vec<char> = text.chars().collect();
    let separator = |c: &char| matches!(c, ' ' | '-' | '.' | ',');
    // A separator joins when, skipping the separators around it, a digit stands on each side.
    let joins = |i: usize| {
        separator(&chars[i])
            && chars[..i]
                .iter()
                .rev()
                .find(|c| !separator(c))
                .is_some_and(char::is_ascii_digit)
            && chars[i + 1..]
                .iter()
                .find(|c| !separator(c))
                .is_some_and(char::is_ascii_digit)
    };
    let mut longest = 0;
    let mut current = 0;
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_digit() {
            current += 1;
            longest = longest.max(current);
        } else if !joins(i) {
            current = 0;
        }
    }
    longest
}

fn digits_in(text: &str) -> usize {
    text.bytes().filter(u8::is_ascii_digit).count()
}

/// Text that is mostly digits and separators, with letters, other scripts and brackets mixed in.
fn speech() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[0-9]{1,4}",
        3 => "[ .-]",
        1 => "[ .-]{2}",
        1 => "[a-z]{1,3}",
        1 => "[,/_\\[\\]]",
        1 => "[é€✓١１]",
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No run of six or more digits survives.
    #[test]
    fn no_long_run_survives(text in speech()) {
        let (out, _) = redact(&text);
        prop_assert!(longest_run(&out) < MIN_RUN, "{:?} -> {:?}", text, out);
    }

    /// A text with no long run comes back unchanged, and one with a long run does not.
    #[test]
    fn only_long_runs_are_touched(text in speech()) {
        let (out, runs) = redact(&text);
        let long = longest_run(&text) >= MIN_RUN;
        prop_assert_eq!(runs > 0, long);
        if !long {
            prop_assert_eq!(out, text);
        }
    }

    /// A text without ASCII digits is unchanged, whatever else it holds.
    #[test]
    fn text_without_digits_is_unchanged(text in "[^0-9]{0,64}") {
        prop_assert_eq!(redact(&text), (text.clone(), 0));
    }

    /// Redacting twice changes nothing more.
    #[test]
    fn redacting_again_changes_nothing(text in speech()) {
        let (once, _) = redact(&text);
        prop_assert_eq!(redact(&once), (once.clone(), 0));
    }

    /// The output never holds more ASCII digits than the input, and each run counted is one
    /// more `[redacted]` in the text.
    #[test]
    fn redaction_only_takes_digits_away(text in speech()) {
        let (out, runs) = redact(&text);
        prop_assert!(digits_in(&out) <= digits_in(&text));
        prop_assert_eq!(
            out.matches(REDACTED).count(),
            text.matches(REDACTED).count() + runs
        );
    }

    /// Any text at all: no panic, and the same rules.
    #[test]
    fn any_text(text in "\\PC{0,64}") {
        let (out, _) = redact(&text);
        prop_assert!(longest_run(&out) < MIN_RUN);
        prop_assert!(digits_in(&out) <= digits_in(&text));
    }
}

// ------------------------------------------------------------------------------------------
// sign_upstream
// ------------------------------------------------------------------------------------------

const SECRET: &[u8] = b"whsec-relay-0123456789abcdef0123456789";
const OTHER_SECRET: &[u8] = b"another-secret-fedcba9876543210fedcba98";
const UPSTREAM: &str = "wss://agent.example.com/ws?relay=agent";
/// 2025-12-05T00:00:00Z.
const T: u64 = 1_764_892_800;

/// (secret, t, URL, the header). Made with Python's standard library, not this crate:
/// `hmac.new(secret, f"{t}.{url}".encode(), hashlib.sha256).hexdigest()`, written out as
/// `t=<t>,v1=<hex>`. tests/node/relay-handshake.test.js checks the npm package with the first.
const VECTORS: &[(&[u8], u64, &str, &str)] = &[
    (
        SECRET,
        T,
        UPSTREAM,
        "t=1764892800,v1=b51385cdfbc08a9386d0a4ad2060fa1a8515fdce6afb5b0661dd5351bd714cc1",
    ),
    // One letter of the query in another case.
    (
        SECRET,
        T,
        "wss://agent.example.com/ws?relay=agenT",
        "t=1764892800,v1=758b996ed2c0ff6bfb13656707dafbd3382d5802eb52a2352346d4fc45dc1080",
    ),
    (
        OTHER_SECRET,
        T,
        UPSTREAM,
        "t=1764892800,v1=04d7bac66cc29bb1539beae8006851c288c3885a4f1a0c25af8cfbf0afc90e28",
    ),
    (
        SECRET,
        1_700_000_000,
        "ws://127.0.0.1:8080/socket",
        "t=1700000000,v1=d55461b2bd720c517d5af7c9ca79779ef0d7e19416ae84770b7678e3a475bc68",
    ),
    // A one-byte secret and t = 0: HMAC takes any key, and t is written without padding.
    (
        b"k",
        0,
        "wss://[::1]/",
        "t=0,v1=9a5f288e3bb7d7ab5db6449605380200cea7ae4a69b6ca989d4e0d9ecd516de2",
    ),
];

#[test]
fn the_upstream_signature_matches_an_independent_hmac() {
    for &(secret, t, url, header) in VECTORS {
        assert_eq!(sign_upstream(secret, t, url), header, "{url} at {t}");
    }
}

/// The application checks the relay's handshake with the submission's rules, over the URL's
/// bytes as the relay dialled them.
#[test]
fn the_application_checks_it_as_a_submission() {
    let header = sign_upstream(SECRET, T, UPSTREAM);
    let check = |url: &str, secrets: &[&[u8]], now: u64| {
        verify_submission(
            url.as_bytes(),
            Some(&header),
            secrets,
            DEFAULT_TOLERANCE_SECS,
            now,
        )
    };
    assert_eq!(check(UPSTREAM, &[SECRET], T), Ok(()));
    // During a rotation, either secret.
    assert_eq!(check(UPSTREAM, &[OTHER_SECRET, SECRET], T + 1), Ok(()));
    // The tolerance, either way, to the second.
    assert_eq!(check(UPSTREAM, &[SECRET], T + 300), Ok(()));
    assert_eq!(check(UPSTREAM, &[SECRET], T - 300), Ok(()));
    assert_eq!(
        check(UPSTREAM, &[SECRET], T + 301),
        Err(SignatureError::Stale)
    );
    assert_eq!(
        check(UPSTREAM, &[SECRET], T - 301),
        Err(SignatureError::Stale)
    );
    // Another URL: another relay name, path, host, port, scheme, or only the path the server
    // saw (a WebSocket server's request URL has no scheme and host).
    for url in [
        "wss://agent.example.com/ws?relay=agenT",
        "wss://agent.example.com/ws?relay=agent&x=1",
        "wss://agent.example.com/ws",
        "wss://evil.example.com/ws?relay=agent",
        "wss://agent.example.com:443/ws?relay=agent",
        "ws://agent.example.com/ws?relay=agent",
        "WSS://agent.example.com/ws?relay=agent",
        "/ws?relay=agent",
        "",
    ] {
        assert_eq!(check(url, &[SECRET], T), Err(SignatureError::Bad), "{url}");
    }
    // Another secret, or none.
    assert_eq!(
        check(UPSTREAM, &[OTHER_SECRET], T),
        Err(SignatureError::Bad)
    );
    assert_eq!(check(UPSTREAM, &[], T), Err(SignatureError::Bad));
    // A stale signature under the wrong secret is Bad, not Stale: nothing is said about a
    // signature that does not match.
    assert_eq!(
        check(UPSTREAM, &[OTHER_SECRET], T + 10_000),
        Err(SignatureError::Bad)
    );
}

/// Every byte of the header counts: a changed digit of t or of the tag is refused.
#[test]
fn a_changed_header_is_refused() {
    let header = sign_upstream(SECRET, T, UPSTREAM);
    let verify = |header: &str| {
        verify_submission(
            UPSTREAM.as_bytes(),
            Some(header),
            &[SECRET],
            DEFAULT_TOLERANCE_SECS,
            T,
        )
    };
    assert_eq!(verify(&header), Ok(()));
    for (i, b) in header.bytes().enumerate() {
        let swapped = match b {
            b'0'..=b'8' | b'a'..=b'e' => b + 1,
            b'9' => b'0',
            b'f' => b'a',
            _ => continue,
        };
        let mut changed = header.clone().into_bytes();
        changed[i] = swapped;
        let changed = String::from_utf8(changed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verify(&changed), Err(SignatureError::Bad), "{changed}");
    }
    assert_eq!(
        verify_submission(UPSTREAM.as_bytes(), None, &[SECRET], 300, T),
        Err(SignatureError::Missing)
    );
}
