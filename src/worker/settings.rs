//! Settings and secrets from the Worker's bindings.
//!
//! | binding | kind | what |
//! |---|---|---|
//! | `GATHER_FLOWS` | var (table or JSON text) | the flows, [`crate::config`] |
//! | `AES_SECRET`, `AES_SECRET_PREVIOUS` | secrets | the key ring |
//! | `TWILIO_AUTH_TOKEN` | secret | checks `X-Twilio-Signature` |
//! | `TWILIO_WEBHOOK_SHARED_KEY`, `TWILIO_WEBHOOK_SHARED_KEY_PREVIOUS` | secrets | check it when Twilio signs with a SharedKey |
//! | `BACKEND_SIGNING_SECRET` | secret | signs `action` submissions |
//! | `PUBLIC_URL` | var | the URL Twilio calls, behind a proxy |
//! | `OUTBOUND_TIMEOUT_MS` | var | shorter waits for the application, Verify and lockout |
//! | `TWILIO_API_KEY_SID`, `TWILIO_API_KEY_SECRET` | secrets | Twilio Verify, for `verify` fields |
//! | `TWILIO_VERIFY_SERVICE_SID`, `TWILIO_VERIFY_URL` | vars | the Verify service, and its base URL |
//!
//! The flows depend only on their setting, so they are parsed and validated once per isolate
//! and kept, with the text or object they came from, until that changes.

use std::cell::RefCell;
use std::rc::Rc;

use subtle::ConstantTimeEq;
use worker::js_sys::{Object, Reflect, JSON};
use worker::wasm_bindgen::JsValue;
use worker::Env;
use zeroize::Zeroizing;

use crate::config::{self, Flow, Flows, Relays};
use crate::engine::{Call, Facts, Transport};
use crate::flow::CallState;
use crate::twilio::WebhookKeys;
use crate::{otp, Key, KeyRing, SettingError};

/// The fewest characters a `BACKEND_SIGNING_SECRET` may have.
const MIN_SIGNING_SECRET: usize = 32;

/// A binding's raw value: `None` when unset.
fn binding(env: &Env, name: &str) -> Option<JsValue> {
    let value = Reflect::get(env, &JsValue::from_str(name)).ok()?;
    (!value.is_undefined() && !value.is_null()).then_some(value)
}

/// A text setting from `[vars]` or secrets: `None` when unset. A value that is not text (a
/// number or boolean written without quotes in `wrangler.toml`) reads as empty, so the setting
/// is reported as malformed rather than guessed at.
pub fn text(env: &Env, name: &str) -> Option<String> {
    binding(env, name).map(|v| v.as_string().unwrap_or_default())
}

/// A setting that must be present and not blank.
fn required(env: &Env, name: &str) -> Result<Zeroizing<String>, SettingError> {
    match text(env, name) {
        Some(value) if !value.trim().is_empty() => Ok(Zeroizing::new(value)),
        _ => Err(SettingError::new(name, "is missing")),
    }
}

/// What checking a webhook's signature needs: `TWILIO_AUTH_TOKEN`, the optional shared keys
/// `TWILIO_WEBHOOK_SHARED_KEY` and `TWILIO_WEBHOOK_SHARED_KEY_PREVIOUS` (comma-separated), and
/// the optional `PUBLIC_URL` (an `http://` or `https://` base URL, without a trailing slash).
fn signing(env: &Env) -> Result<Signing, SettingError> {
    let token = required(env, "TWILIO_AUTH_TOKEN")?;
    let shared = Zeroizing::new(text(env, "TWILIO_WEBHOOK_SHARED_KEY").unwrap_or_default());
    let previous =
        Zeroizing::new(text(env, "TWILIO_WEBHOOK_SHARED_KEY_PREVIOUS").unwrap_or_default());
    let keys = WebhookKeys::new(&token).with_shared_keys(&shared, &previous);
    let Some(value) = text(env, "PUBLIC_URL").filter(|v| !v.trim().is_empty()) else {
        return Ok(Signing {
            keys,
            public_url: None,
        });
    };
    let url = crate::url::check_base(&value)
        .map_err(|problem| SettingError::new("PUBLIC_URL", problem))?;
    Ok(Signing {
        keys,
        public_url: Some(url.to_owned()),
    })
}

