//! The one outbound call: POSTing a signed submission to a flow's `then.action`, with a
//! timeout, and reading the application's answer into a [`handoff::Answer`].

use core::time::Duration;

use worker::js_sys;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{
    self, AbortSignal, Headers, RequestInit, RequestRedirect, WorkerGlobalScope,
};

use super::http::JSON;
use crate::handoff::{self, Answer, ANSWER_CAP, RESULT_HEADER, SIGNATURE_HEADER};

/// How long the application has to answer, body included.
pub const ACTION_TIMEOUT: Duration = Duration::from_secs(5);

/// POSTs `body` with its signature to `url` and reads the answer, and whether the application
/// rejected the values (its [`RESULT_HEADER`]). A redirect, a timeout (the request is then
/// aborted) or a network failure is [`Answer::Unusable`].
pub async fn post_submission(url: &str, body: &str, signature: &str) -> (Answer, bool) {
    let signal = AbortSignal::timeout_with_u32(ACTION_TIMEOUT.as_millis() as u32);
    match post(url, body, signature, &signal).await {
        Ok((status, headers, text)) => {
            let header = |name: &str| headers.get(name).ok().flatten();
            let answer =
                handoff::read_answer(status, header("Content-Type").as_deref(), text.as_deref());
            (answer, handoff::rejected(header(RESULT_HEADER).as_deref()))
        }
        Err(_) if signal.aborted() => (Answer::Unusable("app-timeout"), false),
        Err(_) => (Answer::Unusable("app-unreachable"), false),
    }
}

/// The status, headers and body (read only for a 2xx; `None` when over [`ANSWER_CAP`]).
async fn post(
    url: &str,
    body: &str,
    signature: &str,
    signal: &AbortSignal,
) -> Result<(u16, Headers, Option<String>), JsValue> {
    let headers = Headers::new()?;
    headers.set("Content-Type", JSON)?;
    headers.set(SIGNATURE_HEADER, signature)?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(body));
    init.set_signal(Some(signal));
    // A redirect is an error, not a reason to send the sealed values somewhere else.
    init.set_redirect(RequestRedirect::Manual);
    let global: WorkerGlobalScope = js_sys::global().unchecked_into();
    let response: web_sys::Response = JsFuture::from(global.fetch_with_str_and_init(url, &init))
        .await?
        .unchecked_into();
    let status = response.status();
    let headers = response.headers();
    if !(200..300).contains(&status) {
        return Ok((status, headers, None));
    }
    let declared = response
        .headers()
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|n| n.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > ANSWER_CAP) {
        return Ok((status, headers, None));
    }
    let text = JsFuture::from(response.text()?).await?.as_string();
    Ok((status, headers, text.filter(|t| t.len() <= ANSWER_CAP)))
}
