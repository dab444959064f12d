//! `POST /decrypt-gather`: the articles' demo backend ([`crate::demo`]), compiled only into
//! the local development build (feature `demo`, which `scripts/dev.sh` and `[env.dev]` use),
//! so the worker `wrangler deploy` publishes does not contain it at all. What it receives and
//! answers is kept for the call simulator page (`super::simulator`).

use worker::Env;

use super::http::{read_body, Reply, JSON};
use super::log::LogLine;
use super::settings;
use crate::demo;
use crate::handoff::{RESULT_HEADER, SIGNATURE_HEADER};
use crate::outcome::Outcome;
use crate::simulator::Handoff;

/// `POST /decrypt-gather`: the demo backend, checking the submission like a real backend.
pub async fn decrypt_gather(req: &worker::web_sys::Request, env: &Env, log: &mut LogLine) -> Reply {
    let body = match read_body(req, JSON).await {
        Ok(body) => body,
        Err((outcome, reply)) => return log.refuse(outcome, reply),
    };
    let settings =
        settings::key_ring(env).and_then(|ring| Ok((ring, settings::signing_secret(env, true)?)));
    let (ring, secret) = match settings {
        Ok((ring, Some(secret))) => (ring, secret),
        Ok((_, None)) => {
            return log.refuse(
                Outcome::Misconfigured,
                Reply::plain(503, "Service Unavailable"),
            )
        }
        Err(setting) => {
            log.note_setting(setting);
            return log.refuse(
                Outcome::Misconfigured,
                Reply::plain(503, "Service Unavailable"),
            );
        }
    };
    let signature = req.headers().get(SIGNATURE_HEADER).ok().flatten();
    let received = demo::receive(
        &body,
        signature.as_deref(),
        secret.as_bytes(),
        &ring,
        (worker::js_sys::Date::now() / 1000.0) as u64,
    );
    let reply = received.reply;
    // What it received and answered, for the simulator page (filed under the submission's
    // callSid, signed or not).
    if let Some(call_sid) = &received.call_sid {
        let handoff = Handoff {
            submission: String::from_utf8_lossy(&body).into_owned(),
            signature,
            signature_valid: received.signature.is_ok(),
            verdict: match received.signature {
                Ok(()) => "valid".to_owned(),
                Err(refusal) => refusal.to_string(),
            },
            opened: received.opened,
            status: reply.status,
            result: reply.verdict.as_header(),
            twiml: reply.twiml.clone(),
        };
        super::simulator::remember_handoff(call_sid, handoff);
    }
    match (reply.status, reply.twiml) {
        (200, Some(xml)) => {
            log.outcome = Outcome::DemoAnswered;
            let mut answer = Reply::twiml(200, xml);
            answer.header = reply.verdict.as_header().map(|v| (RESULT_HEADER, v));
            answer
        }
        (401, _) => log.refuse(Outcome::DemoBadSignature, Reply::plain(401, "Unauthorized")),
        _ => log.refuse(Outcome::DemoBadRequest, Reply::plain(400, "Bad Request")),
    }
}
