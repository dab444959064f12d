//! One turn of a call as a sans-IO engine: every decision of a webhook, no I/O.
//!
//! The glue hands the engine the facts of one webhook ([`Facts`]: the flow, what the call
//! carried, what Twilio posted, the time) and asks for the next [`Step`]. A step is either the
//! [`Answer`] (status, TwiML, the log's [`Outcome`] and the hand-off's result) or an [`Effect`]
//! to carry out: take a try from a lockout counter, send or check a one-time code with Twilio
//! Verify, mark the call's hand-off, POST the signed submission, give tries back. The glue
//! performs the effect and feeds what came of it back ([`Feedback`]) until an answer comes out:
//!
//! ```text
//! let mut turn = Turn::new(facts);
//! let mut step = turn.step(None);
//! while let Step::Do(effect) = step {
//!     let feedback = carry_out(effect).await;   // the only I/O
//!     step = turn.step(Some(feedback));
//! }
//! ```
//!
//! As in quinn-proto or rustls' unbuffered API, the engine never waits and never fails for
//! want of I/O: a missing or unexpected feedback reads as the effect having failed, which every
//! rule treats as failing closed. Nothing here knows HTTP or the query string that carries the
//! call state; a WebSocket transport can drive the same turns.

use zeroize::Zeroizing;

use crate::config::{Flow, Then};
use crate::flow::{self, CallState, CodeCheck, GatherResult, Prompt, Turn as FlowTurn};
use crate::handoff::{self, Submission};
use crate::kinds::Masked;
use crate::lockout::{self, AppVerdict, CallerCounter, HandOffMark, Limits};
use crate::outcome::Outcome;
use crate::status::{Event, EventKind, Notice};
use crate::twilio::twiml::Speech;
use crate::{otp, CallError, KeyRing};

/// Who the call is, as Twilio posted it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Call<'a> {
    /// `CallSid`.
    pub call_sid: &'a str,
    /// `AccountSid`.
    pub account_sid: &'a str,
    /// `From`: the caller.
    pub from: &'a str,
    /// `To`: the number called.
    pub to: &'a str,
}

/// Everything one webhook's turn depends on.
pub struct Facts<'a> {
    /// The flow the call is in.
    pub flow: &'a Flow,
    /// The keys that seal and open.
    pub ring: &'a KeyRing,
    /// The key that names lockout counters.
    pub counter_key: &'a [u8],
    /// Twilio Verify's settings, when a flow has a `verify` field.
    pub verify: Option<&'a otp::Settings>,
    /// `BACKEND_SIGNING_SECRET`, when a flow hands off with `action`.
    pub signing_secret: Option<&'a [u8]>,
    /// Who the call is.
    pub call: Call<'a>,
    /// Where the call stands; `None` when it has just come in.
    pub state: Option<CallState>,
    /// What the caller typed (`Digits`).
    pub digits: Option<&'a str>,
    /// The time, in Unix milliseconds: status events carry it as `at`; expiry dates and
    /// signatures use its seconds.
    pub now_ms: u64,
    /// How the call reaches the worker, and so how the turn answers.
    pub transport: Transport<'a>,
}

/// How a call reaches the worker: the same decisions, answered in the transport's own terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport<'a> {
    /// Twilio's voice webhooks: TwiML, each `<Gather>` action going back to `action_base` (the
    /// absolute URL of the flow's route) with the call state in its query; the hand-off as the
    /// flow's `then` says.
    Webhook {
        /// The flow's route, e.g. `https://ivr.example.com/gather/login`.
        action_base: &'a str,
    },
    /// A ConversationRelay session: what to ask comes back as [`Answer::asking`] with the state
    /// the session keeps for the next turn, and the hand-off as [`Answer::handed`], the signed
    /// submission the relay gives the application in the session (whatever the flow's `then`).
    Relay,
}

