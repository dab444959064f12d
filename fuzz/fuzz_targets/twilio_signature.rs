//! `verify_twilio_signature` with arbitrary URL, parameters and signature, and the properties a
//! genuine signature must keep: order and repetition do not matter, whitespace around it is
//! ignored, the default port may be added or removed, and any other change refuses it.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use fuzz_support::AUTH_TOKEN;
use gather_seal::{twilio_signature, verify_twilio_signature};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Token<'a> {
    Fixed,
    Any(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Url<'a> {
    Raw(&'a str),
    Built(Parts<'a>),
}

/// `scheme://[userinfo@]host[:port]path[?query][#fragment]`, with a host that is a plain name
/// or an IPv6 literal, so the port rules can be checked.
#[derive(Arbitrary, Debug)]
struct Parts<'a> {
    scheme: Scheme<'a>,
    userinfo: Option<&'a str>,
    host: Host<'a>,
    port: Option<Port<'a>>,
    path: &'a str,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Scheme<'a> {
    Https,
    Http,
    HttpsUpper,
    Other(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Host<'a> {
    Name(Vec<u8>),
    V6(Vec<u16>),
    Any(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Port<'a> {
    Default,
    Number(u16),
    Any(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Signature<'a> {
    /// Whatever the header says.
    Raw(&'a str),
    /// The genuine signature, with this whitespace around it.
    Genuine { before: u8, after: u8 },
    /// The genuine signature with one character changed.
    Flipped { at: u8, to: u8 },
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    token: Token<'a>,
    url: Url<'a>,
    params: Vec<(&'a str, &'a str)>,
    signature: Signature<'a>,
    rotate: u8,
    duplicate: u8,
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn is_plain_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '-'
}

/// The URL, and when its form lets the rules say so: the URL with the port removed (it has
/// one) or with the default port added (it has none), which must verify alike.
fn build(parts: &Parts<'_>) -> (String, Option<(String, bool)>) {
    let scheme = match parts.scheme {
        Scheme::Https => "https",
        Scheme::Http => "http",
        Scheme::HttpsUpper => "HTTPS",
        Scheme::Other(s) => s,
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => Some("443"),
        "http" => Some("80"),
        _ => None,
    };
    let host = match &parts.host {
        Host::Name(bytes) => {
            let name: String = bytes
                .iter()
                .map(|b| char::from(b"abcxyz019.-"[usize::from(*b) % 11]))
                .collect();
            if name.is_empty() {
                "h".to_owned()
            } else {
                name
            }
        }
        Host::V6(groups) => {
            let groups: Vec<String> = groups.iter().take(8).map(|g| format!("{g:x}")).collect();
            format!("[{}::]", groups.join(":"))
        }
        Host::Any(s) => (*s).to_owned(),
    };
    let port = match &parts.port {
        None => None,
        Some(Port::Default) => Some(default_port.unwrap_or("443").to_owned()),
        Some(Port::Number(n)) => Some(n.to_string()),
        Some(Port::Any(s)) => Some((*s).to_owned()),
    };
    let userinfo = parts.userinfo.map(|u| format!("{u}@")).unwrap_or_default();
    let path = if parts.path.is_empty() || parts.path.starts_with('/') {
        parts.path.to_owned()
    } else {
        format!("/{}", parts.path)
    };
    let mut tail = path;
    if let Some(q) = parts.query {
        tail.push('?');
        tail.push_str(q);
    }
    if let Some(f) = parts.fragment {
        tail.push('#');
        tail.push_str(f);
    }
    let with = |port: Option<&str>| match port {
        Some(p) => format!("{scheme}://{userinfo}{host}:{p}{tail}"),
        None => format!("{scheme}://{userinfo}{host}{tail}"),
    };
    let url = with(port.as_deref());
    // The rules apply when each part is what it looks like: a scheme with a default port, no
    // '@' after the userinfo's, a host of plain characters, a numeric port.
    let plain = default_port.is_some()
        && !scheme.contains(['/', '?', '#', '@'])
        && parts
            .userinfo
            .is_none_or(|u| !u.contains(['/', '?', '#', '@']))
        && match &parts.host {
            Host::Name(_) | Host::V6(_) => true,
            Host::Any(h) => !h.is_empty() && h.chars().all(is_plain_host_char),
        }
        && port
            .as_deref()
            .is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit()));
    let variant = plain.then(|| match (&port, default_port) {
        // A port is removed whatever it is; the port-less URL is accepted back only when the
        // port removed was the default one.
        (Some(p), Some(d)) => (with(None), p == d),
        (None, Some(d)) => (with(Some(d)), true),
        (_, None) => unreachable!(),
    });
    (url, variant)
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let token = match input.token {
        Token::Fixed => AUTH_TOKEN,
        Token::Any(t) => t,
    };
    let (url, variant) = match &input.url {
        Url::Raw(u) => ((*u).to_owned(), None),
        Url::Built(parts) => build(parts),
    };
    let params = &input.params;
    let genuine = twilio_signature(token, &url, params);
    assert_eq!(genuine.len(), 28, "base64 of 20 bytes");

    match input.signature {
        Signature::Raw(given) => {
            let valid = verify_twilio_signature(token, &url, params, given);
            // Only a 28-character base64 text can match; anything else never does.
            if valid {
                assert_eq!(given.trim().len(), 28);
            }
            if given.trim() == genuine {
                assert!(valid);
            }
        }
        Signature::Genuine { before, after } => {
            let ws = [" ", "\t", "\n", "\r\n", ""];
            let given = format!(
                "{}{genuine}{}",
                ws[usize::from(before) % ws.len()],
                ws[usize::from(after) % ws.len()]
            );
            assert!(verify_twilio_signature(token, &url, params, &given));

            // Order does not matter.
            let mut rotated = params.clone();
            if !rotated.is_empty() {
                let by = usize::from(input.rotate) % rotated.len();
                rotated.rotate_left(by);
            }
            assert!(verify_twilio_signature(token, &url, &rotated, &genuine));
            // Repeating a pair that is already there does not matter.
            let mut repeated = params.clone();
            if let Some(&pair) = params.get(usize::from(input.duplicate) % params.len().max(1)) {
                repeated.push(pair);
                assert!(verify_twilio_signature(token, &url, &repeated, &genuine));
            }
            // A pair more, another token or another URL does. (Not for any URL: Twilio's
            // scheme joins URL, names and values with no separator, and the port-removed
            // variant of `https://h:<port>` is `https://h`, so a "port" equal to the new pair
            // spells the same text.)
            let extra = ("\u{1}fuzz-extra", "");
            if variant.is_some() && !params.contains(&extra) {
                let mut more = params.clone();
                more.push(extra);
                assert!(
                    !verify_twilio_signature(token, &url, &more, &genuine),
                    "{url:?} {params:?}"
                );
            }
            let other_token = format!("{token}x");
            assert!(!verify_twilio_signature(
                &other_token,
                &url,
                params,
                &genuine
            ));
            let other_url = format!("{url}x");
            assert!(!verify_twilio_signature(
                token, &other_url, params, &genuine
            ));

            if let Some((alternate, back)) = variant {
                // Signed over the URL with the default port, or without the given port, the
                // request still verifies; and back, when the port was the default one.
                let signed_alternate = twilio_signature(token, &alternate, params);
                assert!(
                    verify_twilio_signature(token, &url, params, &signed_alternate),
                    "{url:?} vs {alternate:?}"
                );
                assert_eq!(
                    verify_twilio_signature(token, &alternate, params, &genuine),
                    back,
                    "{url:?} vs {alternate:?}"
                );
            }
        }
        Signature::Flipped { at, to } => {
            let mut bytes = genuine.clone().into_bytes();
            // The last four characters hold the padding and the final bits; flip among the
            // first 26, which carry whole bits of the digest.
            let i = usize::from(at) % 26;
            let mut replacement = B64[usize::from(to) % 64];
            if replacement == bytes[i] {
                replacement = B64[(usize::from(to) + 1) % 64];
            }
            bytes[i] = replacement;
            let flipped = String::from_utf8(bytes).unwrap_or_default();
            assert!(!verify_twilio_signature(token, &url, params, &flipped));
        }
    }
});
