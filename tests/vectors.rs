//! One harness for the data files under `tests/vectors/`:
//!
//! - `aes256gcm_nist.txt`: NIST CAVP GCMVS known answers for AES-256-GCM (96-bit IV, 128-bit
//!   tag). Each case is run through the wire format: `hex(IV ‖ CT ‖ Tag)` must open under `Key`
//!   with context `AAD` to `PT`, every one-byte change of it must fail with
//!   [`Error::Unauthentic`], and a `FAIL` case must fail the same way.
//! - `negative.txt`: hand-made malformed, tampered and misdirected values, each with the error
//!   it must give.
//!
//! The public API seals only under a fresh random nonce, so the encrypt direction of the NIST
//! vectors cannot be replayed through `seal` here; that direction is covered by the Node interop
//! tests, which check `seal` output against `node:crypto` for the same key and nonce layout.
//!
//! Every assertion names the case (file, line, and its source comment or name).

mod common;

use std::collections::BTreeMap;

use common::tohex;
use gather_seal::{open, open_bytes, Error, Key, KeyRing};

const NIST: &str = include_str!("vectors/aes256gcm_nist.txt");
const NEGATIVE: &str = include_str!("vectors/negative.txt");

/// One block of a vector file: the comments just above it, its `Name = value` fields and its
/// bare flags (`FAIL`), and the line it starts on.
struct Block {
    file: &'static str,
    line: usize,
    comments: Vec<String>,
    fields: BTreeMap<String, String>,
    flags: Vec<String>,
}

impl Block {
    /// How failure messages name this case.
    fn label(&self) -> String {
        let about = self
            .fields
            .get("name")
            .cloned()
            .or_else(|| self.comments.last().cloned())
            .unwrap_or_default();
        format!("{} line {} ({about})", self.file, self.line)
    }

    fn field(&self, name: &str) -> &str {
        match self.fields.get(name) {
            Some(value) => value,
            None => panic!("{}: no `{name}` field", self.label()),
        }
    }

    fn hex(&self, name: &str) -> Vec<u8> {
        let text = self.field(name);
        assert!(
            text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit()),
            "{}: `{name}` is not hex",
            self.label()
        );
        common::unhex(text)
    }
}

/// Splits a vector file into blocks separated by blank lines; `#` lines are comments.
fn blocks(file: &'static str, text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut comments = Vec::new();
    let mut current: Option<Block> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            blocks.extend(current.take());
            comments.clear();
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            assert!(
                current.is_none(),
                "{file} line {}: comment inside a case",
                index + 1
            );
            comments.push(comment.trim().to_owned());
            continue;
        }
        let block = current.get_or_insert_with(|| Block {
            file,
            line: index + 1,
            comments: std::mem::take(&mut comments),
            fields: BTreeMap::new(),
            flags: Vec::new(),
        });
        match line.split_once(" =") {
            Some((name, value)) => {
                let value = value.strip_prefix(' ').unwrap_or(value);
                let previous = block
                    .fields
                    .insert(name.trim().to_owned(), value.to_owned());
                assert!(
                    previous.is_none(),
                    "{file} line {}: `{name}` given twice",
                    index + 1
                );
            }
            None => block.flags.push(line.trim().to_owned()),
        }
    }
    blocks.extend(current);
    blocks
}

/// The `[Name = bits]` fields of a NIST section header comment.
fn section_lengths(block: &Block) -> BTreeMap<String, usize> {
    let source = block
        .comments
        .iter()
        .rev()
        .find(|c| c.starts_with("gcmEncryptExtIV256.rsp") || c.starts_with("gcmDecrypt256.rsp"))
        .unwrap_or_else(|| panic!("{}: no source comment naming the .rsp file", block.label()));
    assert!(
        source.contains("Count = "),
        "{}: source comment names no Count",
        block.label()
    );
    source
        .split('[')
        .skip(1)
        .map(|part| {
            let (name, bits) = part
                .trim_end_matches(|c: char| c == ']' || c.is_whitespace())
                .split_once(" = ")
                .unwrap_or_else(|| panic!("{}: malformed section header", block.label()));
            let bits = bits
                .parse()
                .unwrap_or_else(|_| panic!("{}: malformed length {bits:?}", block.label()));
            (name.to_owned(), bits)
        })
        .collect()
}