/// Something the glue carries out for the engine, then reports with [`Feedback`].
#[derive(Debug, PartialEq, Eq)]
pub enum Effect {
    /// Take a try from the lockout counter `counter`: [`Feedback::Counter`].
    TakeTry {
        /// The counter's name ([`lockout::counter_name`]).
        counter: String,
        /// The flow's limits.
        limits: Limits,
    },
    /// Ask Twilio Verify to send a code: POST `body` to `url` with the API key,
    /// [`Feedback::Verify`].
    SendCode {
        /// `…/Verifications`.
        url: String,
        /// `To` and `Channel`.
        body: String,
    },
    /// Ask Twilio Verify to check a code, likewise. The body holds the code: wiped on drop.
    CheckCode {
        /// `…/VerificationCheck`.
        url: String,
        /// `To` and `Code`.
        body: Zeroizing<String>,
    },
    /// Mark in the counter `counter` that the call `call_sid` hands off:
    /// [`Feedback::Marked`].
    MarkHandOff {
        /// The call's first counter.
        counter: String,
        /// The call.
        call_sid: String,
    },
    /// POST the signed submission to the flow's `action`: [`Feedback::Application`].
    Submit {
        /// `then.action`.
        url: String,
        /// The JSON body.
        body: String,
        /// The `X-Gather-Seal-Signature` header.
        signature: String,
    },
    /// Give back the try the call took from each counter: [`Feedback::Done`].
    GiveBack {
        /// The counters, in the order the call took their tries.
        counters: Vec<String>,
        /// The flow's limits.
        limits: Limits,
    },
}

/// What a lockout counter said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterAnswer {
    /// The try is taken; the call may go on.
    Open,
    /// The counter is full: the call may not go on.
    Locked,
    /// The counter could not be reached, answered something else, or took too long.
    Unavailable,
}

/// What came of an `action` POST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppAnswer {
    /// The application answered.
    Answered {
        /// Its status.
        status: u16,
        /// Its `Content-Type`.
        content_type: Option<String>,
        /// Its body, `None` when over [`handoff::ANSWER_CAP`].
        body: Option<String>,
        /// Its `X-Gather-Seal-Result` header.
        result_header: Option<String>,
    },
    /// No answer within the timeout (the request was aborted).
    TimedOut,
    /// The application could not be reached.
    Unreachable,
}

/// What came of an [`Effect`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Feedback {
    /// For [`Effect::TakeTry`].
    Counter(CounterAnswer),
    /// For [`Effect::SendCode`] and [`Effect::CheckCode`]: Verify's status and body, `None` on
    /// an error or a timeout.
    Verify(Option<(u16, String)>),
    /// For [`Effect::MarkHandOff`]: `None` when the counter could not be reached.
    Marked(Option<HandOffMark>),
    /// For [`Effect::Submit`].
    Application(AppAnswer),
    /// For [`Effect::GiveBack`] (whatever came of it: a lost give-back only costs a try).
    Done,
}

/// The end of a turn: what to answer Twilio, what the log line says, and the status events to
/// send after answering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The TwiML.
    pub twiml: String,
    /// The log's outcome.
    pub outcome: Outcome,
    /// How the gather ended, when the turn handed off.
    pub result: Option<GatherResult>,
    /// The flow's `status_callback` events of this turn, signed, in order: POSTed after the
    /// answer, each given up after [`crate::status`]'s wait; a failure is only logged. Empty
    /// without `status_callback`.
    pub notices: Vec<Notice>,
    /// In a relay ([`Transport::Relay`]): what the caller is asked next, and the state the next
    /// turn starts from (`twiml` is empty then).
    pub asking: Option<(flow::Asking, CallState)>,
    /// In a relay: the hand-off, for the application in the session.
    pub handed: Option<Handed>,
}

/// A relay's hand-off: the submission an `action` would receive, and its signature, so that
/// `verifySubmission` and `openSubmission` work on it unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handed {
    /// The submission's JSON.
    pub body: String,
    /// Its `X-Gather-Seal-Signature` value.
    pub signature: String,
}

