//! # gather-seal
//!
//! Seal the digits a caller types into a Twilio `<Gather>` (card digits, PINs) the moment they
//! arrive, so that only ciphertext reaches query strings, logs and backends.
//!
//! ```
//! use gather_seal::{open, seal, Key, KeyRing};
//!
//! let key = Key::from_hex("a154eb4c759711bc2538a7cc021e9e9f17dd8aa63151c62ca28a82a4a404203d")?;
//! let sealed = seal(b"4321", &key, b"CA0123:pin")?;
//!
//! // Rotation: the ring seals with its current key and opens with any of its keys.
//! let ring = KeyRing::new(Key::from_hex(&"0f".repeat(32))?).with_previous(key);
//! assert_eq!(open(&sealed, &ring, b"CA0123:pin")?, "4321");
//! assert!(open(&sealed, &ring, b"CA0123:card").is_err());
//! # Ok::<(), gather_seal::Error>(())
//! ```
//!
//! ## Wire format
//!
//! `hex(nonce ‖ ciphertext ‖ tag)`: a 12-byte random nonce, the AES-256-GCM ciphertext (as long
//! as the plaintext) and the 16-byte tag, as lowercase hex (either case is read). A key is 32
//! bytes given as 64 hex characters. The context, when there is one, is GCM associated data: it
//! is authenticated but not stored, so the opener must supply the same context. With no context
//! a sealed value is exactly what Node's `crypto` gives for `aes-256-gcm` with the same layout.
//!
//! ## Security notes
//!
//! - Every seal draws a fresh 96-bit nonce from the platform CSPRNG (`getrandom`; the host's
//!   `crypto.getRandomValues` on wasm). Random nonces stay safe for about 2³² values per key:
//!   rotate keys long before that.
//! - AES runs in constant time: AES-NI where the CPU has it, otherwise RustCrypto's bitsliced
//!   software AES (no lookup tables). Twilio signatures are compared in constant time.
//! - Rotation: seal with a new current key and keep the old one in the [`KeyRing`] until every
//!   value sealed under it has been opened or expired.
//! - Context binds a value to where it belongs. The gather flow uses `"<CallSid>:<field>"`, so a
//!   PIN cannot be replayed as a card number, nor a value from one call into another.
//! - Keys are wiped from memory when dropped and print as `[redacted]`. No error message
//!   contains plaintext, key material, context or ciphertext.
//! - Authentication failures are one opaque [`Error::Unauthentic`]: wrong key, wrong context and
//!   tampering look the same.
//!
//! ## Faces
//!
//! The core (this page) is plain Rust and is tested on the host:
//!
//! - [`config`]: the flows (`GATHER_FLOWS`), typed and validated once;
//! - [`kinds`]: what each field kind accepts (digits, card numbers with Luhn and their brand by
//!   issuer prefix, security codes by that brand, routing numbers by the ABA checksum, expiry
//!   dates);
//! - [`flow`]: the gather call's fields as a pure state machine (what each entry does);
//! - [`engine`]: one webhook's whole turn as a sans-IO engine: the answer, or the next effect
//!   (a lockout counter, Twilio Verify, the application) for the glue to carry out;
//! - [`outcome`]: the log's outcome words, spelled once;
//! - [`handoff`]: the signed submission to the application, the redirect, and the
//!   application's answer;
//! - [`twilio`]: request signatures, TwiML, and whether an application's TwiML is well-formed;
//! - [`url`]: URLs read one way (targets, `PUBLIC_URL`, a request's origin, port variants);
//! - [`lockout`]: lockout across calls: caller IDs, counter names, how failed tries count;
//! - [`otp`]: one-time codes through Twilio Verify: the two requests and reading their answers;
//! - [`demo`]: the articles' demo backend, for local development;
//! - [`simulator`]: the local call simulator page's pure side (flows it may see, its signing
//!   step, its per-call records), for local development.
//!
//! Two thin glue modules sit behind features: `worker` (the Cloudflare Worker serving the
//! flows) and `node` (the exports of the `gather-seal` npm package).

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(missing_docs)]

mod error;
mod json;
mod keyring;
mod seal;

pub mod config;
pub mod demo;
pub mod engine;
pub mod flow;
pub mod handoff;
pub mod kinds;
pub mod lockout;
pub mod otp;
pub mod outcome;
pub mod relay;
// Compiled for the host, where it is tested, and into the development worker (feature `demo`),
// never into the production worker or the npm package: even unused, its code would shift what
// the linker keeps of the production worker's.
#[cfg(any(feature = "demo", not(target_arch = "wasm32")))]
pub mod simulator;
pub mod status;
pub mod twilio;
pub mod url;

#[cfg(feature = "node")]
mod node;
#[cfg(feature = "worker")]
mod worker;

pub use error::{BadCallState, CallError, Error, SettingError, SignatureError};
pub use keyring::{generate_key_hex, Key, KeyRing, KEY_LEN};
pub use seal::{open, open_bytes, seal, MIN_SEALED_LEN, NONCE_LEN, TAG_LEN};
pub use twilio::{twilio_signature, verify_twilio_signature};
