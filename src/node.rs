//! The npm package's exports (feature `node`), called by the wrapper in `npm/`, which checks
//! argument types first so that only strings, byte arrays and numbers reach here.
//!
//! Each export converts its inputs, calls the core, and converts back; errors become JavaScript
//! `Error`s whose message is `gather-seal: ` and the core error's fixed text.
//!
//! Secrets (plaintexts, key texts, an auth token and the text it signs, signing secrets, a
//! JSON webhook's body) never pass through wasm-bindgen's argument copies, which are freed
//! unwiped (and, for a non-ASCII string, reallocated, leaving a first copy behind). The wrapper
//! writes them as UTF-8 straight into the input buffer ([`input_buffer`]), one after another,
//! and passes their lengths; the export reads them there and wipes them before it returns.
//! Results leave through the output buffer ([`output_pointer`]), which the wrapper wipes after
//! reading a plaintext or a key. Sealed hex, contexts and field names are not secret and arrive
//! as strings.
//!
//! What the work leaves in the stack frames below an export (a cipher's partial block, a hash's
//! buffered tail of the signed text, a nonce batch, a generated key) is overwritten before the
//! export returns: each runs its work through [`stack_wiped`].

use std::cell::Cell;
use std::fmt;

use subtle::ConstantTimeEq;
use wasm_bindgen::prelude::*;
use zeroize::{Zeroize, Zeroizing};

use crate::handoff;
use crate::seal::seal_raw;
use crate::twilio::signature::{mac_matches, SignatureAlgorithm};
use crate::{generate_key_hex, open, Error, KeyRing};

fn js_error(e: impl fmt::Display) -> JsError {
    JsError::new(&format!("gather-seal: {e}"))
}

/// Seals the plaintext (the input buffer's first `plain_len` bytes) under the key text (the
/// next `key_len`; `context` is `""` for none) into the output buffer and returns the sealed
/// length. The wrapper hex-encodes the bytes straight from wasm memory with Node's own encoder,
/// which is cheaper than building a JS string from wasm.
#[wasm_bindgen(js_name = encryptToBuffer)]
pub fn encrypt_to_buffer(
    plain_len: usize,
    key_len: usize,
    context: &str,
) -> Result<usize, JsError> {
    stack_wiped(|| {
        with_input(plain_len.saturating_add(key_len), |input| {
            let (plain, key_hex) = input.split_at(plain_len);
            let mut out = OUTPUT.take();
            let sealed = with_ring(key_hex, |ring| {
                seal_raw(plain, ring.current(), context.as_bytes(), &mut out)
            });
            let len = out.len();
            OUTPUT.set(out);
            sealed.map(|()| len)
        })
    })
    .map_err(js_error)
}

/// Opens `cipher_hex` with the comma-separated key texts (the input buffer's first `keys_len`
/// bytes, current key first) into the output buffer and returns the plaintext's length in
/// bytes. The wrapper reads it as UTF-8 and calls [`wipe_output`] before it returns, so the
/// plaintext does not stay in wasm memory.
#[wasm_bindgen(js_name = decryptToBuffer)]
pub fn decrypt_to_buffer(
    cipher_hex: &str,
    keys_len: usize,
    context: &str,
) -> Result<usize, JsError> {
    stack_wiped(|| {
        with_input(keys_len, |keys_hex| {
            let plain = Zeroizing::new(with_ring(keys_hex, |ring| {
                open(cipher_hex, ring, context.as_bytes())
            })?);
            put_output(plain.as_bytes())
        })
    })
    .map_err(js_error)
}

/// Parses the key texts in the input buffer's first `keys_len` bytes (comma-separated, current
/// first) into the prepared-key cache, so that a bad key is reported even when there is nothing
/// to seal or open.
#[wasm_bindgen(js_name = prepareKeys)]
pub fn prepare_keys(keys_len: usize) -> Result<(), JsError> {
    stack_wiped(|| with_input(keys_len, |keys_hex| with_ring(keys_hex, |_| Ok(()))))
        .map_err(js_error)
}

