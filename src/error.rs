//! The crate's errors, one type per operation (as age does): keys, sealing and opening
//! ([`Error`]); the call state a webhook carries ([`CallError`], [`BadCallState`]); a
//! submission's signature ([`SignatureError`]); settings ([`SettingError`]).
//!
//! Every message is a fixed string: no variant carries plaintext, key material, associated data
//! or ciphertext, so an error can be logged or shown to a caller without leaking a secret. No
//! function returns a type with a variant it cannot produce.

use core::fmt;

/// Why a key was refused, or a value could not be sealed or opened. Every authentication
/// failure is the one opaque [`Error::Unauthentic`], as RustCrypto's AEADs do.
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
        })
    }
}

impl std::error::Error for Error {}

/// The step parameters of a gather action URL were malformed, or a value carried in them did
/// not open for this call (tampered, or copied from another call).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadCallState;

impl fmt::Display for BadCallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("gather step parameters are malformed or were tampered with")
    }
}

impl std::error::Error for BadCallState {}

/// Why one turn of a call could not be taken ([`crate::flow::advance`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// The request had no usable `CallSid`, so its values cannot be bound to the call.
    MissingCallSid,
    /// The carried call state is malformed or does not open for this call ([`BadCallState`]).
    BadCallState,
    /// A value could not be sealed: the platform's random number generator was unavailable.
    SealFailed,
}

impl From<BadCallState> for CallError {
    fn from(_: BadCallState) -> CallError {
        CallError::BadCallState
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::MissingCallSid => f.write_str("request has no valid CallSid"),
            CallError::BadCallState => BadCallState.fmt(f),
            CallError::SealFailed => f.write_str("a value could not be sealed"),
        }
    }
}

impl std::error::Error for CallError {}

/// Why a submission's `X-Gather-Seal-Signature` was refused ([`crate::handoff::verify_submission`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    /// No header, or a blank one.
    Missing,
    /// Malformed, more than 8 `v1` entries, or no `v1` matched under any secret given.
    Bad,
    /// It matched, but its time is outside the tolerance (a replay, or a clock far off).
    Stale,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureError::Missing => "submission has no X-Gather-Seal-Signature header",
            SignatureError::Bad => "submission signature is malformed or does not match",
            SignatureError::Stale => "submission signature is too old or too far in the future",
        })
    }
}

impl std::error::Error for SignatureError {}

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
