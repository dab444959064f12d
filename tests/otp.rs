//! Twilio Verify v2 for `verify` fields (`verify`): the settings it needs, the two requests
//! the worker makes, how their answers read, and which callers a code can be sent to.

mod common;

use base64::Engine as _;
use common::leaks;
use gather_seal::config::Channel;
use gather_seal::flow::CodeCheck;
use gather_seal::otp::{read_check, recipient, sent, Settings, DEFAULT_URL};
use gather_seal::SettingError;

/// An API key SID of the shape Twilio gives: `SK` and 32 hex digits. Test data only.
const KEY_SID: &str = "SK0123456789abcdef0123456789abcdef";
/// Its secret. Test data only; the marker shows whether an error repeats it.
const SECRET: &str = "s3cr3t-LeakQ7";
/// A Verify service SID: `VA` and 32 hex digits.
const SERVICE: &str = "VAfedcba9876543210fedcba9876543210";
/// A number Twilio reserves for tests (a valid mobile number).
const TO: &str = "+15005550001";

fn settings(base_url: Option<&str>) -> Settings {
    match Settings::new(KEY_SID, SECRET, SERVICE, base_url) {
        Ok(settings) => settings,
        Err(e) => panic!("settings refused: {e}"),
    }
}

fn refused(sid: &str, secret: &str, service: &str, base_url: Option<&str>) -> SettingError {
    match Settings::new(sid, secret, service, base_url) {
        Ok(_) => panic!("accepted: {sid:?} {service:?} {base_url:?}"),
        Err(e) => e,
    }
}

// ------------------------------------------------------------------------------------------
// Settings
// ------------------------------------------------------------------------------------------

#[test]
fn the_default_base_is_twilio_s_and_a_local_stand_in_may_replace_it() {
    assert_eq!(DEFAULT_URL, "https://verify.twilio.com");
    let twilio = format!("https://verify.twilio.com/v2/Services/{SERVICE}");
    let local = format!("http://127.0.0.1:4010/v2/Services/{SERVICE}");
    let cases = [
        (None, twilio.clone()),
        (Some("https://verify.twilio.com"), twilio.clone()),
        (Some("https://verify.twilio.com/"), twilio.clone()),
        (Some("https://verify.twilio.com///"), twilio.clone()),
        (Some("http://127.0.0.1:4010"), local.clone()),
        (Some("http://127.0.0.1:4010/"), local.clone()),
        (
            Some("http://localhost:4010"),
            format!("http://localhost:4010/v2/Services/{SERVICE}"),
        ),
        (
            Some("https://proxy.example.com/twilio/"),
            format!("https://proxy.example.com/twilio/v2/Services/{SERVICE}"),
        ),
    ];
    for (base, service_url) in cases {
        let settings = settings(base);
        assert_eq!(
            settings.send(TO, Channel::Sms).0,
            format!("{service_url}/Verifications"),
            "{base:?}"
        );
        assert_eq!(
            settings.check(TO, "123456").0,
            format!("{service_url}/VerificationCheck"),
            "{base:?}"
        );
    }
}

#[test]
fn settings_that_differ_only_in_hex_case_or_secret_are_accepted() {
    let upper_sid = format!("SK{}", "0123456789ABCDEF".repeat(2));
    let upper_service = format!("VA{}", "FEDCBA9876543210".repeat(2));
    for (sid, secret, service) in [
        (KEY_SID, SECRET, SERVICE),
        (upper_sid.as_str(), SECRET, SERVICE),
        (KEY_SID, SECRET, upper_service.as_str()),
        (KEY_SID, "  padded-secret\n", SERVICE),
        (KEY_SID, "pässwörd:with:colons", SERVICE),
        (KEY_SID, "x", SERVICE),
    ] {
        if let Err(e) = Settings::new(sid, secret, service, None) {
            panic!("{sid} / {service} refused: {e}");
        }
    }
}