/// Makes the input buffer at least `len` bytes long and returns where it starts in wasm memory;
/// the wrapper asks before every call. Every export that reads the buffer wipes what it read, so
/// a buffer given up for a longer one holds only zeros. While an export has the buffer taken
/// out (a host callback re-entering the package from inside a call), this makes a new one, so
/// the inner call cannot overwrite what the outer one is reading; the outer call's buffer
/// replaces it when it is put back.
#[wasm_bindgen(js_name = inputBuffer)]
pub fn input_buffer(len: usize) -> usize {
    let mut input = INPUT.take();
    if input.len() < len {
        input = vec![0; len];
    }
    let at = input.as_ptr() as usize;
    INPUT.set(input);
    at
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
    out.zeroize();
    OUTPUT.set(out);
}

/// The module's memory, for the wrapper's views of the input and output buffers.
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// Writes 64 lowercase hex characters from the CSPRNG to the output buffer and returns their
/// length; the wrapper reads them like a plaintext and wipes the buffer. (A returned `String`
/// would be copied out by wasm-bindgen and freed unwiped.)
#[wasm_bindgen(js_name = generateKeyToBuffer)]
pub fn generate_key_to_buffer() -> Result<usize, JsError> {
    stack_wiped(|| put_output(generate_key_hex()?.as_bytes())).map_err(js_error)
}

/// Checks a submission's `X-Gather-Seal-Signature` header against the raw body with any of the
/// signing secrets (the input buffer's first `secrets_len` bytes, NUL-separated), in constant
/// time ([`handoff::verify_submission`], the check the worker's demo backend runs). The wrapper passes
/// whole seconds as numbers (exact up to 2^53). (One joined text rather than an array of
/// strings: 300 bytes less gzip in the .wasm.)
#[wasm_bindgen(js_name = verifySubmission)]
pub fn verify_submission(
    body: &[u8],
    header: Option<String>,
    secrets_len: usize,
    tolerance_secs: f64,
    now_unix: f64,
) -> Result<(), JsError> {
    stack_wiped(|| {
        with_input(secrets_len, |secrets| {
            let secrets: Vec<&[u8]> = secrets.split(|&b| b == 0).collect();
            // `as` saturates (and takes NaN to 0); the wrapper has already refused such numbers.
            Ok(handoff::verify_submission(
                body,
                header.as_deref(),
                &secrets,
                tolerance_secs as u64,
                now_unix as u64,
            ))
        })
    })
    .map_err(js_error)?
    .map_err(js_error)
}

/// Whether `name` is a valid field name (`[a-z][a-z0-9]*` words joined by `_`, not reserved),
/// the names whose sealed values travel as `encrypted<Name>Digits`.
#[wasm_bindgen(js_name = isFieldName)]
pub fn is_field_name(name: &str) -> bool {
    crate::config::is_field_name(name)
}

/// Whether `signature` (an `X-Twilio-Signature`, base64-decoded by the wrapper) is Twilio's
/// HMAC (SHA-256 when `sha256`, else SHA-1) under the auth token or SharedKey secret (the input
/// buffer's first `token_len` bytes) of the signed text (the next `signed_len`: a candidate URL
/// followed by the parameters, the caller's `Digits` among them), compared in constant time
/// ([`crate::twilio::signature::mac_matches`]).
///
/// The wrapper calls this for every candidate URL (port variants, normalised forms), with the
/// text built exactly as the `twilio` package builds it, and only then looks at the verdicts.
/// (Not [`crate::verify_twilio_signature`]: its port variants are for the http(s) URLs the
/// worker sees and its parameters are sorted in Rust, where the package must match the twilio
/// package's JavaScript for any input; and its base64 would cost gzip the package cannot spare.)
#[wasm_bindgen(js_name = twilioSignatureMatches)]
pub fn twilio_signature_matches(
    token_len: usize,
    signature: &[u8],
    signed_len: usize,
    sha256: bool,
) -> bool {
    let algorithm = if sha256 {
        SignatureAlgorithm::HmacSha256
    } else {
        SignatureAlgorithm::HmacSha1
    };
    stack_wiped(|| {
        with_input(token_len.saturating_add(signed_len), |input| {
            let (key, signed) = input.split_at(token_len);
            Ok(mac_matches(algorithm, key, signed, signature))
        })
    })
    .unwrap_or(false)
}