/// `OUTBOUND_TIMEOUT_MS`, as [`config::Waits`] reads it (a number from `wrangler.toml` is read
/// as its text).
fn waits(env: &Env) -> Result<config::Waits, SettingError> {
    let text = binding(env, "OUTBOUND_TIMEOUT_MS").map(|v| match v.as_f64() {
        Some(n) => n.to_string(),
        None => v.as_string().unwrap_or_default(),
    });
    config::Waits::from_setting(text.as_deref())
}

/// The secrets whose `.dev.vars.example` values are published.
const SECRETS: [&str; 8] = [
    "AES_SECRET",
    "AES_SECRET_PREVIOUS",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_WEBHOOK_SHARED_KEY",
    "TWILIO_WEBHOOK_SHARED_KEY_PREVIOUS",
    "BACKEND_SIGNING_SECRET",
    "TWILIO_API_KEY_SID",
    "TWILIO_API_KEY_SECRET",
];

/// The production build refuses to run with any secret set to a value published in
/// `.dev.vars.example` ([`config::is_published_dev_secret`]): the first such secret is the
/// setting at fault. The development build (feature `demo`) runs with them.
fn no_published_secret(env: &Env) -> Result<(), SettingError> {
    if cfg!(feature = "demo") {
        return Ok(());
    }
    for name in SECRETS {
        let value = Zeroizing::new(text(env, name).unwrap_or_default());
        if config::is_published_dev_secret(&value) {
            return Err(SettingError::new(
                name,
                "is a development value published in .dev.vars.example: set your own with wrangler secret put",
            ));
        }
    }
    Ok(())
}

/// A key ring prepared from these secret texts, kept for the isolate's next requests.
struct PreparedRing {
    current: Zeroizing<String>,
    previous: Zeroizing<String>,
    ring: Rc<KeyRing>,
}

thread_local! {
    /// The key ring of the last `AES_SECRET`/`AES_SECRET_PREVIOUS` seen, so that the AES key
    /// schedules are computed once per isolate rather than once per request. It is reused only
    /// when both texts are the same (compared in constant time), and replaced (the old texts
    /// and keys wiped on drop) when they change. Nothing here outlives the isolate or is
    /// reachable from another one.
    static RING: RefCell<Option<PreparedRing>> = const { RefCell::new(None) };
}

/// The key ring: `AES_SECRET` and the optional comma-separated `AES_SECRET_PREVIOUS`.
pub fn key_ring(env: &Env) -> Result<Rc<KeyRing>, SettingError> {
    let current = required(env, "AES_SECRET")?;
    let previous = Zeroizing::new(text(env, "AES_SECRET_PREVIOUS").unwrap_or_default());
    RING.with(|cache| {
        if let Some(prepared) = cache.borrow().as_ref() {
            let same = prepared.current.as_bytes().ct_eq(current.as_bytes())
                & prepared.previous.as_bytes().ct_eq(previous.as_bytes());
            if bool::from(same) {
                return Ok(Rc::clone(&prepared.ring));
            }
        }
        let ring = Rc::new(prepare_ring(&current, &previous)?);
        *cache.borrow_mut() = Some(PreparedRing {
            current,
            previous,
            ring: Rc::clone(&ring),
        });
        Ok(ring)
    })
}

fn prepare_ring(current: &str, previous: &str) -> Result<KeyRing, SettingError> {
    let current = Key::from_hex(current)
        .map_err(|_| SettingError::new("AES_SECRET", "must be 64 hex characters"))?;
    let mut ring = KeyRing::new(current);
    for older in previous.split(',').filter(|k| !k.trim().is_empty()) {
        let older = Key::from_hex(older).map_err(|_| {
            SettingError::new(
                "AES_SECRET_PREVIOUS",
                "must be comma-separated keys of 64 hex characters",
            )
        })?;
        ring = ring.with_previous(older);
    }
    Ok(ring)
}

/// The key that names lockout counters: the `AES_SECRET` text (read after [`key_ring`] has
/// checked it), so rotating that secret starts every count afresh.
fn counter_key(env: &Env) -> Zeroizing<String> {
    Zeroizing::new(text(env, "AES_SECRET").unwrap_or_default())
}

