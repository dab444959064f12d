//! `GATHER_RELAYS`: the ConversationRelay relays a worker serves at `/relay/<name>`, read and
//! checked like `GATHER_FLOWS` (a `wrangler.toml` table or the same as JSON text, unknown keys
//! refused, every problem by its path), and against the flows, which a relay may only start.

use super::tracked::{self, List, GIVEN_TWICE};
use super::written::{Entry, Named};
use super::Flows;
use crate::SettingError;

/// The setting's name, and the first segment of every path reported.
pub const RELAYS: &str = "GATHER_RELAYS";

/// Every relay, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relays {
    relays: Vec<Relay>,
}

/// One relay: the application's WebSocket it sits in front of, and the flows it may run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relay {
    /// Its name, as in `/relay/<name>`.
    pub name: String,
    /// The application's WebSocket: `wss://…` (`ws://` only to a loopback host).
    pub upstream: String,
    /// The `GATHER_FLOWS` names the application may start in this relay.
    pub flows: Vec<String>,
    /// What becomes of digits the caller says.
    pub speech: SpeechRule,
}

/// What a relay does with the caller's speech on its way to the application (`speech`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SpeechRule {
    /// `"redact"`: every run of 6 or more digits in a `prompt` becomes `[redacted]`.
    #[default]
    Redact,
    /// `"pass"`: speech goes to the application as Twilio sent it.
    Pass,
}

/// One relay as written.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RelaySettings {
    upstream: Option<String>,
    flows: Option<List<String>>,
    speech: Option<String>,
}

impl Entry for RelaySettings {
    const BAD_NAME: &'static str = "relay names must be 1 to 64 of a-z, 0-9, - and _";
}

impl Relays {
    /// Reads and validates `GATHER_RELAYS` from its JSON text, against the flows it may start.
    ///
    /// Fails with the first problem found, naming its path: text that is not a JSON object of
    /// relays, an unknown, repeated or missing key, a value of the wrong type, a bad name, an
    /// upstream that is not `wss://` (or `ws://` to a loopback host), a flow that is not in
    /// `GATHER_FLOWS` or is named twice, a `speech` other than `redact` or `pass`.
    ///
    /// ```
    /// use gather_seal::config::{Flows, Relays};
    /// let flows = Flows::from_json(r#"{"pay": {
    ///     "fields": [{"name": "pin", "kind": "digits", "length": 4, "prompt": "Your PIN?"}],
    ///     "then": {"redirect": "https://example.com/next"}
    /// }}"#).unwrap();
    /// let relays = Relays::from_json(
    ///     r#"{"agent": {"upstream": "wss://agent.example.com/ws", "flows": ["pay"]}}"#,
    ///     &flows,
    /// ).unwrap();
    /// assert_eq!(relays.get("agent").unwrap().flows, ["pay"]);
    ///
    /// let err = Relays::from_json(r#"{"agent": {"upstream": "wss://a.example", "flows": ["login"]}}"#, &flows)
    ///     .unwrap_err();
    /// assert_eq!(err.setting, "GATHER_RELAYS.agent.flows[0]");
    /// ```
    pub fn from_json(text: &str, flows: &Flows) -> Result<Relays, SettingError> {
        let Named(written) = super::read_json::<Named<RelaySettings>>(RELAYS, text)?;
        if written.is_empty() {
            return Err(SettingError::new(
                RELAYS,
                "must describe at least one relay",
            ));
        }
        let relays = written
            .into_iter()
            .map(|(name, relay)| {
                let at = format!("{RELAYS}{}", tracked::key_step(&name));
                read_relay(name, relay, &at, flows)
            })
            .collect::<Result<_, _>>()?;
        Ok(Relays { relays })
    }

    /// The relay of that name.
    pub fn get(&self, name: &str) -> Option<&Relay> {
        self.relays.iter().find(|r| r.name == name)
    }

    /// Every relay, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &Relay> {
        self.relays.iter()
    }
}

fn read_relay(
    name: String,
    relay: RelaySettings,
    at: &str,
    flows: &Flows,
) -> Result<Relay, SettingError> {
    let key = |key: &str| format!("{at}.{key}");
    let upstream = relay
        .upstream
        .ok_or_else(|| SettingError::new(key("upstream"), "is required"))?;
    crate::url::check_socket(&upstream)
        .map_err(|problem| SettingError::new(key("upstream"), problem))?;
    let listed = relay
        .flows
        .ok_or_else(|| SettingError::new(key("flows"), "is required"))?
        .0;
    if listed.is_empty() {
        return Err(SettingError::new(
            key("flows"),
            "must list at least one flow",
        ));
    }
    let mut names: Vec<String> = Vec::with_capacity(listed.len());
    for (i, flow) in listed.into_iter().enumerate() {
        let item = format!("{at}.flows[{i}]");
        if flows.get(&flow).is_none() {
            return Err(SettingError::new(item, "must name a flow of GATHER_FLOWS"));
        }
        if names.contains(&flow) {
            return Err(SettingError::new(item, GIVEN_TWICE));
        }
        names.push(flow);
    }
    let speech = match relay.speech.as_deref() {
        None | Some("redact") => SpeechRule::Redact,
        Some("pass") => SpeechRule::Pass,
        Some(_) => {
            return Err(SettingError::new(
                key("speech"),
                "is not one of the allowed values",
            ))
        }
    };
    Ok(Relay {
        name,
        upstream,
        flows: names,
        speech,
    })
}
