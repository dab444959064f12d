//! Twilio's SharedKey signatures (`X-Twilio-Webhooks-Signature-Settings`): HMAC-SHA256 beside
//! HMAC-SHA1 against an independent implementation, the settings header read as the `twilio`
//! package reads it (one table, `tests/data/signature-settings/cases`, which the Node suite
//! also holds the official package to), and every verdict of [`WebhookKeys::verify`]: rotation
//! and each refusal.

use gather_seal::outcome::Outcome;
use gather_seal::twilio::{
    signature_algorithm_name, signature_with, twilio_signature, verify_signature_with,
    verify_twilio_signature, SignatureAlgorithm, WebhookKeys, WebhookRefusal,
};

use SignatureAlgorithm::{HmacSha1, HmacSha256};

/// Twilio's documented example ("Validating signatures from Twilio").
const DOC_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const DOC_PARAMS: [(&str, &str); 5] = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
];

/// A throwaway shared key secret, and an older one.
const SHARED: &str = "whsk_test_0123456789abcdef0123456789abcdef";
const OLD_SHARED: &str = "whsk_old_fedcba9876543210fedcba9876543210";
const TOKEN: &str = "12345";

// Vectors from Python's hmac and hashlib, independent of this crate and of Twilio's libraries:
//   data = url + "".join(name + value for name, value in sorted(params))
//   base64.b64encode(hmac.new(key.encode(), data.encode(), hashlib.sha256).digest())
// (hashlib.sha1 for the SHA-1 lines). The twilio package's getExpectedTwilioSignature(key, url,
// params, 'HMAC_SHA256') gives the same text for the first and the Unicode vector.
/// Algorithm, key, URL, parameters, signature.
type Vector = (
    SignatureAlgorithm,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

const PYTHON_VECTORS: [Vector; 7] = [
    (
        HmacSha256,
        SHARED,
        DOC_URL,
        &DOC_PARAMS,
        "wMoG8feJP8t9TEtDaXIhl32eakVGvJlOGdxrrv+CuR4=",
    ),
    (
        HmacSha1,
        SHARED,
        DOC_URL,
        &DOC_PARAMS,
        "s2DE6jqs+C2GwXwYDRVs4Ynur9g=",
    ),
    (
        HmacSha256,
        TOKEN,
        DOC_URL,
        &DOC_PARAMS,
        "Rmm4Vzj+Ky7JGoWXMCsZDZuHDszLr9xvdbvitrDr4/M=",
    ),
    (
        HmacSha1,
        TOKEN,
        DOC_URL,
        &DOC_PARAMS,
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
    ),
    (
        HmacSha256,
        SHARED,
        "https://mycompany.com:443/myapp.php?foo=1&bar=2",
        &DOC_PARAMS,
        "qtoQzRCLkqNW8iOWv6GJDDIuCBeBuPOrBLAx8rNmiSI=",
    ),
    (
        HmacSha256,
        SHARED,
        "https://gather.example.com/gather/login?step=1",
        &[
            ("Digits", "4242"),
            ("From", "+441234567890"),
            ("SpeechResult", "Zürich 東京 🔐"),
            ("CallSid", "CA0123"),
        ],
        "+CqxEOwx/oikad0HNv7ShvMW5mXcvemm5AJaxBEmCg4=",
    ),
    (
        HmacSha256,
        SHARED,
        "https://e.com/",
        &[],
        "EHwNkpQBCg9iYbB33kuGKV+8MBJoOaYYvoQnig0rR08=",
    ),
];

#[test]
fn signatures_meet_python_s_hmac() {
    for (algorithm, key, url, params, expected) in PYTHON_VECTORS {
        assert_eq!(
            signature_with(algorithm, key, url, params),
            expected,
            "{algorithm:?} {url}"
        );
        assert!(verify_signature_with(
            algorithm,
            &[key],
            url,
            params,
            expected
        ));
        // The other algorithm's signature under the same key is no signature.
        let other = if algorithm == HmacSha1 {
            HmacSha256
        } else {
            HmacSha1
        };
        assert!(!verify_signature_with(other, &[key], url, params, expected));
    }
}

#[test]
fn the_auth_token_functions_are_hmac_sha1() {
    assert_eq!(
        twilio_signature(TOKEN, DOC_URL, &DOC_PARAMS),
        signature_with(HmacSha1, TOKEN, DOC_URL, &DOC_PARAMS)
    );
    assert!(verify_twilio_signature(
        TOKEN,
        DOC_URL,
        &DOC_PARAMS,
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    ));
    assert!(!verify_twilio_signature(
        TOKEN,
        DOC_URL,
        &DOC_PARAMS,
        "Rmm4Vzj+Ky7JGoWXMCsZDZuHDszLr9xvdbvitrDr4/M="
    ));
}

#[test]
fn sha256_signatures_take_the_port_variants() {
    let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    let signed = signature_with(HmacSha256, SHARED, with_port, &DOC_PARAMS);
    assert!(verify_signature_with(
        HmacSha256,
        &[SHARED],
        DOC_URL,
        &DOC_PARAMS,
        &signed
    ));
    let signed = signature_with(HmacSha256, SHARED, DOC_URL, &DOC_PARAMS);
    assert!(verify_signature_with(
        HmacSha256,
        &[SHARED],
        with_port,
        &DOC_PARAMS,
        &signed
    ));
    // Another port is another URL (its variant without the port is the URL signed here).
    let other_port = "https://mycompany.com:8443/myapp.php?foo=1&bar=2";
    let signed = signature_with(HmacSha256, SHARED, with_port, &DOC_PARAMS);
    assert!(!verify_signature_with(
        HmacSha256,
        &[SHARED],
        other_port,
        &DOC_PARAMS,
        &signed
    ));
}

#[test]
fn any_key_of_the_list_verifies_and_no_key_verifies_nothing() {
    let signed = signature_with(HmacSha256, OLD_SHARED, DOC_URL, &DOC_PARAMS);
    assert!(verify_signature_with(
        HmacSha256,
        &[SHARED, OLD_SHARED],
        DOC_URL,
        &DOC_PARAMS,
        &signed
    ));
    assert!(!verify_signature_with(
        HmacSha256,
        &[SHARED],
        DOC_URL,
        &DOC_PARAMS,
        &signed
    ));
    assert!(!verify_signature_with::<&str, _, _>(
        HmacSha256,
        &[],
        DOC_URL,
        &DOC_PARAMS,
        &signed
    ));
}

// ------------------------------------------------------------------------------------------
// The settings header, as the twilio package reads it
// ------------------------------------------------------------------------------------------

/// `tests/data/signature-settings/cases`: `header | name | verdict | why` per line, the first
/// two as JSON (`null`: no header), the verdict `sha1`, `sha256` or `unsupported`.
#[test]
fn the_settings_header_is_read_as_the_twilio_package_reads_it() {
    let table = include_str!("data/signature-settings/cases");
    let mut cases = 0;
    for line in table
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let columns: Vec<&str> = line.split(" | ").map(str::trim).collect();
        let [header, name, verdict, why] = columns[..] else {
            panic!("a case has four columns: {line}");
        };
        let header: Option<String> = serde_json::from_str(header).expect("header is JSON");
        let name: String = serde_json::from_str(name).expect("name is JSON");
        let read = signature_algorithm_name(header.as_deref());
        assert_eq!(read, name, "{why}: {header:?}");
        let expected = match verdict {
            "sha1" => Some(HmacSha1),
            "sha256" => Some(HmacSha256),
            "unsupported" => None,
            other => panic!("unknown verdict {other}"),
        };
        assert_eq!(
            SignatureAlgorithm::from_name(read),
            expected,
            "{why}: {header:?}"
        );
        cases += 1;
    }
    assert!(cases >= 25, "the table has its cases: {cases}");
}

