//! The npm package's exports (feature `node`), called by the wrapper in `npm/`, which checks
//! argument types first so that only strings, byte arrays and numbers reach here.
//!
//! Each export converts its inputs, calls the core, and converts back; errors become JavaScript
//! `Error`s whose message is `gather-seal: ` and the core error's fixed text.

use std::cell::Cell;
use std::fmt;

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::handoff;
use crate::seal::seal_raw;
use crate::{generate_key_hex, open, Error, KeyRing};

fn js_error(e: impl fmt::Display) -> JsError {
    JsError::new(&format!("gather-seal: {e}"))
}

/// Seals `plain_text` (`context` is `""` for none) into the output buffer and returns the
/// sealed length. The wrapper hex-encodes the bytes straight from wasm memory with Node's own
/// encoder, which is cheaper than building a JS string from wasm.
#[wasm_bindgen(js_name = encryptToBuffer)]
pub fn encrypt_to_buffer(plain_text: &str, key_hex: &str, context: &str) -> Result<usize, JsError> {
    let mut out = OUTPUT.take();
    let sealed = with_ring(key_hex, |ring| {
        seal_raw(
            plain_text.as_bytes(),
            ring.current(),
            context.as_bytes(),
            &mut out,
        )
    });
    let len = out.len();
    OUTPUT.set(out);
    sealed.map(|()| len).map_err(js_error)
}

/// Opens `cipher_hex` with the comma-separated keys (current first) into the output buffer and
/// returns the plaintext's length in bytes. The wrapper reads it as UTF-8 and calls
/// [`wipe_output`] before it returns, so the plaintext does not stay in wasm memory.
#[wasm_bindgen(js_name = decryptToBuffer)]
pub fn decrypt_to_buffer(
    cipher_hex: &str,
    keys_hex: &str,
    context: &str,
) -> Result<usize, JsError> {
    let plain = Zeroizing::new(
        with_ring(keys_hex, |ring| open(cipher_hex, ring, context.as_bytes())).map_err(js_error)?,
    );
    let mut out = OUTPUT.take();
    out.clear();
    out.extend_from_slice(plain.as_bytes());
    let len = out.len();
    OUTPUT.set(out);
    Ok(len)
}

/// Parses `keys_hex` (comma-separated, current first) into the prepared-key cache, so that a
/// bad key is reported even when there is nothing to seal or open.
#[wasm_bindgen(js_name = prepareKeys)]
pub fn prepare_keys(keys_hex: &str) -> Result<(), JsError> {
    with_ring(keys_hex, |_| Ok(())).map_err(js_error)
}

/// Where the output buffer starts in wasm memory (it moves only when it grows).
#[wasm_bindgen(js_name = outputPointer)]
pub fn output_pointer() -> usize {
    let out = OUTPUT.take();
    let at = out.as_ptr() as usize;
    OUTPUT.set(out);
    at
}

/// Zeroes and empties the output buffer.
#[wasm_bindgen(js_name = wipeOutput)]
pub fn wipe_output() {
    let mut out = OUTPUT.take();
    zeroize::Zeroize::zeroize(&mut out);
    OUTPUT.set(out);
}

/// The module's memory, for the wrapper's view of the output buffer.
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// 64 lowercase hex characters from the CSPRNG.
#[wasm_bindgen(js_name = generateKey)]
pub fn generate_key() -> Result<String, JsError> {
    let key = generate_key_hex().map_err(js_error)?;
    Ok(key.as_str().to_owned())
}

/// Checks a submission's `X-Gather-Seal-Signature` header against the raw body with any of
/// `secrets`, NUL-separated, in constant time ([`handoff::verify`], the check the worker's demo
/// backend runs). The wrapper passes whole seconds as numbers (exact up to 2^53). The secrets'
/// copy in wasm memory is wiped before this returns. (One joined string rather than an array
/// of strings: 300 bytes less gzip in the .wasm.)
#[wasm_bindgen(js_name = verifySubmission)]
pub fn verify_submission(
    body: &[u8],
    header: Option<String>,
    secrets: String,
    tolerance_secs: f64,
    now_unix: f64,
) -> Result<(), JsError> {
    let secrets = Zeroizing::new(secrets);
    let secrets: Vec<&[u8]> = secrets.split('\0').map(str::as_bytes).collect();
    // `as` saturates (and takes NaN to 0); the wrapper has already refused such numbers.
    handoff::verify(
        body,
        header.as_deref(),
        &secrets,
        tolerance_secs as u64,
        now_unix as u64,
    )
    .map_err(js_error)
}

