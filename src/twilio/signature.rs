//! Twilio request signatures (`X-Twilio-Signature`).
//!
//! Twilio signs each webhook with an HMAC over the full URL it requested followed by every POST
//! parameter as `name` + `value`, sorted by name, and sends the base64 digest in the
//! `X-Twilio-Signature` header. The HMAC is SHA-1 keyed by the account's auth token, unless the
//! webhook is signed with a SharedKey (Webhook Rules): then the request carries
//! `X-Twilio-Webhooks-Signature-Settings: key=<sharedKeyId>,algorithm=<algorithm>`
//! ([`signature_algorithm_name`]) and the HMAC is the one named there, keyed by that SharedKey's
//! secret. Which keys a request may be signed with is [`super::webhook`]'s decision.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

/// The header Twilio adds to a webhook signed with a SharedKey.
pub const SIGNATURE_SETTINGS_HEADER: &str = "X-Twilio-Webhooks-Signature-Settings";

/// The HMAC a Twilio request signature is made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// `HMAC_SHA1`: the auth token's signature, and a SharedKey's when its settings say so.
    HmacSha1,
    /// `HMAC_SHA256`: a SharedKey's.
    HmacSha256,
}

impl SignatureAlgorithm {
    /// The algorithm an algorithm name stands for, as the `twilio` package's `toHashName` reads
    /// it: `HMAC_SHA1` or `HMAC_SHA256` in any case (as JavaScript's `toUpperCase` folds it:
    /// `ſ` reads as `S`), and an empty name as `HMAC_SHA1`. `None`: a name it does not support,
    /// under which no request is valid.
    pub fn from_name(name: &str) -> Option<Self> {
        if name.is_empty() || upper_case_is(name, "HMAC_SHA1") {
            Some(Self::HmacSha1)
        } else if upper_case_is(name, "HMAC_SHA256") {
            Some(Self::HmacSha256)
        } else {
            None
        }
    }

    /// The algorithm's name in the settings header.
    pub fn name(self) -> &'static str {
        match self {
            Self::HmacSha1 => "HMAC_SHA1",
            Self::HmacSha256 => "HMAC_SHA256",
        }
    }
}

/// The algorithm name in an `X-Twilio-Webhooks-Signature-Settings` header, as the `twilio`
/// package's `getSignatureAlgorithm` reads it: the value of the first comma-separated part whose
/// text before its first `=`, trimmed, is `algorithm` and whose value, trimmed, is not empty.
/// A missing or empty header, or one without such a part, names `HMAC_SHA1`. The name is
/// returned as written (trimmed); [`SignatureAlgorithm::from_name`] says whether it is supported.
///
/// Trimmed as JavaScript's `String.prototype.trim` trims: Unicode white space and U+FEFF, but
/// not U+0085.
pub fn signature_algorithm_name(header: Option<&str>) -> &str {
    for part in header.unwrap_or("").split(',') {
        if let Some((name, value)) = part.split_once('=') {
            let value = js_trim(value);
            if js_trim(name) == "algorithm" && !value.is_empty() {
                return value;
            }
        }
    }
    SignatureAlgorithm::HmacSha1.name()
}

/// Whether `name.toUpperCase()` in JavaScript is `upper` (ASCII capitals, digits and `_`).
/// Of every character beyond ASCII, only two upper-case to such text: U+017F `ſ` to `S` and
/// U+00DF `ß` to `SS` (checked over every code point with Node's `toUpperCase`), and no name
/// here holds `SS`; so ASCII letters and `ſ` are all there is to fold. (Rust's `to_uppercase`
/// gives the same answer, but its tables cost the worker about 10 KiB of gzip.)
fn upper_case_is(name: &str, upper: &str) -> bool {
    let folded = name.chars().map(|c| match c {
        '\u{17f}' => 'S',
        c => c.to_ascii_uppercase(),
    });
    folded.eq(upper.chars())
}