#[test]
fn names_are_spelled_as_twilio_spells_them() {
    assert_eq!(HmacSha1.name(), "HMAC_SHA1");
    assert_eq!(HmacSha256.name(), "HMAC_SHA256");
    assert_eq!(SignatureAlgorithm::from_name(""), Some(HmacSha1));
    assert_eq!(
        SignatureAlgorithm::from_name("hMaC_sHa256"),
        Some(HmacSha256)
    );
    assert_eq!(SignatureAlgorithm::from_name(" HMAC_SHA256"), None);
}

// ------------------------------------------------------------------------------------------
// The worker's verdict
// ------------------------------------------------------------------------------------------

const SETTINGS_256: &str = "key=webhooks_sharedkey_0123,algorithm=HMAC_SHA256";

fn keys() -> WebhookKeys {
    WebhookKeys::new(TOKEN).with_shared_keys(SHARED, &format!(" , {OLD_SHARED} ,,"))
}

fn verdict(
    keys: &WebhookKeys,
    settings: Option<&str>,
    signature: Option<&str>,
) -> Result<(), WebhookRefusal> {
    keys.verify(settings, signature, DOC_URL, &DOC_PARAMS)
}

fn signed(algorithm: SignatureAlgorithm, key: &str) -> String {
    signature_with(algorithm, key, DOC_URL, &DOC_PARAMS)
}