/// What calling Twilio Verify needs, when `needed` (a flow has a `verify` field).
fn verify(env: &Env, needed: bool) -> Result<Option<otp::Settings>, SettingError> {
    if !needed {
        return Ok(None);
    }
    let sid = required(env, "TWILIO_API_KEY_SID")?;
    let secret = required(env, "TWILIO_API_KEY_SECRET")?;
    let service = required(env, "TWILIO_VERIFY_SERVICE_SID")?;
    let base = text(env, "TWILIO_VERIFY_URL").filter(|u| !u.trim().is_empty());
    otp::Settings::new(
        sid.trim(),
        &secret,
        service.trim(),
        base.as_deref().map(str::trim),
    )
    .map(Some)
}

/// `BACKEND_SIGNING_SECRET`, at least 32 characters; required when `needed` (a flow hands off
/// with `action` or has a `status_callback`, or the demo backend checks submissions).
pub fn signing_secret(env: &Env, needed: bool) -> Result<Option<Zeroizing<String>>, SettingError> {
    const NAME: &str = "BACKEND_SIGNING_SECRET";
    let secret = text(env, NAME)
        .filter(|s| !s.trim().is_empty())
        .map(Zeroizing::new);
    match secret {
        Some(secret) if secret.chars().count() >= MIN_SIGNING_SECRET => Ok(Some(secret)),
        Some(_) => Err(SettingError::new(
            NAME,
            "must be at least 32 characters (e.g. openssl rand -hex 32)",
        )),
        None if needed => Err(SettingError::new(
            NAME,
            "is missing (a flow hands off with action)",
        )),
        None => Ok(None),
    }
}

/// What checking a webhook's signature needs ([`signing`]), read before anything else.
pub struct Signing {
    /// `TWILIO_AUTH_TOKEN` and the shared keys (wiped on drop).
    pub keys: WebhookKeys,
    /// `PUBLIC_URL`, when set.
    pub public_url: Option<String>,
}

/// Every other setting a call needs, each checked in the order its problem is reported.
pub struct CallSettings {
    /// The flows.
    pub flows: Rc<Flows>,
    /// The key ring.
    pub ring: Rc<KeyRing>,
    /// `BACKEND_SIGNING_SECRET`, when a flow hands off with `action`.
    pub signing_secret: Option<Zeroizing<String>>,
    /// Twilio Verify's settings, when a flow has a `verify` field.
    pub verify: Option<otp::Settings>,
    /// `OUTBOUND_TIMEOUT_MS`.
    pub waits: config::Waits,
    /// The key that names lockout counters.
    pub counter_key: Zeroizing<String>,
    /// `GATHER_RELAYS`, when set.
    pub relays: Option<Relays>,
}

impl CallSettings {
    /// The engine's facts for one turn of `flow` in `call` over `transport`: these settings, the
    /// turn's own state and entry, and the clock now. The webhook route and the relay build
    /// their turns here, so both hand the engine the same settings.
    pub fn facts<'a>(
        &'a self,
        flow: &'a Flow,
        call: Call<'a>,
        state: Option<CallState>,
        digits: Option<&'a str>,
        transport: Transport<'a>,
    ) -> Facts<'a> {
        Facts {
            flow,
            ring: &self.ring,
            counter_key: self.counter_key.as_bytes(),
            verify: self.verify.as_ref(),
            signing_secret: self.signing_secret.as_ref().map(|s| s.as_bytes()),
            call,
            state,
            digits,
            now_ms: worker::js_sys::Date::now() as u64,
            transport,
        }
    }
}

/// A webhook's settings: the signing ones first (a problem there is reported before the
/// signature is checked), then the rest (reported only for a signed request).
pub struct Prepared {
    /// [`Signing`], or the first problem: a published development secret, then the token or
    /// `PUBLIC_URL`.
    pub signing: Result<Signing, SettingError>,
    /// [`CallSettings`], or the first problem.
    pub call: Result<CallSettings, SettingError>,
}

thread_local! {
    /// The settings read from the last `env` seen. workerd hands every request of an isolate
    /// the same `env` object, and bindings do not change within an isolate, so the bindings
    /// are read, copied into wasm and checked once per isolate rather than once per request; a
    /// different `env` object is read anew. The secrets kept here (wiped on drop) live as long
    /// as the isolate, as the key ring always has.
    static PREPARED: RefCell<Option<(JsValue, Rc<Prepared>)>> = const { RefCell::new(None) };
}

