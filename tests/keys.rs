//! Keys and key rings: parsing, printing, generating, rotation; and that no error message
//! carries a secret.

mod common;

use common::{key, leaks, ring, KEY_HEX, OTHER_KEY_HEX};
use gather_seal::{
    generate_key_hex, open, seal, BadCallState, CallError, Error, Key, KeyRing, SignatureError,
};

const PIN: &str = "4321";
const CONTEXT: &[u8] = b"CA0123456789abcdef0123456789abcdef:pin";

fn sealed_pin(key: &Key) -> String {
    match seal(PIN.as_bytes(), key, CONTEXT) {
        Ok(sealed) => sealed,
        Err(e) => panic!("seal failed: {e:?}"),
    }
}

/// Whether `a` and `b` are the same key: each opens what the other sealed.
fn same_key(a: &Key, b: &Key) -> bool {
    let ring_b = KeyRing::new(b.clone());
    let ring_a = KeyRing::new(a.clone());
    open(&sealed_pin(a), &ring_b, CONTEXT).as_deref() == Ok(PIN)
        && open(&sealed_pin(b), &ring_a, CONTEXT).as_deref() == Ok(PIN)
}

#[test]
fn key_parses_64_hex_in_either_case() {
    let lower = key(KEY_HEX);
    let upper = key(&KEY_HEX.to_ascii_uppercase());
    let mixed: String = KEY_HEX
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    assert!(same_key(&lower, &upper));
    assert!(same_key(&lower, &key(&mixed)));
    assert!(
        !same_key(&lower, &key(OTHER_KEY_HEX)),
        "different text must be a different key"
    );
}

#[test]
fn key_ignores_surrounding_whitespace() {
    let plain = key(KEY_HEX);
    for text in [
        format!("{KEY_HEX}\n"),
        format!("{KEY_HEX}\r\n"),
        format!("  {KEY_HEX}  "),
        format!("\t{KEY_HEX}\n\n"),
    ] {
        match Key::from_hex(&text) {
            Ok(parsed) => assert!(same_key(&plain, &parsed), "{text:?} parsed to another key"),
            Err(e) => panic!("{text:?} refused: {e:?}"),
        }
    }
}

/// Malformed key texts, each with why it is malformed.
fn malformed_keys() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("only whitespace", " \n\t ".into()),
        ("63 characters", KEY_HEX[..63].into()),
        ("65 characters", format!("{KEY_HEX}0")),
        ("62 characters", KEY_HEX[..62].into()),
        ("66 characters", format!("{KEY_HEX}00")),
        ("two keys", format!("{KEY_HEX}{OTHER_KEY_HEX}")),
        ("a non-hex letter", format!("g{}", &KEY_HEX[1..])),
        (
            "a space inside",
            format!("{} {}", &KEY_HEX[..31], &KEY_HEX[32..]),
        ),
        ("a 0x prefix", format!("0x{}", &KEY_HEX[2..])),
        ("32 two-byte characters (64 bytes)", "é".repeat(32)),
        (
            "base64 of 32 bytes",
            "oVTrTHWXEbwlOKfMAh6enxfdiqYxUcYsooqCpKQEID0=".into(),
        ),
    ]
}

#[test]
fn malformed_keys_are_invalid_key() {
    for (why, text) in malformed_keys() {
        assert_eq!(
            Key::from_hex(&text).map(|_| ()),
            Err(Error::InvalidKey),
            "{why}: {text:?}"
        );
    }
}

#[test]
fn key_errors_never_repeat_the_input() {
    for (why, text) in malformed_keys() {
        let Err(error) = Key::from_hex(&text) else {
            panic!("{why}: accepted");
        };
        let message = error.to_string();
        let debug = format!("{error:?}");
        let secret = text.trim();
        assert!(
            !leaks(&message, secret, 6),
            "{why}: Display {message:?} repeats the input"
        );
        assert!(
            !leaks(&debug, secret, 6),
            "{why}: Debug {debug:?} repeats the input"
        );
    }
}

#[test]
fn debug_prints_no_key_material() {
    let current = key(KEY_HEX);
    assert_eq!(format!("{current:?}"), "Key([redacted])");
    let ring = KeyRing::new(current).with_previous(key(OTHER_KEY_HEX));
    for printed in [format!("{ring:?}"), format!("{ring:#?}")] {
        assert!(printed.contains("[redacted]"), "{printed}");
        for secret in [KEY_HEX, OTHER_KEY_HEX] {
            assert!(!leaks(&printed, secret, 6), "{printed} shows key material");
        }
        // Nor the raw key bytes as a Debug list of numbers: the first bytes of KEY_HEX.
        assert!(!printed.contains("161, 84"), "{printed} shows key bytes");
    }
}