#[test]
fn no_settings_header_is_the_auth_token_s_sha1() {
    let keys = keys();
    assert_eq!(verdict(&keys, None, Some(&signed(HmacSha1, TOKEN))), Ok(()));
    // An empty header is no header, as in the twilio package's middleware.
    assert_eq!(
        verdict(&keys, Some(""), Some(&signed(HmacSha1, TOKEN))),
        Ok(())
    );
    // A shared key's signature without the header is refused, whatever the algorithm.
    for refused in [
        signed(HmacSha256, SHARED),
        signed(HmacSha1, SHARED),
        signed(HmacSha256, TOKEN),
    ] {
        assert_eq!(
            verdict(&keys, None, Some(&refused)),
            Err(WebhookRefusal::BadSignature)
        );
    }
    assert_eq!(
        verdict(&keys, None, None),
        Err(WebhookRefusal::BadSignature)
    );
}

#[test]
fn the_settings_header_takes_the_shared_keys_with_its_algorithm() {
    let keys = keys();
    assert_eq!(
        verdict(&keys, Some(SETTINGS_256), Some(&signed(HmacSha256, SHARED))),
        Ok(())
    );
    // Rotation: a previous key still signs.
    assert_eq!(
        verdict(
            &keys,
            Some(SETTINGS_256),
            Some(&signed(HmacSha256, OLD_SHARED))
        ),
        Ok(())
    );
    // HMAC_SHA1 named, or no algorithm named: SHA-1 under the shared key.
    for settings in [
        "key=webhooks_sharedkey_0123,algorithm=HMAC_SHA1",
        "key=webhooks_sharedkey_0123",
    ] {
        assert_eq!(
            verdict(&keys, Some(settings), Some(&signed(HmacSha1, SHARED))),
            Ok(())
        );
        assert_eq!(
            verdict(&keys, Some(settings), Some(&signed(HmacSha256, SHARED))),
            Err(WebhookRefusal::BadSignature)
        );
    }
    // The algorithm's name in any case.
    let lower = "key=k,algorithm=hmac_sha256";
    assert_eq!(
        verdict(&keys, Some(lower), Some(&signed(HmacSha256, SHARED))),
        Ok(())
    );
}

