//! `then.redirect`: the sealed values added to the application's URL, in a `<Redirect>`.

use super::json_key;
use crate::flow::GatherResult;
use crate::twilio::twiml::Response;

/// `url` with `result`, the approved `verify` fields (`verified=otp,otp2`, left out when none)
/// and the sealed values added to its query, for `then.redirect`:
/// `https://app.example.com/next?result=success&encryptedPinDigits=…`. An existing query (a
/// Studio flow's `?FlowEvent=return`) is kept. Hex, field names and the result words need no
/// escaping.
pub fn redirect_url(
    url: &str,
    result: GatherResult,
    sealed: &[(String, String)],
    verified: &[String],
) -> String {
    let mut out = String::with_capacity(url.len() + 24 + sealed.len() * 140);
    out.push_str(url);
    out.push(if url.contains('?') { '&' } else { '?' });
    out.push_str("result=");
    out.push_str(result.as_str());
    if !verified.is_empty() {
        out.push_str("&verified=");
        out.push_str(&verified.join(","));
    }
    for (name, value) in sealed {
        out.push('&');
        out.push_str(&json_key(name));
        out.push('=');
        out.push_str(value);
    }
    out
}

/// The TwiML for a `then.redirect` hand-off.
pub fn redirect_twiml(
    url: &str,
    result: GatherResult,
    sealed: &[(String, String)],
    verified: &[String],
) -> String {
    Response::new()
        .redirect(&redirect_url(url, result, sealed, verified))
        .finish()
}
