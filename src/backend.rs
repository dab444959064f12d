//! The backend's side of a call: the JSON the worker submits, the answer it expects, and the
//! articles' demo backend that opens the values.
//!
//! The worker submits `{"callSid": …, "encrypted<Field>Digits": …}` (for the default fields,
//! `encryptedCardDigits` and `encryptedPinDigits`), only ciphertext. A backend that knows the
//! caller answers 200 with `{"account": …, "balance": …}`.
//!
//! The JSON is read and written by the few lines at the end of this file rather than by
//! serde_json: in the worker, serde_json and the float formatting its errors pull in were
//! half of the 64 KiB upload budget.

use crate::flow::{Account, FlowConfig};
use crate::{open, Error, KeyRing};

/// The JSON key a field's sealed value travels under: `card` → `encryptedCardDigits`.
pub fn json_key(field: &str) -> String {
    let mut key = String::from("encrypted");
    let mut upper = true;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            key.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            key.push(c);
        }
    }
    key.push_str("Digits");
    key
}

/// The body the worker posts to the backend.
pub fn submission(call_sid: &str, sealed: &[(String, String)]) -> String {
    let mut body = String::with_capacity(64 + sealed.len() * 160);
    body.push_str(r#"{"callSid":"#);
    push_string(&mut body, call_sid);
    for (name, value) in sealed {
        body.push(',');
        push_string(&mut body, &json_key(name));
        body.push(':');
        push_string(&mut body, value);
    }
    body.push('}');
    body
}

/// Reads a backend's 200 answer. `None` when it is not a JSON object with `"account"` and
/// `"balance"` as short printable strings (at most 64 bytes, no control characters). A number
/// is accepted and spoken as written (`12.50` stays `12.50`). A key given twice is refused.
pub fn parse_answer(body: &[u8]) -> Option<Account> {
    let Json::Object(answer) = Json::parse(body)? else {
        return None;
    };
    let text = |key: &str| -> Option<String> {
        let (Json::String(s) | Json::Number(s)) = member(&answer, key)? else {
            return None;
        };
        (!s.is_empty() && s.len() <= 64 && !s.chars().any(char::is_control)).then(|| s.clone())
    };
    Some(Account {
        account: text("account")?,
        balance: text("balance")?,
    })
}

/// What the demo backend answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DemoAnswer {
    /// 200 with this JSON body.
    Found(String),
    /// 404: the values opened but are not the demo caller's.
    NotFound,
    /// 400: not a submission, or a value that does not open for this call.
    BadRequest,
}

