//! The Twilio side: request signatures, TwiML, and whether an application's TwiML is
//! well-formed. Pure Rust, no platform imports.

pub mod signature;
pub mod twiml;
pub mod wellformed;

pub use signature::{twilio_signature, verify_twilio_signature};
