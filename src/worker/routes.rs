//! The route `POST /gather[/<flow>]`: one turn of a call. It only sequences; every decision is
//! the core's.

use worker::{js_sys, Env};

use super::http::{read_body, Form, Reply, FORM};
use super::lockout;
use super::log::LogLine;
use super::outbound;
use super::settings;
use crate::config::{Flow, Then, DEFAULT_FLOW};
use crate::flow::{self, CallState, CodeCheck, GatherResult, Turn};
use crate::handoff::{self, Submission};
use crate::lockout::{AppVerdict, HandOffMark};
use crate::twilio::twiml::Speech;
use crate::{verify_twilio_signature, Error};

/// The time now, in Unix seconds.
pub fn now_unix() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
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

    // Published development secrets would let anyone sign calls and open values: refused
    // before they are used for anything.
    if let Err(setting) = settings::no_published_secret(env) {
        return log.misconfigured(setting);
    }
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
    let verify = match settings::verify(env, flows.any_verify()) {
        Ok(verify) => verify,
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
    let from = form.get("From").unwrap_or("");
    let digits = form.get("Digits");

    // A flow with limits: the call takes a try from its caller's counter as it comes in, or is
    // handed off at once (locked, anonymous, counter unreachable) without being asked anything.
    let mut refused = match call_comes_in {
        true => lockout::enter(env, flow, from).await,
        false => None,
    };
    // A code typed at a verify field is checked with Twilio Verify before the core decides.
    let check = match (flow::code_to_check(flow, state.as_ref(), digits), &verify) {
        (Some(code), Some(verify)) => Some(match crate::verify::recipient(from) {
            Some(to) => outbound::check_code(verify, to, code).await,
            None => CodeCheck::Unavailable,
        }),
        _ => None,
    };
    let asked = state.as_ref().map(|s| s.field);
    let turn = match refused {
        Some((result, _)) => Ok(flow::hand_off(flow, result, Vec::new())),
        None => flow::advance(flow, &ring, call_sid, state, digits, now, check),
    };
    let mut turn = match turn {
        Ok(turn) => turn,
        Err(Error::MissingCallSid) => {
            return log.broken_call(400, "missing-call-sid", &speech, apology)
        }
        Err(Error::BadCallState) => return log.broken_call(400, "bad-state", &speech, apology),
        Err(_) => return log.broken_call(200, "seal-failed", &speech, apology),
    };
    // A field the flow counts by (an account, a card) was just gathered: the call takes a try
    // from that value's counter, and a locked value ends the call here.
    if let (Some(field), Some(typed)) = (flow::just_gathered(flow, asked, &turn), digits) {
        refused = lockout::take_field_try(env, flow, &field.name, typed).await;
        if let Some((result, _)) = refused {
            turn = flow::hand_off(flow, result, Vec::new());
        }
    }
    // Asking a verify field for the first time: Twilio Verify sends the code first.
    let mut code_sent = false;
    if let (Some(channel), Turn::Ask { state, .. }) = (flow::code_to_send(flow, &turn), &turn) {
        let to = crate::verify::recipient(from);
        code_sent = match (to, &verify) {
            (Some(to), Some(verify)) => outbound::send_code(verify, to, channel).await,
            _ => false,
        };
        if !code_sent {
            turn = flow::hand_off(flow, GatherResult::VerifyUnavailable, state.sealed.clone());
        }
    }
    match turn {
        Turn::Ask { state, retry } => {
            log.outcome = match (retry, call_comes_in) {
                _ if code_sent => "code-sent",
                (true, _) if check == Some(CodeCheck::Denied) => "code-denied",
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
        Turn::HandOff {
            mut result,
            mut sealed,
            verified,
        } => {
            // The counters this call took tries from; the first one's object remembers that
            // the call handed off, so a replayed last step cannot hand off again.
            let counters = lockout::call_counters(env, flow, &ring, call_sid, from, &sealed);
            if let (Some(first), true) = (counters.first(), flow::is_call_sid(call_sid)) {
                match lockout::mark_hand_off(env, first, call_sid).await {
                    Some(HandOffMark::First) => {}
                    Some(HandOffMark::Replayed) => {
                        return log.broken_call(200, "replayed", &speech, apology)
                    }
                    None => {
                        result = GatherResult::Unavailable;
                        sealed.clear();
                        refused = Some((result, "lockout-unavailable"));
                    }
                }
            }
            let verified = match refused {
                Some(_) => Vec::new(),
                None => verified,
            };
            let submission = submission(&form, flow, result, &sealed, &verified);
            let (reply, delivery, verdict) =
                hand_off(flow, &submission, secret.as_deref(), now).await;
            let outcome = match (refused, flow.limits) {
                (Some((_, word)), _) => word,
                (None, Some(limits)) => {
                    if crate::lockout::gives_back(result, verdict) {
                        lockout::settle(env, &counters, limits).await;
                    }
                    crate::lockout::hand_off_outcome(result, verdict, delivery)
                }
                (None, None) => delivery,
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
    verified: &'a [String],
) -> Submission<'a> {
    Submission {
        call_sid: form.get("CallSid").unwrap_or(""),
        account_sid: form.get("AccountSid").unwrap_or(""),
        from: form.get("From").unwrap_or(""),
        to: form.get("To").unwrap_or(""),
        flow: &flow.name,
        result,
        sealed,
        verified,
    }
}

/// Hands the gathered values on as the flow's `then` says: the TwiML for Twilio, the log's word
/// for how the hand-off went, and what an `action` application said of the values (`None` for
/// a redirect, whose application the worker cannot hear).
async fn hand_off(
    flow: &Flow,
    submission: &Submission<'_>,
    secret: Option<&String>,
    now: u64,
) -> (Reply, &'static str, Option<AppVerdict>) {
    match &flow.then {
        Then::Redirect { url } => {
            let xml = handoff::redirect_twiml(
                url,
                submission.result,
                submission.sealed,
                submission.verified,
            );
            (Reply::twiml(200, xml), "redirected", None)
        }
        Then::Action { url, .. } => {
            // `signing_secret` has made sure there is one when any flow uses `action`.
            let Some(secret) = secret else {
                let xml = flow::goodbye_twiml(&flow::speech(flow), &flow.messages.apology);
                let unheard = Some(AppVerdict::Unconfirmed);
                return (Reply::twiml(200, xml), "no-signing-secret", unheard);
            };
            let body = submission.to_json();
            let signature = handoff::sign(secret.as_bytes(), now, body.as_bytes());
            let (answer, verdict) = outbound::post_submission(url, &body, &signature).await;
            let (outcome, xml) = handoff::answer_twiml(flow, submission.result, answer);
            (Reply::twiml(200, xml), outcome, Some(verdict))
        }
    }
}
