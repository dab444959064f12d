//! URLs, read one way everywhere: a hand-off or Verify target and its https/loopback rule
//! ([`check_target`]), `PUBLIC_URL` ([`check_base`]), a request's origin and path
//! ([`split_origin`]), and the default-port variant Twilio may have signed ([`port_toggled`]).
//!
//! A small parser of our own rather than the `url` crate: every URL here is ASCII (Twilio's,
//! and settings an operator wrote), none needs normalising, IDNA or percent-decoding, and the
//! worker's upload is the budget that binds. It splits, it never panics, and it never slices
//! without a check.

/// A URL split into its parts, borrowed from the text: `scheme://userinfo@host:port/path?query#fragment`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts<'a> {
    /// The scheme, as written (`https`, `HTTP`).
    pub scheme: &'a str,
    /// What stands before the last `@` of the authority, without the `@`; empty when none.
    pub userinfo: &'a str,
    /// The host, as written: an IPv6 literal keeps its brackets.
    pub host: &'a str,
    /// The port, after the last `:` outside an IPv6 literal.
    pub port: Option<&'a str>,
    /// Everything after the authority: path, query and fragment (`/gather?x=1`, or empty).
    pub tail: &'a str,
}

impl<'a> Parts<'a> {
    /// Splits `url` at `://`, the end of the authority (`/`, `?` or `#`), the last `@` and the
    /// port's `:`. `None` when there is no `://`.
    pub fn parse(url: &'a str) -> Option<Parts<'a>> {
        let scheme_end = url.as_bytes().windows(3).position(|w| w == b"://")?;
        let (scheme, rest) = url.split_at_checked(scheme_end)?;
        let rest = rest.get(3..)?;
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at_checked(authority_end)?;
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (authority.get(..at)?, authority.get(at + 1..)?),
            None => ("", authority),
        };
        // A port follows the last ':' unless that colon is inside an IPv6 literal.
        let port_colon = hostport
            .rfind(':')
            .filter(|&i| !hostport.get(i..).is_some_and(|p| p.contains(']')));
        let (host, port) = match port_colon {
            Some(i) => (hostport.get(..i)?, Some(hostport.get(i + 1..)?)),
            None => (hostport, None),
        };
        Some(Parts {
            scheme,
            userinfo,
            host,
            port,
            tail,
        })
    }

    /// The scheme's default port: `443` for https, `80` for http; `None` for any other.
    fn default_port(&self) -> Option<&'static str> {
        if self.scheme.eq_ignore_ascii_case("https") {
            Some("443")
        } else if self.scheme.eq_ignore_ascii_case("http") {
            Some("80")
        } else {
            None
        }
    }
}

/// `"https://host:port/path?query"` → `("https://host:port", "/path?query")`: the origin and
/// what follows it, without a fragment. A text with no `://` is all origin.
pub fn split_origin(url: &str) -> (&str, &str) {
    let url = url.split('#').next().unwrap_or(url);
    let tail = Parts::parse(url).map_or("", |parts| parts.tail);
    url.split_at_checked(url.len() - tail.len())
        .unwrap_or((url, ""))
}

/// The same http(s) URL with its port removed, or with the scheme's default port added when it
/// has none: Twilio may sign either form. `None` for any other scheme or a text that is not a
/// URL.
pub fn port_toggled(url: &str) -> Option<String> {
    let parts = Parts::parse(url)?;
    let default_port = parts.default_port()?;
    let mut toggled = String::with_capacity(url.len() + 4);
    toggled.push_str(parts.scheme);
    toggled.push_str("://");
    if !parts.userinfo.is_empty() || url.get(parts.scheme.len() + 3..)?.starts_with('@') {
        toggled.push_str(parts.userinfo);
        toggled.push('@');
    }
    toggled.push_str(parts.host);
    if parts.port.is_none() {
        toggled.push(':');
        toggled.push_str(default_port);
    }
    toggled.push_str(parts.tail);
    Some(toggled)
}

/// The rule for where sealed values, codes or keys may be sent: `https://host[:port][/path]
/// [?query]`, or `http://` to a loopback host (local development). No user name or password,
/// no fragment, no spaces or other characters outside printable ASCII, at most 2048 characters.
/// The problem is a fixed sentence (the URL itself is never repeated).
pub fn check_target(url: &str) -> Result<(), &'static str> {
    check_http(url, url.len())
}

