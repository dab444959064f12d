//! A submission's signature: `X-Gather-Seal-Signature: t=<unix seconds>,v1=<hex
//! HMAC-SHA256(secret, "<t>.<body>")>`, made by the worker ([`sign`]) and checked by the
//! application ([`verify_submission`], which the npm package's `verifySubmission` runs).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::SignatureError;

type HmacSha256 = Hmac<Sha256>;

/// How far a submission's time may be from the receiver's clock, unless it says otherwise.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// The [`super::SIGNATURE_HEADER`] value for `body` sent at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(tag))
}

fn mac(secret: &[u8], timestamp: u64, body: &[u8]) -> HmacSha256 {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Checks a submission's [`super::SIGNATURE_HEADER`] against the raw body, with any of `secrets`
/// (several while a secret is being rotated), in constant time.
///
/// The work is bounded by the receiver's secrets, not by what the sender writes: a header may
/// carry at most 8 `v1` entries (the worker sends one; more are refused before any MAC is
/// computed), each secret's MAC is computed once, and every `v1` is compared with every MAC in
/// constant time.
///
/// Fails with [`SignatureError::Missing`] for an absent or blank header,
/// [`SignatureError::Bad`] when it is malformed, has more than 8 `v1` entries, or no `v1`
/// matches under any secret (no secret at all included), and [`SignatureError::Stale`] when it
/// matches but `t` is more than `tolerance_secs` from `now_unix`, either way.
///
/// ```
/// use gather_seal::handoff::{sign, verify_submission};
/// let header = sign(b"whsec-new", 1_700_000_000, b"{}");
/// assert!(verify_submission(b"{}", Some(&header), &[b"whsec-old", b"whsec-new"], 300, 1_700_000_100).is_ok());
/// assert!(verify_submission(b"{ }", Some(&header), &[b"whsec-new"], 300, 1_700_000_100).is_err());
/// ```
pub fn verify_submission(
    body: &[u8],
    header: Option<&str>,
    secrets: &[&[u8]],
    tolerance_secs: u64,
    now_unix: u64,
) -> Result<(), SignatureError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty());
    let header = header.ok_or(SignatureError::Missing)?;
    const MAX_SIGNATURES: usize = 8;
    let mut timestamp = None;
    // Every `v1` entry counts towards the cap, a malformed one too; only hex of the right
    // length can match.
    let mut entries = 0;
    let mut tags = [[0u8; 32]; MAX_SIGNATURES];
    let mut valid = 0;
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", t)) if timestamp.is_none() => {
                let digits = (1..=19).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit());
                timestamp = digits.then(|| t.parse::<u64>().ok()).flatten();
                timestamp.ok_or(SignatureError::Bad)?;
            }
            Some(("t", _)) => return Err(SignatureError::Bad),
            Some(("v1", tag)) => {
                entries += 1;
                if entries > MAX_SIGNATURES {
                    return Err(SignatureError::Bad);
                }
                if hex::decode_to_slice(tag, &mut tags[valid]).is_ok() {
                    valid += 1;
                }
            }
            // Other schemes (a future v2) are skipped, as Stripe's receivers do.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Bad)?;
    let mut matched = subtle::Choice::from(0);
    for secret in secrets {
        let expected = mac(secret, timestamp, body).finalize().into_bytes();
        for tag in &tags[..valid] {
            matched |= subtle::ConstantTimeEq::ct_eq(&expected[..], &tag[..]);
        }
    }
    if !bool::from(matched) {
        return Err(SignatureError::Bad);
    }
    if now_unix.abs_diff(timestamp) > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    Ok(())
}
