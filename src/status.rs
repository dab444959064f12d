//! Live status for agents' screens and dashboards: a flow's `status_callback`.
//!
//! Every step of a call (a field asked, an entry accepted or refused, a confirmation, `*`, the
//! hand-off) is one [`Event`]. The engine turns each into a [`Notice`]: a JSON POST signed
//! exactly like the submission (`X-Gather-Seal-Signature`, `BACKEND_SIGNING_SECRET`), so the
//! receiver checks it with the same `verifySubmission`:
//!
//! ```json
//! {"callSid":"CA…","flow":"pay","field":"card","event":"accepted","error":null,"attempt":1,
//!  "at":1764892800123,"masked":{"last4":"4242","brand":"visa"}}
//! ```
//!
//! An event never holds a digit beyond a card's last four: `masked` only on a `card-number`
//! field's `accepted` and `confirmed`, and `result` only on `handed-off` (whose `field` is
//! `null`). `at` is when the worker took the webhook (Unix milliseconds): a webhook's events
//! are sent in order, but a slow receiver can get a later webhook's events first, so a receiver
//! orders by `at`, then by arrival. The glue sends notices after answering Twilio and only logs
//! a failure.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::flow::GatherResult;
use crate::handoff;
use crate::kinds::{Masked, Mistake};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A field's prompt was spoken (first, or again after a wrong try).
    Asked,
    /// A valid entry (typed twice for a `repeat` field); a `confirm` field waits for 1 next.
    Accepted,
    /// An entry was refused: `error` says why.
    Invalid,
    /// The caller pressed 1 to keep a `confirm` field's entry.
    Confirmed,
    /// The caller pressed `*`.
    Cancelled,
    /// The call left the flow: `result` says how.
    HandedOff,
}

impl EventKind {
    /// `asked`, `accepted`, `invalid`, `confirmed`, `cancelled`, `handed-off`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Asked => "asked",
            EventKind::Accepted => "accepted",
            EventKind::Invalid => "invalid",
            EventKind::Confirmed => "confirmed",
            EventKind::Cancelled => "cancelled",
            EventKind::HandedOff => "handed-off",
        }
    }
}

/// One step of a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The field it happened at; `None` for the hand-off.
    pub field: Option<String>,
    /// Why an entry was refused ([`EventKind::Invalid`]).
    pub error: Option<Mistake>,
    /// Which try at the field, from 1 (0 for the hand-off).
    pub attempt: u8,
    /// A card number's last four digits and brand.
    pub masked: Option<Masked>,
    /// How the gather ended ([`EventKind::HandedOff`]).
    pub result: Option<GatherResult>,
}

impl Event {
    /// An event at `field`'s try `attempt`, with no error, mask or result.
    pub fn new(kind: EventKind, field: Option<String>, attempt: u8) -> Event {
        Event {
            kind,
            field,
            error: None,
            attempt,
            masked: None,
            result: None,
        }
    }

    /// The same, refused for `mistake`.
    #[must_use]
    pub fn with_error(mut self, mistake: Mistake) -> Event {
        self.error = Some(mistake);
        self
    }

    /// The hand-off with `result`.
    pub fn handed_off(result: GatherResult) -> Event {
        Event {
            result: Some(result),
            ..Event::new(EventKind::HandedOff, None, 0)
        }
    }

    /// The JSON body of this event of the call `call_sid` in `flow`, which happened at `at`
    /// (Unix milliseconds).
    pub fn to_json(&self, call_sid: &str, flow: &str, at: u64) -> String {
        let body = Body {
            event: self,
            call_sid,
            flow,
            at,
        };
        // Every key is a string, so this cannot fail.
        serde_json::to_string(&body).unwrap_or_default()
    }
}

/// A status event on its way: POST `body` to `url` with the header
/// `X-Gather-Seal-Signature: signature`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The flow's `status_callback`.
    pub url: String,
    /// The event's JSON.
    pub body: String,
    /// [`handoff::sign`] over `body`.
    pub signature: String,
}

impl Notice {
    /// The notice of `event`, which happened at `now_ms` (Unix milliseconds: its `at`), signed
    /// with `secret`.
    pub fn new(
        url: &str,
        event: &Event,
        call_sid: &str,
        flow: &str,
        secret: &[u8],
        now_ms: u64,
    ) -> Notice {
        let body = event.to_json(call_sid, flow, now_ms);
        let signature = handoff::sign(secret, now_ms / 1000, body.as_bytes());
        Notice {
            url: url.to_owned(),
            body,
            signature,
        }
    }
}

struct Body<'a> {
    event: &'a Event,
    call_sid: &'a str,
    flow: &'a str,
    at: u64,
}

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.event;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("callSid", self.call_sid)?;
        map.serialize_entry("flow", self.flow)?;
        map.serialize_entry("field", &event.field)?;
        map.serialize_entry("event", event.kind.as_str())?;
        map.serialize_entry("error", &event.error.map(Mistake::as_str))?;
        map.serialize_entry("attempt", &event.attempt)?;
        map.serialize_entry("at", &self.at)?;
        if let Some(masked) = &event.masked {
            map.serialize_entry("masked", &MaskedJson(masked))?;
        }
        if let Some(result) = event.result {
            map.serialize_entry("result", result.as_str())?;
        }
        map.end()
    }
}

/// `{"last4":"4242","brand":"visa"}`, `brand` left out when unknown (the submission's
/// `masked` entries, too).
pub(crate) struct MaskedJson<'a>(pub(crate) &'a Masked);

impl Serialize for MaskedJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("last4", &self.0.last4)?;
        if let Some(brand) = self.0.brand {
            map.serialize_entry("brand", brand.as_str())?;
        }
        map.end()
    }
}