#[test]
fn nist_aes256gcm_vectors() {
    let cases = blocks("aes256gcm_nist.txt", NIST);
    let sources = NIST
        .lines()
        .filter(|l| l.starts_with("# gcm") && l.contains("Count = "))
        .count();
    assert_eq!(
        cases.len(),
        sources,
        "every source comment should head exactly one case"
    );

    let (mut opened, mut refused, mut twins) = (0, 0, 0);
    let (mut empty_pt, mut partial_block, mut with_aad, mut without_aad) = (0, 0, 0, 0);
    for case in &cases {
        let label = case.label();
        let lengths = section_lengths(case);
        let bits = |name: &str| lengths.get(name).copied().unwrap_or(usize::MAX);
        assert_eq!(
            bits("Keylen"),
            256,
            "{label}: only AES-256 cases belong here"
        );
        assert_eq!(
            bits("IVlen"),
            96,
            "{label}: only 96-bit IVs are in the wire format"
        );
        assert_eq!(
            bits("Taglen"),
            128,
            "{label}: only 128-bit tags are in the wire format"
        );

        let key_hex = case.field("Key");
        let (iv, ct, aad, tag) = (
            case.hex("IV"),
            case.hex("CT"),
            case.hex("AAD"),
            case.hex("Tag"),
        );
        assert_eq!(
            case.hex("Key").len() * 8,
            bits("Keylen"),
            "{label}: Key length"
        );
        assert_eq!(iv.len() * 8, bits("IVlen"), "{label}: IV length");
        assert_eq!(ct.len() * 8, bits("PTlen"), "{label}: CT length");
        assert_eq!(aad.len() * 8, bits("AADlen"), "{label}: AAD length");
        assert_eq!(tag.len() * 8, bits("Taglen"), "{label}: Tag length");

        let ring = match Key::from_hex(key_hex) {
            Ok(key) => KeyRing::new(key),
            Err(e) => panic!("{label}: key does not parse: {e}"),
        };
        let sealed_bytes = [iv.as_slice(), &ct, &tag].concat();
        let sealed = tohex(&sealed_bytes);

        let fail = case.flags.iter().any(|f| f == "FAIL");
        assert!(
            case.flags.iter().all(|f| f == "FAIL"),
            "{label}: unknown flag in {:?}",
            case.flags
        );
        if fail {
            assert!(
                !case.fields.contains_key("PT"),
                "{label}: a FAIL case has no PT"
            );
            assert_eq!(
                open_bytes(&sealed, &ring, &aad),
                Err(Error::Unauthentic),
                "{label}: NIST marks this FAIL, so it must not authenticate"
            );
            refused += 1;
            continue;
        }

        let pt = case.hex("PT");
        assert_eq!(pt.len(), ct.len(), "{label}: PT and CT lengths differ");
        match open_bytes(&sealed, &ring, &aad) {
            Ok(plaintext) => assert_eq!(plaintext, pt, "{label}: wrong plaintext"),
            Err(e) => panic!("{label}: did not open: {e:?}"),
        }
        opened += 1;
        empty_pt += usize::from(pt.is_empty());
        partial_block += usize::from(pt.len() % 16 != 0);
        with_aad += usize::from(!aad.is_empty());
        without_aad += usize::from(aad.is_empty());

        // The twins: every single-byte change, in nonce, ciphertext or tag, is refused.
        for position in 0..sealed_bytes.len() {
            let mut tampered = sealed_bytes.clone();
            tampered[position] ^= 0x01 << (position % 8);
            assert_eq!(
                open_bytes(&tohex(&tampered), &ring, &aad),
                Err(Error::Unauthentic),
                "{label}: byte {position} of the sealed value flipped, yet it opened"
            );
            twins += 1;
        }
    }

    // The file must keep covering what it is here for.
    assert!(
        opened > 0 && refused >= 3,
        "too few cases: {opened} open, {refused} FAIL"
    );
    assert!(empty_pt > 0, "no case with an empty plaintext");
    assert!(
        partial_block > 0,
        "no case whose plaintext is not a multiple of 16 bytes"
    );
    assert!(
        with_aad > 0 && without_aad > 0,
        "cases need to cover AAD and no AAD"
    );
    assert!(
        twins > opened,
        "every opened case should have tampered twins"
    );
}

#[test]
fn negative_cases() {
    let cases = blocks("negative.txt", NEGATIVE);
    assert!(cases.len() >= 8, "negative.txt lost cases: {}", cases.len());
    let mut refused = 0;
    for case in &cases {
        let label = case.label();
        assert!(
            !case.comments.is_empty(),
            "{label}: each case needs a comment saying why"
        );
        assert!(
            case.flags.is_empty(),
            "{label}: unknown lines {:?}",
            case.flags
        );
        let ring = match KeyRing::from_hex(case.field("keys").split(',')) {
            Ok(ring) => ring,
            Err(e) => panic!("{label}: keys do not parse: {e:?}"),
        };
        let context = case.field("context").as_bytes();
        let sealed = case.field("sealed");
        let opened = open(sealed, &ring, context);
        match case.field("expect") {
            "ok" => {
                assert_eq!(opened.as_deref(), Ok(case.field("plaintext")), "{label}");
                assert_eq!(
                    open_bytes(sealed, &ring, context).as_deref(),
                    Ok(case.field("plaintext").as_bytes()),
                    "{label}: open_bytes disagrees with open"
                );
            }
            expected => {
                let error = match opened {
                    Ok(_) => panic!("{label}: opened, expected {expected}"),
                    Err(error) => error,
                };
                assert_eq!(format!("{error:?}"), expected, "{label}: wrong error");
                // open_bytes fails the same way, except that it has no UTF-8 check.
                let bytes = open_bytes(sealed, &ring, context);
                if error == Error::NotUtf8 {
                    assert!(
                        bytes.is_ok(),
                        "{label}: open_bytes should return the raw bytes"
                    );
                } else {
                    assert_eq!(bytes, Err(error), "{label}: open_bytes disagrees with open");
                }
                // No message repeats what it was given.
                let message = error.to_string();
                for secret in case.field("keys").split(',').chain([sealed]) {
                    assert!(
                        !common::leaks(&message, secret, 8),
                        "{label}: {message:?} leaks"
                    );
                }
                assert!(
                    context.is_empty() || !message.contains(case.field("context")),
                    "{label}: {message:?} repeats the context"
                );
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "negative.txt has no refused case");
}
