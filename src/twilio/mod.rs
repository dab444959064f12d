//! The Twilio side: request signatures and which keys a webhook may be signed with, TwiML, and
//! whether an application's TwiML is well-formed. Pure Rust, no platform imports.

pub mod signature;
pub mod twiml;
pub mod webhook;
pub mod wellformed;

pub use signature::{
    signature_algorithm_name, signature_with, twilio_signature, verify_signature_with,
    verify_twilio_signature, SignatureAlgorithm, SIGNATURE_SETTINGS_HEADER,
};
pub use webhook::{WebhookKeys, WebhookRefusal};
