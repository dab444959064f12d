//! The npm package's exports (feature `node`), called by `npm/index.js`, which checks argument
//! types first so that only strings and plain objects reach here.
//!
//! Each export converts its inputs, calls the core, and converts back; errors become JavaScript
//! `Error`s whose message is `gather-seal: ` and the core error's fixed text.

use std::cell::RefCell;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use subtle::ConstantTimeEq;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::{generate_key_hex, open, seal, Error, KeyRing, KEY_LEN};

fn js_error(e: impl fmt::Display) -> JsError {
    JsError::new(&format!("gather-seal: {e}"))
}

/// Seals `plain_text`; `context` is `""` for none.
#[wasm_bindgen(js_name = encrypt)]
pub fn encrypt(plain_text: &str, key_hex: &str, context: &str) -> Result<String, JsError> {
    with_ring(key_hex, |ring| seal(plain_text.as_bytes(), ring.current(), context.as_bytes()))
        .map_err(js_error)
}

/// Opens `cipher_hex` with the comma-separated keys, the current key first.
#[wasm_bindgen(js_name = decrypt)]
pub fn decrypt(cipher_hex: &str, keys_hex: &str, context: &str) -> Result<String, JsError> {
    with_ring(keys_hex, |ring| open(cipher_hex, ring, context.as_bytes())).map_err(js_error)
}

/// 64 lowercase hex characters from the CSPRNG.
#[wasm_bindgen(js_name = generateKey)]
pub fn generate_key() -> Result<String, JsError> {
    let key = generate_key_hex().map_err(js_error)?;
    Ok(key.as_str().to_owned())
}

/// A copy of `object` with every string value sealed; other values are copied as they are.
#[wasm_bindgen(js_name = sealFields)]
pub fn seal_fields(object: JsValue, key_hex: &str, context: &str) -> Result<JsValue, JsError> {
    map_fields(object, |fields| {
        with_ring(key_hex, |ring| {
            fields.for_each_string(|text| seal(text.as_bytes(), ring.current(), context.as_bytes()))
        })
    })
}

/// A copy of `object` with every string value opened; other values are copied as they are.
#[wasm_bindgen(js_name = openFields)]
pub fn open_fields(object: JsValue, keys_hex: &str, context: &str) -> Result<JsValue, JsError> {
    map_fields(object, |fields| {
        with_ring(keys_hex, |ring| fields.for_each_string(|text| open(text, ring, context.as_bytes())))
    })
}

fn map_fields(
    object: JsValue,
    change: impl FnOnce(&mut Fields) -> Result<(), Error>,
) -> Result<JsValue, JsError> {
    let mut fields: Fields = serde_wasm_bindgen::from_value(object)
        .map_err(|_| js_error("fields must be a plain object of strings and JSON values"))?;
    change(&mut fields).map_err(js_error)?;
    fields
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|_| js_error("fields could not be converted back to an object"))
}

/// An object's entries in their original order.
struct Fields(Vec<(String, Value)>);

impl Fields {
    fn for_each_string(&mut self, mut f: impl FnMut(&str) -> Result<String, Error>) -> Result<(), Error> {
        for (_, value) in &mut self.0 {
            if let Value::String(text) = value {
                let changed = f(text)?;
                let old = core::mem::replace(text, changed);
                drop(Zeroizing::new(old));
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Fields, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a plain object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(Fields(entries))
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Prepared key rings, so that a Function calling `encrypt(x, process.env.AES_SECRET)` does not
/// pay for the AES key schedule on every call.
///
/// An entry is found only by presenting the same key bytes (compared in constant time), so it
/// gives nothing to a caller that does not already hold the key. At most `RINGS` are kept,
/// least recently used first out; raw key bytes and round keys are wiped when an entry leaves.
/// The wasm instance is private to the package (`package.json` exports only the wrapper).
const RINGS: usize = 4;

struct Prepared {
    raw: Zeroizing<Vec<[u8; KEY_LEN]>>,
    ring: KeyRing,
}

thread_local! {
    static PREPARED: RefCell<Vec<Prepared>> = const { RefCell::new(Vec::new()) };
}

fn with_ring<T>(keys_hex: &str, f: impl FnOnce(&KeyRing) -> Result<T, Error>) -> Result<T, Error> {
    let mut raw = Zeroizing::new(Vec::with_capacity(2));
    for key in keys_hex.split(',') {
        let key = key.trim();
        if key.len() != 2 * KEY_LEN {
            return Err(Error::InvalidKey);
        }
        let mut bytes = [0u8; KEY_LEN];
        let decoded = base16ct::mixed::decode(key, &mut bytes).map(|_| ()).map_err(|_| Error::InvalidKey);
        raw.push(bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        decoded?;
    }
    PREPARED.with(|cell| {
        let mut prepared = cell.borrow_mut();
        let hit = prepared.iter().position(|p| same_keys(&p.raw, &raw));
        let index = match hit {
            Some(i) => i,
            None => {
                let ring = KeyRing::from_hex(keys_hex.split(','))?;
                if prepared.len() == RINGS {
                    prepared.remove(0);
                }
                prepared.push(Prepared { raw, ring });
                prepared.len() - 1
            }
        };
        // Most recently used last.
        let entry = prepared.remove(index);
        let result = f(&entry.ring);
        prepared.push(entry);
        result
    })
}

fn same_keys(a: &[[u8; KEY_LEN]], b: &[[u8; KEY_LEN]]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| bool::from(x.ct_eq(y)))
}