/// Whether `hash` is the lowercase hex SHA-256 of the body (the input buffer's first `body_len`
/// bytes; the `bodySHA256` of a JSON webhook's URL), compared in constant time.
#[wasm_bindgen(js_name = bodyHashMatches)]
pub fn body_hash_matches(body_len: usize, hash: &str) -> bool {
    use sha2::{Digest, Sha256};
    stack_wiped(|| {
        with_input(body_len, |body| {
            let expected = hex::encode(Sha256::digest(body));
            Ok(bool::from(expected.as_bytes().ct_eq(hash.as_bytes())))
        })
    })
    .unwrap_or(false)
}

/// `bytes` (a plaintext or a new key) in the output buffer, for the wrapper to read and wipe;
/// their length.
fn put_output(bytes: &[u8]) -> Result<usize, Error> {
    let mut out = OUTPUT.take();
    out.clear();
    out.extend_from_slice(bytes);
    let len = out.len();
    OUTPUT.set(out);
    Ok(len)
}

/// Runs `work` on the input buffer's first `len` bytes, which it then wipes. A `len` past the
/// buffer (which the wrapper never asks for) is refused, like a key that is not a key.
fn with_input<T>(len: usize, work: impl FnOnce(&[u8]) -> Result<T, Error>) -> Result<T, Error> {
    let input = INPUT.take();
    let result = match input.get(..len) {
        Some(bytes) => work(bytes),
        None => Err(Error::InvalidKey),
    };
    put_input_back(input, len);
    result
}

/// Wipes the first `len` bytes of `input` (the input buffer) and puts it back. Not inlined: one
/// copy serves every export (size).
#[inline(never)]
fn put_input_back(mut input: Vec<u8>, len: usize) {
    let used = len.min(input.len());
    if let Some(bytes) = input.get_mut(..used) {
        bytes.zeroize();
    }
    INPUT.set(input);
}

/// How much of the stack below an export [`stack_wiped`] overwrites. The deepest work measured
/// is about 3.4 KiB (a seal that refills the nonce pool); twice that leaves room for change, and
/// `tests/node/memory.test.js` looks for what would be left.
const STACK_WIPE: usize = 8 * 1024;

/// Runs `work`, then overwrites the [`STACK_WIPE`] bytes of stack below the caller's frame,
/// where `work`'s frames were: Rust's stack on wasm is in linear memory, and nothing else wipes
/// what a cipher, a hash or a random batch left in its locals there. (What the engine keeps in
/// wasm locals, its registers, is beyond the module's reach.)
fn stack_wiped<T>(work: impl FnOnce() -> T) -> T {
    let result = run_below(work);
    overwrite_stack();
    result
}

/// `work`, in a frame of its own below the caller's (never inlined), so that
/// [`overwrite_stack`]'s frame lands on the same place.
#[inline(never)]
fn run_below<T>(work: impl FnOnce() -> T) -> T {
    work()
}

#[inline(never)]
fn overwrite_stack() {
    let zeros = [0u8; STACK_WIPE];
    // The compiler must assume the zeros are read, so it writes them.
    std::hint::black_box(&zeros);
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
    /// Secrets on their way in, written by the wrapper, wiped by the export that reads them;
    /// zeros between calls.
    static INPUT: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

fn with_ring<T>(keys_hex: &[u8], f: impl FnOnce(&KeyRing) -> Result<T, Error>) -> Result<T, Error> {
    let mut prepared = PREPARED.take();
    let result = prepare(&mut prepared, keys_hex).and_then(f);
    PREPARED.set(prepared);
    result
}

/// The prepared ring for `keys_hex`, found or parsed, moved to the end of `prepared` (most
/// recently used last). Not inlined: one copy serves every export (size).
#[inline(never)]
fn prepare<'a>(prepared: &'a mut Vec<Prepared>, keys_hex: &[u8]) -> Result<&'a KeyRing, Error> {
    let hit = prepared.iter().position(|p| same_text(&p.text, keys_hex));
    let entry = match hit {
        Some(i) => prepared.remove(i),
        None => {
            // The wrapper encodes the text itself, so it is UTF-8; anything else is no key.
            let text = std::str::from_utf8(keys_hex).map_err(|_| Error::InvalidKey)?;
            let ring = KeyRing::from_hex(text.split(','))?;
            if prepared.len() == RINGS {
                prepared.remove(0);
            }
            Prepared {
                text: Zeroizing::new(keys_hex.to_vec()),
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
