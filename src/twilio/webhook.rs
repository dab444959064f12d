//! Whether a webhook is Twilio's: which keys and which HMAC its signature is checked with, and
//! which refusal a request gets (the worker's log outcome). The worker hands over the headers
//! and the request; the decision is all here.
//!
//! | `X-Twilio-Webhooks-Signature-Settings` | checked with | refused as |
//! |---|---|---|
//! | absent (or empty) | HMAC-SHA1 under `TWILIO_AUTH_TOKEN` | `bad-signature` |
//! | present, no shared key set | nothing | `no-shared-key` |
//! | present, algorithm `HMAC_SHA256` or `HMAC_SHA1` (or none named) | that HMAC under the shared key and each previous one | `bad-signature` |
//! | present, another algorithm | nothing | `unsupported-signature-algorithm` |
//!
//! With the header, the auth token's signature is refused: Twilio announces a SharedKey
//! signature with it, so accepting the auth token there would let either key stand in for the
//! other. Without the header, a SharedKey's signature is refused for the same reason.

use std::fmt;

use zeroize::Zeroizing;

use super::signature::{signature_algorithm_name, verify_signature_with, SignatureAlgorithm};
use crate::outcome::Outcome;

/// Why a webhook is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookRefusal {
    /// No `X-Twilio-Signature`, or not a signature of this request under any accepted key.
    BadSignature,
    /// The settings header names an algorithm other than `HMAC_SHA1` or `HMAC_SHA256`.
    UnsupportedAlgorithm,
    /// The settings header is present but no shared key is set.
    NoSharedKey,
}

impl WebhookRefusal {
    /// The log's outcome word for this refusal.
    pub fn outcome(self) -> Outcome {
        match self {
            Self::BadSignature => Outcome::BadSignature,
            Self::UnsupportedAlgorithm => Outcome::UnsupportedSignatureAlgorithm,
            Self::NoSharedKey => Outcome::NoSharedKey,
        }
    }
}

impl fmt::Display for WebhookRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadSignature => "the request is not signed by Twilio",
            Self::UnsupportedAlgorithm => "the signature settings name an unsupported algorithm",
            Self::NoSharedKey => "the request is signed with a shared key, and none is set",
        })
    }
}

/// The keys a webhook may be signed with: the auth token, and the shared keys (current first,
/// then previous ones, still accepted during a rotation). Wiped on drop; `Debug` shows none.
pub struct WebhookKeys {
    auth_token: Zeroizing<String>,
    shared: Vec<Zeroizing<String>>,
}

impl WebhookKeys {
    /// The auth token's key set, with no shared key.
    pub fn new(auth_token: &str) -> Self {
        Self {
            auth_token: Zeroizing::new(auth_token.to_owned()),
            shared: Vec::new(),
        }
    }

    /// Adds the shared keys from their settings' texts: `current` (one key) and `previous`
    /// (comma-separated). Each is trimmed; blank ones are ignored, so two unset settings leave
    /// the auth token alone.
    pub fn with_shared_keys(mut self, current: &str, previous: &str) -> Self {
        let keys = std::iter::once(current).chain(previous.split(','));
        self.shared.extend(
            keys.map(str::trim)
                .filter(|k| !k.is_empty())
                .map(|k| Zeroizing::new(k.to_owned())),
        );
        self
    }

    /// Whether any shared key is set.
    pub fn has_shared_key(&self) -> bool {
        !self.shared.is_empty()
    }

    /// Whether a webhook to `url` with these POST parameters is Twilio's. `settings` is the
    /// `X-Twilio-Webhooks-Signature-Settings` header and `signature` the `X-Twilio-Signature`
    /// header, each `None` when absent. The rules are in the [module docs](self).
    ///
    /// # Errors
    ///
    /// The refusal: see [`WebhookRefusal`]'s variants.
    pub fn verify<K: AsRef<str>, V: AsRef<str>>(
        &self,
        settings: Option<&str>,
        signature: Option<&str>,
        url: &str,
        params: &[(K, V)],
    ) -> Result<(), WebhookRefusal> {
        // An empty header is no header, as in the twilio package's middleware (`"" ? … : …`).
        let signed = match settings.filter(|s| !s.is_empty()) {
            None => {
                let keys = [self.auth_token.as_str()];
                check(SignatureAlgorithm::HmacSha1, &keys, signature, url, params)
            }
            Some(settings) => {
                if self.shared.is_empty() {
                    return Err(WebhookRefusal::NoSharedKey);
                }
                let name = signature_algorithm_name(Some(settings));
                let algorithm = SignatureAlgorithm::from_name(name)
                    .ok_or(WebhookRefusal::UnsupportedAlgorithm)?;
                check(algorithm, &self.shared, signature, url, params)
            }
        };
        if signed {
            Ok(())
        } else {
            Err(WebhookRefusal::BadSignature)
        }
    }
}

fn check<S: AsRef<str>, K: AsRef<str>, V: AsRef<str>>(
    algorithm: SignatureAlgorithm,
    keys: &[S],
    signature: Option<&str>,
    url: &str,
    params: &[(K, V)],
) -> bool {
    signature.is_some_and(|s| verify_signature_with(algorithm, keys, url, params, s))
}

impl fmt::Debug for WebhookKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookKeys")
            .field("auth_token", &"[redacted]")
            .field("shared_keys", &self.shared.len())
            .finish()
    }
}
