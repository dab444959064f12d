//! Sealing and opening short secrets, and the wire format.
//!
//! A sealed value is `hex(nonce ‖ ciphertext ‖ tag)`: a 12-byte random nonce, the AES-256-GCM
//! ciphertext (as long as the plaintext), and the 16-byte authentication tag, in lowercase hex.
//! The optional context is GCM associated data: authenticated, never stored in the value.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Nonce, Tag};
use zeroize::{Zeroize, Zeroizing};

use crate::{Error, Key, KeyRing};

/// Nonce length in bytes (GCM's 96-bit IV).
pub const NONCE_LEN: usize = 12;
/// Authentication tag length in bytes.
pub const TAG_LEN: usize = 16;
/// The fewest bytes a sealed value can hold: a nonce and a tag around an empty plaintext.
pub const MIN_SEALED_LEN: usize = NONCE_LEN + TAG_LEN;

/// Seals `plaintext` under `key`, binding it to `context` (associated data; `b""` for none).
///
/// Every call draws a fresh random nonce from the platform CSPRNG. With an empty context the
/// result is exactly what Node's `crypto` `aes-256-gcm` gives for the same key and nonce.
/// Fails with [`Error::RandomUnavailable`] when the platform has no CSPRNG, and with
/// [`Error::TooLong`] past GCM's 64 GiB limit.
///
/// ```
/// use gather_seal::{open, seal, Key, KeyRing};
/// let key = Key::from_hex(&"ab".repeat(32))?;
/// let sealed = seal(b"1234", &key, b"CA123:pin")?;
/// assert_eq!(sealed.len(), 2 * (12 + 4 + 16));
/// assert_eq!(open(&sealed, &KeyRing::new(key), b"CA123:pin")?, "1234");
/// # Ok::<(), gather_seal::Error>(())
/// ```
pub fn seal(plaintext: &[u8], key: &Key, context: &[u8]) -> Result<String, Error> {
    let mut body = Zeroizing::new(Vec::with_capacity(MIN_SEALED_LEN + plaintext.len()));
    seal_raw(plaintext, key, context, &mut body)?;
    let mut text = vec![0u8; 2 * body.len()];
    hex::encode_to_slice(&body[..], &mut text).map_err(|_| Error::TooLong)?;
    String::from_utf8(text).map_err(|_| Error::TooLong)
}

/// Seals like [`seal`] but leaves the raw `nonce ‖ ciphertext ‖ tag` bytes in `out` (cleared
/// first), for glue that hex-encodes on its own side.
pub(crate) fn seal_raw(
    plaintext: &[u8],
    key: &Key,
    context: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let nonce = nonces::fresh()?;
    out.clear();
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = key
        .cipher
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), context, &mut out[NONCE_LEN..])
        // Only a plaintext over GCM's 64 GiB limit fails here.
        .map_err(|_| Error::TooLong)?;
    out.extend_from_slice(&tag);
    Ok(())
}

/// Opens a sealed value with the keys of `ring` (the current key first) and the same `context`
/// it was sealed with, and returns the plaintext as text.
///
/// Fails with [`Error::NotHex`] or [`Error::TooShort`] when the value cannot be a sealed value,
/// [`Error::Unauthentic`] when no key of the ring authenticates it with this context, and
/// [`Error::NotUtf8`] when the plaintext is not text.
pub fn open(sealed: &str, ring: &KeyRing, context: &[u8]) -> Result<String, Error> {
    let bytes = open_bytes(sealed, ring, context)?;
    String::from_utf8(bytes).map_err(|e| {
        e.into_bytes().zeroize();
        Error::NotUtf8
    })
}