impl Answer {
    /// An answer with this status, TwiML, outcome and result, nothing else.
    pub fn new(
        status: u16,
        twiml: String,
        outcome: Outcome,
        result: Option<GatherResult>,
    ) -> Answer {
        Answer {
            status,
            twiml,
            outcome,
            result,
            notices: Vec::new(),
            asking: None,
            handed: None,
        }
    }
}

/// What to do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Carry this out and report it with [`Turn::step`].
    Do(Effect),
    /// The turn is over.
    Answer(Answer),
}

/// A hand-off on its way: what it carries, and what the log says if it was refused.
#[derive(Debug)]
struct HandOff {
    result: GatherResult,
    sealed: Vec<(String, String)>,
    verified: Vec<String>,
    /// Each handed-on card's last four digits and brand.
    masked: Vec<(String, Masked)>,
    /// Set when the call was stopped (locked, anonymous, counter unreachable): the log's word,
    /// which no application answer changes.
    refused: Option<Outcome>,
    /// The counters the call took tries from.
    counters: Vec<String>,
}

/// Where a turn stands: which feedback it waits for.
#[derive(Debug)]
enum Stage {
    Begin,
    Entering,
    Checking,
    TakingFieldTry(FlowTurn),
    SendingCode(FlowTurn),
    Marking(HandOff),
    Submitting(HandOff),
    GivingBack(Answer),
    Over,
}

/// One webhook's turn of a call.
pub struct Turn<'a> {
    facts: Facts<'a>,
    stage: Stage,
    /// What happened in this turn, for the flow's `status_callback`.
    events: Vec<Event>,
    /// Whether this turn checked a code, and what Verify said.
    check: Option<CodeCheck>,
    /// The counter of the field this turn gathered, when the flow counts by it: a refusal
    /// there hands off without the field, yet that counter's object marks the hand-off.
    field_counter: Option<String>,
}

