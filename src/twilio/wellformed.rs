//! Whether an application's answer is TwiML Twilio can run: well-formed XML with a `<Response>`
//! root, checked before the worker relays it (beside the TwiML writer, [`super::twiml`]).

/// Well-formed XML whose root element is `<Response>`: one root, every tag closed in order,
/// every entity reference one of XML's own, no DTD (so no entity expansion). The tokenizer
/// checks the syntax of each token; the nesting and references are checked here.
pub fn is_twiml(body: &str) -> bool {
    use xmlparser::{ElementEnd, Token, Tokenizer};
    let mut open: Vec<(&str, &str)> = Vec::new();
    // The attributes of the start tag being read: a name may appear once in a tag.
    let mut attributes: Vec<(&str, &str)> = Vec::new();
    let mut had_root = false;
    for token in Tokenizer::from(body) {
        let Ok(token) = token else {
            return false;
        };
        let fine = match token {
            Token::ElementStart { prefix, local, .. } => {
                attributes.clear();
                let is_root = open.is_empty();
                open.push((prefix.as_str(), local.as_str()));
                if is_root {
                    let twiml = !had_root && prefix.is_empty() && local.as_str() == "Response";
                    had_root = true;
                    twiml
                } else {
                    true
                }
            }
            // TwiML has no namespace: an element moved into one is not TwiML.
            Token::Attribute {
                prefix,
                local,
                value,
                ..
            } => {
                let namespaced = prefix.is_empty() && local.as_str() == "xmlns";
                let name = (prefix.as_str(), local.as_str());
                let unique = !attributes.contains(&name);
                attributes.push(name);
                unique
                    && references_ok(value.as_str())
                    && (!namespaced || value.as_str().is_empty())
            }
            Token::ElementEnd { end, .. } => match end {
                ElementEnd::Open => true,
                ElementEnd::Empty => open.pop().is_some(),
                ElementEnd::Close(prefix, local) => {
                    open.pop() == Some((prefix.as_str(), local.as_str()))
                }
            },
            Token::Text { text } => {
                let text = text.as_str();
                references_ok(text) && (!open.is_empty() || text.trim().is_empty())
            }
            Token::Cdata { .. } => !open.is_empty(),
            Token::Declaration { .. }
            | Token::Comment { .. }
            | Token::ProcessingInstruction { .. } => true,
            // A DTD could declare entities; TwiML has none.
            _ => false,
        };
        if !fine {
            return false;
        }
    }
    had_root && open.is_empty()
}

/// Every `&` starts `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;` or a character reference to
/// a character XML allows.
fn references_ok(text: &str) -> bool {
    text.split('&').skip(1).all(|rest| {
        let Some((name, _)) = rest.split_once(';') else {
            return false;
        };
        // Digits only: Rust's integer parsing would also take a sign (`&#+65;`), XML does not.
        let code = match name.strip_prefix("#x") {
            Some(hex) if hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u32::from_str_radix(hex, 16).ok()
            }
            Some(_) => None,
            None => name
                .strip_prefix('#')
                .filter(|dec| dec.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|dec| dec.parse::<u32>().ok()),
        };
        match code {
            // XML 1.0's Char: tab, newline, carriage return, and the rest of Unicode but the
            // surrogates, U+FFFE and U+FFFF.
            Some(code) => char::from_u32(code).is_some_and(|c| {
                matches!(c, '\t' | '\n' | '\r') || crate::twilio::twiml::is_xml_char(c)
            }),
            None => matches!(name, "amp" | "lt" | "gt" | "quot" | "apos"),
        }
    })
}
