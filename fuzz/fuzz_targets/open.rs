//! `open` with arbitrary hex and context; the seal → open round trip; key and key ring parsing.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use fuzz_support::{flip_hex, keys};
use gather_seal::{open, open_bytes, seal, Error, Key, KeyRing, MIN_SEALED_LEN};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op<'a> {
    /// Whatever text arrives where a sealed value is expected.
    Open { sealed: &'a str, context: &'a [u8] },
    /// Hex of arbitrary bytes: reaches the length and authentication checks.
    OpenHex {
        raw: &'a [u8],
        upper: bool,
        context: &'a [u8],
    },
    /// Seal, then open: with the right ring, the wrong context, a flipped digit, a ring
    /// without the key.
    RoundTrip {
        plaintext: &'a [u8],
        context: &'a [u8],
        other_context: &'a [u8],
        with_previous: bool,
        upper: bool,
        flip_at: u16,
        flip_by: u8,
        cut: u8,
    },
    /// `AES_SECRET` and `AES_SECRET_PREVIOUS` as given.
    Keys { current: &'a str, previous: &'a str },
}

/// The error `open_bytes` must give for text no key authenticates.
fn expected_refusal(sealed: &str) -> Error {
    if !sealed.len().is_multiple_of(2) || !sealed.bytes().all(|b| b.is_ascii_hexdigit()) {
        Error::NotHex
    } else if sealed.len() / 2 < MIN_SEALED_LEN {
        Error::TooShort
    } else {
        Error::Unauthentic
    }
}

fn key_ok(text: &str) -> bool {
    let t = text.trim();
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

fuzz_target!(|data: &[u8]| {
    let Ok(op) = Op::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let k = keys();
    match op {
        Op::Open { sealed, context } => {
            // No input can authenticate without the key.
            let want = expected_refusal(sealed);
            assert_eq!(open_bytes(sealed, &k.ring, context), Err(want));
            assert_eq!(open(sealed, &k.ring, context), Err(want));
        }
        Op::OpenHex {
            raw,
            upper,
            context,
        } => {
            let mut sealed = hex_of(raw);
            if upper {
                sealed = sealed.to_ascii_uppercase();
            }
            let want = expected_refusal(&sealed);
            assert_eq!(open_bytes(&sealed, &k.ring, context), Err(want));
            assert_eq!(open(&sealed, &k.ring, context), Err(want));
        }
        Op::RoundTrip {
            plaintext,
            context,
            other_context,
            with_previous,
            upper,
            flip_at,
            flip_by,
            cut,
        } => {
            let key = if with_previous {
                &k.previous
            } else {
                &k.current
            };
            let Ok(mut sealed) = seal(plaintext, key, context) else {
                panic!("seal failed for {} bytes", plaintext.len());
            };
            assert_eq!(sealed.len(), 2 * (MIN_SEALED_LEN + plaintext.len()));
            assert!(sealed
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
            if upper {
                sealed = sealed.to_ascii_uppercase();
            }
            assert_eq!(
                open_bytes(&sealed, &k.ring, context).as_deref(),
                Ok(plaintext)
            );
            match std::str::from_utf8(plaintext) {
                Ok(text) => assert_eq!(open(&sealed, &k.ring, context).as_deref(), Ok(text)),
                Err(_) => assert_eq!(open(&sealed, &k.ring, context), Err(Error::NotUtf8)),
            }
            if other_context != context {
                assert_eq!(
                    open_bytes(&sealed, &k.ring, other_context),
                    Err(Error::Unauthentic)
                );
            }
            let flipped = flip_hex(&sealed, usize::from(flip_at), flip_by);
            assert_eq!(
                open_bytes(&flipped, &k.ring, context),
                Err(Error::Unauthentic)
            );
            let elsewhere = KeyRing::new(k.foreign.clone());
            assert_eq!(
                open_bytes(&sealed, &elsewhere, context),
                Err(Error::Unauthentic)
            );
            // Shortened by whole bytes: never opens, and the error says why.
            let cut = 2 * (usize::from(cut) % (sealed.len() / 2) + 1);
            let short = &sealed[..sealed.len() - cut];
            let want = expected_refusal(short);
            assert_eq!(open_bytes(short, &k.ring, context), Err(want));
        }
        Op::Keys { current, previous } => {
            let parsed = Key::from_hex(current);
            assert_eq!(parsed.is_ok(), key_ok(current));
            if let Ok(key) = &parsed {
                assert_eq!(format!("{key:?}"), "Key([redacted])");
            }
            let older: Vec<&str> = previous
                .split(',')
                .filter(|p| !p.trim().is_empty())
                .collect();
            let ring = KeyRing::from_settings(current, previous);
            let valid = key_ok(current) && older.iter().all(|p| key_ok(p));
            assert_eq!(ring.is_ok(), valid);
            match ring {
                Ok(ring) => {
                    assert_eq!(ring.keys().len(), 1 + older.len());
                    let debug = format!("{ring:?}");
                    assert!(!debug.contains(current.trim()));
                }
                Err(e) => assert_eq!(e, Error::InvalidKey),
            }
        }
    }
});

fn hex_of(raw: &[u8]) -> String {
    raw.iter().map(|b| format!("{b:02x}")).collect()
}