#[test]
fn generated_keys_are_64_lowercase_hex_and_distinct() {
    let keys: Vec<String> = (0..16)
        .map(|_| match generate_key_hex() {
            Ok(text) => text.as_str().to_owned(),
            Err(e) => panic!("generate_key_hex failed: {e:?}"),
        })
        .collect();
    for text in &keys {
        assert_eq!(text.len(), 64, "{text}");
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{text} is not lowercase hex"
        );
        assert!(Key::from_hex(text).is_ok(), "{text} does not parse back");
    }
    let mut distinct = keys.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), keys.len(), "generated keys repeat");
}

#[test]
fn rotation_opens_values_sealed_under_the_previous_key() {
    let old = key(OTHER_KEY_HEX);
    let sealed = sealed_pin(&old);

    let rotated = KeyRing::new(key(KEY_HEX)).with_previous(old.clone());
    assert_eq!(open(&sealed, &rotated, CONTEXT).as_deref(), Ok(PIN));
    // The context still has to match under the older key.
    assert_eq!(
        open(
            &sealed,
            &rotated,
            b"CA0123456789abcdef0123456789abcdef:card"
        ),
        Err(Error::Unauthentic)
    );

    let without_old = ring(KEY_HEX);
    assert_eq!(
        open(&sealed, &without_old, CONTEXT),
        Err(Error::Unauthentic)
    );

    // Several older keys: each is tried.
    let third = key(&"5a".repeat(32));
    let two_back = KeyRing::new(key(KEY_HEX))
        .with_previous(third.clone())
        .with_previous(old);
    assert_eq!(open(&sealed, &two_back, CONTEXT).as_deref(), Ok(PIN));
    assert_eq!(
        open(&sealed_pin(&third), &two_back, CONTEXT).as_deref(),
        Ok(PIN)
    );
    assert_eq!(two_back.keys().len(), 3);
}

#[test]
fn seal_with_a_ring_uses_its_current_key() {
    let built = KeyRing::new(key(KEY_HEX)).with_previous(key(OTHER_KEY_HEX));
    assert_eq!(built.keys().len(), 2);
    // The same through from_settings and from_hex, which list the current key first.
    for ring in [
        Ok(built),
        KeyRing::from_settings(KEY_HEX, OTHER_KEY_HEX),
        KeyRing::from_hex([KEY_HEX, OTHER_KEY_HEX]),
    ] {
        let Ok(ring) = ring else {
            panic!("ring does not parse")
        };
        let sealed = sealed_pin(ring.current());
        assert_eq!(
            open(&sealed, &self::ring(KEY_HEX), CONTEXT).as_deref(),
            Ok(PIN)
        );
        assert_eq!(
            open(&sealed, &self::ring(OTHER_KEY_HEX), CONTEXT),
            Err(Error::Unauthentic)
        );
    }

    // A ring made from one key seals with that key.
    let single: KeyRing = key(OTHER_KEY_HEX).into();
    let sealed = sealed_pin(single.current());
    assert_eq!(
        open(&sealed, &self::ring(OTHER_KEY_HEX), CONTEXT).as_deref(),
        Ok(PIN)
    );
}

#[test]
fn from_settings_reads_comma_lists() {
    let old = sealed_pin(&key(OTHER_KEY_HEX));
    let older_key = "5a".repeat(32);
    let older = sealed_pin(&key(&older_key));

    let opens_both = |previous: &str| {
        let ring = match KeyRing::from_settings(KEY_HEX, previous) {
            Ok(ring) => ring,
            Err(e) => panic!("previous {previous:?} refused: {e:?}"),
        };
        assert_eq!(
            open(&old, &ring, CONTEXT).as_deref(),
            Ok(PIN),
            "previous {previous:?}"
        );
        assert_eq!(
            open(&older, &ring, CONTEXT).as_deref(),
            Ok(PIN),
            "previous {previous:?}"
        );
        assert_eq!(ring.keys().len(), 3, "previous {previous:?}");
    };
    opens_both(&format!("{OTHER_KEY_HEX},{older_key}"));
    opens_both(&format!(" {OTHER_KEY_HEX} , {older_key} "));
    opens_both(&format!("{OTHER_KEY_HEX},\n{older_key}\n"));
    opens_both(&format!(",{OTHER_KEY_HEX},,{older_key},"));
    opens_both(&format!(
        "{},{older_key}",
        OTHER_KEY_HEX.to_ascii_uppercase()
    ));

    // No previous keys: only the current key.
    for previous in ["", " ", ",", " , ,"] {
        let Ok(ring) = KeyRing::from_settings(&format!("{KEY_HEX}\n"), previous) else {
            panic!("previous {previous:?} refused");
        };
        assert_eq!(ring.keys().len(), 1, "previous {previous:?}");
        assert_eq!(
            open(&old, &ring, CONTEXT),
            Err(Error::Unauthentic),
            "previous {previous:?}"
        );
    }

    // Any malformed key refuses the whole ring.
    for (current, previous) in [
        ("", ""),
        (" ", OTHER_KEY_HEX),
        (&KEY_HEX[..63], ""),
        (KEY_HEX, &OTHER_KEY_HEX[..63]),
        (KEY_HEX, &format!("{OTHER_KEY_HEX},nothex")),
        (KEY_HEX, &format!("{OTHER_KEY_HEX};{older_key}")),
    ] {
        assert_eq!(
            KeyRing::from_settings(current, previous).map(|_| ()),
            Err(Error::InvalidKey),
            "current {current:?}, previous {previous:?}"
        );
    }
}

