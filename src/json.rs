//! JSON read into a small tree that keeps every member in order, a key given twice included, so
//! that an application's JSON answer ([`crate::handoff`]) and Twilio Verify's answer
//! ([`crate::otp`]) are read with a repeated key noticed.
//!
//! `GATHER_FLOWS` no longer goes through this tree: [`crate::config`] reads it into typed serde
//! structs.

use core::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    Text(String),
    /// An array.
    List(Vec<Json>),
    /// An object's members in the order given, a repeated key kept twice.
    Table(Vec<(String, Json)>),
}

/// A JSON number as serde_json reads it: integers exactly, the rest as `f64`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    /// A whole number from 0 to `u64::MAX`, written without a fraction or exponent.
    Whole(u64),
    /// A negative whole number down to `i64::MIN`.
    Negative(i64),
    /// Any other number: with a fraction or an exponent, or past the integers above.
    Real(f64),
}

/// Reads `text` as one JSON value with nothing after it but whitespace; `None` when it is not
/// JSON. Nesting is limited (serde_json's 128 levels), so no input can exhaust the stack.
pub fn parse(text: &str) -> Option<Json> {
    serde_json::from_str(text).ok()
}

impl Json {
    /// The members of a table; `None` for any other value.
    pub fn members(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Table(members) => Some(members),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(Tree)
    }
}

struct Tree;

impl<'de> Visitor<'de> for Tree {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::Number(Number::Whole(n)))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::Number(match u64::try_from(n) {
            Ok(whole) => Number::Whole(whole),
            Err(_) => Number::Negative(n),
        }))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Json, E> {
        Ok(Json::Number(Number::Real(n)))
    }
    fn visit_str<E>(self, text: &str) -> Result<Json, E> {
        Ok(Json::Text(text.to_owned()))
    }
    fn visit_string<E>(self, text: String) -> Result<Json, E> {
        Ok(Json::Text(text))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some(member) = map.next_entry()? {
            members.push(member);
        }
        Ok(Json::Table(members))
    }
}

impl Json {
    /// The member `key` of a table, when it is there exactly once.
    pub fn get(&self, key: &str) -> Option<&Json> {
        let mut found = self.members()?.iter().filter(|(k, _)| k == key);
        match (found.next(), found.next()) {
            (Some((_, value)), None) => Some(value),
            _ => None,
        }
    }

    /// The text of a string value.
    pub fn text(&self) -> Option<&str> {
        match self {
            Json::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// Written back as read: members in order, numbers as serde_json writes them.
impl serde::Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(Number::Whole(n)) => serializer.serialize_u64(*n),
            Json::Number(Number::Negative(n)) => serializer.serialize_i64(*n),
            Json::Number(Number::Real(n)) => serializer.serialize_f64(*n),
            Json::Text(text) => serializer.serialize_str(text),
            Json::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Table(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (key, value) in members {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}