/// The longest URL a setting may give.
const MAX_URL: usize = 2048;

/// [`check_target`]'s rule for `url`, with the length limit applied to `written_len`: the
/// length of the URL as the operator wrote it, which [`check_socket`] hands over with another
/// scheme.
fn check_http(url: &str, written_len: usize) -> Result<(), &'static str> {
    const WRONG: &str = "must be an https:// URL (http:// only to localhost or 127.0.0.1)";
    if written_len > MAX_URL || url.bytes().any(|b| !b.is_ascii_graphic()) || url.contains('#') {
        // Only a well-formed scheme gets the more precise sentence.
        return Err(if is_http(url) {
            "must be at most 2048 characters with no spaces and no #fragment"
        } else {
            WRONG
        });
    }
    let Some(parts) = Parts::parse(url).filter(|_| is_http(url)) else {
        return Err(WRONG);
    };
    if url
        .get(parts.scheme.len() + 3..)
        .is_some_and(|rest| rest.split(['/', '?']).next().unwrap_or("").contains('@'))
    {
        return Err("must not carry a user name or password");
    }
    let host = match parts.host.strip_prefix('[') {
        Some(v6) => v6.strip_suffix(']').ok_or(WRONG)?,
        None => parts.host,
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':');
    let port_ok = parts
        .port
        .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if !host_ok || !port_ok {
        return Err(WRONG);
    }
    if parts.scheme.eq_ignore_ascii_case("http") && !is_loopback(host) {
        return Err(WRONG);
    }
    Ok(())
}

/// `PUBLIC_URL`: an `http://` or `https://` base URL with a host and no spaces, returned without
/// surrounding spaces or a trailing `/`, ready to have a path joined to it ([`join`]).
pub fn check_base(url: &str) -> Result<&str, &'static str> {
    const WRONG: &str = "must be an http:// or https:// URL";
    let url = url.trim().trim_end_matches('/');
    let parts = Parts::parse(url).filter(|_| is_http(url)).ok_or(WRONG)?;
    let after_scheme = url.get(parts.scheme.len() + 3..).unwrap_or("");
    if after_scheme.is_empty() || after_scheme.contains(char::is_whitespace) {
        return Err(WRONG);
    }
    Ok(url)
}

/// The rule for the WebSocket a relay opens: [`check_target`]'s rule with `wss://` for
/// `https://` and `ws://` (to a loopback host only) for `http://`.
pub fn check_socket(url: &str) -> Result<(), &'static str> {
    const WRONG: &str = "must be a wss:// URL (ws:// only to localhost or 127.0.0.1)";
    let scheme = |prefix: &str| {
        url.get(..prefix.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(prefix))
    };
    let as_http = if scheme("wss://") {
        format!("https://{}", url.get(6..).unwrap_or(""))
    } else if scheme("ws://") {
        format!("http://{}", url.get(5..).unwrap_or(""))
    } else {
        return Err(WRONG);
    };
    // At most 2048 characters as written, not as rewritten (`https://` is longer than `wss://`).
    check_http(&as_http, url.len()).map_err(|problem| {
        match problem.starts_with("must be an https://") {
            true => WRONG,
            false => problem,
        }
    })
}

/// `base` (an origin, or [`check_base`]'s URL) followed by `path_and_query` (starting with `/`).
pub fn join(base: &str, path_and_query: &str) -> String {
    let mut url = String::with_capacity(base.len() + path_and_query.len());
    url.push_str(base);
    url.push_str(path_and_query);
    url
}

/// Whether `url` starts with `http://` or `https://`, in any case.
fn is_http(url: &str) -> bool {
    let starts = |prefix: &str| {
        url.get(..prefix.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(prefix))
    };
    starts("https://") || starts("http://")
}

/// `localhost`, `::1` or an IPv4 address in 127.0.0.0/8 (any case, no port; an IPv6 address
/// without its brackets).
pub(crate) fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") || host == "::1" {
        return true;
    }
    let mut octets = host.split('.');
    let first = octets.next();
    let rest: Vec<&str> = octets.collect();
    first == Some("127")
        && rest.len() == 3
        && rest
            .iter()
            .all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok())
}