#[test]
fn with_the_settings_header_the_auth_token_is_refused() {
    let keys = keys();
    for refused in [signed(HmacSha256, TOKEN), signed(HmacSha1, TOKEN)] {
        assert_eq!(
            verdict(&keys, Some(SETTINGS_256), Some(&refused)),
            Err(WebhookRefusal::BadSignature)
        );
    }
    // The algorithm named is the one checked: SHA-1 by the shared key under HMAC_SHA256 is not.
    assert_eq!(
        verdict(&keys, Some(SETTINGS_256), Some(&signed(HmacSha1, SHARED))),
        Err(WebhookRefusal::BadSignature)
    );
    assert_eq!(
        verdict(&keys, Some(SETTINGS_256), None),
        Err(WebhookRefusal::BadSignature)
    );
    assert_eq!(
        verdict(
            &keys,
            Some(SETTINGS_256),
            Some(&signed(HmacSha256, "another key"))
        ),
        Err(WebhookRefusal::BadSignature)
    );
}

#[test]
fn an_unsupported_algorithm_is_refused_whatever_the_signature() {
    let keys = keys();
    for settings in [
        "key=k,algorithm=HMAC_SHA512",
        "key=k,algorithm=HMAC-SHA256",
        "algorithm=HMAC_SHA256=x",
    ] {
        for signature in [
            signed(HmacSha256, SHARED),
            signed(HmacSha1, SHARED),
            signed(HmacSha1, TOKEN),
        ] {
            assert_eq!(
                verdict(&keys, Some(settings), Some(&signature)),
                Err(WebhookRefusal::UnsupportedAlgorithm),
                "{settings}"
            );
        }
    }
}

#[test]
fn the_settings_header_without_a_shared_key_is_refused() {
    for keys in [
        WebhookKeys::new(TOKEN),
        WebhookKeys::new(TOKEN).with_shared_keys("", ""),
        WebhookKeys::new(TOKEN).with_shared_keys("  ", " , ,"),
    ] {
        assert!(!keys.has_shared_key());
        for signature in [signed(HmacSha1, TOKEN), signed(HmacSha256, SHARED)] {
            assert_eq!(
                verdict(&keys, Some(SETTINGS_256), Some(&signature)),
                Err(WebhookRefusal::NoSharedKey)
            );
        }
        // Before the algorithm is looked at: the setting is what the operator must fix first.
        assert_eq!(
            verdict(&keys, Some("algorithm=HMAC_SHA512"), None),
            Err(WebhookRefusal::NoSharedKey)
        );
        // The auth token still works without the header.
        assert_eq!(verdict(&keys, None, Some(&signed(HmacSha1, TOKEN))), Ok(()));
    }
}

#[test]
fn shared_keys_are_trimmed_and_previous_ones_alone_count() {
    let keys = WebhookKeys::new(TOKEN).with_shared_keys(&format!(" {SHARED}\n"), "");
    assert_eq!(
        verdict(&keys, Some(SETTINGS_256), Some(&signed(HmacSha256, SHARED))),
        Ok(())
    );
    let keys = WebhookKeys::new(TOKEN).with_shared_keys("", OLD_SHARED);
    assert!(keys.has_shared_key());
    assert_eq!(
        verdict(
            &keys,
            Some(SETTINGS_256),
            Some(&signed(HmacSha256, OLD_SHARED))
        ),
        Ok(())
    );
}

#[test]
fn each_refusal_has_its_outcome_and_a_fixed_message() {
    let refusals = [
        (
            WebhookRefusal::BadSignature,
            Outcome::BadSignature,
            "bad-signature",
        ),
        (
            WebhookRefusal::UnsupportedAlgorithm,
            Outcome::UnsupportedSignatureAlgorithm,
            "unsupported-signature-algorithm",
        ),
        (
            WebhookRefusal::NoSharedKey,
            Outcome::NoSharedKey,
            "no-shared-key",
        ),
    ];
    for (refusal, outcome, word) in refusals {
        assert_eq!(refusal.outcome(), outcome);
        assert_eq!(outcome.as_str(), word);
        assert!(!refusal.to_string().is_empty());
    }
}

#[test]
fn debug_shows_no_key() {
    let shown = format!("{:?}", keys());
    assert!(!shown.contains(TOKEN) && !shown.contains(SHARED) && !shown.contains(OLD_SHARED));
    assert!(shown.contains("[redacted]"));
}