const KEY_SID_PROBLEM: &str = "must be an API key SID: SK and 32 hex digits";
const SECRET_PROBLEM: &str = "is missing (a flow has a verify field)";
const SECRET_CHARS: &str = "must be the API key's secret, without spaces or control characters";
const SERVICE_PROBLEM: &str = "must be a Verify service SID: VA and 32 hex digits";
const URL_PROBLEM: &str = "must be an https:// URL (http:// only to localhost or 127.0.0.1)";

/// (why, key SID, secret, service SID, base URL, setting, problem, marker).
type BadSetting<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a str,
    &'static str,
    Option<&'a str>,
);

/// Each bad input, alone among good ones, refused with the setting at fault and its fixed
/// problem; `marker` is a piece of the bad value that must not appear in the error.
#[test]
fn each_bad_setting_is_refused_by_name_without_repeating_it() {
    let hex = "0123456789abcdef0123456789abcdef";
    let short = format!("SK{}", &hex[..31]);
    let short = short.as_str();
    let long = format!("SK{hex}0");
    let long = long.as_str();
    let account = format!("AC{hex}");
    let account = account.as_str();
    let lower = format!("sk{hex}");
    let lower = lower.as_str();
    let marked = format!("SKLeakQ7{}", &hex[..26]);
    let marked = marked.as_str();
    let spaced = format!(" SK{}", &hex[..31]);
    let spaced = spaced.as_str();
    let newline = format!("SK{hex}\n");
    let newline = newline.as_str();
    let accented = format!("SKé{}", &hex[..30]);
    let accented = accented.as_str();
    let service_short = format!("VA{}", &hex[..31]);
    let service_short = service_short.as_str();
    let messaging = format!("MG{hex}");
    let messaging = messaging.as_str();
    let service_marked = format!("VALeakQ7{}", &hex[..26]);
    let service_marked = service_marked.as_str();
    let service_lower = format!("va{hex}");
    let service_lower = service_lower.as_str();
    #[rustfmt::skip]
    let cases: Vec<BadSetting> = vec![
        ("an empty key SID", "", SECRET, SERVICE, None, "TWILIO_API_KEY_SID", KEY_SID_PROBLEM, None),
        ("a key SID one digit short", short, SECRET, SERVICE, None, "TWILIO_API_KEY_SID", KEY_SID_PROBLEM, Some(&short[2..])),
        ("a key SID one digit long", long, SECRET, SERVICE, None, "TWILIO_API_KEY_SID", KEY_SID_PROBLEM, Some(&long[2..])),
        ("an account SID as the key SID", account, SECRET, SERVICE, None, "TWILIO_API_KEY_SID", KEY_SID_PROBLEM, Some(&account[2..])),
        ("a key SID with a lowercase sk", lower, SECRET, SERVICE, None, "TWILIO_API_KEY_SID", KEY_SID_PROBLEM, Some(&lower[2..])),
        ("a key SID with letters past f", marked, SECRET, SERVICE, None, "TWILIO_API_KEY_SID", KEY_SID_PROBLEM, Some("LeakQ7")),
        ("a key SID with a leading space", spaced, SECRET, SERVICE, None, "TWILIO_API_KEY_SID", KEY_SID_PROBLEM, Some(&spaced[3..])),
        ("a key SID with a newline", newline, SECRET, SERVICE, None, "TWILIO_API_KEY_SID", KEY_SID_PROBLEM, Some(hex)),
        ("a key SID with a non-ASCII character", accented, SECRET, SERVICE, None, "TWILIO_API_KEY_SID", KEY_SID_PROBLEM, Some(&accented[4..])),
        ("the service SID as the key SID", SERVICE, SECRET, SERVICE, None, "TWILIO_API_KEY_SID", KEY_SID_PROBLEM, None),
        ("an empty secret", KEY_SID, "", SERVICE, None, "TWILIO_API_KEY_SECRET", SECRET_PROBLEM, None),
        ("a blank secret", KEY_SID, " \t ", SERVICE, None, "TWILIO_API_KEY_SECRET", SECRET_PROBLEM, None),
        ("a secret with a newline inside", KEY_SID, "LeakQ7\nx", SERVICE, None, "TWILIO_API_KEY_SECRET", SECRET_CHARS, Some("LeakQ7")),
        ("a secret with a space inside", KEY_SID, "LeakQ7 x", SERVICE, None, "TWILIO_API_KEY_SECRET", SECRET_CHARS, Some("LeakQ7")),
        ("a secret with a NUL", KEY_SID, "Leak\0Q7LeakQ7", SERVICE, None, "TWILIO_API_KEY_SECRET", SECRET_CHARS, Some("LeakQ7")),
        ("a secret with DEL", KEY_SID, "\u{7f}LeakQ7", SERVICE, None, "TWILIO_API_KEY_SECRET", SECRET_CHARS, Some("LeakQ7")),
        ("a secret with a C1 control", KEY_SID, "LeakQ7\u{85}x", SERVICE, None, "TWILIO_API_KEY_SECRET", SECRET_CHARS, Some("LeakQ7")),
        ("an empty service SID", KEY_SID, SECRET, "", None, "TWILIO_VERIFY_SERVICE_SID", SERVICE_PROBLEM, None),
        ("a service SID one digit short", KEY_SID, SECRET, service_short, None, "TWILIO_VERIFY_SERVICE_SID", SERVICE_PROBLEM, Some(&service_short[2..])),
        ("a messaging service SID", KEY_SID, SECRET, messaging, None, "TWILIO_VERIFY_SERVICE_SID", SERVICE_PROBLEM, Some(&messaging[2..])),
        ("a service SID with letters past f", KEY_SID, SECRET, service_marked, None, "TWILIO_VERIFY_SERVICE_SID", SERVICE_PROBLEM, Some("LeakQ7")),
        ("a service SID with a lowercase va", KEY_SID, SECRET, service_lower, None, "TWILIO_VERIFY_SERVICE_SID", SERVICE_PROBLEM, Some(&service_lower[2..])),
        ("the key SID as the service SID", KEY_SID, SECRET, KEY_SID, None, "TWILIO_VERIFY_SERVICE_SID", SERVICE_PROBLEM, None),
        ("an http base elsewhere", KEY_SID, SECRET, SERVICE, Some("http://example.com"), "TWILIO_VERIFY_URL", URL_PROBLEM, None),
        ("an http base named like a leak", KEY_SID, SECRET, SERVICE, Some("http://leakq7.example.com"), "TWILIO_VERIFY_URL", URL_PROBLEM, Some("leakq7")),
        ("an http base to a private address", KEY_SID, SECRET, SERVICE, Some("http://10.0.0.1/LeakQ7"), "TWILIO_VERIFY_URL", URL_PROBLEM, Some("LeakQ7")),
        ("an ftp base", KEY_SID, SECRET, SERVICE, Some("ftp://leakq7.example.com"), "TWILIO_VERIFY_URL", URL_PROBLEM, Some("leakq7")),
        ("a base with no scheme", KEY_SID, SECRET, SERVICE, Some("leakq7.twilio.com"), "TWILIO_VERIFY_URL", URL_PROBLEM, Some("leakq7")),
        ("an empty base", KEY_SID, SECRET, SERVICE, Some(""), "TWILIO_VERIFY_URL", URL_PROBLEM, None),
        ("a base of slashes", KEY_SID, SECRET, SERVICE, Some("///"), "TWILIO_VERIFY_URL", URL_PROBLEM, None),
        ("https with no host", KEY_SID, SECRET, SERVICE, Some("https://"), "TWILIO_VERIFY_URL", URL_PROBLEM, None),
        ("a base with a password", KEY_SID, SECRET, SERVICE, Some("https://user:LeakQ7@verify.twilio.com"), "TWILIO_VERIFY_URL", "must not carry a user name or password", Some("LeakQ7")),
        ("a base with a query", KEY_SID, SECRET, SERVICE, Some("https://verify.twilio.com/?LeakQ7=1"), "TWILIO_VERIFY_URL", "must be a base URL without a ?query", Some("LeakQ7")),
        ("a base with a fragment", KEY_SID, SECRET, SERVICE, Some("https://verify.twilio.com/#LeakQ7"), "TWILIO_VERIFY_URL", "must be at most 2048 characters with no spaces and no #fragment", Some("LeakQ7")),
        ("a base with a space", KEY_SID, SECRET, SERVICE, Some("https://verify.twilio.com/LeakQ7 x"), "TWILIO_VERIFY_URL", "must be at most 2048 characters with no spaces and no #fragment", Some("LeakQ7")),
        // Whatever is at fault, the secret given alongside is not repeated either.
        ("a bad key SID beside the secret", "SK", SECRET, SERVICE, None, "TWILIO_API_KEY_SID", KEY_SID_PROBLEM, Some(SECRET)),
        ("a bad service SID beside the secret", KEY_SID, SECRET, "VA", None, "TWILIO_VERIFY_SERVICE_SID", SERVICE_PROBLEM, Some(SECRET)),
        ("a bad base beside the secret", KEY_SID, SECRET, SERVICE, Some("http://example.com"), "TWILIO_VERIFY_URL", URL_PROBLEM, Some(SECRET)),
    ];
    let mut failures = Vec::new();
    for (why, sid, secret, service, base, setting, problem, marker) in cases {
        let e = refused(sid, secret, service, base);
        let expected = SettingError {
            setting: setting.to_owned(),
            problem,
        };
        if e != expected {
            failures.push(format!(
                "{why}: got {:?} / {:?}, expected {setting:?} / {problem:?}",
                e.setting, e.problem
            ));
        }
        if e.to_string() != format!("setting {setting}: {problem}") {
            failures.push(format!("{why}: shown as {e}"));
        }
        if let Some(marker) = marker {
            let given = format!("{sid}{secret}{service}{}", base.unwrap_or(""));
            // The marker is really in what was given, so the check below can fail.
            assert!(given.contains(marker), "{why}: marker not in the input");
            for shown in [e.setting.clone(), e.problem.to_owned(), format!("{e:?}")] {
                if leaks(&shown, marker, 5) {
                    failures.push(format!("{why}: {shown:?} repeats {marker:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn settings_are_checked_in_order_and_the_first_fault_is_reported() {
    let e = refused("x", "", "y", Some("http://example.com"));
    assert_eq!(e.setting, "TWILIO_API_KEY_SID");
    let e = refused(KEY_SID, "", "y", Some("http://example.com"));
    assert_eq!(e.setting, "TWILIO_API_KEY_SECRET");
    let e = refused(KEY_SID, SECRET, "y", Some("http://example.com"));
    assert_eq!(e.setting, "TWILIO_VERIFY_SERVICE_SID");
}

// ------------------------------------------------------------------------------------------
// Authorization
// ------------------------------------------------------------------------------------------

#[test]
fn authorization_is_basic_over_the_key_sid_and_secret() {
    // printf '%s' 'SK0123456789abcdef0123456789abcdef:>>>??' | base64 -w0
    // The secret is chosen so that the encoding holds both `+` and `/` (the standard alphabet,
    // not the URL-safe one) and `==` padding.
    let literal = match Settings::new(KEY_SID, ">>>??", SERVICE, None) {
        Ok(settings) => settings,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        literal.authorization(),
        "Basic U0swMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjo+Pj4/Pw=="
    );
    // printf '%s' 'SK0123456789abcdef0123456789abcdef:s3cr3t-LeakQ7' | base64 -w0
    assert_eq!(
        settings(None).authorization(),
        "Basic U0swMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjpzM2NyM3QtTGVha1E3"
    );
    let upper_sid = format!("SK{}", "ABCDEF0123456789".repeat(2));
    for (sid, secret) in [
        (KEY_SID, "x"),
        (KEY_SID, "pässwörd:with:colons"),
        (upper_sid.as_str(), "secret-with-dashes"),
    ] {
        let settings = match Settings::new(sid, secret, SERVICE, Some("http://127.0.0.1:4010")) {
            Ok(settings) => settings,
            Err(e) => panic!("{e}"),
        };
        let expected = base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{secret}"));
        assert_eq!(
            settings.authorization(),
            format!("Basic {expected}"),
            "{secret}"
        );
    }
    // A secret pasted with a newline or spaces around it is used without them.
    let pasted = match Settings::new(KEY_SID, "  s3cr3t-LeakQ7\n", SERVICE, None) {
        Ok(settings) => settings,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(pasted.authorization(), settings(None).authorization());
    // The base URL plays no part in it.
    assert_eq!(
        settings(None).authorization(),
        settings(Some("http://127.0.0.1:4010")).authorization()
    );
}

// ------------------------------------------------------------------------------------------
// The two requests
// ------------------------------------------------------------------------------------------

/// A form body's pairs, decoded as Twilio will decode them.
fn decoded(body: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[test]
fn send_posts_to_verifications_with_the_number_and_channel() {
    let settings = settings(None);
    let url = format!("https://verify.twilio.com/v2/Services/{SERVICE}/Verifications");
    for (channel, body) in [
        (Channel::Sms, "To=%2B15005550001&Channel=sms"),
        (Channel::Call, "To=%2B15005550001&Channel=call"),
    ] {
        let (sent_url, sent_body) = settings.send(TO, channel);
        assert_eq!(sent_url, url);
        assert_eq!(sent_body, body);
        // A literal `+` would reach Twilio as a space.
        assert!(!sent_body.contains('+'), "{sent_body}");
        assert_eq!(
            decoded(&sent_body),
            [
                ("To".to_owned(), TO.to_owned()),
                ("Channel".to_owned(), channel.as_str().to_owned())
            ]
        );
    }
    assert_eq!(
        (Channel::Sms.as_str(), Channel::Call.as_str()),
        ("sms", "call")
    );
}

#[test]
fn check_posts_to_verification_check_with_the_code_in_the_body_only() {
    let settings = settings(Some("http://127.0.0.1:4010/"));
    let url = format!("http://127.0.0.1:4010/v2/Services/{SERVICE}/VerificationCheck");
    for (to, code, body) in [
        (TO, "123456", "To=%2B15005550001&Code=123456"),
        (TO, "0042", "To=%2B15005550001&Code=0042"),
        (
            "+447700900123",
            "1357924680",
            "To=%2B447700900123&Code=1357924680",
        ),
    ] {
        let (checked_url, checked_body) = settings.check(to, code);
        assert_eq!(checked_url, url);
        assert!(!checked_url.contains(code), "the code is not in the URL");
        assert_eq!(checked_body.as_str(), body);
        assert!(!checked_body.contains('+'), "{}", checked_body.as_str());
        assert_eq!(
            decoded(&checked_body),
            [
                ("To".to_owned(), to.to_owned()),
                ("Code".to_owned(), code.to_owned())
            ]
        );
    }
}

// ------------------------------------------------------------------------------------------
// The answers
// ------------------------------------------------------------------------------------------

#[test]
fn only_201_means_a_code_was_sent() {
    assert!(sent(201));
    for status in [0, 200, 202, 204, 301, 400, 401, 403, 404, 429, 500, 503] {
        assert!(!sent(status), "{status}");
    }
}

#[test]
fn only_200_with_status_approved_is_approved() {
    let twilio = r#"{"sid":"VE0123456789abcdef0123456789abcdef","service_sid":"VAfedcba9876543210fedcba9876543210","to":"+15005550001","channel":"sms","status":"approved","valid":true}"#;
    let cases = [
        (200, r#"{"status":"approved"}"#, CodeCheck::Approved),
        (200, r#" { "status" : "approved" } "#, CodeCheck::Approved),
        (200, twilio, CodeCheck::Approved),
        // Any other 200 is a wrong code.
        (200, r#"{"status":"pending"}"#, CodeCheck::Denied),
        (200, r#"{"status":"canceled"}"#, CodeCheck::Denied),
        (200, r#"{"status":"Approved"}"#, CodeCheck::Denied),
        (200, r#"{"status":"APPROVED"}"#, CodeCheck::Denied),
        (200, r#"{"status":"approved "}"#, CodeCheck::Denied),
        (200, r#"{"status":""}"#, CodeCheck::Denied),
        (200, r#"{"status":null}"#, CodeCheck::Denied),
        (200, r#"{"status":true}"#, CodeCheck::Denied),
        (200, r#"{"status":1}"#, CodeCheck::Denied),
        (200, r#"{"status":["approved"]}"#, CodeCheck::Denied),
        (
            200,
            r#"{"status":{"status":"approved"}}"#,
            CodeCheck::Denied,
        ),
        (200, r#"{"valid":true}"#, CodeCheck::Denied),
        (200, r#"{"Status":"approved"}"#, CodeCheck::Denied),
        (200, r#"{"data":{"status":"approved"}}"#, CodeCheck::Denied),
        (200, r#"[{"status":"approved"}]"#, CodeCheck::Denied),
        (200, r#""approved""#, CodeCheck::Denied),
        (200, "approved", CodeCheck::Denied),
        (200, "{}", CodeCheck::Denied),
        (200, "", CodeCheck::Denied),
        (200, r#"{"status":"approved""#, CodeCheck::Denied),
        (200, r#"{"status":"approved"} trailing"#, CodeCheck::Denied),
        // No pending verification (expired, used, never sent) or too many checks: wrong code.
        (404, r#"{"code":20404,"status":404}"#, CodeCheck::Denied),
        (404, r#"{"status":"approved"}"#, CodeCheck::Denied),
        (429, r#"{"code":60202,"status":429}"#, CodeCheck::Denied),
        (429, "", CodeCheck::Unavailable),
        (
            429,
            r#"{"code":20429,"status":429}"#,
            CodeCheck::Unavailable,
        ),
        // Anything else: Verify could not answer, whatever the body says.
        (0, "", CodeCheck::Unavailable),
        (0, r#"{"status":"approved"}"#, CodeCheck::Unavailable),
        (201, r#"{"status":"approved"}"#, CodeCheck::Unavailable),
        (204, "", CodeCheck::Unavailable),
        (
            400,
            r#"{"code":60200,"status":400}"#,
            CodeCheck::Unavailable,
        ),
        (401, r#"{"status":"approved"}"#, CodeCheck::Unavailable),
        (
            403,
            r#"{"code":20003,"status":403}"#,
            CodeCheck::Unavailable,
        ),
        (500, r#"{"status":"approved"}"#, CodeCheck::Unavailable),
        (503, "", CodeCheck::Unavailable),
    ];
    let mut failures = Vec::new();
    for (status, body, expected) in cases {
        let got = read_check(status, body);
        if got != expected {
            failures.push(format!("{status} {body}: {got:?}, expected {expected:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ------------------------------------------------------------------------------------------
// Who a code can be sent to
// ------------------------------------------------------------------------------------------

#[test]
fn a_code_goes_only_to_a_phone_number_that_is_not_withheld() {
    let sixteen = format!("+{}", "1".repeat(16));
    let fifteen = format!("+{}", "1".repeat(15));
    for (from, expected) in [
        (TO, Some(TO)),
        ("+447700900123", Some("+447700900123")),
        (" +15005550001 ", Some(TO)),
        ("+1234567", Some("+1234567")),
        (fifteen.as_str(), Some(fifteen.as_str())),
    ] {
        assert_eq!(recipient(from), expected, "{from:?}");
    }
    for from in [
        // Withheld, in the words and keypad spellings carriers use.
        "",
        "   ",
        "anonymous",
        "Anonymous",
        "Restricted",
        "unknown",
        "+266696687",
        "+7378742833",
        // Not a phone number.
        "client:alice",
        "sip:x@y",
        "sip:+15005550001@sip.example.com",
        "15005550001",
        "+1",
        "+123456",
        sixteen.as_str(),
        "+1 500 555",
        "+1-500-555-0001",
        "+1500555000a",
        "++15005550001",
        "+",
        "+１５００５５５０００１",
    ] {
        assert_eq!(recipient(from), None, "{from:?}");
    }
}
