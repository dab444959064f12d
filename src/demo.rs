//! The articles' demo backend, as a real `action` backend would be written: it checks the
//! submission's signature, opens the values with their contexts, and answers TwiML. It knows
//! one caller, card `1234` with PIN `4321`, as account `AC12345678` with balance `12.55`, and
//! says `X-Gather-Seal-Result: accepted` for it, `rejected` for anything else.
//!
//! Only the worker's local development build (feature `demo`, `[env.dev]`) serves it, at
//! `POST /decrypt-gather`; the build `wrangler deploy` publishes does not contain it.

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::config::{GOODBYE, LOCKED};
use crate::flow::context;
use crate::handoff;
use crate::lockout::AppVerdict;
use crate::twilio::twiml::{Response, Speech};
use crate::{open, KeyRing};

/// What the demo backend reads of a submission; other members are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Submission {
    call_sid: String,
    result: String,
    encrypted_card_digits: Option<String>,
    encrypted_pin_digits: Option<String>,
}

/// What the demo caller hears.
pub const FOUND: &str = "Thank you. Your account number is AC12345678 and your balance is 12.55";
/// What any other caller hears.
pub const NOT_FOUND: &str = "We were not able to locate you in our system. Goodbye.";

/// The demo backend's answer: an HTTP status and its TwiML (`None`: a plain refusal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoReply {
    /// 200, 400 (not a submission, or a value that does not open) or 401 (bad signature).
    pub status: u16,
    /// The TwiML for a 200.
    pub twiml: Option<String>,
    /// Whether the values were right, answered in `X-Gather-Seal-Result` with the TwiML: only
    /// `accepted` gives a flow with `limits` its try back.
    pub verdict: AppVerdict,
}

/// Answers one submission: `body` as received, the signature header, the worker's signing
/// secret and key ring, and the time.
pub fn answer(
    body: &[u8],
    signature: Option<&str>,
    secret: &[u8],
    ring: &KeyRing,
    now_unix: u64,
) -> DemoReply {
    receive(body, signature, secret, ring, now_unix).reply
}

/// What the demo backend made of one submission: its answer, and what the development build's
/// call simulator shows of it (`crate::simulator::Handoff`).
#[derive(Debug)]
pub struct Received {
    /// The answer ([`answer`]).
    pub reply: DemoReply,
    /// The signature check.
    pub signature: Result<(), crate::SignatureError>,
    /// The submission's `callSid`, when the body is a submission with a well-formed one (read
    /// whether or not the signature checked out, to file the record under).
    pub call_sid: Option<String>,
    /// The values it opened, by field name: a signed `success` submission's card and PIN,
    /// when both open for the call.
    pub opened: Vec<(String, Zeroizing<String>)>,
}

/// [`answer`], with what it received and opened on the way.
pub fn receive(
    body: &[u8],
    signature: Option<&str>,
    secret: &[u8],
    ring: &KeyRing,
    now_unix: u64,
) -> Received {
    let refuse = |status| DemoReply {
        status,
        twiml: None,
        verdict: AppVerdict::Unconfirmed,
    };
    let say = |sentence: &str, hang_up: bool, verdict: AppVerdict| {
        let response = Response::new().say(&Speech::default(), sentence);
        let response = if hang_up { response.hangup() } else { response };
        DemoReply {
            status: 200,
            twiml: Some(response.finish()),
            verdict,
        }
    };
    let checked = handoff::verify_submission(
        body,
        signature,
        &[secret],
        handoff::DEFAULT_TOLERANCE_SECS,
        now_unix,
    );
    // Read whether or not the signature checked out; an unsigned one only for its callSid.
    let submission = serde_json::from_slice::<Submission>(body).ok();
    let call_sid = submission
        .as_ref()
        .map(|s| s.call_sid.clone())
        .filter(|sid| crate::flow::is_call_sid(sid));
    let mut received = Received {
        reply: refuse(401),
        signature: checked,
        call_sid,
        opened: Vec::new(),
    };
    if received.signature.is_err() {
        return received;
    }
    let Some(submission) = submission else {
        received.reply = refuse(400);
        return received;
    };
    // Strict, as a backend should be: only a `success` is opened at all.
    match submission.result.as_str() {
        "success" => {}
        "locked" => {
            received.reply = say(LOCKED, true, AppVerdict::Rejected);
            return received;
        }
        _ => {
            received.reply = say(GOODBYE, true, AppVerdict::Rejected);
            return received;
        }
    }
    let opened = |field: &str, sealed: Option<&str>| -> Option<Zeroizing<String>> {
        let context = context(&submission.call_sid, field);
        open(sealed?, ring, context.as_bytes())
            .ok()
            .map(Zeroizing::new)
    };
    let card = opened("card", submission.encrypted_card_digits.as_deref());
    let pin = opened("pin", submission.encrypted_pin_digits.as_deref());
    let (Some(card), Some(pin)) = (card, pin) else {
        received.reply = refuse(400);
        return received;
    };
    received.reply = if card.as_str() == "1234" && pin.as_str() == "4321" {
        say(FOUND, false, AppVerdict::Accepted)
    } else {
        say(NOT_FOUND, true, AppVerdict::Rejected)
    };
    received.opened = vec![("card".to_owned(), card), ("pin".to_owned(), pin)];
    received
}
