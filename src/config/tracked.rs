//! Reading `GATHER_FLOWS` with serde while keeping the path of the first fault.
//!
//! Serde reports an unknown key, a repeated key or a value of the wrong type as the
//! deserializer's own error: its text may repeat the value, and its type is serde_json's or
//! serde-wasm-bindgen's. So every table and list of the setting is read through the adapters
//! here ([`Table`], [`List`]), which note what the fault was and where, as the error travels
//! up through them, in a record kept by this thread. [`read`] clears that record, runs a read,
//! and gives back the noted fault; the deserializer's error only stops the read and is never
//! shown. One read runs at a time on a thread (a Worker isolate has one thread), and nothing
//! in the record outlives the read.

use core::fmt;
use core::marker::PhantomData;
use std::cell::RefCell;

use serde::de::value::MapAccessDeserializer;
use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer, MapAccess,
    SeqAccess, Visitor,
};

/// A value of a type the key does not take (serde's `invalid_type`, and the default for any
/// fault nothing more precise was noted for).
pub(super) const WRONG_TYPE: &str = "has the wrong type";
/// A key given twice in one table.
pub(super) const GIVEN_TWICE: &str = "is given twice";
/// A key the table does not take (`deny_unknown_fields`).
const UNKNOWN_KEY: &str = "is not a known key";

/// The first fault of the read under way: its problem, and the path to it, innermost first.
struct Noted {
    problem: Option<&'static str>,
    below: Vec<String>,
}

thread_local! {
    static NOTED: RefCell<Noted> = const {
        RefCell::new(Noted {
            problem: None,
            below: Vec::new(),
        })
    };
}

/// Where a read stopped: the path below the setting (`.login.fields[1].length`, empty for the
/// setting itself) and the fixed sentence for what was wrong there.
pub(super) struct Fault {
    pub(super) below: String,
    pub(super) problem: &'static str,
}

impl Fault {
    /// The error for this fault in `setting`: the path from the setting's name down.
    pub(super) fn at(self, setting: &str) -> crate::SettingError {
        crate::SettingError::new(format!("{setting}{}", self.below), self.problem)
    }
}

/// Runs `read` with a fresh record; on an error, the fault noted while it ran (a value of the
/// wrong type where nothing more precise was noted), with the error itself.
pub(super) fn read<T, E>(read: impl FnOnce() -> Result<T, E>) -> Result<T, (E, Fault)> {
    let clear = || {
        NOTED.with(|noted| {
            let mut noted = noted.borrow_mut();
            noted.problem = None;
            noted.below.clear();
        })
    };
    clear();
    let result = read();
    let fault = NOTED.with(|noted| {
        let noted = noted.borrow();
        Fault {
            below: noted.below.iter().rev().map(String::as_str).collect(),
            problem: noted.problem.unwrap_or(WRONG_TYPE),
        }
    });
    clear();
    result.map_err(|error| (error, fault))
}

/// Notes `problem` unless a fault was noted already (deeper down, so more precise), and gives
/// an error that stops the read.
pub(super) fn fault<E: de::Error>(problem: &'static str) -> E {
    NOTED.with(|noted| {
        noted.borrow_mut().problem.get_or_insert(problem);
    });
    E::custom(problem)
}

/// Adds a step to the path of the fault travelling up, and notes a value of the wrong type
/// when nothing below said more.
pub(super) fn at<E>(step: String) -> impl FnOnce(E) -> E {
    move |error| {
        NOTED.with(|noted| {
            let mut noted = noted.borrow_mut();
            noted.problem.get_or_insert(WRONG_TYPE);
            noted.below.push(step);
        });
        error
    }
}

/// The step for `key`: `.key`, or `.?` for a key that is not a plain word (it may be anything
/// pasted, so it is not repeated).
pub(super) fn key_step(key: &str) -> String {
    if super::is_plain_key(key) {
        format!(".{key}")
    } else {
        ".?".to_owned()
    }
}

/// A table (a JSON object, a `wrangler.toml` table): `T`'s keys, each at most once, read
/// through [`Keyed`]. Anything else, a list included, is the wrong type: serde would otherwise
/// take a struct's values from a list in order, and serde-wasm-bindgen reads a struct from any
/// object, an array included, by its known keys only.
pub(super) struct Table<T>(pub(super) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Table<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Table<T>, D::Error> {
        struct Only<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Only<T> {
            type Value = Table<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Table<T>, A::Error> {
                let keyed = Keyed {
                    map,
                    seen: Vec::new(),
                };
                T::deserialize(MapAccessDeserializer::new(keyed)).map(Table)
            }
        }
        deserializer.deserialize_any(Only(PhantomData))
    }
}

/// A table's members as `T`'s derived code reads them: each key read here first, so that a key
/// given twice, a key `T` does not know and a value at fault are noted with their path.
struct Keyed<A> {
    map: A,
    seen: Vec<String>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Keyed<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(key) = self.map.next_key::<String>()? else {
            return Ok(None);
        };
        if self.seen.contains(&key) {
            return Err(at(key_step(&key))(fault(GIVEN_TWICE)));
        }
        // With `deny_unknown_fields`, the derived code refuses a key it does not know here.
        let known = seed
            .deserialize(key.as_str().into_deserializer())
            .map_err(|_: A::Error| at(key_step(&key))(fault(UNKNOWN_KEY)))?;
        self.seen.push(key);
        Ok(Some(known))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        let step = self
            .seen
            .last()
            .map(|key| key_step(key))
            .unwrap_or_default();
        self.map.next_value_seed(seed).map_err(at(step))
    }
}

/// A list (a JSON array, a TOML array): its items, each with its index in the path.
pub(super) struct List<T>(pub(super) Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<List<T>, D::Error> {
        struct Items<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Items<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq
                    .next_element()
                    .map_err(at(format!("[{}]", items.len())))?
                {
                    items.push(item);
                }
                Ok(List(items))
            }
        }
        deserializer.deserialize_any(Items(PhantomData))
    }
}

/// Skips any value, nested at most [`Skip::DEPTH`] deep (serde_json stops at 128 levels on its
/// own; an object from the runtime has no such bound).
pub(super) struct Skip(pub(super) u8);

impl Skip {
    pub(super) const DEPTH: u8 = 32;
}

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i128<E>(self, _: i128) -> Result<(), E> {
        Ok(())
    }
    fn visit_u128<E>(self, _: u128) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_bytes<E>(self, _: &[u8]) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.deeper()?;
        while seq.next_element_seed(Skip(inner))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.deeper()?;
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Skip(inner))?;
        }
        Ok(())
    }
}

impl Skip {
    fn deeper<E: de::Error>(self) -> Result<u8, E> {
        self.0.checked_sub(1).ok_or_else(|| fault(WRONG_TYPE))
    }
}