/// Opens a sealed value like [`open`], returning the plaintext as bytes.
///
/// Fails with [`Error::NotHex`], [`Error::TooShort`] or [`Error::Unauthentic`].
pub fn open_bytes(sealed: &str, ring: &KeyRing, context: &[u8]) -> Result<Vec<u8>, Error> {
    if !sealed.len().is_multiple_of(2) {
        return Err(Error::NotHex);
    }
    let mut raw = vec![0u8; sealed.len() / 2];
    hex::decode_to_slice(sealed, &mut raw).map_err(|_| Error::NotHex)?;
    if raw.len() < MIN_SEALED_LEN {
        return Err(Error::TooShort);
    }
    let tag_at = raw.len() - TAG_LEN;
    let (head, tag) = raw.split_at_mut(tag_at);
    let (nonce, ciphertext) = head.split_at_mut(NONCE_LEN);
    let (nonce, tag) = (Nonce::from_slice(nonce), Tag::from_slice(tag));
    // aes-gcm checks the tag before it decrypts, so a failed key leaves the ciphertext as it
    // was and the next key can try the same bytes, in place.
    let opened = ring.keys().iter().any(|key| {
        key.cipher
            .decrypt_in_place_detached(nonce, context, ciphertext, tag)
            .is_ok()
    });
    if !opened {
        return Err(Error::Unauthentic);
    }
    raw.truncate(tag_at);
    raw.drain(..NONCE_LEN);
    // The shift left the plaintext's last bytes behind in the spare capacity: wipe them, so a
    // caller that wipes only the value's length (or shrinks it) leaves no copy.
    raw.spare_capacity_mut().zeroize();
    Ok(raw)
}

/// Nonces: 96 random bits each, never reused.
///
/// On wasm every CSPRNG call crosses into JavaScript, which costs more than the whole AES work
/// for a short secret, so nonces are drawn from a small pool filled 256 at a time. Each pool slot
/// is handed out once and wiped. A wasm instance cannot fork, but its memory can be copied: a
/// snapshot taken after the first seal (a VM or process checkpoint, a V8 startup snapshot) and
/// restored twice would hand the remaining slots out twice, so nothing may seal before such a
/// snapshot. Workers and ordinary Node processes take none. Native builds, which can fork, ask
/// the OS every time.
mod nonces {
    use super::NONCE_LEN;
    use crate::Error;

    #[cfg(not(target_arch = "wasm32"))]
    pub(super) fn fresh() -> Result<[u8; NONCE_LEN], Error> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).map_err(|_| Error::RandomUnavailable)?;
        Ok(nonce)
    }

    #[cfg(target_arch = "wasm32")]
    pub(super) fn fresh() -> Result<[u8; NONCE_LEN], Error> {
        use std::cell::RefCell;
        use zeroize::Zeroize;

        const SLOTS: usize = 256;
        struct Pool {
            bytes: [u8; NONCE_LEN * SLOTS],
            next: usize,
        }
        impl Pool {
            /// The next unused slot, wiped as it is handed out.
            fn take(&mut self) -> Option<[u8; NONCE_LEN]> {
                if self.next >= SLOTS {
                    return None;
                }
                let start = self.next * NONCE_LEN;
                let slot = &mut self.bytes[start..start + NONCE_LEN];
                let mut nonce = [0u8; NONCE_LEN];
                nonce.copy_from_slice(slot);
                slot.fill(0);
                self.next += 1;
                Some(nonce)
            }
        }
        thread_local! {
            static POOL: RefCell<Pool> = const {
                RefCell::new(Pool { bytes: [0; NONCE_LEN * SLOTS], next: SLOTS })
            };
        }
        // The pool is never borrowed across the call into JavaScript (getRandomValues), so a
        // host that re-enters the package from there finds it free, not a borrow that traps.
        let taken = POOL.with(|pool| pool.try_borrow_mut().ok().and_then(|mut p| p.take()));
        if let Some(nonce) = taken {
            return Ok(nonce);
        }
        let mut fresh = [0u8; NONCE_LEN * SLOTS];
        getrandom::getrandom(&mut fresh).map_err(|_| Error::RandomUnavailable)?;
        let nonce = POOL.with(|pool| match pool.try_borrow_mut() {
            // Fresh bytes replace whatever is left (slots are used once either way).
            Ok(mut pool) => {
                pool.bytes = fresh;
                pool.next = 0;
                pool.take()
            }
            Err(_) => None,
        });
        match nonce {
            Some(nonce) => {
                fresh.zeroize();
                Ok(nonce)
            }
            // Only reachable while another seal holds the pool: use a slot of this batch.
            None => {
                let mut nonce = [0u8; NONCE_LEN];
                nonce.copy_from_slice(&fresh[..NONCE_LEN]);
                fresh.zeroize();
                Ok(nonce)
            }
        }
    }
}
