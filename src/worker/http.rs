//! The HTTP edge of the worker: reading a request's body within limits, the webhook's form
//! parameters, and building the runtime's `Response` from a [`Reply`].

use std::borrow::Cow;

use worker::js_sys::{Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, Headers, ReadableStreamDefaultReader, ResponseInit};
use zeroize::{Zeroize, Zeroizing};

use crate::outcome::Outcome;

/// The largest request body read, in bytes. A Twilio webhook is well under 4 KiB, a
/// submission to the demo backend about 1 KiB.
pub const BODY_CAP: usize = 16 * 1024;

pub const FORM: &str = "application/x-www-form-urlencoded";
pub const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
const XML: &str = "text/xml";

/// Checks method, content type and size, then reads the body. On refusal, the log outcome
/// and the 4xx to answer.
pub async fn read_body(
    req: &web_sys::Request,
    content_type: &str,
) -> Result<Zeroizing<Vec<u8>>, (Outcome, Reply)> {
    if req.method() != "POST" {
        let mut reply = Reply::plain(405, "Method Not Allowed");
        reply.header = Some(("Allow", "POST"));
        return Err((Outcome::WrongMethod, reply));
    }
    let headers = req.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    let given = header("Content-Type").unwrap_or_default();
    let essence = given.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(content_type) {
        return Err((
            Outcome::WrongContentType,
            Reply::plain(415, "Unsupported Media Type"),
        ));
    }
    let too_large = || (Outcome::TooLarge, Reply::plain(413, "Payload Too Large"));
    let unreadable = |_| (Outcome::UnreadableBody, Reply::plain(400, "Bad Request"));
    let declared = header("Content-Length");
    let Some(cap) = capped_length(declared.as_deref(), BODY_CAP) else {
        return Err(too_large());
    };
    let read = if declared_length(declared.as_deref()).is_some() {
        // A length within the cap was declared (Twilio always declares one): one read.
        read_declared(req, cap).await
    } else {
        // Chunked: read piece by piece and stop at the cap, whatever the stream goes on to give.
        read_capped(req.body(), cap).await
    };
    read.map_err(unreadable)?.ok_or_else(too_large)
}

/// The length a `Content-Length` header declares, if it is a number.
fn declared_length(header: Option<&str>) -> Option<u64> {
    header.and_then(|n| n.trim().parse::<u64>().ok())
}

/// How much of a body to read, given its `Content-Length` header and the most accepted: the
/// declared length (a body longer than it said is then refused like one over the cap), or
/// `most` when none is declared; `None` when the declared length is over `most`.
pub fn capped_length(declared: Option<&str>, most: usize) -> Option<usize> {
    match declared_length(declared) {
        Some(n) if n > most as u64 => None,
        Some(n) => Some(n as usize),
        None => Some(most),
    }
}

/// A request body whose length was declared, at most `length` bytes, read with
/// [`read_exact`].
async fn read_declared(
    req: &web_sys::Request,
    length: usize,
) -> Result<Option<Zeroizing<Vec<u8>>>, JsValue> {
    read_exact(req.array_buffer(), length).await
}

/// A body whose length was declared (`length`, already checked against the cap), from its
/// `arrayBuffer()` promise (a `Request`'s or a `Response`'s): read whole in one call (about
/// 0.03 ms of CPU less than a stream read chunk by chunk, see benches/README.md) into a buffer
/// of exactly that size, and the runtime's copy wiped once copied, as [`read_capped`] wipes
/// each chunk. `None` for a body longer than declared (the runtime does not hand one over, but
/// this does not rely on it); an error for a shorter one.
pub async fn read_exact(
    array_buffer: Result<worker::js_sys::Promise, JsValue>,
    length: usize,
) -> Result<Option<Zeroizing<Vec<u8>>>, JsValue> {
    let mut body = Zeroizing::new(Vec::with_capacity(length));
    let buffer = JsFuture::from(array_buffer?).await?;
    let bytes = Uint8Array::new(&buffer);
    let read = bytes.length() as usize;
    if read == length {
        body.resize(length, 0);
        bytes.copy_to(&mut body);
    }
    bytes.fill(0, 0, bytes.length());
    match read.cmp(&length) {
        core::cmp::Ordering::Equal => Ok(Some(body)),
        core::cmp::Ordering::Greater => Ok(None),
        core::cmp::Ordering::Less => Err(JsValue::UNDEFINED),
    }
}

