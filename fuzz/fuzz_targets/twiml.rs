//! The TwiML writer with arbitrary text and URLs: the output is well-formed XML (roxmltree), has
//! one child per verb in order, reads back the text and attributes given (less what XML cannot
//! carry), and the core's own TwiML reader accepts it.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use fuzz_support::{check_twiml, xml_roundtrip};
use gather_seal::twilio::twiml::{Gather, Response, Speech};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct SpeechIn<'a> {
    voice: Option<&'a str>,
    language: Option<&'a str>,
}

#[derive(Arbitrary, Debug)]
enum Verb<'a> {
    Say(SpeechIn<'a>, &'a str),
    Gather {
        action: &'a str,
        num_digits: u8,
        finish_on_pound: bool,
        timeout_secs: u8,
        speech: SpeechIn<'a>,
        prompts: Vec<&'a str>,
    },
    Redirect(&'a str),
    Hangup,
}

fn speech<'a>(s: &SpeechIn<'a>) -> Speech<'a> {
    Speech {
        voice: s.voice,
        language: s.language,
    }
}

fn attr_is(node: roxmltree::Node<'_, '_>, name: &str, want: Option<&str>) {
    assert_eq!(
        node.attribute(name).map(str::to_owned),
        want.map(xml_roundtrip),
        "attribute {name}"
    );
}

fn text_is(node: roxmltree::Node<'_, '_>, want: &str) {
    let got: String = node
        .children()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(got, xml_roundtrip(want));
    assert!(
        node.children().all(|n| n.is_text()),
        "no markup inside text"
    );
}

fn say_is(node: roxmltree::Node<'_, '_>, s: &SpeechIn<'_>, text: &str) {
    assert_eq!(node.tag_name().name(), "Say");
    attr_is(node, "voice", s.voice);
    attr_is(node, "language", s.language);
    text_is(node, text);
}

fuzz_target!(|data: &[u8]| {
    let Ok(verbs) = Vec::<Verb>::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let mut response = Response::new();
    for verb in &verbs {
        response = match verb {
            Verb::Say(s, text) => response.say(&speech(s), text),
            Verb::Gather {
                action,
                num_digits,
                finish_on_pound,
                timeout_secs,
                speech: s,
                prompts,
            } => {
                let gather = Gather {
                    action,
                    num_digits: *num_digits,
                    finish_on_pound: *finish_on_pound,
                    timeout_secs: *timeout_secs,
                };
                response.gather(&gather, &speech(s), prompts)
            }
            Verb::Redirect(url) => response.redirect(url),
            Verb::Hangup => response.hangup(),
        };
    }
    let xml = response.finish();
    let doc = check_twiml(&xml);

    let children: Vec<_> = doc.root_element().children().collect();
    assert!(
        children.iter().all(|n| n.is_element()),
        "nothing but verbs: {xml:?}"
    );
    assert_eq!(children.len(), verbs.len(), "{xml:?}");
    for (node, verb) in children.into_iter().zip(&verbs) {
        match verb {
            Verb::Say(s, text) => say_is(node, s, text),
            Verb::Gather {
                action,
                num_digits,
                finish_on_pound,
                timeout_secs,
                speech: s,
                prompts,
            } => {
                assert_eq!(node.tag_name().name(), "Gather");
                assert_eq!(node.attribute("input"), Some("dtmf"));
                assert_eq!(node.attribute("method"), Some("POST"));
                assert_eq!(node.attribute("actionOnEmptyResult"), Some("true"));
                let digits = num_digits.to_string();
                assert_eq!(node.attribute("numDigits"), Some(digits.as_str()));
                let timeout = timeout_secs.to_string();
                assert_eq!(node.attribute("timeout"), Some(timeout.as_str()));
                let pound = finish_on_pound.then_some("#");
                assert_eq!(node.attribute("finishOnKey"), pound);
                attr_is(node, "action", Some(action));
                attr_is(node, "language", s.language);
                assert_eq!(node.attribute("voice"), None);
                let says: Vec<_> = node.children().collect();
                assert_eq!(says.len(), prompts.len());
                for (say, prompt) in says.into_iter().zip(prompts) {
                    say_is(say, s, prompt);
                }
            }
            Verb::Redirect(url) => {
                assert_eq!(node.tag_name().name(), "Redirect");
                assert_eq!(node.attribute("method"), Some("POST"));
                text_is(node, url);
            }
            Verb::Hangup => {
                assert_eq!(node.tag_name().name(), "Hangup");
                assert_eq!(node.children().count(), 0);
            }
        }
    }
});