/// Every setting, read and checked once per isolate (per `env` object).
pub fn prepared(env: &Env) -> Rc<Prepared> {
    let key: &JsValue = env.as_ref();
    PREPARED.with(|cache| {
        if let Some((seen, prepared)) = cache.borrow().as_ref() {
            if Object::is(seen, key) {
                return Rc::clone(prepared);
            }
        }
        let prepared = Rc::new(Prepared {
            signing: no_published_secret(env).and_then(|()| signing(env)),
            call: call_settings(env),
        });
        *cache.borrow_mut() = Some((key.clone(), Rc::clone(&prepared)));
        prepared
    })
}

fn call_settings(env: &Env) -> Result<CallSettings, SettingError> {
    let flows = flows(env)?;
    let relays = relays(env, &flows)?;
    flows.require_then(relays.as_ref())?;
    let (any_signed, any_verify, any_limits) =
        (flows.any_signed(), flows.any_verify(), flows.any_limits());
    let ring = key_ring(env)?;
    // A relay hands its captures over signed.
    let signing_secret = signing_secret(env, any_signed || relays.is_some())?;
    let verify = verify(env, any_verify)?;
    let waits = waits(env)?;
    if any_limits && !super::lockout::bound(env) {
        return Err(SettingError::new(
            super::lockout::BINDING,
            "is missing: a flow has limits, which need the Lockout Durable Object (see wrangler.toml)",
        ));
    }
    Ok(CallSettings {
        flows,
        ring,
        signing_secret,
        verify,
        waits,
        counter_key: counter_key(env),
        relays,
    })
}

/// Parsed flows (or the first problem), shared by the requests of an isolate.
type SharedFlows = Result<Rc<Flows>, SettingError>;

thread_local! {
    /// The flows parsed from the last `GATHER_FLOWS` seen, with that value. A Worker's
    /// bindings do not change within an isolate, so this is parsed once; a different value
    /// (a string compared by content, an object by identity) is parsed anew.
    static FLOWS: RefCell<Option<(JsValue, SharedFlows)>> =
        const { RefCell::new(None) };
}

/// The flows, parsed and validated once per isolate.
fn flows(env: &Env) -> SharedFlows {
    let Some(raw) = binding(env, config::SETTING) else {
        return Err(SettingError::new(
            config::SETTING,
            "is missing: no flow is configured",
        ));
    };
    FLOWS.with(|cache| {
        if let Some((seen, flows)) = cache.borrow().as_ref() {
            if Object::is(seen, &raw) {
                return flows.clone();
            }
        }
        let flows = parse_flows(&raw).map(Rc::new);
        *cache.borrow_mut() = Some((raw, flows.clone()));
        flows
    })
}

/// A table from `wrangler.toml` arrives as an object, the same setting from the dashboard,
/// `.dev.vars` or `--var` as JSON text. The object is written out as JSON text by the runtime
/// (`JSON.stringify`), so both are read by one reader, [`Flows::relay_json`], into the same
/// structs with the same errors; a list where the flows' table belongs, or any other value, is
/// refused as of the wrong type. A flow may leave `then` out here; [`call_settings`] checks
/// that a relay runs it. (Reading the object with serde-wasm-bindgen as well compiled
/// every settings struct's reader twice: 15 KiB gzip of the upload.) An object the runtime
/// cannot write out (never one from `wrangler.toml`) is refused the same way.
fn parse_flows(raw: &JsValue) -> Result<Flows, SettingError> {
    Flows::relay_json(&json_text(raw, config::SETTING)?)
}

/// A JSON setting's text: as given, or a table written out by the runtime.
fn json_text(raw: &JsValue, setting: &'static str) -> Result<String, SettingError> {
    match raw.as_string() {
        Some(text) => Ok(text),
        None => JSON::stringify(raw)
            .ok()
            .and_then(|t| t.as_string())
            .ok_or_else(|| SettingError::new(setting, "has the wrong type")),
    }
}

/// `GATHER_RELAYS`, read like `GATHER_FLOWS` and against them; `None` when unset.
fn relays(env: &Env, flows: &Flows) -> Result<Option<Relays>, SettingError> {
    binding(env, config::RELAYS)
        .map(|raw| Relays::from_json(&json_text(&raw, config::RELAYS)?, flows))
        .transpose()
}