/// Cancels a body that will not be read, so the other side stops sending it.
pub fn cancel(stream: Option<web_sys::ReadableStream>) {
    if let Some(stream) = stream {
        // Ignored: the body is refused either way.
        let _ = stream.cancel();
    }
}

/// A body (a request's, or an answer's) read from its stream into one buffer of `cap` bytes,
/// allocated up front so that it never moves (a moved buffer would leave an unwiped copy of the
/// digits behind); `None`, with the stream cancelled, as soon as it would go over. Each chunk
/// the runtime handed over is wiped once copied.
pub async fn read_capped(
    stream: Option<web_sys::ReadableStream>,
    cap: usize,
) -> Result<Option<Zeroizing<Vec<u8>>>, JsValue> {
    let mut body = Zeroizing::new(Vec::with_capacity(cap));
    let Some(stream) = stream else {
        return Ok(Some(body));
    };
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    loop {
        let chunk = JsFuture::from(reader.read()).await?;
        if Reflect::get(&chunk, &JsValue::from_str("done"))?.as_bool() != Some(false) {
            return Ok(Some(body));
        }
        let value: Uint8Array = Reflect::get(&chunk, &JsValue::from_str("value"))?.unchecked_into();
        let start = body.len();
        let end = start + value.length() as usize;
        if end > cap {
            value.fill(0, 0, value.length());
            // Ignored: the request is refused either way.
            let _ = reader.cancel();
            return Ok(None);
        }
        body.resize(end, 0);
        value.copy_to(&mut body[start..end]);
        value.fill(0, 0, value.length());
    }
}

/// The POST parameters of a Twilio webhook, borrowed from the body where no decoding was
/// needed. Decoded copies (the digits among them, if escaped) are wiped on drop; the body
/// itself is wiped by its owner.
pub struct Form<'a> {
    pub pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Form<'a> {
    pub fn parse(body: &'a [u8]) -> Form<'a> {
        Form {
            pairs: form_urlencoded::parse(body).collect(),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }
}

impl Drop for Form<'_> {
    fn drop(&mut self) {
        for (_, value) in &mut self.pairs {
            if let Cow::Owned(value) = value {
                value.zeroize();
            }
        }
    }
}

/// `"https://host:port/path?query"` → `("https://host:port", "/path?query")`
/// ([`crate::url::split_origin`]).
pub fn split_url(url: &str) -> (&str, &str) {
    crate::url::split_origin(url)
}

/// An answer, built into a runtime `Response` in one place.
pub struct Reply {
    pub status: u16,
    content_type: &'static str,
    body: String,
    /// One more header: `Allow` on a 405, the demo backend's result, a page's CSP.
    pub header: Option<(&'static str, &'static str)>,
}

impl Reply {
    pub fn plain(status: u16, text: &str) -> Reply {
        Reply {
            status,
            content_type: TEXT,
            body: text.to_owned(),
            header: None,
        }
    }

    pub fn twiml(status: u16, xml: String) -> Reply {
        Reply {
            status,
            content_type: XML,
            body: xml,
            header: None,
        }
    }

    /// The runtime's Response. Building one fails only for a status or header the runtime
    /// refuses, and every status and header here is fixed; should it fail all the same, the
    /// fallback is a bare 500 (status only), which cannot.
    pub fn into_response(self) -> web_sys::Response {
        let build = || -> Result<web_sys::Response, JsValue> {
            let headers = Headers::new()?;
            headers.set("Content-Type", self.content_type)?;
            if let Some((name, value)) = self.header {
                headers.set(name, value)?;
            }
            let init = ResponseInit::new();
            init.set_status(self.status);
            init.set_headers(&headers);
            web_sys::Response::new_with_opt_str_and_init(Some(&self.body), &init)
        };
        build().unwrap_or_else(|_| {
            let init = ResponseInit::new();
            init.set_status(500);
            web_sys::Response::new_with_opt_str_and_init(None, &init)
                .unwrap_or_else(|_| JsValue::UNDEFINED.unchecked_into())
        })
    }
}

// The development build's alone (feature `demo`), for the call simulator.
#[cfg(feature = "demo")]
impl Reply {
    /// Any other body with its content type: the call simulator's page, script, stylesheet and
    /// JSON, in the development build only.
    pub fn typed(status: u16, content_type: &'static str, body: String) -> Reply {
        Reply {
            status,
            content_type,
            body,
            header: None,
        }
    }
}