#[test]
fn from_hex_needs_at_least_one_key() {
    assert_eq!(
        KeyRing::from_hex(Vec::<&str>::new()).map(|_| ()),
        Err(Error::EmptyKeyRing)
    );
    assert_eq!(
        KeyRing::from_hex(std::iter::empty()).map(|_| ()),
        Err(Error::EmptyKeyRing)
    );
    assert_eq!(KeyRing::from_hex([""]).map(|_| ()), Err(Error::InvalidKey));
    assert_eq!(
        KeyRing::from_hex([KEY_HEX, "x"]).map(|_| ()),
        Err(Error::InvalidKey)
    );
    match KeyRing::from_hex([KEY_HEX]) {
        Ok(ring) => assert_eq!(ring.keys().len(), 1),
        Err(e) => panic!("one key refused: {e:?}"),
    }
}

/// Every variant there is today. `Error` is `#[non_exhaustive]`, so a new variant does not break
/// this list; add it here when one is added.
const ALL_ERRORS: [Error; 8] = [
    Error::InvalidKey,
    Error::EmptyKeyRing,
    Error::NotHex,
    Error::TooShort,
    Error::Unauthentic,
    Error::NotUtf8,
    Error::RandomUnavailable,
    Error::TooLong,
];

/// Every message of every error type: each fixed, and no two alike.
fn every_message() -> Vec<String> {
    let mut messages: Vec<String> = ALL_ERRORS.iter().map(ToString::to_string).collect();
    messages.extend(
        [
            CallError::MissingCallSid,
            CallError::BadCallState,
            CallError::SealFailed,
        ]
        .iter()
        .map(ToString::to_string),
    );
    messages.extend(
        [
            SignatureError::Missing,
            SignatureError::Bad,
            SignatureError::Stale,
        ]
        .iter()
        .map(ToString::to_string),
    );
    messages
}

#[test]
fn no_error_message_carries_a_secret() {
    let plaintexts = ["4321", "987654", "4111111111111111"];
    let key = key(KEY_HEX);
    let mut secrets: Vec<String> = vec![KEY_HEX.into(), OTHER_KEY_HEX.into()];
    secrets.extend(
        plaintexts
            .iter()
            .map(|p| match seal(p.as_bytes(), &key, CONTEXT) {
                Ok(sealed) => sealed,
                Err(e) => panic!("seal failed: {e:?}"),
            }),
    );

    // The errors real operations on these values give, and every variant besides.
    let wrong_ring = ring(OTHER_KEY_HEX);
    let mut errors: Vec<Error> = ALL_ERRORS.to_vec();
    for sealed in &secrets[2..] {
        errors.extend(open(sealed, &wrong_ring, CONTEXT).err());
        errors.extend(open(&sealed[..40], &wrong_ring, CONTEXT).err());
        errors.extend(open(&sealed[1..], &wrong_ring, CONTEXT).err());
    }
    errors.extend(Key::from_hex(&KEY_HEX[1..]).err());
    assert!(
        errors.len() > ALL_ERRORS.len(),
        "the operations above should all have failed"
    );

    for error in errors {
        for message in [error.to_string(), format!("{error:?}")] {
            assert!(!message.is_empty(), "{error:?} has no message");
            for plaintext in plaintexts {
                // Digits of a plaintext, three at a time.
                assert!(
                    !leaks(&message, plaintext, 3),
                    "{message:?} carries {plaintext}"
                );
            }
            for secret in &secrets {
                assert!(
                    !leaks(&message, secret, 8),
                    "{message:?} carries key or ciphertext hex"
                );
            }
            assert!(
                !message.contains("CA0123456789"),
                "{message:?} carries the context"
            );
        }
    }
}

#[test]
fn error_messages_are_distinct_and_fixed() {
    let mut messages = every_message();
    let count = messages.len();
    messages.sort();
    messages.dedup();
    assert_eq!(messages.len(), count, "two variants share a message");
    // A bad call state reads the same whichever type carries it.
    assert_eq!(
        BadCallState.to_string(),
        CallError::BadCallState.to_string()
    );
    // The one authentication failure says nothing about which check failed first.
    assert_eq!(
        Error::Unauthentic.to_string(),
        "sealed value did not authenticate (wrong key, wrong context, or tampered)"
    );
}
