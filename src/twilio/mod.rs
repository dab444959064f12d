//! The Twilio side: request signatures and TwiML. Pure Rust, no platform imports.

pub mod signature;
pub mod twiml;

pub use signature::{twilio_signature, verify_twilio_signature};
