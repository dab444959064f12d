//! Writing the few TwiML verbs the gather flow speaks: `<Gather>`, `<Say>`, `<Redirect>`,
//! `<Hangup>`.
//!
//! The output is what Twilio's own builders (`twilio` npm's `VoiceResponse`, which uses
//! xmlbuilder) print for the same verbs and attributes, escaping included.

/// A TwiML `<Response>` being written.
#[derive(Debug)]
pub struct Response {
    xml: String,
    empty: bool,
}

/// A `<Gather>` for DTMF digits, posting what the caller typed to `action`.
#[derive(Clone, Copy, Debug)]
pub struct Gather<'a> {
    /// Where Twilio posts the digits (absolute URL).
    pub action: &'a str,
    /// How many digits end the gather.
    pub num_digits: u8,
    /// Whether `#` ends the entry early (`finishOnKey="#"`, written out).
    pub finish_on_pound: bool,
    /// Seconds of silence before Twilio gives up waiting.
    pub timeout_secs: u8,
}

/// How `<Say>` speaks and `<Gather>` listens: Twilio's `voice` and `language` attributes, each
/// written only when set.
#[derive(Clone, Copy, Debug, Default)]
pub struct Speech<'a> {
    /// e.g. `Polly.Celine`; on `<Say>` only.
    pub voice: Option<&'a str>,
    /// e.g. `fr-FR`; on `<Say>` and `<Gather>`.
    pub language: Option<&'a str>,
}

const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

impl Response {
    /// An empty response.
    pub fn new() -> Response {
        let mut xml = String::with_capacity(512);
        xml.push_str(DECLARATION);
        xml.push_str("<Response");
        Response { xml, empty: true }
    }

    fn open_child(&mut self) {
        if self.empty {
            self.xml.push('>');
            self.empty = false;
        }
    }

    /// `<Say voice=… language=…>text</Say>`.
    #[must_use]
    pub fn say(mut self, speech: &Speech<'_>, text: &str) -> Response {
        self.open_child();
        push_say(&mut self.xml, speech, text);
        self
    }

