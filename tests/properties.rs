//! Properties of sealing and opening over arbitrary keys, plaintexts, contexts and inputs.
//!
//! Case counts are kept modest so the file runs in a few seconds in a debug build.

mod common;

use common::{tohex, unhex};
use gather_seal::{open, open_bytes, seal, Error, Key, KeyRing, MIN_SEALED_LEN, NONCE_LEN};
use proptest::prelude::*;
use proptest::sample::Index;

fn plaintexts() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=1024)
}

fn contexts() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=96)
}

fn sealed_under(key: &[u8; 32], plaintext: &[u8], context: &[u8]) -> String {
    match seal(plaintext, &Key::from_bytes(key), context) {
        Ok(sealed) => sealed,
        Err(e) => panic!("seal failed: {e:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever is sealed opens again, byte for byte, with the same key and context.
    #[test]
    fn round_trip(key in any::<[u8; 32]>(), plaintext in plaintexts(), context in contexts()) {
        let sealed = sealed_under(&key, &plaintext, &context);
        let ring = KeyRing::new(Key::from_bytes(&key));
        prop_assert_eq!(open_bytes(&sealed, &ring, &context), Ok(plaintext.clone()));
        // Either case of hex is read.
        prop_assert_eq!(open_bytes(&sealed.to_ascii_uppercase(), &ring, &context), Ok(plaintext));
    }

    /// Text comes back as the same text through `open`.
    #[test]
    fn round_trip_text(key in any::<[u8; 32]>(), text in "\\PC{0,64}", context in contexts()) {
        let sealed = sealed_under(&key, text.as_bytes(), &context);
        prop_assert_eq!(open(&sealed, &KeyRing::new(Key::from_bytes(&key)), &context), Ok(text));
    }

    /// The wire format: lowercase hex of nonce, ciphertext as long as the plaintext, and tag.
    #[test]
    fn sealed_length_and_alphabet(key in any::<[u8; 32]>(), plaintext in plaintexts(), context in contexts()) {
        let sealed = sealed_under(&key, &plaintext, &context);
        prop_assert_eq!(sealed.len(), 2 * (28 + plaintext.len()));
        prop_assert_eq!(MIN_SEALED_LEN, 28);
        prop_assert!(
            sealed.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "not lowercase hex: {}", sealed
        );
    }

    /// Any one flipped bit, in nonce, ciphertext or tag, makes the value fail to authenticate.
    #[test]
    fn any_flipped_bit_is_unauthentic(
        key in any::<[u8; 32]>(),
        plaintext in plaintexts(),
        context in contexts(),
        bit in any::<Index>(),
    ) {
        let sealed = sealed_under(&key, &plaintext, &context);
        let mut bytes = unhex(&sealed);
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let ring = KeyRing::new(Key::from_bytes(&key));
        prop_assert_eq!(open_bytes(&tohex(&bytes), &ring, &context), Err(Error::Unauthentic));
    }

    /// A value opened with any other context fails to authenticate.
    #[test]
    fn other_context_is_unauthentic(
        key in any::<[u8; 32]>(),
        plaintext in plaintexts(),
        context in contexts(),
        other in contexts(),
    ) {
        prop_assume!(context != other);
        let sealed = sealed_under(&key, &plaintext, &context);
        let ring = KeyRing::new(Key::from_bytes(&key));
        prop_assert_eq!(open_bytes(&sealed, &ring, &other), Err(Error::Unauthentic));
    }

    /// A value opened with a ring that lacks its key fails; adding the key as an older key opens it.
    #[test]
    fn other_key_is_unauthentic(
        key in any::<[u8; 32]>(),
        other in any::<[u8; 32]>(),
        plaintext in plaintexts(),
        context in contexts(),
    ) {
        prop_assume!(key != other);
        let sealed = sealed_under(&key, &plaintext, &context);
        let without = KeyRing::new(Key::from_bytes(&other));
        prop_assert_eq!(open_bytes(&sealed, &without, &context), Err(Error::Unauthentic));
        let with = without.with_previous(Key::from_bytes(&key));
        prop_assert_eq!(open_bytes(&sealed, &with, &context), Ok(plaintext));
    }

    /// Two seals of the same input differ, starting with the nonce: every seal draws a fresh one.
    #[test]
    fn every_seal_has_a_fresh_nonce(key in any::<[u8; 32]>(), plaintext in plaintexts(), context in contexts()) {
        let first = sealed_under(&key, &plaintext, &context);
        let second = sealed_under(&key, &plaintext, &context);
        prop_assert_ne!(&first[..2 * NONCE_LEN], &second[..2 * NONCE_LEN]);
        prop_assert_ne!(first, second);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `open` never panics on arbitrary text and never accepts it.
    #[test]
    fn open_refuses_arbitrary_text(text in any::<String>(), context in contexts()) {
        let ring = common::ring(common::KEY_HEX);
        prop_assert!(open(&text, &ring, &context).is_err());
        prop_assert!(open_bytes(&text, &ring, &context).is_err());
    }

    /// Hex of any length (so the length and tag checks are reached, not only the hex check)
    /// fails with the error its shape calls for.
    #[test]
    fn open_refuses_arbitrary_hex(text in "[0-9a-fA-F]{0,160}", context in contexts()) {
        let ring = common::ring(common::KEY_HEX);
        let expected = if text.len() % 2 == 1 {
            Error::NotHex
        } else if text.len() < 2 * MIN_SEALED_LEN {
            Error::TooShort
        } else {
            Error::Unauthentic
        };
        prop_assert_eq!(open(&text, &ring, &context), Err(expected));
    }
}
