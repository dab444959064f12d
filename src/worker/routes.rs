//! The route `POST /gather[/<flow>]`: one turn of a call. It only sequences; every decision is
//! the core's.

use worker::{Date, Env};

use super::http::{read_body, Form, Reply, FORM};
use super::lockout;
use super::log::LogLine;
use super::outbound;
use super::settings;
use crate::config::{Anonymous, Flow, Then, DEFAULT_FLOW};
use crate::flow::{self, CallState, GatherResult, Turn};
use crate::handoff::{self, Submission};
use crate::lockout::{Caller, Limits};
use crate::twilio::twiml::Speech;
use crate::{verify_twilio_signature, Error};

/// The time now, in Unix seconds.
pub fn now_unix() -> u64 {
    Date::now().as_millis() / 1000
}

/// `/gather` → the `default` flow; `/gather/<name>` → that flow. `None`: not a gather route.
pub fn flow_of_path(path: &str) -> Option<&str> {
    match path.strip_prefix("/gather")? {
        "" => Some(DEFAULT_FLOW),
        rest => rest
            .strip_prefix('/')
            .filter(|name| !name.is_empty() && !name.contains('/')),
    }
}

/// `POST /gather[/<flow>]`: one turn of the call.
pub async fn gather(
    req: &worker::web_sys::Request,
    env: &Env,
    flow_name: &str,
    origin: &str,
    path_and_query: &str,
    log: &mut LogLine,
) -> Reply {
    let body = match read_body(req, FORM).await {
        Ok(body) => body,
        Err((outcome, reply)) => return log.refuse(outcome, reply),
    };
    let form = Form::parse(&body);

    // The signature is checked before anything else is read from the request.
    let (token, public_url) = match settings::signing(env) {
        Ok(settings) => settings,
        Err(setting) => return log.misconfigured(setting),
    };
    let base = public_url.as_deref().unwrap_or(origin);
    let signed_url = format!("{base}{path_and_query}");
    let signature = req.headers().get("X-Twilio-Signature").ok().flatten();
    let signed =
        signature.is_some_and(|s| verify_twilio_signature(&token, &signed_url, &form.pairs, &s));
    if !signed {
        return log.refuse("bad-signature", Reply::plain(403, "Forbidden"));
    }

    let call_sid = form.get("CallSid").unwrap_or("");
    if flow::is_call_sid(call_sid) {
        log.call_sid = Some(call_sid.to_owned());
    }
    // Every setting is checked before the caller is asked anything, so a misconfigured
    // deployment apologises at once instead of after the caller typed their digits.
    let flows = settings::flows(env);
    let flows = match flows.as_ref() {
        Ok(flows) => flows,
        Err(setting) => return log.misconfigured(setting.clone()),
    };
    let ring = match settings::key_ring(env) {
        Ok(ring) => ring,
        Err(setting) => return log.misconfigured(setting),
    };
    let secret = match settings::signing_secret(env, flows.any_action()) {
        Ok(secret) => secret,
        Err(setting) => return log.misconfigured(setting),
    };
    if flows.any_limits() && !lockout::bound(env) {
        return log.misconfigured(crate::SettingError::new(
            lockout::BINDING,
            "is missing: a flow has limits, which need the Lockout Durable Object (see wrangler.toml)",
        ));
    }
    let Some(flow) = flows.get(flow_name) else {
        return log.broken_call(
            404,
            "unknown-flow",
            &Speech::default(),
            crate::config::APOLOGY,
        );
    };
    log.flow = Some(flow.name.clone());

    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let query: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
    let speech = flow::speech(flow);
    let apology = &flow.messages.apology;
    let state = match CallState::from_query(flow, &query) {
        Ok(state) => state,
        Err(_) => return log.broken_call(400, "bad-state", &speech, apology),
    };
    let step = state
        .as_ref()
        .and_then(|s| flow.field(s.field))
        .map_or("start", |f| f.name.as_str());
    log.step = Some(step.to_owned());
    let call_comes_in = state.is_none();
    let now = now_unix();

    // A flow with limits: the call takes a try from its caller's counter as it comes in, or is
    // handed off at once (locked, anonymous, counter unreachable) without being asked anything.
    let refused = match call_comes_in {
        true => enter(env, flow, form.get("From").unwrap_or("")).await,
        false => None,
    };
    let turn = match refused {
        Some((result, _)) => Ok(Turn::HandOff {
            result,
            sealed: Vec::new(),
        }),
        None => flow::advance(flow, &ring, call_sid, state, form.get("Digits"), now),
    };
    let turn = match turn {
        Ok(turn) => turn,
        Err(Error::MissingCallSid) => {
            return log.broken_call(400, "missing-call-sid", &speech, apology)
        }
        Err(Error::BadCallState) => return log.broken_call(400, "bad-state", &speech, apology),
        Err(_) => return log.broken_call(200, "seal-failed", &speech, apology),
    };
    match turn {
        Turn::Ask { state, retry } => {
            log.outcome = match (retry, call_comes_in) {
                (true, _) => "reprompted",
                (false, true) => "asked",
                (false, false) => "sealed",
            };
            let action_base = format!("{base}{path}");
            match flow::ask_twiml(flow, &state, retry, &action_base) {
                Some(xml) => Reply::twiml(200, xml),
                None => log.broken_call(200, "no-twiml", &speech, apology),
            }
        }
        Turn::HandOff { result, sealed } => {
            let submission = submission(&form, flow, result, &sealed);
            let (reply, delivery, rejected) =
                hand_off(flow, &submission, secret.as_deref(), now).await;
            let outcome = match (result, flow.limits) {
                _ if refused.is_some() => refused.map_or(delivery, |(_, word)| word),
                // The application said the values were wrong: the try stays a failure.
                (GatherResult::Success, Some(_)) if rejected => "rejected",
                (GatherResult::Success, Some(limits)) => {
                    settle(env, flow, submission.from, limits).await;
                    delivery
                }
                _ => delivery,
            };
            log.hand_off(outcome, result);
            reply
        }
    }
}