    /// `<Gather input="dtmf" numDigits=… [finishOnKey="#"] timeout=… method="POST" action=…
    /// actionOnEmptyResult="true" [language=…]>` around one `<Say>` per prompt.
    /// `actionOnEmptyResult` makes Twilio post even when the caller typed nothing, so a silent
    /// caller is asked again instead of dropped.
    #[must_use]
    pub fn gather(
        mut self,
        gather: &Gather<'_>,
        speech: &Speech<'_>,
        prompts: &[&str],
    ) -> Response {
        self.open_child();
        let xml = &mut self.xml;
        xml.push_str(r#"<Gather input="dtmf" numDigits=""#);
        xml.push_str(&gather.num_digits.to_string());
        if gather.finish_on_pound {
            xml.push_str(r##"" finishOnKey="#"##);
        }
        xml.push_str(r#"" timeout=""#);
        xml.push_str(&gather.timeout_secs.to_string());
        xml.push_str(r#"" method="POST" action=""#);
        escape_into(xml, gather.action, Context::Attribute);
        xml.push_str(r#"" actionOnEmptyResult="true""#);
        push_attribute(xml, "language", speech.language);
        if prompts.is_empty() {
            xml.push_str("/>");
        } else {
            xml.push('>');
            for prompt in prompts {
                push_say(xml, speech, prompt);
            }
            xml.push_str("</Gather>");
        }
        self
    }

    /// `<Redirect method="POST">url</Redirect>`: Twilio fetches `url` for the rest of the call.
    #[must_use]
    pub fn redirect(mut self, url: &str) -> Response {
        self.open_child();
        self.xml.push_str(r#"<Redirect method="POST">"#);
        escape_into(&mut self.xml, url, Context::Text);
        self.xml.push_str("</Redirect>");
        self
    }

    /// `<Hangup/>`.
    #[must_use]
    pub fn hangup(mut self) -> Response {
        self.open_child();
        self.xml.push_str("<Hangup/>");
        self
    }

    /// The finished document.
    pub fn finish(mut self) -> String {
        if self.empty {
            self.xml.push_str("/>");
        } else {
            self.xml.push_str("</Response>");
        }
        self.xml
    }
}

impl Default for Response {
    fn default() -> Response {
        Response::new()
    }
}

fn push_say(xml: &mut String, speech: &Speech<'_>, text: &str) {
    xml.push_str("<Say");
    push_attribute(xml, "voice", speech.voice);
    push_attribute(xml, "language", speech.language);
    if text.is_empty() {
        xml.push_str("/>");
        return;
    }
    xml.push('>');
    escape_into(xml, text, Context::Text);
    xml.push_str("</Say>");
}

fn push_attribute(xml: &mut String, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        xml.push(' ');
        xml.push_str(name);
        xml.push_str("=\"");
        escape_into(xml, value, Context::Attribute);
        xml.push('"');
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Context {
    Text,
    Attribute,
}

/// Escapes as xmlbuilder does, and drops characters XML 1.0 cannot carry at all (xmlbuilder
/// would throw on them; a configured prompt should not take the call down).
fn escape_into(xml: &mut String, text: &str, context: Context) {
    for c in text.chars() {
        match c {
            '&' => xml.push_str("&amp;"),
            '<' => xml.push_str("&lt;"),
            '>' if context == Context::Text => xml.push_str("&gt;"),
            '"' if context == Context::Attribute => xml.push_str("&quot;"),
            '\t' if context == Context::Attribute => xml.push_str("&#x9;"),
            '\n' if context == Context::Attribute => xml.push_str("&#xA;"),
            '\r' => xml.push_str("&#xD;"),
            '\t' | '\n' => xml.push(c),
            c if is_xml_char(c) => xml.push(c),
            _ => {}
        }
    }
}

/// A character XML 1.0 can carry besides tab, newline and carriage return (its `Char`
/// production less those three).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_response_is_self_closing() {
        assert_eq!(
            Response::new().finish(),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#
        );
    }

    #[test]
    fn gather_say_hangup() {
        let gather = Gather {
            action: "https://e.com/gather?step=pin&card=00ff",
            num_digits: 4,
            finish_on_pound: false,
            timeout_secs: 10,
        };
        let plain = Speech::default();
        let xml = Response::new()
            .gather(&gather, &plain, &["Enter your PIN."])
            .say(&plain, "Bye.")
            .hangup()
            .finish();
        assert_eq!(
            xml,
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
                r#"<Gather input="dtmf" numDigits="4" timeout="10" method="POST" "#,
                r#"action="https://e.com/gather?step=pin&amp;card=00ff" actionOnEmptyResult="true">"#,
                r#"<Say>Enter your PIN.</Say></Gather><Say>Bye.</Say><Hangup/></Response>"#
            )
        );
    }

    #[test]
    fn text_and_attributes_are_escaped() {
        let gather = Gather {
            action: "a\"b<c>&\n",
            num_digits: 1,
            finish_on_pound: false,
            timeout_secs: 5,
        };
        let plain = Speech::default();
        let xml = Response::new()
            .gather(&gather, &plain, &[])
            .say(&plain, "Tom & \"Jerry\" <3 >\r\u{0}")
            .finish();
        assert!(
            xml.contains(r#"action="a&quot;b&lt;c>&amp;&#xA;""#),
            "{xml}"
        );
        assert!(
            xml.contains("<Say>Tom &amp; \"Jerry\" &lt;3 &gt;&#xD;</Say>"),
            "{xml}"
        );
    }

    #[test]
    fn speech_attributes_pound_and_redirect() {
        let gather = Gather {
            action: "https://e.com/g",
            num_digits: 19,
            finish_on_pound: true,
            timeout_secs: 7,
        };
        let speech = Speech {
            voice: Some("Polly.Celine"),
            language: Some("fr-FR"),
        };
        let xml = Response::new()
            .gather(&gather, &speech, &["Numéro ?"])
            .redirect("https://e.com/r?FlowEvent=return&result=success")
            .finish();
        assert_eq!(
            xml,
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
                r##"<Gather input="dtmf" numDigits="19" finishOnKey="#" timeout="7" method="POST" "##,
                r#"action="https://e.com/g" actionOnEmptyResult="true" language="fr-FR">"#,
                r#"<Say voice="Polly.Celine" language="fr-FR">Numéro ?</Say></Gather>"#,
                r#"<Redirect method="POST">https://e.com/r?FlowEvent=return&amp;result=success</Redirect>"#,
                r#"</Response>"#
            )
        );
    }
}