impl<'a> Turn<'a> {
    /// A turn for these facts; call [`Turn::step`] with `None` to start it.
    pub fn new(facts: Facts<'a>) -> Turn<'a> {
        Turn {
            facts,
            stage: Stage::Begin,
            events: Vec::new(),
            check: None,
            field_counter: None,
        }
    }

    /// The next step, given what came of the last effect (`None` to start, and for an answer
    /// the glue could not get).
    pub fn step(&mut self, feedback: Option<Feedback>) -> Step {
        match self.next(feedback) {
            Step::Answer(answer) => Step::Answer(self.notify(answer)),
            effect => effect,
        }
    }

    /// The answer with this turn's status events, signed, when the flow has `status_callback`.
    fn notify(&mut self, mut answer: Answer) -> Answer {
        let facts = &self.facts;
        let flow = facts.flow;
        if let Some(result) = answer.result {
            self.events.push(Event::handed_off(result));
        }
        let events = core::mem::take(&mut self.events);
        if let (Some(url), Some(secret)) = (&flow.status_callback, facts.signing_secret) {
            let sid = facts.call.call_sid;
            answer.notices = events
                .iter()
                .map(|event| Notice::new(url, event, sid, &flow.name, secret, facts.now_ms))
                .collect();
        }
        answer
    }

    fn next(&mut self, feedback: Option<Feedback>) -> Step {
        match core::mem::replace(&mut self.stage, Stage::Over) {
            Stage::Begin => self.begin(),
            Stage::Entering => match counter(feedback) {
                CounterAnswer::Open => self.check_code(),
                CounterAnswer::Locked => self.refuse(GatherResult::Locked, Outcome::Locked),
                CounterAnswer::Unavailable => {
                    self.refuse(GatherResult::Unavailable, Outcome::LockoutUnavailable)
                }
            },
            Stage::Checking => {
                let check = match feedback {
                    Some(Feedback::Verify(Some((status, body)))) => otp::read_check(status, &body),
                    _ => CodeCheck::Unavailable,
                };
                self.advance(Some(check))
            }
            Stage::TakingFieldTry(turn) => match counter(feedback) {
                CounterAnswer::Open => self.send_code(turn),
                CounterAnswer::Locked => self.refuse(GatherResult::Locked, Outcome::AccountLocked),
                CounterAnswer::Unavailable => {
                    self.refuse(GatherResult::Unavailable, Outcome::LockoutUnavailable)
                }
            },
            Stage::SendingCode(turn) => {
                let sent = matches!(feedback, Some(Feedback::Verify(Some((status, _)))) if otp::sent(status));
                match (sent, turn) {
                    (true, turn @ FlowTurn::Ask { .. }) => self.ask(turn, Outcome::CodeSent),
                    (_, FlowTurn::Ask { state, .. }) => self.hand_off(
                        flow::hand_off(
                            self.facts.flow,
                            GatherResult::VerifyUnavailable,
                            state.sealed,
                        ),
                        None,
                    ),
                    (_, turn) => self.hand_off(turn, None),
                }
            }
            Stage::Marking(mut hand_off) => match feedback {
                Some(Feedback::Marked(Some(HandOffMark::First))) => self.deliver(hand_off),
                Some(Feedback::Marked(Some(HandOffMark::Replayed))) => {
                    self.broken(200, Outcome::Replayed)
                }
                _ => {
                    hand_off.result = GatherResult::Unavailable;
                    hand_off.sealed.clear();
                    hand_off.verified.clear();
                    hand_off.refused = Some(Outcome::LockoutUnavailable);
                    self.deliver(hand_off)
                }
            },
            Stage::Submitting(hand_off) => {
                let (answer, verdict) = read_application(feedback);
                let (delivery, twiml) =
                    handoff::answer_twiml(self.facts.flow, hand_off.result, answer);
                self.settle(hand_off, twiml, delivery, Some(verdict))
            }
            Stage::GivingBack(answer) => Step::Answer(answer),
            Stage::Over => self.broken(200, Outcome::SealFailed),
        }
    }

    /// The call comes in (a flow counting by caller takes a try first) or goes on.
    fn begin(&mut self) -> Step {
        let facts = &self.facts;
        // A flow without `then` is a relay's only: on the webhook route it does not exist.
        if facts.flow.then == Then::Relay && facts.transport != Transport::Relay {
            let twiml = apology_twiml(None);
            return Step::Answer(Answer::new(404, twiml, Outcome::UnknownFlow, None));
        }
        if facts.state.is_some() {
            return self.check_code();
        }
        let Some(limits) = facts.flow.limits else {
            return self.check_code();
        };
        match lockout::caller_counter(facts.counter_key, facts.flow, facts.call.from) {
            CallerCounter::NotCounted => self.check_code(),
            CallerCounter::Refused => {
                self.refuse(GatherResult::Anonymous, Outcome::AnonymousRefused)
            }
            CallerCounter::Named(counter) => {
                self.stage = Stage::Entering;
                Step::Do(Effect::TakeTry { counter, limits })
            }
        }
    }

    /// A code typed at a `verify` field is checked with Twilio Verify before the flow decides.
    fn check_code(&mut self) -> Step {
        let facts = &self.facts;
        let code = flow::code_to_check(facts.flow, facts.state.as_ref(), facts.digits);
        let (Some(code), Some(settings)) = (code, facts.verify) else {
            return self.advance(None);
        };
        let Some(to) = otp::recipient(facts.call.from) else {
            return self.advance(Some(CodeCheck::Unavailable));
        };
        let (url, body) = settings.check(to, code);
        self.stage = Stage::Checking;
        Step::Do(Effect::CheckCode { url, body })
    }

    /// The flow's decision on what was typed; then a counted field takes its try.
    fn advance(&mut self, check: Option<CodeCheck>) -> Step {
        self.check = check;
        let facts = &self.facts;
        let state = facts.state.clone();
        let advanced = flow::advance(
            facts.flow,
            facts.ring,
            facts.call.call_sid,
            state,
            facts.digits,
            facts.now_ms / 1000,
            check,
        );
        let advanced = match advanced {
            Ok(advanced) => advanced,
            Err(CallError::MissingCallSid) => return self.broken(400, Outcome::MissingCallSid),
            Err(CallError::BadCallState) => return self.broken(400, Outcome::BadState),
            Err(_) => return self.broken(200, Outcome::SealFailed),
        };
        self.events.extend(advanced.events);
        let turn = advanced.turn;
        // A field the flow counts by (an account, a card) was just gathered: the call takes a
        // try from that value's counter, and a locked value ends the call here.
        if let (Some((field, value)), Some(limits)) = (advanced.gathered, facts.flow.limits) {
            let name = facts.flow.field(field).map_or("", |f| f.name.as_str());
            let counter = lockout::field_counter(facts.counter_key, facts.flow, name, &value);
            if let Some(counter) = counter {
                self.field_counter = Some(counter.clone());
                self.stage = Stage::TakingFieldTry(turn);
                return Step::Do(Effect::TakeTry { counter, limits });
            }
        }
        self.send_code(turn)
    }

    /// Asking a `verify` field for the first time: Twilio Verify sends the code first.
    fn send_code(&mut self, turn: FlowTurn) -> Step {
        let facts = &self.facts;
        let channel = flow::code_to_send(facts.flow, &turn);
        match (turn, channel) {
            (turn @ FlowTurn::Ask { .. }, None) => {
                let FlowTurn::Ask { retry, .. } = turn else {
                    return self.broken(200, Outcome::SealFailed);
                };
                let outcome = match (retry, self.check, facts.state.is_none()) {
                    (true, Some(CodeCheck::Denied), _) => Outcome::CodeDenied,
                    (true, _, _) => Outcome::Reprompted,
                    (false, _, true) => Outcome::Asked,
                    (false, _, false) => Outcome::Sealed,
                };
                self.ask(turn, outcome)
            }
            (turn @ FlowTurn::Ask { .. }, Some(channel)) => {
                let to = otp::recipient(facts.call.from);
                match (to, facts.verify, turn) {
                    (Some(to), Some(settings), turn) => {
                        let (url, body) = settings.send(to, channel);
                        self.stage = Stage::SendingCode(turn);
                        Step::Do(Effect::SendCode { url, body })
                    }
                    (_, _, FlowTurn::Ask { state, .. }) => {
                        let result = GatherResult::VerifyUnavailable;
                        self.hand_off(flow::hand_off(facts.flow, result, state.sealed), None)
                    }
                    (_, _, turn) => self.hand_off(turn, None),
                }
            }
            (turn, _) => self.hand_off(turn, None),
        }
    }

    /// The TwiML that asks what `turn` asks (a [`FlowTurn::Ask`]).
    fn ask(&mut self, turn: FlowTurn, outcome: Outcome) -> Step {
        let FlowTurn::Ask {
            state,
            mistake,
            prompt,
            ..
        } = turn
        else {
            return self.broken(200, Outcome::SealFailed);
        };
        let facts = &self.facts;
        let flow = facts.flow;
        let Ok(kind) = flow::asked_kind(flow, facts.ring, facts.call.call_sid, &state) else {
            return self.broken(400, Outcome::BadState);
        };
        let Some(field) = flow.field(state.field) else {
            return self.broken(400, Outcome::BadState);
        };
        let asked = Event::new(EventKind::Asked, Some(field.name.clone()), state.attempt);
        let answer = match facts.transport {
            Transport::Webhook { action_base } => {
                flow::ask_twiml_as(flow, &state, mistake, &prompt, action_base, kind)
                    .map(|twiml| Answer::new(200, twiml, outcome, None))
            }
            Transport::Relay => flow::asking(flow, &state, mistake, &prompt, kind).map(|asking| {
                let mut answer = Answer::new(200, String::new(), outcome, None);
                answer.asking = Some((asking, state.clone()));
                answer
            }),
        };
        let Some(answer) = answer else {
            return self.broken(400, Outcome::BadState);
        };
        if prompt == Prompt::Field {
            self.events.push(asked);
        }
        Step::Answer(answer)
    }

    /// The call was stopped (locked, anonymous, counter unreachable): hand off at once with
    /// no fields.
    fn refuse(&mut self, result: GatherResult, outcome: Outcome) -> Step {
        let turn = flow::hand_off(self.facts.flow, result, Vec::new());
        self.hand_off(turn, Some(outcome))
    }

    /// The gather is over. With `limits`, the first counter's object marks the hand-off first,
    /// so a replayed last step cannot hand off again.
    fn hand_off(&mut self, turn: FlowTurn, refused: Option<Outcome>) -> Step {
        let FlowTurn::HandOff {
            result,
            sealed,
            verified,
        } = turn
        else {
            return self.broken(200, Outcome::SealFailed);
        };
        let facts = &self.facts;
        let mut counters = match facts.flow.limits {
            Some(_) => lockout::call_counters(
                facts.counter_key,
                facts.flow,
                facts.ring,
                facts.call.call_sid,
                facts.call.from,
                &sealed,
            ),
            None => Vec::new(),
        };
        // A field refused in this turn is not among the values handed off.
        if let Some(counter) = self.field_counter.take() {
            if !counters.contains(&counter) {
                counters.push(counter);
            }
        }
        let masked = flow::masked(facts.flow, facts.ring, facts.call.call_sid, &sealed);
        let hand_off = HandOff {
            result,
            sealed,
            verified,
            masked,
            refused,
            counters,
        };
        // A counter that just could not be reached is not asked again (a second timeout). A
        // relay's session has no webhook to replay, and may run a flow twice in one call.
        let reachable = refused != Some(Outcome::LockoutUnavailable);
        let replayable = facts.transport != Transport::Relay;
        match hand_off.counters.first() {
            Some(first) if reachable && replayable && flow::is_call_sid(facts.call.call_sid) => {
                let effect = Effect::MarkHandOff {
                    counter: first.clone(),
                    call_sid: facts.call.call_sid.to_owned(),
                };
                self.stage = Stage::Marking(hand_off);
                Step::Do(effect)
            }
            _ => self.deliver(hand_off),
        }
    }

    /// Hands the values on as the flow's `then` says.
    fn deliver(&mut self, hand_off: HandOff) -> Step {
        let facts = &self.facts;
        if facts.transport == Transport::Relay {
            return self.hand_over(hand_off);
        }
        match &facts.flow.then {
            Then::Redirect { url } => {
                let twiml = handoff::redirect_twiml(
                    url,
                    hand_off.result,
                    &hand_off.sealed,
                    &hand_off.verified,
                    &hand_off.masked,
                );
                self.settle(hand_off, twiml, Outcome::Redirected, None)
            }
            Then::Action { url, .. } => {
                let Some(secret) = facts.signing_secret else {
                    let twiml = flow::goodbye_twiml(
                        &flow::speech(facts.flow),
                        &facts.flow.messages.apology,
                    );
                    let unheard = Some(AppVerdict::Unconfirmed);
                    return self.settle(hand_off, twiml, Outcome::NoSigningSecret, unheard);
                };
                let body = self.submission(&hand_off).to_json();
                let signature = handoff::sign(secret, facts.now_ms / 1000, body.as_bytes());
                let effect = Effect::Submit {
                    url: url.clone(),
                    body,
                    signature,
                };
                self.stage = Stage::Submitting(hand_off);
                Step::Do(effect)
            }
            // Refused at `begin`: never asked on the webhook route.
            Then::Relay => self.broken(404, Outcome::UnknownFlow),
        }
    }

    /// A relay's hand-off: the signed submission for the application in the session. As after
    /// a `redirect`, nobody answers for the values, so with `limits` a capture that succeeded
    /// gives its tries back ([`Self::settle`] with no verdict); one that failed keeps them.
    fn hand_over(&mut self, hand_off: HandOff) -> Step {
        let facts = &self.facts;
        let Some(secret) = facts.signing_secret else {
            return self.broken(200, Outcome::NoSigningSecret);
        };
        let body = self.submission(&hand_off).to_json();
        let signature = handoff::sign(secret, facts.now_ms / 1000, body.as_bytes());
        let handed = Handed { body, signature };
        let delivery = hand_off.refused.unwrap_or(Outcome::HandedOff);
        match self.settle(hand_off, String::new(), delivery, None) {
            Step::Answer(mut answer) => {
                answer.handed = Some(handed);
                Step::Answer(answer)
            }
            Step::Do(effect) => {
                if let Stage::GivingBack(answer) = &mut self.stage {
                    answer.handed = Some(handed);
                }
                Step::Do(effect)
            }
        }
    }

    /// What the application receives of a hand-off.
    fn submission<'s>(&'s self, hand_off: &'s HandOff) -> Submission<'s> {
        let facts = &self.facts;
        Submission {
            call_sid: facts.call.call_sid,
            account_sid: facts.call.account_sid,
            from: facts.call.from,
            to: facts.call.to,
            flow: &facts.flow.name,
            result: hand_off.result,
            sealed: &hand_off.sealed,
            verified: &hand_off.verified,
            masked: &hand_off.masked,
        }
    }

    /// The answer after a hand-off; with `limits`, the tries come back first when the
    /// application accepted the values ([`lockout::gives_back`]).
    fn settle(
        &mut self,
        hand_off: HandOff,
        twiml: String,
        delivery: Outcome,
        verdict: Option<AppVerdict>,
    ) -> Step {
        let result = hand_off.result;
        let mut answer = Answer::new(200, twiml, delivery, Some(result));
        let limits = match (hand_off.refused, self.facts.flow.limits) {
            (Some(refused), _) => {
                answer.outcome = refused;
                return Step::Answer(answer);
            }
            (None, None) => return Step::Answer(answer),
            (None, Some(limits)) => limits,
        };
        answer.outcome = lockout::hand_off_outcome(result, verdict, delivery);
        if lockout::gives_back(result, verdict) && !hand_off.counters.is_empty() {
            self.stage = Stage::GivingBack(answer);
            return Step::Do(Effect::GiveBack {
                counters: hand_off.counters,
                limits,
            });
        }
        Step::Answer(answer)
    }

    /// A broken call: the flow's apology and a hang-up, with this status and outcome.
    fn broken(&mut self, status: u16, outcome: Outcome) -> Step {
        let flow = self.facts.flow;
        let twiml = flow::goodbye_twiml(&flow::speech(flow), &flow.messages.apology);
        Step::Answer(Answer::new(status, twiml, outcome, None))
    }
}

/// What a counter said; anything else reads as unreachable (fail closed).
fn counter(feedback: Option<Feedback>) -> CounterAnswer {
    match feedback {
        Some(Feedback::Counter(answer)) => answer,
        _ => CounterAnswer::Unavailable,
    }
}

/// The application's answer and verdict; anything but an answer is unusable and unconfirmed.
fn read_application(feedback: Option<Feedback>) -> (handoff::Answer, AppVerdict) {
    match feedback {
        Some(Feedback::Application(AppAnswer::Answered {
            status,
            content_type,
            body,
            result_header,
        })) => (
            handoff::read_answer(status, content_type.as_deref(), body.as_deref()),
            AppVerdict::from_header(result_header.as_deref()),
        ),
        Some(Feedback::Application(AppAnswer::TimedOut)) => (
            handoff::Answer::Unusable(Outcome::AppTimeout),
            AppVerdict::Unconfirmed,
        ),
        _ => (
            handoff::Answer::Unusable(Outcome::AppUnreachable),
            AppVerdict::Unconfirmed,
        ),
    }
}

/// The apology a transport says when it cannot even start a turn (the flow's own sentence and
/// voice when there is a flow).
pub fn apology_twiml(flow: Option<&Flow>) -> String {
    match flow {
        Some(flow) => flow::goodbye_twiml(&flow::speech(flow), &flow.messages.apology),
        None => flow::goodbye_twiml(&Speech::default(), crate::config::APOLOGY),
    }
}
