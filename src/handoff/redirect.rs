//! `then.redirect`: the sealed values added to the application's URL, in a `<Redirect>`.

use super::json_key;
use crate::flow::GatherResult;
use crate::kinds::Masked;
use crate::twilio::twiml::Response;

/// `url` with `result`, the approved `verify` fields (`verified=otp,otp2`, left out when none),
/// each card's `<field>_last4` and `<field>_brand` (brand only where known) and the sealed
/// values added to its query, for `then.redirect`:
/// `https://app.example.com/next?result=success&card_last4=4242&card_brand=visa&encryptedCardDigits=…`.
/// An existing query (a Studio flow's `?FlowEvent=return`) is kept. Hex, digits, field names,
/// brands and the result words need no escaping.
pub fn redirect_url(
    url: &str,
    result: GatherResult,
    sealed: &[(String, String)],
    verified: &[String],
    masked: &[(String, Masked)],
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
    for (name, masked) in masked {
        out.push_str(&format!("&{name}_last4={}", masked.last4));
        if let Some(brand) = masked.brand {
            out.push_str(&format!("&{name}_brand={}", brand.as_str()));
        }
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
    masked: &[(String, Masked)],
) -> String {
    Response::new()
        .redirect(&redirect_url(url, result, sealed, verified, masked))
        .finish()
}
