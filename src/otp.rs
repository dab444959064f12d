//! One-time codes for `verify` fields, through Twilio Verify v2: the two requests the worker
//! makes and how their answers read. Pure: the engine asks for them ([`crate::engine`]) and the
//! worker's glue sends them.
//!
//! - `POST {base}/v2/Services/{ServiceSid}/Verifications` with `To` (the caller's `From`) and
//!   `Channel` sends a code; `201` means sent.
//! - `POST {base}/v2/Services/{ServiceSid}/VerificationCheck` with `To` and `Code` checks it;
//!   `200` with `"status": "approved"` is the only approval.
//!
//! Both authenticate with a revocable API key (HTTP Basic, key SID and secret), as Twilio
//! advises for servers, never the account's auth token. The code goes only into the check's
//! body: it is never sealed, carried in a URL, logged or handed on.

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::config::Channel;
use crate::flow::CodeCheck;
use crate::json::{self, Json, Number};
use crate::SettingError;

/// Where Twilio Verify lives; `TWILIO_VERIFY_URL` replaces it for local testing.
pub const DEFAULT_URL: &str = "https://verify.twilio.com";

/// What calling Verify needs, checked once ([`Settings::new`]).
pub struct Settings {
    /// `Authorization: Basic base64(key SID ":" key secret)`.
    authorization: Zeroizing<String>,
    /// `{base}/v2/Services/{ServiceSid}`, without a trailing slash.
    service_url: String,
}

impl Settings {
    /// Checks the settings: `TWILIO_API_KEY_SID` (`SK` and 32 hex digits), a non-blank
    /// `TWILIO_API_KEY_SECRET`, `TWILIO_VERIFY_SERVICE_SID` (`VA` and 32 hex digits), and an
    /// optional `TWILIO_VERIFY_URL` base (`https://`, or `http://` to a loopback host).
    pub fn new(
        api_key_sid: &str,
        api_key_secret: &str,
        service_sid: &str,
        base_url: Option<&str>,
    ) -> Result<Settings, SettingError> {
        if !is_sid(api_key_sid, "SK") {
            return Err(SettingError::new(
                "TWILIO_API_KEY_SID",
                "must be an API key SID: SK and 32 hex digits",
            ));
        }
        // A secret pasted with a newline or spaces around it is read without them.
        let api_key_secret = api_key_secret.trim();
        if api_key_secret.is_empty() {
            return Err(SettingError::new(
                "TWILIO_API_KEY_SECRET",
                "is missing (a flow has a verify field)",
            ));
        }
        if api_key_secret.contains(|c: char| c.is_control() || c.is_whitespace()) {
            return Err(SettingError::new(
                "TWILIO_API_KEY_SECRET",
                "must be the API key's secret, without spaces or control characters",
            ));
        }
        if !is_sid(service_sid, "VA") {
            return Err(SettingError::new(
                "TWILIO_VERIFY_SERVICE_SID",
                "must be a Verify service SID: VA and 32 hex digits",
            ));
        }
        let base = base_url.unwrap_or(DEFAULT_URL).trim_end_matches('/');
        crate::url::check_target(base)
            .map_err(|problem| SettingError::new("TWILIO_VERIFY_URL", problem))?;
        if base.contains('?') {
            return Err(SettingError::new(
                "TWILIO_VERIFY_URL",
                "must be a base URL without a ?query",
            ));
        }
        let credentials = Zeroizing::new(format!("{api_key_sid}:{api_key_secret}"));
        let encoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD.encode(credentials.as_bytes()),
        );
        Ok(Settings {
            authorization: Zeroizing::new(format!("Basic {}", encoded.as_str())),
            service_url: format!("{base}/v2/Services/{service_sid}"),
        })
    }

    /// The `Authorization` header's value.
    pub fn authorization(&self) -> &str {
        &self.authorization
    }

    /// The request that sends a code to `to` on `channel`: URL and form body.
    pub fn send(&self, to: &str, channel: Channel) -> (String, String) {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("To", to)
            .append_pair("Channel", channel.as_str())
            .finish();
        (format!("{}/Verifications", self.service_url), body)
    }

    /// The request that checks `code` for `to`: URL and form body (which holds the code, so it
    /// is wiped when dropped).
    pub fn check(&self, to: &str, code: &str) -> (String, Zeroizing<String>) {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("To", to)
            .append_pair("Code", code)
            .finish();
        (
            format!("{}/VerificationCheck", self.service_url),
            Zeroizing::new(body),
        )
    }
}

/// `prefix` and 32 hex digits.
fn is_sid(sid: &str, prefix: &str) -> bool {
    sid.len() == 34 && sid.starts_with(prefix) && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether a `Verifications` answer says the code was sent (`201 Created`).
pub fn sent(status: u16) -> bool {
    status == 201
}

/// Twilio's error code for "Max check attempts reached" (HTTP 429): a wrong code, unlike its
/// other 429s (rate limits), which say Verify could not answer.
const MAX_CHECK_ATTEMPTS: u64 = 60202;

/// What a `VerificationCheck` answer says: `200` with `"status": "approved"` is approved; `200`
/// with another status, `404` (no pending verification: expired, already used, or never sent)
/// and `429` with Twilio's code 60202 (too many checks of this code) are a wrong code; anything
/// else (another 429 is a rate limit) means Verify could not answer.
pub fn read_check(status: u16, body: &str) -> CodeCheck {
    let member = |name: &str| -> Option<Json> {
        let json = json::parse(body)?;
        let (_, value) = json.members()?.iter().find(|(k, _)| k == name)?;
        Some(value.clone())
    };
    match status {
        200 if member("status") == Some(Json::Text("approved".to_owned())) => CodeCheck::Approved,
        200 | 404 => CodeCheck::Denied,
        429 if member("code") == Some(Json::Number(Number::Whole(MAX_CHECK_ATTEMPTS))) => {
            CodeCheck::Denied
        }
        _ => CodeCheck::Unavailable,
    }
}

/// The number Verify sends a code to: the caller's `From` when it is a phone number (`+` and 7
/// to 15 digits, E.164) and not withheld (see [`crate::lockout::caller`]); `None` for a
/// withheld number, a client or a SIP address.
pub fn recipient(from: &str) -> Option<&str> {
    let crate::lockout::Caller::Known(number) = crate::lockout::caller(from) else {
        return None;
    };
    number
        .strip_prefix('+')
        .is_some_and(|d| (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
        .then_some(number)
}
