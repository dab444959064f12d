//! URLs, one module for every reader: a hand-off or Verify target, `PUBLIC_URL`, a request's
//! origin, and the default-port variant Twilio may sign.

use gather_seal::url::{
    check_base, check_socket, check_target, join, port_toggled, split_origin, Parts,
};

#[test]
fn a_target_is_https_anywhere_and_http_only_to_loopback() {
    for good in [
        "https://example.com",
        "https://example.com:8443/a?b=c&d=e",
        "HTTPS://EXAMPLE.COM/",
        "https://[2001:db8::1]/x",
        "http://localhost",
        "http://LOCALHOST:8787/x",
        "http://127.0.0.1:8787/x",
        "http://127.255.0.9/x",
        "http://[::1]/x",
    ] {
        assert_eq!(check_target(good), Ok(()), "{good}");
    }
    for bad in [
        "",
        "example.com",
        "//example.com/x",
        "ftp://example.com/",
        "http://example.com/",
        "http://0.0.0.0/",
        "http://128.0.0.1/",
        "http://127.0.0/",
        "http://127.0.0.256/",
        "http://localhost.example.com/",
        "http://[::2]/",
        "https://",
        "https:///x",
        "https://user@example.com/",
        "https://example.com/a b",
        "https://example.com/#top",
        "https://example.com:https/",
        "https://example.com:123456/",
    ] {
        assert!(check_target(bad).is_err(), "{bad:?} accepted");
    }
    let long = format!("https://example.com/{}", "a".repeat(2048 - 20));
    assert_eq!(long.len(), 2048);
    assert_eq!(check_target(&long), Ok(()));
    assert!(check_target(&format!("{long}a")).is_err());
}

#[test]
fn a_target_says_why_without_repeating_the_url() {
    let cases = [
        (
            "https://user:pw@example.com/",
            "must not carry a user name or password",
        ),
        (
            "https://example.com/#leak",
            "must be at most 2048 characters with no spaces and no #fragment",
        ),
        (
            "https://example.com/a b",
            "must be at most 2048 characters with no spaces and no #fragment",
        ),
        (
            "ftp://leak.example.com/#x",
            "must be an https:// URL (http:// only to localhost or 127.0.0.1)",
        ),
        (
            "http://leak.example.com/",
            "must be an https:// URL (http:// only to localhost or 127.0.0.1)",
        ),
        // An IPv6 literal must close before the port or the path.
        (
            "http://[::1]x/",
            "must be an https:// URL (http:// only to localhost or 127.0.0.1)",
        ),
        (
            "https://[2001:db8::1/",
            "must be an https:// URL (http:// only to localhost or 127.0.0.1)",
        ),
    ];
    for (url, problem) in cases {
        assert_eq!(check_target(url), Err(problem), "{url}");
        assert!(!problem.contains("leak"));
    }
}

#[test]
fn parts_split_at_the_scheme_authority_userinfo_and_port() {
    let parts = Parts::parse("https://u:p@[::1]:8443/gather?x=1#f").expect("a URL");
    assert_eq!(
        parts,
        Parts {
            scheme: "https",
            userinfo: "u:p",
            host: "[::1]",
            port: Some("8443"),
            tail: "/gather?x=1#f",
        }
    );
    let bare = Parts::parse("HTTP://example.com").expect("a URL");
    assert_eq!(
        (bare.scheme, bare.host, bare.port, bare.tail),
        ("HTTP", "example.com", None, "")
    );
    let query_only = Parts::parse("https://example.com?x=1").expect("a URL");
    assert_eq!((query_only.host, query_only.tail), ("example.com", "?x=1"));
    assert_eq!(Parts::parse("example.com/x"), None);
    assert_eq!(Parts::parse(""), None);
}

#[test]
fn a_request_url_splits_into_origin_and_path() {
    let cases = [
        (
            "https://ivr.example.com/gather/login?step=pin&attempt=1",
            (
                "https://ivr.example.com",
                "/gather/login?step=pin&attempt=1",
            ),
        ),
        (
            "http://127.0.0.1:8787/gather",
            ("http://127.0.0.1:8787", "/gather"),
        ),
        ("https://example.com?x=1", ("https://example.com", "?x=1")),
        ("https://example.com", ("https://example.com", "")),
        ("https://example.com/a#frag", ("https://example.com", "/a")),
        ("not a url", ("not a url", "")),
        ("", ("", "")),
    ];
    for (url, expected) in cases {
        assert_eq!(split_origin(url), expected, "{url}");
        assert_eq!(
            join(expected.0, expected.1),
            url.split('#').next().unwrap_or(url)
        );
    }
}

