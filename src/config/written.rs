//! `GATHER_FLOWS` as written: serde structs that take exactly the keys a flow may have
//! (`deny_unknown_fields`), each optional so that [`super::check`] can say which one is
//! required, with the types the keys take. Rules on values (ranges, names, URLs, which keys go
//! together) are [`super::check`]'s.

use core::fmt;
use core::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::tracked::{at, fault, key_step, List, Skip, Table, GIVEN_TWICE};
use super::BAD_FLOW_NAME;

/// Every flow, by name, in the order given.
pub(super) type Written = Named<FlowSettings>;

/// A table of named entries (flows, relays), in the order given: each name checked before its
/// entry is read (a bad name is reported at the setting itself, never repeated), each once.
pub(super) struct Named<T>(pub(super) Vec<(String, T)>);

/// What a [`Named`] table holds.
pub(super) trait Entry: for<'de> Deserialize<'de> {
    /// The problem with a name that is not 1 to 64 of a-z, 0-9, `-` and `_`.
    const BAD_NAME: &'static str;
}

impl Entry for FlowSettings {
    const BAD_NAME: &'static str = BAD_FLOW_NAME;
}

/// One flow.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FlowSettings {
    pub(super) fields: Option<List<Table<FieldSettings>>>,
    pub(super) then: Option<Table<ThenSettings>>,
    pub(super) attempts: Option<Whole>,
    pub(super) timeout: Option<Whole>,
    pub(super) language: Option<String>,
    pub(super) voice: Option<String>,
    pub(super) messages: Option<Table<MessageSettings>>,
    pub(super) limits: Option<Table<LimitSettings>>,
    pub(super) anonymous: Option<Untyped>,
    pub(super) status_callback: Option<String>,
}

/// One field of a flow.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FieldSettings {
    pub(super) name: Option<String>,
    pub(super) prompt: Option<String>,
    pub(super) kind: Option<String>,
    pub(super) length: Option<Whole>,
    pub(super) min: Option<Whole>,
    pub(super) max: Option<Whole>,
    pub(super) channel: Option<Untyped>,
    pub(super) card_types: Option<List<String>>,
    pub(super) card: Option<String>,
    pub(super) confirm: Option<bool>,
    pub(super) repeat: Option<bool>,
}

/// A flow's `then`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ThenSettings {
    pub(super) action: Option<String>,
    pub(super) redirect: Option<String>,
    pub(super) fallback: Option<String>,
}

/// A flow's `messages`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MessageSettings {
    pub(super) retry: Option<String>,
    pub(super) timeout: Option<String>,
    pub(super) invalid: Option<String>,
    pub(super) card_type: Option<String>,
    pub(super) expired: Option<String>,
    pub(super) mismatch: Option<String>,
    pub(super) confirm: Option<String>,
    pub(super) repeat: Option<String>,
    pub(super) goodbye: Option<String>,
    pub(super) apology: Option<String>,
    pub(super) locked: Option<String>,
    pub(super) thanks: Option<String>,
}

/// A flow's `limits`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitSettings {
    pub(super) failures: Option<Whole>,
    pub(super) window_minutes: Option<f64>,
    pub(super) by: Option<List<String>>,
}

/// A whole number as written. A negative one is kept apart rather than refused, so that it is
/// out of the key's range (the key's own sentence) rather than of the wrong type; a number with
/// a fraction or an exponent (`3.0`, `1e3`), or past `u64`, is of the wrong type.
#[derive(Clone, Copy)]
pub(super) enum Whole {
    /// 0 and up.
    Positive(u64),
    /// Below 0.
    Negative,
}

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Whole, D::Error> {
        struct Number;
        impl Visitor<'_> for Number {
            type Value = Whole;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number")
            }
            fn visit_u64<E>(self, n: u64) -> Result<Whole, E> {
                Ok(Whole::Positive(n))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Whole, E> {
                Ok(u64::try_from(n).map_or(Whole::Negative, Whole::Positive))
            }
        }
        deserializer.deserialize_any(Number)
    }
}

/// A value taken whatever its type, for keys whose presence is checked before their type
/// (`channel` is only for kind verify, `anonymous` only goes with limits).
pub(super) enum Untyped {
    /// A string.
    Text(String),
    /// Anything else.
    Other,
}

impl<'de> Deserialize<'de> for Untyped {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Untyped, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = Untyped;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E>(self, text: &str) -> Result<Untyped, E> {
                Ok(Untyped::Text(text.to_owned()))
            }
            fn visit_string<E>(self, text: String) -> Result<Untyped, E> {
                Ok(Untyped::Text(text))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Untyped, E> {
                Ok(Untyped::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Untyped, E> {
                Ok(Untyped::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Untyped, E> {
                Ok(Untyped::Other)
            }
            fn visit_i128<E>(self, _: i128) -> Result<Untyped, E> {
                Ok(Untyped::Other)
            }
            fn visit_u128<E>(self, _: u128) -> Result<Untyped, E> {
                Ok(Untyped::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Untyped, E> {
                Ok(Untyped::Other)
            }
            fn visit_bytes<E>(self, _: &[u8]) -> Result<Untyped, E> {
                Ok(Untyped::Other)
            }
            fn visit_unit<E>(self) -> Result<Untyped, E> {
                Ok(Untyped::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Untyped, A::Error> {
                Skip(Skip::DEPTH).visit_seq(seq).map(|()| Untyped::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Untyped, A::Error> {
                Skip(Skip::DEPTH).visit_map(map).map(|()| Untyped::Other)
            }
        }
        deserializer.deserialize_any(Any)
    }
}

impl<'de, T: Entry> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Named<T>, D::Error> {
        struct Entries<T>(PhantomData<T>);
        impl<'de, T: Entry> Visitor<'de> for Entries<T> {
            type Value = Named<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of named entries")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Named<T>, A::Error> {
                let mut entries: Vec<(String, T)> = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    if !super::is_flow_name(&name) {
                        return Err(fault(T::BAD_NAME));
                    }
                    let step = key_step(&name);
                    if entries.iter().any(|(earlier, _)| *earlier == name) {
                        return Err(at(step)(fault::<A::Error>(GIVEN_TWICE)));
                    }
                    let Table(entry) = map.next_value::<Table<T>>().map_err(at(step))?;
                    entries.push((name, entry));
                }
                Ok(Named(entries))
            }
        }
        deserializer.deserialize_any(Entries(PhantomData))
    }
}