/// Whether `name` is a valid field name (`[a-z][a-z0-9]*` words joined by `_`, not reserved),
/// the names whose sealed values travel as `encrypted<Name>Digits`.
#[wasm_bindgen(js_name = isFieldName)]
pub fn is_field_name(name: &str) -> bool {
    crate::config::is_field_name(name)
}

/// Whether `signature` (an `X-Twilio-Signature`, base64-decoded by the wrapper) is Twilio's
/// HMAC-SHA1 under `auth_token` of `signed` (a candidate URL followed by the parameters),
/// compared in constant time.
///
/// The wrapper calls this for every candidate URL (port variants, normalised forms), with the
/// text built exactly as the `twilio` package builds it, and only then looks at the verdicts.
/// (Not [`crate::verify_twilio_signature`]: its port variants are for the http(s) URLs the
/// worker sees and its parameters are sorted in Rust, where the package must match the twilio
/// package's JavaScript for any input; and its base64 would cost gzip the package cannot spare.)
/// The token's copy in wasm memory is wiped.
#[wasm_bindgen(js_name = twilioSignatureMatches)]
pub fn twilio_signature_matches(auth_token: String, signature: &[u8], signed: &str) -> bool {
    let auth_token = Zeroizing::new(auth_token);
    // HMAC takes keys of any length, so this never fails.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return false;
    };
    mac.update(signed.as_bytes());
    mac.verify_slice(signature).is_ok()
}

/// Whether `hash` is the lowercase hex SHA-256 of `body` (the `bodySHA256` of a JSON webhook's
/// URL), compared in constant time.
#[wasm_bindgen(js_name = bodyHashMatches)]
pub fn body_hash_matches(body: &[u8], hash: &str) -> bool {
    use sha2::{Digest, Sha256};
    let expected = hex::encode(Sha256::digest(body));
    expected.as_bytes().ct_eq(hash.as_bytes()).into()
}

/// Prepared key rings, so that a Function calling `encrypt(x, process.env.AES_SECRET)` does not
/// pay for parsing the key and the AES key schedule on every call.
///
/// An entry is found only by presenting the same key text, compared in constant time, so it
/// gives nothing to a caller that does not already hold the key. At most `RINGS` are kept,
/// least recently used first out; the key text and the round keys are wiped when an entry
/// leaves. The wasm instance is private to the package (`package.json` exports only the
/// wrapper), so no other module can read its memory.
const RINGS: usize = 4;

struct Prepared {
    text: Zeroizing<Vec<u8>>,
    ring: KeyRing,
}

// The package's state lives in `Cell`s that each export takes out and puts back, never in a
// `RefCell` borrowed across the call: a trap (wasm's only way out of a panic, or of an
// allocation the host refuses) skips the rest of the export, and a `RefCell` left borrowed then
// makes every later call trap too. After a trap the next call starts with an empty cache and
// buffer; what the trapped call had taken out stays in wasm memory, unwiped (its memory is
// never handed back either).
thread_local! {
    static PREPARED: Cell<Vec<Prepared>> = const { Cell::new(Vec::new()) };
    /// Results on their way to JavaScript: sealed bytes, or a plaintext until the wrapper has
    /// read it and called `wipeOutput`.
    static OUTPUT: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

fn with_ring<T>(keys_hex: &str, f: impl FnOnce(&KeyRing) -> Result<T, Error>) -> Result<T, Error> {
    let mut prepared = PREPARED.take();
    let result = prepare(&mut prepared, keys_hex).and_then(f);
    PREPARED.set(prepared);
    result
}

/// The prepared ring for `keys_hex`, found or parsed, moved to the end of `prepared` (most
/// recently used last). Not inlined: one copy serves every export (size).
#[inline(never)]
fn prepare<'a>(prepared: &'a mut Vec<Prepared>, keys_hex: &str) -> Result<&'a KeyRing, Error> {
    let hit = prepared
        .iter()
        .position(|p| same_text(&p.text, keys_hex.as_bytes()));
    let entry = match hit {
        Some(i) => prepared.remove(i),
        None => {
            let ring = KeyRing::from_hex(keys_hex.split(','))?;
            if prepared.len() == RINGS {
                prepared.remove(0);
            }
            Prepared {
                text: Zeroizing::new(keys_hex.as_bytes().to_vec()),
                ring,
            }
        }
    };
    prepared.push(entry);
    let last = prepared.len() - 1;
    Ok(&prepared[last].ring)
}

/// Equality of two key texts in time that depends only on their lengths (which are public:
/// 64 characters a key).
fn same_text(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    bool::from(diff.ct_eq(&0))
}
