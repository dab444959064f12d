//! A submission's signature (`handoff::signature`): `sign` against HMAC-SHA256 written out by
//! hand and against Python's, and every way `verify_submission` refuses a header.

mod common;

use common::tohex;
use gather_seal::handoff::{sign, verify_submission, DEFAULT_TOLERANCE_SECS, SIGNATURE_HEADER};
use gather_seal::SignatureError;
use sha2::{Digest, Sha256};

// ------------------------------------------------------------------------------------------
// Signing
// ------------------------------------------------------------------------------------------

/// HMAC-SHA256 (RFC 2104) written out by hand over the `sha2` hash: key padded to the 64-byte
/// block (hashed first when longer), inner hash with 0x36, outer with 0x5c.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .into()
}

#[test]
fn the_hand_written_hmac_meets_rfc_4231() {
    // RFC 4231, test case 2.
    assert_eq!(
        tohex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // RFC 4231, test case 6: a 131-byte key, hashed first.
    assert_eq!(
        tohex(&hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        )),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
}

#[test]
fn sign_is_hmac_sha256_of_time_dot_body() {
    let cases: [(&[u8], u64, &[u8]); 5] = [
        (
            b"whsec_test_secret",
            1_700_000_000,
            br#"{"callSid":"CA1","result":"success"}"#,
        ),
        (&[b'k'; 100], 1, b""),
        (b"", 0, b""),
        (b"s", u64::MAX, b"\x00\xff binary body"),
        (b"whsec", 1_700_000_000, b"1700000000.{}"),
    ];
    for (secret, t, body) in cases {
        let mut message = format!("{t}.").into_bytes();
        message.extend_from_slice(body);
        let expected = format!("t={t},v1={}", tohex(&hmac_sha256(secret, &message)));
        assert_eq!(sign(secret, t, body), expected, "t={t}");
    }
}

#[test]
fn sign_matches_python_s_hmac() {
    // Each from python3 -c 'import hmac,hashlib;print(hmac.new(SECRET,MESSAGE,hashlib.sha256).hexdigest())'
    // with SECRET and MESSAGE as in the comment on each line.
    assert_eq!(
        // b"whsec_test_secret", b'1700000000.{"callSid":"CA1","result":"success"}'
        sign(
            b"whsec_test_secret",
            1_700_000_000,
            br#"{"callSid":"CA1","result":"success"}"#
        ),
        "t=1700000000,v1=24911d9ba325d7fd1d9de6aac331abdc6f602ba9e81d961aa79fc33305950064"
    );
    assert_eq!(
        // b"k" * 100, b"1."
        sign(&[b'k'; 100], 1, b""),
        "t=1,v1=f380fa061ddac7555fce09c4f9d5ba3c4d7eb9115eaa097dd2c14988a18ae793"
    );
    assert_eq!(
        // b"", b"0."
        sign(b"", 0, b""),
        "t=0,v1=b849d5a581847b281957065739df36df2463d1977ea8d6e1e4e6cf33fadc68c3"
    );
    // Its twin: one bit of the body, secret or time changes the tag.
    let tag = sign(b"whsec_test_secret", 1_700_000_000, br#"{"callSid":"CA1"}"#);
    assert_ne!(
        tag,
        sign(b"whsec_test_secreu", 1_700_000_000, br#"{"callSid":"CA1"}"#)
    );
    assert_ne!(
        tag,
        sign(b"whsec_test_secret", 1_700_000_001, br#"{"callSid":"CA1"}"#)
    );
    assert_ne!(
        tag,
        sign(b"whsec_test_secret", 1_700_000_000, br#"{"callSid":"CA2"}"#)
    );
    assert_eq!(SIGNATURE_HEADER, "X-Gather-Seal-Signature");
}

// ------------------------------------------------------------------------------------------
// Verifying
// ------------------------------------------------------------------------------------------

const T: u64 = 1_700_000_000;
const BODY: &[u8] = br#"{"callSid":"CA1","result":"success"}"#;
const OLD: &[u8] = b"whsec-old";
const NEW: &[u8] = b"whsec-new";

fn tag(secret: &[u8], t: u64, body: &[u8]) -> String {
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    tohex(&hmac_sha256(secret, &message))
}

fn check(header: Option<&str>, now: u64) -> Result<(), SignatureError> {
    verify_submission(BODY, header, &[OLD, NEW], 300, now)
}

#[test]
fn verify_accepts_any_of_the_secrets() {
    for secret in [OLD, NEW] {
        let header = sign(secret, T, BODY);
        assert_eq!(check(Some(&header), T), Ok(()));
        assert_eq!(
            verify_submission(BODY, Some(&header), &[secret], 300, T),
            Ok(())
        );
    }
    let other = sign(b"whsec-other", T, BODY);
    assert_eq!(check(Some(&other), T), Err(SignatureError::Bad));
    assert_eq!(
        verify_submission(BODY, Some(&sign(NEW, T, BODY)), &[], 300, T),
        Err(SignatureError::Bad),
        "no secret at all"
    );
    assert_eq!(DEFAULT_TOLERANCE_SECS, 300);
}

#[test]
fn verify_refuses_a_tampered_body() {
    let header = sign(NEW, T, BODY);
    for body in [
        &br#"{"callSid":"CA2","result":"success"}"#[..],
        br#"{"callSid":"CA1","result":"success"} "#,
        br#"{"callSid":"CA1","result":"success""#,
        b"",
    ] {
        assert_eq!(
            verify_submission(body, Some(&header), &[OLD, NEW], 300, T),
            Err(SignatureError::Bad),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn verify_needs_a_header() {
    for header in [None, Some(""), Some("   "), Some("\t\n")] {
        assert_eq!(check(header, T), Err(SignatureError::Missing), "{header:?}");
    }
}

#[test]
fn verify_refuses_malformed_headers() {
    let good = tag(NEW, T, BODY);
    let short = &good[..62];
    let cases = [
        ("no t", format!("v1={good}")),
        ("two t", format!("t={T},t={T},v1={good}")),
        (
            "two t, the second different",
            format!("t={T},v1={good},t=1"),
        ),
        ("empty t", format!("t=,v1={good}")),
        ("a letter in t", format!("t={T}x,v1={good}")),
        ("a negative t", format!("t=-{T},v1={good}")),
        ("a signed t", format!("t=+{T},v1={good}")),
        (
            "t past 19 digits",
            format!("t=0{},v1={good}", "1".repeat(19)),
        ),
        ("t with a space inside", format!("t=17 00000000,v1={good}")),
        ("no v1", format!("t={T}")),
        ("v1 empty", format!("t={T},v1=")),
        ("v1 not hex", format!("t={T},v1={}", "zz".repeat(32))),
        ("v1 short", format!("t={T},v1={short}")),
        ("v1 long", format!("t={T},v1={good}00")),
        ("v1 odd", format!("t={T},v1={good}0")),
        ("only v0", format!("t={T},v0={good}")),
        ("key in the wrong case", format!("T={T},V1={good}")),
        ("no =", format!("t{T},v1{good}")),
        ("a stray word", "signature".to_owned()),
    ];
    for (why, header) in cases {
        assert_eq!(
            check(Some(&header), T),
            Err(SignatureError::Bad),
            "{why}: {header}"
        );
    }
}

#[test]
fn verify_reads_the_header_leniently_only_where_harmless() {
    let good = tag(NEW, T, BODY);
    let wrong = tag(b"whsec-other", T, BODY);
    for header in [
        format!("t={T},v1={good}"),
        format!("v1={good},t={T}"),
        format!(" t={T} , v1={good} "),
        format!("t={T},v1={wrong},v1={good}"),
        format!("t={T},v0=whatever,v1={good},v2=later"),
        format!("t={T},v1=nothex,v1={good}"),
        format!("t=000{T},v1={good}"),
    ] {
        assert_eq!(check(Some(&header), T), Ok(()), "{header}");
    }
}

/// A header with `t=T` and these `v1` tags, in order.
fn header_with(tags: &[String]) -> String {
    let mut header = format!("t={T}");
    for tag in tags {
        header.push_str(",v1=");
        header.push_str(tag);
    }
    header
}

#[test]
fn verify_takes_at_most_eight_v1_entries() {
    let good = tag(NEW, T, BODY);
    let wrong = |i: u8| tag(&[b'x', i], T, BODY);
    for count in 1..=8u8 {
        // The right tag last, after wrong ones: every entry up to the eighth is compared.
        let mut tags: Vec<String> = (1..count).map(wrong).collect();
        tags.push(good.clone());
        assert_eq!(
            check(Some(&header_with(&tags)), T),
            Ok(()),
            "{count} entries"
        );
    }
    let nine = |at: usize| {
        let mut tags: Vec<String> = (0..9).map(wrong).collect();
        tags[at] = good.clone();
        header_with(&tags)
    };
    for at in [0, 4, 8] {
        assert_eq!(
            check(Some(&nine(at)), T),
            Err(SignatureError::Bad),
            "nine entries, the right one at {at}"
        );
    }
    // Malformed entries count towards the cap; other schemes do not.
    let mut tags = vec!["nothex".to_owned(); 8];
    tags.push(good.clone());
    assert_eq!(
        check(Some(&header_with(&tags)), T),
        Err(SignatureError::Bad)
    );
    let mut tags = vec!["nothex".to_owned(); 7];
    tags.push(good.clone());
    assert_eq!(check(Some(&header_with(&tags)), T), Ok(()));
    let header = format!(
        "{},{}",
        header_with(std::slice::from_ref(&good)),
        "v0=old,".repeat(50)
    );
    assert_eq!(check(Some(&header), T), Ok(()), "fifty v0 entries");
    // 235 entries, the forged request of issue 14: refused, the right tag among them or not.
    let mut many: Vec<String> = (0..235).map(|i| wrong(i as u8)).collect();
    assert_eq!(
        check(Some(&header_with(&many)), T),
        Err(SignatureError::Bad)
    );
    many[117] = good;
    assert_eq!(
        check(Some(&header_with(&many)), T),
        Err(SignatureError::Bad)
    );
}

#[test]
fn verify_compares_every_tag_with_every_secret_s_mac() {
    const THIRD: &[u8] = b"whsec-third";
    let secrets = [OLD, NEW, THIRD];
    let wrong: Vec<String> = (0..7u8).map(|i| tag(&[b'y', i], T, BODY)).collect();
    for secret in secrets {
        let good = tag(secret, T, BODY);
        // The one right tag at every place among seven wrong ones.
        for at in 0..=wrong.len() {
            let mut tags = wrong.clone();
            tags.insert(at, good.clone());
            assert_eq!(
                verify_submission(BODY, Some(&header_with(&tags)), &secrets, 300, T),
                Ok(()),
                "secret {}, tag at {at}",
                String::from_utf8_lossy(secret)
            );
            // The same header is refused by a receiver without that secret.
            let others: Vec<&[u8]> = secrets.iter().copied().filter(|s| *s != secret).collect();
            assert_eq!(
                verify_submission(BODY, Some(&header_with(&tags)), &others, 300, T),
                Err(SignatureError::Bad)
            );
        }
    }
    // Tags of two secrets side by side, and the same tag twice.
    let both = [tag(OLD, T, BODY), tag(THIRD, T, BODY)];
    assert_eq!(
        verify_submission(BODY, Some(&header_with(&both)), &secrets, 300, T),
        Ok(())
    );
    let twice = [tag(NEW, T, BODY), tag(NEW, T, BODY)];
    assert_eq!(
        verify_submission(BODY, Some(&header_with(&twice)), &[NEW], 300, T),
        Ok(())
    );
    assert_eq!(
        verify_submission(BODY, Some(&header_with(&wrong)), &secrets, 300, T),
        Err(SignatureError::Bad)
    );
}

#[test]
fn verify_holds_the_time_to_the_tolerance_either_way() {
    for (t, now, expected) in [
        (T, T + 300, Ok(())),
        (T, T - 300, Ok(())),
        (T, T + 301, Err(SignatureError::Stale)),
        (T, T - 301, Err(SignatureError::Stale)),
        (T, T + 86_400, Err(SignatureError::Stale)),
        (0, u64::MAX, Err(SignatureError::Stale)),
        (9_999_999_999_999_999_999, 0, Err(SignatureError::Stale)), // the most digits t takes
    ] {
        let header = sign(NEW, t, BODY);
        assert_eq!(check(Some(&header), now), expected, "t={t} now={now}");
    }
    // Tolerance zero: only the same second.
    let header = sign(NEW, T, BODY);
    assert_eq!(verify_submission(BODY, Some(&header), &[NEW], 0, T), Ok(()));
    assert_eq!(
        verify_submission(BODY, Some(&header), &[NEW], 0, T + 1),
        Err(SignatureError::Stale)
    );
    // A stale header under a wrong secret is a bad signature, not a stale one.
    let wrong = sign(b"whsec-other", T, BODY);
    assert_eq!(check(Some(&wrong), T + 10_000), Err(SignatureError::Bad));
}