#[test]
fn the_port_twilio_may_sign_is_added_or_removed() {
    let cases = [
        (
            "https://example.com/x?y=1",
            Some("https://example.com:443/x?y=1"),
        ),
        ("https://example.com:443/x", Some("https://example.com/x")),
        (
            "http://127.0.0.1:8787/gather",
            Some("http://127.0.0.1/gather"),
        ),
        ("HTTP://example.com", Some("HTTP://example.com:80")),
        (
            "http://user:pw@[::1]/gather?x=1",
            Some("http://user:pw@[::1]:80/gather?x=1"),
        ),
        ("http://@host/", Some("http://@host:80/")),
        ("http://[::1]:9/", Some("http://[::1]/")),
        ("ftp://example.com/", None),
        ("no scheme", None),
    ];
    for (url, expected) in cases {
        assert_eq!(port_toggled(url).as_deref(), expected, "{url}");
    }
}

#[test]
fn a_public_url_is_an_http_base_without_its_trailing_slash() {
    assert_eq!(
        check_base(" https://ivr.example.com/ "),
        Ok("https://ivr.example.com")
    );
    assert_eq!(
        check_base("http://127.0.0.1:8787"),
        Ok("http://127.0.0.1:8787")
    );
    assert_eq!(
        check_base("HTTPS://proxy.example.com/base//"),
        Ok("HTTPS://proxy.example.com/base")
    );
    for bad in [
        "ivr.example.com",
        "https://",
        "https:///",
        "ftp://x",
        "https://a b",
        "",
    ] {
        assert_eq!(
            check_base(bad),
            Err("must be an http:// or https:// URL"),
            "{bad:?}"
        );
    }
}

const NOT_A_SOCKET: &str = "must be a wss:// URL (ws:// only to localhost or 127.0.0.1)";

#[test]
fn a_socket_is_wss_anywhere_and_ws_only_to_loopback() {
    for good in [
        "wss://agent.example.com/ws",
        "wss://agent.example.com:8443/ws?relay=agent&tenant=7",
        "WSS://AGENT.EXAMPLE.COM/",
        "wss://agent.example.com",
        "wss://[2001:db8::1]/x",
        "wss://[::1]",
        "ws://localhost",
        "WS://LOCALHOST:8080/ws",
        "ws://127.0.0.1:8080/ws",
        "ws://127.255.0.9/",
        "ws://[::1]:9000/",
    ] {
        assert_eq!(check_socket(good), Ok(()), "{good}");
    }
    for bad in [
        "",
        "agent.example.com/ws",
        "//agent.example.com/ws",
        "wss:agent.example.com",
        "wss:/agent.example.com",
        "wss://",
        "wss:///ws",
        "ws://",
        "wss ://agent.example.com/",
        " wss://agent.example.com/",
        "https://agent.example.com/ws",
        "http://localhost/ws",
        "ftp://agent.example.com/",
        "wsss://agent.example.com/",
        "ws://agent.example.com/ws",
        "ws://0.0.0.0:8080/",
        "ws://128.0.0.1/",
        "ws://localhost.example.com/",
        "ws://127.0.0.1.nip.io/",
        "ws://[::2]/",
        "wss://user@agent.example.com/",
        "wss://user:pw@agent.example.com/",
        "wss://agent.example.com/ws#top",
        "wss://agent.example.com/a b",
        "wss://agent.example.com/a\tb",
        "wss://agent.example.com:wss/",
        "wss://agent.example.com:123456/",
        "wss://[2001:db8::1/",
    ] {
        assert!(check_socket(bad).is_err(), "{bad:?} accepted");
    }
}

/// 2048 characters is the limit of every URL setting, counted on the URL as written: a wss://
/// or ws:// URL of 2048 characters is taken, one of 2049 is not.
#[test]
fn a_socket_url_may_have_2048_characters() {
    for base in ["wss://agent.example.com/", "ws://127.0.0.1:8080/"] {
        let longest = format!("{base}{}", "a".repeat(2048 - base.len()));
        assert_eq!(longest.len(), 2048);
        assert_eq!(check_socket(&longest), Ok(()), "{base}: 2048 characters");
        assert_eq!(
            check_socket(&format!("{longest}a")),
            Err("must be at most 2048 characters with no spaces and no #fragment"),
            "{base}: 2049 characters"
        );
    }
}

#[test]
fn a_socket_says_why_in_its_own_words_without_repeating_the_url() {
    let cases = [
        ("https://leak.example.com/ws", NOT_A_SOCKET),
        ("http://127.0.0.1/leak", NOT_A_SOCKET),
        ("ws://leak.example.com/ws", NOT_A_SOCKET),
        ("wss://leak.example.com:port/", NOT_A_SOCKET),
        ("leak.example.com", NOT_A_SOCKET),
        (
            "wss://leak:pw@example.com/",
            "must not carry a user name or password",
        ),
        (
            "wss://example.com/#leak",
            "must be at most 2048 characters with no spaces and no #fragment",
        ),
        (
            "wss://example.com/leak here",
            "must be at most 2048 characters with no spaces and no #fragment",
        ),
    ];
    for (url, problem) in cases {
        assert_eq!(check_socket(url), Err(problem), "{url}");
        assert!(!problem.contains("leak"));
        // A socket's rule never speaks of https.
        assert!(!problem.contains("http"), "{url}: {problem}");
    }
}
