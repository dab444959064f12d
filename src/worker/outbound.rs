//! The outbound calls the engine asks for, each with a timeout: POSTing a signed submission to a
//! flow's `then.action` and reporting the application's answer; the requests to Twilio Verify
//! ([`crate::otp`]). What the answers mean is the engine's to decide.

use worker::js_sys;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{
    self, AbortSignal, Headers, RequestInit, RequestRedirect, WorkerGlobalScope,
};

use super::http::{cancel, capped_length, read_capped, read_exact, FORM, JSON};
use crate::engine::AppAnswer;
use crate::handoff::{ANSWER_CAP, RESULT_HEADER, SIGNATURE_HEADER};
use crate::otp;
use crate::status::Notice;

/// POSTs a request the engine built for Twilio Verify ([`crate::engine::Effect::SendCode`],
/// [`crate::engine::Effect::CheckCode`]) with the API key, within `wait_ms` (body included):
/// status and body, `None` on an error or a timeout.
pub async fn post_to_verify(
    settings: &otp::Settings,
    url: &str,
    body: &str,
    wait_ms: u32,
) -> Option<(u16, String)> {
    let signal = AbortSignal::timeout_with_u32(wait_ms);
    let auth = [("Authorization", settings.authorization())];
    let (status, _, text) = post(url, FORM, &auth, body, &signal).await.ok()?;
    Some((status, text.unwrap_or_default()))
}

/// POSTs a signed submission to `url` ([`crate::engine::Effect::Submit`]) and reports what the
/// application answered within `wait_ms` (body included). A redirect is not followed (it
/// arrives as its 3xx); a timeout aborts the request.
pub async fn post_submission(url: &str, body: &str, signature: &str, wait_ms: u32) -> AppAnswer {
    let signal = AbortSignal::timeout_with_u32(wait_ms);
    let signed = [(SIGNATURE_HEADER, signature)];
    match post(url, JSON, &signed, body, &signal).await {
        Ok((status, headers, body)) => {
            let header = |name: &str| headers.get(name).ok().flatten();
            AppAnswer::Answered {
                status,
                content_type: header("Content-Type"),
                body,
                result_header: header(RESULT_HEADER),
            }
        }
        Err(_) if signal.aborted() => AppAnswer::TimedOut,
        Err(_) => AppAnswer::Unreachable,
    }
}

/// POSTs a status event ([`crate::status::Notice`]) within `wait_ms`: whether the receiver
/// took it (a 2xx answer; its body is not kept).
pub async fn post_notice(notice: &Notice, wait_ms: u32) -> bool {
    let signal = AbortSignal::timeout_with_u32(wait_ms);
    let signed = [(SIGNATURE_HEADER, notice.signature.as_str())];
    let posted = post(&notice.url, JSON, &signed, &notice.body, &signal).await;
    matches!(posted, Ok((200..=299, _, _)))
}

/// POSTs `body` as `content_type` with `extra` headers, not following redirects: the status,
/// headers and body (`None` when over [`ANSWER_CAP`]; Verify's errors carry a code in theirs).
async fn post(
    url: &str,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &str,
    signal: &AbortSignal,
) -> Result<(u16, Headers, Option<String>), JsValue> {
    let headers = Headers::new()?;
    headers.set("Content-Type", content_type)?;
    for (name, value) in extra {
        headers.set(name, value)?;
    }
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(body));
    init.set_signal(Some(signal));
    // A redirect is an error, not a reason to send the sealed values (or a code, or the API
    // key) somewhere else.
    init.set_redirect(RequestRedirect::Manual);
    let global: WorkerGlobalScope = js_sys::global().unchecked_into();
    let response: web_sys::Response = JsFuture::from(global.fetch_with_str_and_init(url, &init))
        .await?
        .unchecked_into();
    let status = response.status();
    let headers = response.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    // The runtime decodes a compressed answer, whose Content-Length counts the compressed
    // bytes: only an unencoded answer's length is the length read.
    let encoded = header("Content-Encoding")
        .is_some_and(|e| !e.trim().is_empty() && !e.trim().eq_ignore_ascii_case("identity"));
    let declared = header("Content-Length").filter(|_| !encoded);
    // Read with the same readers as request bodies: a declared length over ANSWER_CAP is not
    // read at all, a declared one in one read, anything else through the capped reader, which
    // cancels the stream as soon as the answer would pass ANSWER_CAP.
    let bytes = match (capped_length(declared.as_deref(), ANSWER_CAP), declared) {
        (None, _) => {
            cancel(response.body());
            None
        }
        (Some(length), Some(_)) => read_exact(response.array_buffer(), length).await?,
        (Some(cap), None) => read_capped(response.body(), cap).await?,
    };
    Ok((status, headers, bytes.map(|b| decode_utf8(&b))))
}

/// The body as `Response.text()` reads it: UTF-8 without a leading byte order mark, each
/// malformed sequence as U+FFFD.
fn decode_utf8(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}
