//! Helpers shared by the integration tests. Each test file uses only some of them.
#![allow(dead_code)]

pub mod caller;
pub mod gather;
pub mod testkit;

use gather_seal::{otp, Key, KeyRing};

/// Twilio Verify settings for tests: a throwaway API key and service, at a base URL nothing
/// listens on (the engine only builds the requests).
pub fn verify_settings() -> otp::Settings {
    let settings = otp::Settings::new(
        "SK00112233445566778899aabbccddeeff",
        "a-test-secret",
        "VA0123456789abcdef0123456789abcdef",
        Some("https://verify.example.com"),
    );
    settings.unwrap_or_else(|e| panic!("{e}"))
}

/// A fixed test key (the crate docs' example key). Test data only.
pub const KEY_HEX: &str = "a154eb4c759711bc2538a7cc021e9e9f17dd8aa63151c62ca28a82a4a404203d";
/// A second, unrelated test key.
pub const OTHER_KEY_HEX: &str = "0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000";
/// A CallSid of the shape Twilio sends: `CA` and 32 hex digits.
pub const CALL_SID: &str = "CA0123456789abcdef0123456789abcdef";
/// Another call.
pub const OTHER_CALL_SID: &str = "CAfedcba9876543210fedcba9876543210";
/// The XML declaration every TwiML document the crate writes begins with.
pub const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

pub fn key(hex: &str) -> Key {
    match Key::from_hex(hex) {
        Ok(key) => key,
        Err(e) => panic!("test key does not parse: {e}"),
    }
}

pub fn ring(hex: &str) -> KeyRing {
    KeyRing::new(key(hex))
}

/// Decodes hex written by a test (either case); panics on anything else.
pub fn unhex(text: &str) -> Vec<u8> {
    assert!(
        text.len().is_multiple_of(2),
        "odd-length hex in test data: {text:?}"
    );
    (0..text.len())
        .step_by(2)
        .map(|i| match u8::from_str_radix(&text[i..i + 2], 16) {
            Ok(byte) => byte,
            Err(_) => panic!("not hex in test data: {text:?}"),
        })
        .collect()
}

/// Lowercase hex, written independently of the crate's own encoder.
pub fn tohex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `message` repeats any run of `window` characters of `secret` (case-insensitive), so
/// that a leak of part of a key or ciphertext is caught, not only a leak of all of it.
pub fn leaks(message: &str, secret: &str, window: usize) -> bool {
    let message = message.to_ascii_lowercase();
    let secret = secret.to_ascii_lowercase();
    let secret: Vec<char> = secret.chars().collect();
    if secret.len() < window {
        return !secret.is_empty() && message.contains(&secret.iter().collect::<String>());
    }
    secret
        .windows(window)
        .any(|w| message.contains(&w.iter().collect::<String>()))
}