/// The articles' demo backend: opens every field with `ring` and the call's contexts, and knows
/// one caller, card `1234` with PIN `4321`, as account `AC12345678` with balance `12.55`.
pub fn demo_answer(config: &FlowConfig, ring: &KeyRing, body: &[u8]) -> DemoAnswer {
    let Some(Json::Object(body)) = Json::parse(body) else {
        return DemoAnswer::BadRequest;
    };
    let Some(Json::String(call_sid)) = member(&body, "callSid") else {
        return DemoAnswer::BadRequest;
    };
    let opened: Result<Vec<(String, zeroize::Zeroizing<String>)>, Error> = config
        .fields
        .iter()
        .map(|f| {
            let Some(Json::String(sealed)) = member(&body, &json_key(&f.name)) else {
                return Err(Error::NotHex);
            };
            let context = FlowConfig::context(call_sid, &f.name);
            Ok((
                f.name.clone(),
                zeroize::Zeroizing::new(open(sealed, ring, context.as_bytes())?),
            ))
        })
        .collect();
    let Ok(opened) = opened else {
        return DemoAnswer::BadRequest;
    };
    let value = |name: &str| {
        opened
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if value("card") == Some("1234") && value("pin") == Some("4321") {
        DemoAnswer::Found(r#"{"account":"AC12345678","balance":"12.55"}"#.into())
    } else {
        DemoAnswer::NotFound
    }
}

/// A JSON document, as far as the backend exchange needs one: strings decoded, numbers kept as
/// written, objects as their members in order; arrays, `true`, `false` and `null` are checked
/// but not kept.
enum Json {
    String(String),
    Number(String),
    Object(Vec<(String, Json)>),
    Other,
}

/// How deeply arrays and objects may nest (serde_json's limit), so that no input can exhaust
/// the stack.
const MAX_DEPTH: u8 = 128;

impl Json {
    /// Parses a whole document (RFC 8259, UTF-8): `None` for anything that is not exactly one
    /// JSON value with optional whitespace around it, or for an object with a repeated key.
    fn parse(text: &[u8]) -> Option<Json> {
        core::str::from_utf8(text).ok()?;
        let mut reader = Reader { text, at: 0 };
        let value = reader.value(0)?;
        reader.skip_whitespace();
        (reader.at == text.len()).then_some(value)
    }
}

/// The value of `key` in an object's members.
fn member<'a>(members: &'a [(String, Json)], key: &str) -> Option<&'a Json> {
    members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: u8) -> Option<Json> {
        self.skip_whitespace();
        match self.peek()? {
            b'"' => self.string().map(Json::String),
            b'{' if depth < MAX_DEPTH => self.object(depth + 1),
            b'[' if depth < MAX_DEPTH => self.array(depth + 1),
            b'-' | b'0'..=b'9' => self.number().map(Json::Number),
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'n' => self.word(b"null"),
            _ => None,
        }
    }

    fn word(&mut self, word: &[u8]) -> Option<Json> {
        let end = self.at.checked_add(word.len())?;
        (self.text.get(self.at..end)? == word).then(|| {
            self.at = end;
            Json::Other
        })
    }

    fn object(&mut self, depth: u8) -> Option<Json> {
        self.expect(b'{')?;
        let mut members: Vec<(String, Json)> = Vec::new();
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(Json::Object(members));
        }
        loop {
            self.skip_whitespace();
            let key = self.string()?;
            self.skip_whitespace();
            self.expect(b':')?;
            let value = self.value(depth)?;
            if member(&members, &key).is_some() {
                return None;
            }
            members.push((key, value));
            self.skip_whitespace();
            match self.next()? {
                b',' => continue,
                b'}' => return Some(Json::Object(members)),
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: u8) -> Option<Json> {
        self.expect(b'[')?;
        self.skip_whitespace();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(Json::Other);
        }
        loop {
            self.value(depth)?;
            self.skip_whitespace();
            match self.next()? {
                b',' => continue,
                b']' => return Some(Json::Other),
                _ => return None,
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`, as written.
    fn number(&mut self) -> Option<String> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.digit()?;
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.digit()?;
            self.digits();
        }
        // Only ASCII was consumed, so the slice is text.
        let written = self.text.get(start..self.at)?;
        Some(written.iter().map(|&b| char::from(b)).collect())
    }

    fn digit(&mut self) -> Option<()> {
        self.next()?.is_ascii_digit().then_some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    fn string(&mut self) -> Option<String> {
        self.expect(b'"')?;
        let mut bytes = Vec::new();
        loop {
            match self.next()? {
                b'"' => break,
                b'\\' => {
                    let c = match self.next()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.escaped_char()?,
                        _ => return None,
                    };
                    let mut utf8 = [0; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
                0..=0x1f => return None,
                byte => bytes.push(byte),
            }
        }
        // The document is UTF-8 and strings end only at ASCII quotes, so this cannot fail.
        String::from_utf8(bytes).ok()
    }

    /// The character of a `\uXXXX` escape (the `\u` already read), joining a surrogate pair.
    fn escaped_char(&mut self) -> Option<char> {
        let first = self.hex4()?;
        let code = match first {
            0xd800..=0xdbff => {
                self.expect(b'\\')?;
                self.expect(b'u')?;
                let second = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&second) {
                    return None;
                }
                0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
            }
            0xdc00..=0xdfff => return None,
            _ => first,
        };
        char::from_u32(code)
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut value = 0;
        for _ in 0..4 {
            value = value * 16 + char::from(self.next()?).to_digit(16)?;
        }
        Some(value)
    }
}

/// Writes `text` as a JSON string, escaping as serde_json does.
fn push_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let n = u32::from(c) as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[n >> 4]));
                out.push(char::from(HEX[n & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(text: &str) -> bool {
        Json::parse(text.as_bytes()).is_some()
    }

    #[test]
    fn the_reader_takes_json_and_only_json() {
        for good in [
            "{}",
            "[]",
            "0",
            "-0",
            "12.55",
            "1e5",
            "-1.5E-3",
            "true",
            "false",
            "null",
            r#""""#,
            r#" { "a" : [ 1 , { "b" : null } ] , "c" : "\u00e9\ud83d\ude00\n" } "#,
        ] {
            assert!(parses(good), "{good}");
        }
        for bad in [
            "",
            " ",
            "{",
            "}",
            "[1,]",
            "{,}",
            r#"{"a":1,}"#,
            r#"{"a"}"#,
            r#"{a:1}"#,
            "01",
            "1.",
            ".5",
            "1e",
            "+1",
            "-",
            "tru",
            "nul",
            "True",
            r#""\x""#,
            r#""\ud800""#,
            r#""\udc00x""#,
            "\"a\u{1}b\"",
            "1 2",
            r#"{"a":1}x"#,
            r#"{"a":1,"a":2}"#,
        ] {
            assert!(!parses(bad), "{bad}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(!parses(&deep), "nesting beyond the limit");
        let fine = "[".repeat(100) + &"]".repeat(100);
        assert!(parses(&fine));
    }

    #[test]
    fn strings_decode_escapes() {
        let parsed = Json::parse(br#""a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\ud83d\ude00""#);
        let expected = "a\"b\\c/d\u{8}\u{c}\n\r\tA\u{e9}\u{1f600}";
        assert!(matches!(parsed, Some(Json::String(s)) if s == expected));
    }

    #[test]
    fn written_strings_read_back() {
        let text = "q\"b\\n\n r\r t\t \u{1}\u{1f} é😀";
        let mut out = String::new();
        push_string(&mut out, text);
        assert_eq!(out, "\"q\\\"b\\\\n\\n r\\r t\\t \\u0001\\u001f é😀\"");
        assert!(
            matches!(Json::parse(out.as_bytes()), Some(Json::String(back)) if back == text),
            "{out}"
        );
    }
}