/// What the application is told: the call as Twilio posted it, the result, the sealed values.
fn submission<'a>(
    form: &'a Form<'_>,
    flow: &'a Flow,
    result: GatherResult,
    sealed: &'a [(String, String)],
) -> Submission<'a> {
    Submission {
        call_sid: form.get("CallSid").unwrap_or(""),
        account_sid: form.get("AccountSid").unwrap_or(""),
        from: form.get("From").unwrap_or(""),
        to: form.get("To").unwrap_or(""),
        flow: &flow.name,
        result,
        sealed,
    }
}

/// A call entering a flow with `limits` takes a try from its caller's counter. `Some` when it
/// may not go on: the result to hand off at once, and the log's word for it.
async fn enter(env: &Env, flow: &Flow, from: &str) -> Option<(GatherResult, &'static str)> {
    let limits = flow.limits?;
    let Some(name) = counter_name(env, flow, from) else {
        return Some((GatherResult::Anonymous, "anonymous-refused"));
    };
    match lockout::begin(env, &name, limits).await {
        lockout::Answer::Open => None,
        lockout::Answer::Locked => Some((GatherResult::Locked, "locked")),
        lockout::Answer::Unavailable => Some((GatherResult::Unavailable, "lockout-unavailable")),
    }
}

/// A call that ended well gives its try back.
async fn settle(env: &Env, flow: &Flow, from: &str, limits: Limits) {
    if let Some(name) = counter_name(env, flow, from) {
        // If this fails the try stays counted: the caller loses one, no one gains one.
        let _ = lockout::succeed(env, &name, limits).await;
    }
}

/// The counter of this caller in this flow; `None` for a withheld number the flow refuses.
fn counter_name(env: &Env, flow: &Flow, from: &str) -> Option<String> {
    let caller = match crate::lockout::caller(from) {
        Caller::Known(number) => Some(number),
        Caller::Withheld if flow.anonymous == Anonymous::Shared => None,
        Caller::Withheld => return None,
    };
    let key = settings::counter_key(env);
    Some(crate::lockout::counter_name(
        key.as_bytes(),
        &flow.name,
        caller,
    ))
}

/// Hands the gathered values on as the flow's `then` says: the TwiML for Twilio, the log's word
/// for how the hand-off went, and whether the application rejected the values.
async fn hand_off(
    flow: &Flow,
    submission: &Submission<'_>,
    secret: Option<&String>,
    now: u64,
) -> (Reply, &'static str, bool) {
    match &flow.then {
        Then::Redirect { url } => {
            let xml = handoff::redirect_twiml(url, submission.result, submission.sealed);
            (Reply::twiml(200, xml), "redirected", false)
        }
        Then::Action { url, .. } => {
            // `signing_secret` has made sure there is one when any flow uses `action`.
            let Some(secret) = secret else {
                let xml = flow::goodbye_twiml(&flow::speech(flow), &flow.messages.apology);
                return (Reply::twiml(200, xml), "no-signing-secret", false);
            };
            let body = submission.to_json();
            let signature = handoff::sign(secret.as_bytes(), now, body.as_bytes());
            let (answer, rejected) = outbound::post_submission(url, &body, &signature).await;
            let (outcome, xml) = handoff::answer_twiml(flow, submission.result, answer);
            (Reply::twiml(200, xml), outcome, rejected)
        }
    }
}
