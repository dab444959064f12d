//! Twilio request signatures (`X-Twilio-Signature`).
//!
//! Twilio signs each webhook with HMAC-SHA1, keyed by the account's auth token, over the full
//! URL it requested followed by every POST parameter as `name` + `value`, sorted by name, and
//! sends the base64 digest in the `X-Twilio-Signature` header.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::{Choice, ConstantTimeEq};

type HmacSha1 = Hmac<Sha1>;

/// The signature Twilio sends for a request to `url` with these POST parameters, base64.
///
/// Parameters are sorted by name (as JavaScript sorts strings, by UTF-16 code unit); repeated
/// names contribute each distinct value once, in sorted order, as Twilio's own libraries do.
pub fn twilio_signature<K: AsRef<str>, V: AsRef<str>>(
    auth_token: &str,
    url: &str,
    params: &[(K, V)],
) -> String {
    STANDARD.encode(mac_for(auth_token, url, params).finalize().into_bytes())
}

/// Checks `signature` (the `X-Twilio-Signature` header) against a request to `url` with these
/// POST parameters, in constant time.
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
    // Compared as base64 text, as Twilio's own libraries compare: for the canonical padded
    // encoding Twilio sends this is the same as comparing the digests.
    let given = signature.trim().as_bytes();
    let mut valid = Choice::from(0);
    for candidate in url_variants(url).iter().flatten() {
        // Every variant is checked, so the time taken does not say which one matched.
        let expected = STANDARD.encode(
            mac_for(auth_token, candidate, params)
                .finalize()
                .into_bytes(),
        );
        valid |= expected.as_bytes().ct_eq(given);
    }
    valid.into()
}

fn mac_for<K: AsRef<str>, V: AsRef<str>>(
    auth_token: &str,
    url: &str,
    params: &[(K, V)],
) -> HmacSha1 {
    // HMAC accepts keys of any length, so this never fails.
    let mut mac = <HmacSha1 as Mac>::new_from_slice(auth_token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(url.as_bytes());
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
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
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
