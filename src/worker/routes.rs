//! The route `POST /gather[/<flow>]`: the webhook transport. It reads the request, checks the
//! signature and the settings, then drives the engine's turn ([`crate::engine`]): it carries
//! out each effect, feeds back what came of it, and writes the answer and the log line.

use worker::{js_sys, Context, Env};

use super::http::{read_body, Form, Reply, FORM};
use super::lockout;
use super::log::LogLine;
use super::outbound;
use super::settings;
use crate::config::{Waits, DEFAULT_FLOW};
use crate::engine::{self, Answer, Call, Effect, Feedback, Step, Transport, Turn};
use crate::flow::{self, CallState, GatherResult};
use crate::otp;
use crate::outcome::Outcome;
use crate::status::Notice;
use crate::twilio::SIGNATURE_SETTINGS_HEADER;

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
    ctx: &Context,
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

    // Settings are read once per isolate. Published development secrets (which would let
    // anyone sign calls and open values) and the signing settings are refused before the
    // request is looked at; the signature is checked before anything else is read from it.
    let prepared = settings::prepared(env);
    let signing = match &prepared.signing {
        Ok(signing) => signing,
        Err(setting) => return log.misconfigured(setting.clone()),
    };
    let base = signing.public_url.as_deref().unwrap_or(origin);
    let signed_url = format!("{base}{path_and_query}");
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let (settings, signature) = (
        header(SIGNATURE_SETTINGS_HEADER),
        header("X-Twilio-Signature"),
    );
    let verdict = signing.keys.verify(
        settings.as_deref(),
        signature.as_deref(),
        &signed_url,
        &form.pairs,
    );
    if let Err(refusal) = verdict {
        return log.refuse(refusal.outcome(), Reply::plain(403, "Forbidden"));
    }

    let call_sid = form.get("CallSid").unwrap_or("");
    if flow::is_call_sid(call_sid) {
        log.call_sid = Some(call_sid.to_owned());
    }
    // Every setting is checked before the caller is asked anything, so a misconfigured
    // deployment apologises at once instead of after the caller typed their digits.
    let settings = match &prepared.call {
        Ok(settings) => settings,
        Err(setting) => return log.misconfigured(setting.clone()),
    };
    let flows = &settings.flows;
    let Some(flow) = flows.get(flow_name) else {
        return log.answer(404, Outcome::UnknownFlow, engine::apology_twiml(None));
    };
    log.flow = Some(flow.name.clone());

    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let query: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
    let state = match CallState::from_query(flow, &query) {
        Ok(state) => state,
        Err(_) => return log.answer(400, Outcome::BadState, engine::apology_twiml(Some(flow))),
    };
    let step = state
        .as_ref()
        .and_then(|s| flow.field(s.field))
        .map_or("start", |f| f.name.as_str());
    log.step = Some(step.to_owned());

    let action_base = format!("{base}{path}");
    let call = Call {
        call_sid,
        account_sid: form.get("AccountSid").unwrap_or(""),
        from: form.get("From").unwrap_or(""),
        to: form.get("To").unwrap_or(""),
    };
    let transport = Transport::Webhook {
        action_base: &action_base,
    };
    let facts = settings.facts(flow, call, state, form.get("Digits"), transport);
    let answer = run(
        Turn::new(facts),
        env,
        settings.verify.as_ref(),
        settings.waits,
    )
    .await;
    log.result = answer.result.map(GatherResult::as_str);
    if !answer.notices.is_empty() {
        let (call_sid, flow) = (log.call_sid.clone(), log.flow.clone());
        let wait_ms = settings.waits.status_ms;
        ctx.wait_until(send_notices(answer.notices, wait_ms, call_sid, flow));
    }
    log.answer(answer.status, answer.outcome, answer.twiml)
}

/// Sends a turn's status events after the answer, one after another so that they arrive in
/// order; each that is not taken gets its own log line.
async fn send_notices(
    notices: Vec<Notice>,
    wait_ms: u32,
    call_sid: Option<String>,
    flow: Option<String>,
) {
    for notice in noted(&notices, call_sid.as_deref()) {
        let started = js_sys::Date::now();
        if !outbound::post_notice(notice, wait_ms).await {
            let mut line = LogLine::status_failed(call_sid.clone(), flow.clone());
            line.write((js_sys::Date::now() - started).max(0.0) as u64);
        }
    }
}

/// Drives a turn: carries out each effect the engine asks for and feeds back what came of it,
/// until the engine answers.
pub(super) async fn run(
    mut turn: Turn<'_>,
    env: &Env,
    verify: Option<&otp::Settings>,
    waits: Waits,
) -> Answer {
    let mut step = turn.step(None);
    loop {
        let effect = match step {
            Step::Answer(answer) => return answer,
            Step::Do(effect) => effect,
        };
        let feedback = match effect {
            Effect::TakeTry { counter, limits } => {
                Feedback::Counter(lockout::take_try(env, &counter, limits, waits.lockout_ms).await)
            }
            Effect::SendCode { url, body } => {
                Feedback::Verify(post_to_verify(verify, &url, &body, waits.verify_ms).await)
            }
            Effect::CheckCode { url, body } => {
                Feedback::Verify(post_to_verify(verify, &url, &body, waits.verify_ms).await)
            }
            Effect::MarkHandOff { counter, call_sid } => {
                let mark = lockout::mark_hand_off(env, &counter, &call_sid, waits.lockout_ms);
                Feedback::Marked(mark.await)
            }
            Effect::Submit {
                url,
                body,
                signature,
            } => {
                let posted =
                    outbound::post_submission(&url, &body, &signature, waits.application_ms);
                Feedback::Application(posted.await)
            }
            Effect::GiveBack { counters, limits } => {
                lockout::give_back(env, &counters, limits, waits.lockout_ms).await;
                Feedback::Done
            }
        };
        step = turn.step(Some(feedback));
    }
}

/// A request to Twilio Verify; `None` (as Verify being down) when there are no settings, which
/// the settings check makes impossible for a flow with a `verify` field.
async fn post_to_verify(
    settings: Option<&otp::Settings>,
    url: &str,
    body: &str,
    wait_ms: u32,
) -> Option<(u16, String)> {
    outbound::post_to_verify(settings?, url, body, wait_ms).await
}

// The development build's alone (feature `demo`), for the call simulator.

/// The development build keeps each status event sent for the simulator page
/// (`super::simulator`); the production build keeps nothing.
#[cfg(feature = "demo")]
fn noted<'a>(notices: &'a [Notice], call_sid: Option<&str>) -> &'a [Notice] {
    super::simulator::remember_notices(call_sid, notices);
    notices
}

#[cfg(not(feature = "demo"))]
fn noted<'a>(notices: &'a [Notice], _: Option<&str>) -> &'a [Notice] {
    notices
}
