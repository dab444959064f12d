//! Keys and key rings: parsing 64-hex-character secrets, generating new ones, rotation.

use core::fmt;

use aes_gcm::{Aes256Gcm, KeyInit};
use zeroize::Zeroizing;

use crate::Error;

/// Length of a key in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// One AES-256-GCM key, ready to seal and open.
///
/// The key schedule is computed once, when the key is made, and wiped when it is dropped.
/// `Debug` prints `[redacted]`; there is no way to read the key back out.
#[derive(Clone)]
pub struct Key {
    pub(crate) cipher: Aes256Gcm,
}

impl Key {
    /// Parses a key given as exactly 64 hex characters, in either case. Whitespace around the
    /// text is ignored, since secrets pasted into a dashboard often gain a trailing newline.
    ///
    /// The text is decoded in constant time. Fails with [`Error::InvalidKey`] for anything
    /// else; the error never repeats the input.
    ///
    /// ```
    /// let key = gather_seal::Key::from_hex(
    ///     "a154eb4c759711bc2538a7cc021e9e9f17dd8aa63151c62ca28a82a4a404203d\n",
    /// )?;
    /// assert_eq!(format!("{key:?}"), "Key([redacted])");
    /// # Ok::<(), gather_seal::Error>(())
    /// ```
    pub fn from_hex(text: &str) -> Result<Key, Error> {
        let text = text.trim();
        if text.len() != 2 * KEY_LEN {
            return Err(Error::InvalidKey);
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        base16ct::mixed::decode(text, &mut bytes[..]).map_err(|_| Error::InvalidKey)?;
        Ok(Key::from_bytes(&bytes))
    }

    /// Makes a key from 32 raw bytes. The caller keeps (and should wipe) its own copy.
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Key {
        Key {
            cipher: Aes256Gcm::new(bytes.into()),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key([redacted])")
    }
}

/// Generates a new random key from the platform CSPRNG, as 64 lowercase hex characters
/// (the form `AES_SECRET` and [`Key::from_hex`] take). The text is wiped when dropped.
///
/// Fails with [`Error::RandomUnavailable`] only if the platform has no CSPRNG.
pub fn generate_key_hex() -> Result<Zeroizing<String>, Error> {
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::getrandom(&mut bytes[..]).map_err(|_| Error::RandomUnavailable)?;
    let mut text = Zeroizing::new([0u8; 2 * KEY_LEN]);
    let hex =
        base16ct::lower::encode_str(&bytes[..], &mut text[..]).map_err(|_| Error::InvalidKey)?;
    Ok(Zeroizing::new(hex.to_owned()))
}

/// The keys a deployment holds: one current key that seals, and older keys that still open
/// values sealed before a rotation.
///
/// [`open`](crate::open) tries the current key first, then the older ones in the order given.
#[derive(Clone, Debug)]
pub struct KeyRing {
    /// `keys[0]` is the current key; never empty.
    keys: Vec<Key>,
}

impl KeyRing {
    /// A ring of just one key.
    pub fn new(current: Key) -> KeyRing {
        KeyRing {
            keys: vec![current],
        }
    }

    /// Adds an older key, tried after the current key and any older keys added before it.
    #[must_use]
    pub fn with_previous(mut self, older: Key) -> KeyRing {
        self.keys.push(older);
        self
    }

    /// Parses a ring from hex keys, the current key first.
    ///
    /// Fails with [`Error::EmptyKeyRing`] when there is none, and with [`Error::InvalidKey`]
    /// when any one is malformed.
    pub fn from_hex<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<KeyRing, Error> {
        let keys = keys
            .into_iter()
            .map(Key::from_hex)
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(Error::EmptyKeyRing);
        }
        Ok(KeyRing { keys })
    }

    /// Parses a ring from a current key and a comma-separated list of older keys (the form of
    /// the `AES_SECRET` and `AES_SECRET_PREVIOUS` settings). Empty entries in the list are
    /// skipped, so `""` means no older keys.
    ///
    /// Fails with [`Error::InvalidKey`] when any key is malformed.
    pub fn from_settings(current: &str, previous: &str) -> Result<KeyRing, Error> {
        let older = previous.split(',').filter(|k| !k.trim().is_empty());
        KeyRing::from_hex(core::iter::once(current).chain(older))
    }

    /// The key that seals.
    pub fn current(&self) -> &Key {
        // `keys` is never empty: every constructor puts the current key first.
        &self.keys[0]
    }

    /// Every key, the current one first.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }
}

impl From<Key> for KeyRing {
    fn from(key: Key) -> KeyRing {
        KeyRing::new(key)
    }
}
