//! The sealing ConversationRelay relay's pure parts: what it does to the caller's speech on its
//! way to the application, and how it signs the WebSocket it opens to the application.
//!
//! The relay sits between Twilio's ConversationRelay and the application's WebSocket. With
//! `speech = "redact"` (the default, [`crate::config::SpeechRule`]) every run of 6 or more digits
//! in a `prompt`'s `voicePrompt` reaches the application as `[redacted]` ([`redact`]). It opens
//! the application's socket with `X-Gather-Seal-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<upstream URL>")>` ([`sign_upstream`]): the submission's signature over the URL, so the
//! application checks it with the same `verifySubmission` rules (constant time, 300 s, several
//! secrets).

use crate::handoff;
use crate::twilio::{WebhookKeys, WebhookRefusal};

pub mod session;

/// What a redacted run of digits becomes.
pub const REDACTED: &str = "[redacted]";

/// The fewest digits in a run that is redacted.
pub const MIN_RUN: usize = 6;

/// `text` with every run of [`MIN_RUN`] or more ASCII digits, each next to the one before or
/// separated from it by spaces, dashes, dots or commas (`4242 4242`, `021-000-021`,
/// `4.2.4.2.4.2`, `4242,  4242`), replaced by [`REDACTED`]; and how many runs were. A separator
/// at a run's end stays. Digits spelled out in words, or in other scripts than ASCII, are not
/// recognised (speech recognition writes numbers in ASCII digits).
///
/// ```
/// use gather_seal::relay::redact;
/// assert_eq!(redact("my card is 4242 4242 4242 4242 thanks"), ("my card is [redacted] thanks".into(), 1));
/// assert_eq!(redact("room 101, code 12345"), ("room 101, code 12345".into(), 0));
/// ```
pub fn redact(text: &str) -> (String, usize) {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut runs = 0;
    // Where the text not yet copied to `out` starts.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A run: digits, each after the last directly or across one separator.
        let start = i;
        let mut end = i + 1;
        let mut digits = 1;
        loop {
            // Separators between two digits join them; at the run's end they stay.
            let gap = bytes[end..]
                .iter()
                .take_while(|b| matches!(b, b' ' | b'-' | b'.' | b','))
                .count();
            match bytes.get(end + gap) {
                Some(b) if b.is_ascii_digit() => end += gap + 1,
                _ => break,
            }
            digits += 1;
        }
        if digits >= MIN_RUN {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = end;
            runs += 1;
        }
        i = end;
    }
    out.push_str(&text[copied..]);
    (out, runs)
}

/// The `X-Gather-Seal-Signature` header the relay opens the application's WebSocket with, at
/// `timestamp` (Unix seconds): `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<t>.<url>")>`.
pub fn sign_upstream(secret: &[u8], timestamp: u64, url: &str) -> String {
    handoff::sign(secret, timestamp, url.as_bytes())
}

/// Whether the WebSocket handshake at `url` (the relay's route as Twilio was given it: `base`,
/// the public origin or `PUBLIC_URL`, then `/relay/<name>`) is Twilio's: ConversationRelay signs
/// the `wss://` URL with no parameters, and the same URL spelled `https://` is accepted too.
/// `settings` and `signature` are the two headers, as for a webhook ([`WebhookKeys::verify`]).
///
/// # Errors
///
/// The refusal of the `wss://` spelling when neither is signed.
pub fn check_handshake(
    keys: &WebhookKeys,
    settings: Option<&str>,
    signature: Option<&str>,
    url: &str,
) -> Result<(), WebhookRefusal> {
    let none: [(&str, &str); 0] = [];
    let (wss, https) = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => {
            (format!("ws://{rest}"), url.to_owned())
        }
        Some((_, rest)) => (format!("wss://{rest}"), format!("https://{rest}")),
        None => return Err(WebhookRefusal::BadSignature),
    };
    keys.verify(settings, signature, &wss, &none)
        .or_else(|refusal| match refusal {
            WebhookRefusal::BadSignature => keys.verify(settings, signature, &https, &none),
            other => Err(other),
        })
}