/// `text` trimmed as JavaScript trims: its WhiteSpace and LineTerminator characters, which are
/// Rust's white space less U+0085 (NEL) and with U+FEFF (the byte order mark).
fn js_trim(text: &str) -> &str {
    text.trim_matches(|c: char| (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}')
}

/// The signature Twilio sends for a request to `url` with these POST parameters, base64: the
/// HMAC-SHA1 keyed by the auth token.
///
/// Parameters are sorted by name (as JavaScript sorts strings, by UTF-16 code unit); repeated
/// names contribute each distinct value once, in sorted order, as Twilio's own libraries do.
pub fn twilio_signature<K: AsRef<str>, V: AsRef<str>>(
    auth_token: &str,
    url: &str,
    params: &[(K, V)],
) -> String {
    signature_with(SignatureAlgorithm::HmacSha1, auth_token, url, params)
}

/// The signature Twilio sends for a request to `url` with these POST parameters, base64, made
/// with `algorithm` keyed by `key` (the auth token, or a SharedKey's secret).
pub fn signature_with<K: AsRef<str>, V: AsRef<str>>(
    algorithm: SignatureAlgorithm,
    key: &str,
    url: &str,
    params: &[(K, V)],
) -> String {
    base64_mac(algorithm, key, url, &sorted(params))
}

/// Checks `signature` (the `X-Twilio-Signature` header) against a request to `url` with these
/// POST parameters, signed with HMAC-SHA1 under the auth token, in constant time.
///
/// Besides `url` as given, it accepts the variants Twilio's libraries accept, because Twilio
/// may sign with or without the scheme's default port: without a port, the URL with `:443`
/// (https) or `:80` (http) added; with a port, the URL with the port removed.
pub fn verify_twilio_signature<K: AsRef<str>, V: AsRef<str>>(
    auth_token: &str,
    url: &str,
    params: &[(K, V)],
    signature: &str,
) -> bool {
    verify_signature_with(
        SignatureAlgorithm::HmacSha1,
        &[auth_token],
        url,
        params,
        signature,
    )
}

/// Checks `signature` against a request to `url` with these POST parameters, signed with
/// `algorithm` under any of `keys`, in constant time: every key is tried with every URL variant
/// of [`verify_twilio_signature`], with no early exit, so the time taken does not say which key
/// or which variant matched. No keys: `false`.
pub fn verify_signature_with<S: AsRef<str>, K: AsRef<str>, V: AsRef<str>>(
    algorithm: SignatureAlgorithm,
    keys: &[S],
    url: &str,
    params: &[(K, V)],
    signature: &str,
) -> bool {
    // Compared as base64 text, as Twilio's own libraries compare: for the canonical padded
    // encoding Twilio sends this is the same as comparing the digests.
    let given = signature.trim().as_bytes();
    let sorted = sorted(params);
    let variants = url_variants(url);
    let mut valid = Choice::from(0);
    for key in keys {
        for candidate in variants.iter().flatten() {
            let expected = base64_mac(algorithm, key.as_ref(), candidate, &sorted);
            valid |= expected.as_bytes().ct_eq(given);
        }
    }
    valid.into()
}

/// Whether `digest` is the HMAC of `message` under `key` with `algorithm`, compared in constant
/// time (for the npm package, which builds the signed text as the `twilio` package does and
/// decodes the header itself).
pub fn mac_matches(
    algorithm: SignatureAlgorithm,
    key: &[u8],
    message: &[u8],
    digest: &[u8],
) -> bool {
    let expected = mac(algorithm, key, &[message]);
    expected.as_slice().ct_eq(digest).into()
}

/// The parameters as Twilio signs them: sorted by name then value (UTF-16 order), each distinct
/// pair once.
fn sorted<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> Vec<(&str, &str)> {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    // Equal pairs are identical, so an unstable sort loses nothing.
    sorted.sort_unstable_by(|a, b| {
        a.0.encode_utf16()
            .cmp(b.0.encode_utf16())
            .then_with(|| a.1.encode_utf16().cmp(b.1.encode_utf16()))
    });
    sorted.dedup();
    sorted
}

/// The base64 HMAC of `url` followed by the sorted parameters.
fn base64_mac(
    algorithm: SignatureAlgorithm,
    key: &str,
    url: &str,
    sorted: &[(&str, &str)],
) -> String {
    let mut parts = Vec::with_capacity(1 + 2 * sorted.len());
    parts.push(url.as_bytes());
    for (name, value) in sorted {
        parts.push(name.as_bytes());
        parts.push(value.as_bytes());
    }
    STANDARD.encode(mac(algorithm, key.as_bytes(), &parts))
}

/// The HMAC of the concatenated `parts` under `key`, with `algorithm`'s digest.
fn mac(algorithm: SignatureAlgorithm, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match algorithm {
        SignatureAlgorithm::HmacSha1 => hmac::<Hmac<Sha1>>(key, parts),
        SignatureAlgorithm::HmacSha256 => hmac::<Hmac<Sha256>>(key, parts),
    }
}

/// One HMAC over both digests.
fn hmac<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this never fails.
    let mut mac = <M as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// `url` itself, and the same URL with its default port added or its explicit port removed
/// ([`crate::url::port_toggled`]).
fn url_variants(url: &str) -> [Option<String>; 2] {
    [Some(url.to_owned()), crate::url::port_toggled(url)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example in Twilio's webhook security documentation ("Validating signatures
    /// from Twilio": auth token 12345, this URL and these five parameters).
    const DOC_TOKEN: &str = "12345";
    const DOC_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const DOC_PARAMS: [(&str, &str); 5] = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ];
    const DOC_SIGNATURE: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

    /// The vector in Twilio's own SDK test suites (twilio-csharp `RequestValidatorTest`): the
    /// same URL and token with the caller +14158675309.
    #[test]
    fn twilio_sdk_test_vector() {
        let params = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ];
        assert!(verify_twilio_signature(
            DOC_TOKEN,
            DOC_URL,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn twilio_documented_example_signs_and_verifies() {
        assert_eq!(
            twilio_signature(DOC_TOKEN, DOC_URL, &DOC_PARAMS),
            DOC_SIGNATURE
        );
        assert!(verify_twilio_signature(
            DOC_TOKEN,
            DOC_URL,
            &DOC_PARAMS,
            DOC_SIGNATURE
        ));
    }

    #[test]
    fn parameter_order_does_not_matter() {
        let mut shuffled = DOC_PARAMS;
        shuffled.reverse();
        assert!(verify_twilio_signature(
            DOC_TOKEN,
            DOC_URL,
            &shuffled,
            DOC_SIGNATURE
        ));
    }

    #[test]
    fn any_change_is_refused() {
        let mut changed = DOC_PARAMS;
        changed[2].1 = "1235";
        assert!(!verify_twilio_signature(
            DOC_TOKEN,
            DOC_URL,
            &changed,
            DOC_SIGNATURE
        ));
        assert!(!verify_twilio_signature(
            "12346",
            DOC_URL,
            &DOC_PARAMS,
            DOC_SIGNATURE
        ));
        let other_url = "https://mycompany.com/myapp.php?foo=1&bar=3";
        assert!(!verify_twilio_signature(
            DOC_TOKEN,
            other_url,
            &DOC_PARAMS,
            DOC_SIGNATURE
        ));
        assert!(!verify_twilio_signature(
            DOC_TOKEN,
            DOC_URL,
            &DOC_PARAMS[..4],
            DOC_SIGNATURE
        ));
        assert!(!verify_twilio_signature(
            DOC_TOKEN,
            DOC_URL,
            &DOC_PARAMS,
            ""
        ));
        assert!(!verify_twilio_signature(
            DOC_TOKEN,
            DOC_URL,
            &DOC_PARAMS,
            "not base64!"
        ));
        let truncated = &DOC_SIGNATURE[..DOC_SIGNATURE.len() - 4];
        assert!(!verify_twilio_signature(
            DOC_TOKEN,
            DOC_URL,
            &DOC_PARAMS,
            truncated
        ));
    }

    #[test]
    fn default_port_variants_are_accepted_both_ways() {
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        let signed_with_port = twilio_signature(DOC_TOKEN, with_port, &DOC_PARAMS);
        assert!(verify_twilio_signature(
            DOC_TOKEN,
            DOC_URL,
            &DOC_PARAMS,
            &signed_with_port
        ));
        assert!(verify_twilio_signature(
            DOC_TOKEN,
            with_port,
            &DOC_PARAMS,
            DOC_SIGNATURE
        ));
        // Another port is another URL.
        let other_port = "https://mycompany.com:8443/myapp.php?foo=1&bar=2";
        assert!(!verify_twilio_signature(
            DOC_TOKEN,
            other_port,
            &DOC_PARAMS,
            &signed_with_port
        ));
    }

    #[test]
    fn url_variants_keep_userinfo_and_ipv6() {
        let [_, alt] = url_variants("http://user:pw@[::1]/gather?x=1");
        assert_eq!(alt.as_deref(), Some("http://user:pw@[::1]:80/gather?x=1"));
        let [_, alt] = url_variants("http://127.0.0.1:8787/gather");
        assert_eq!(alt.as_deref(), Some("http://127.0.0.1/gather"));
        let [_, alt] = url_variants("ftp://example.com/");
        assert_eq!(alt, None);
        let [_, alt] = url_variants("no scheme");
        assert_eq!(alt, None);
    }

    #[test]
    fn repeated_parameters_count_each_distinct_value_once_sorted() {
        let params = [("A", "2"), ("B", "x"), ("A", "1"), ("A", "2")];
        let expected =
            twilio_signature("t", "https://e.com/", &[("A", "1"), ("A", "2"), ("B", "x")]);
        assert_eq!(twilio_signature("t", "https://e.com/", &params), expected);
    }
}
