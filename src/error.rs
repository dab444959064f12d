//! The one error type of the crate.
//!
//! Every message is a fixed string: no variant carries plaintext, key material, associated data
//! or ciphertext, so an error can be logged or shown to a caller without leaking a secret.

use core::fmt;

/// Why a key, a sealed value or a Twilio request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A key was not exactly 64 hexadecimal characters (32 bytes) after trimming whitespace.
    InvalidKey,
    /// A key ring was given no key at all.
    EmptyKeyRing,
    /// A sealed value contained something other than an even number of hex digits.
    NotHex,
    /// A sealed value was shorter than a nonce and a tag (28 bytes, 56 hex characters).
    TooShort,
    /// Authentication failed: wrong key, tampered value, or wrong context. Deliberately one
    /// variant, so that an attacker learns nothing about which.
    Unauthentic,
    /// The value opened but was not UTF-8 text.
    NotUtf8,
    /// The platform's random number generator was not available.
    RandomUnavailable,
    /// A plaintext was longer than AES-GCM can seal under one nonce (64 GiB).
    TooLong,
    /// A Twilio request had no usable `CallSid`, so its values cannot be bound to the call.
    MissingCallSid,
    /// The step parameters of a gather action URL were malformed, or a value carried in them
    /// did not open for this call (tampered, or copied from another call).
    BadCallState,
    /// A submission came without an `X-Gather-Seal-Signature` header.
    MissingSignature,
    /// A submission's signature was malformed or did not match under any secret given.
    BadSignature,
    /// A submission's signature matched, but its time is outside the tolerance (a replay, or
    /// a clock far off).
    StaleSignature,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::InvalidKey => "key must be exactly 64 hex characters (32 bytes)",
            Error::EmptyKeyRing => "key ring needs at least one key",
            Error::NotHex => "sealed value is not hex",
            Error::TooShort => "sealed value is too short to hold a nonce and a tag",
            Error::Unauthentic => {
                "sealed value did not authenticate (wrong key, wrong context, or tampered)"
            }
            Error::NotUtf8 => "opened value is not UTF-8 text",
            Error::RandomUnavailable => "the platform random number generator is unavailable",
            Error::TooLong => "plaintext is too long to seal",
            Error::MissingCallSid => "request has no valid CallSid",
            Error::BadCallState => "gather step parameters are malformed or were tampered with",
            Error::MissingSignature => "submission has no X-Gather-Seal-Signature header",
            Error::BadSignature => "submission signature is malformed or does not match",
            Error::StaleSignature => "submission signature is too old or too far in the future",
        })
    }
}

impl std::error::Error for Error {}

/// A configuration setting that is missing or malformed. It names the setting and the rule it
/// broke, never the value (which may be a secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingError {
    /// The setting's name, or the path inside it: `AES_SECRET`,
    /// `GATHER_FLOWS.login.fields[1].length`.
    pub setting: String,
    /// What was wrong with it.
    pub problem: &'static str,
}

impl SettingError {
    pub(crate) fn new(setting: impl Into<String>, problem: &'static str) -> SettingError {
        SettingError {
            setting: setting.into(),
            problem,
        }
    }
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "setting {}: {}", self.setting, self.problem)
    }
}

impl std::error::Error for SettingError {}
