//! The log's outcome words: what happened to one request, as the worker's JSON log line says it
//! (`"outcome"`). Operators filter and alert on them (README, "Log outcomes"), so they are an
//! API: this enum is the only place they are spelled, and a test holds README's table to it.

/// What happened to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    // Requests refused before a call is looked at.
    /// Not `POST`: 405.
    WrongMethod,
    /// Not the expected `Content-Type`: 415.
    WrongContentType,
    /// A body over 16 KiB, or longer than its `Content-Length`: 413.
    TooLarge,
    /// The body could not be read: 400.
    UnreadableBody,
    /// No route at this path: 404.
    UnknownPath,
    /// No valid `X-Twilio-Signature`: 403.
    BadSignature,
    /// `X-Twilio-Webhooks-Signature-Settings` names an algorithm other than `HMAC_SHA1` or
    /// `HMAC_SHA256`: 403.
    UnsupportedSignatureAlgorithm,
    /// `X-Twilio-Webhooks-Signature-Settings` came (a SharedKey signature) but no
    /// `TWILIO_WEBHOOK_SHARED_KEY` is set: 403.
    NoSharedKey,
    /// A setting or secret is missing or malformed: the caller hears the apology.
    Misconfigured,
    /// `/gather/<flow>` names no flow: 404 with the apology.
    UnknownFlow,
    /// The call state carried in the action URL is malformed or does not open: 400.
    BadState,
    /// No usable `CallSid`: 400.
    MissingCallSid,
    /// A value could not be sealed: the apology.
    SealFailed,

    // A field is asked for.
    /// The call came in and is asked its first field.
    Asked,
    /// A valid entry was sealed and the next field is asked.
    Sealed,
    /// An invalid entry: the field is asked again.
    Reprompted,
    /// Twilio Verify sent a code and the caller is asked for it.
    CodeSent,
    /// Twilio Verify did not approve the code: it is asked again.
    CodeDenied,

    // The call is handed off.
    /// The application answered TwiML, relayed as it is.
    HandedOff,
    /// The application answered `{account, balance}`: the caller hears `thanks`.
    HandedOffAccount,
    /// `then.redirect`: a `<Redirect>` with the sealed values.
    Redirected,
    /// With `limits`: the application answered `X-Gather-Seal-Result: rejected`.
    Rejected,
    /// With `limits`: the application's TwiML came without `X-Gather-Seal-Result: accepted` or
    /// `rejected` (no header, or another word).
    Unconfirmed,
    /// The caller's count is full: handed off at once with `result = locked`.
    Locked,
    /// A counted field's value (an account, a card) is locked out.
    AccountLocked,
    /// A withheld caller ID, refused by the flow: `result = anonymous`.
    AnonymousRefused,
    /// A lockout counter could not be reached: `result = unavailable`.
    LockoutUnavailable,
    /// A last-step webhook sent again after its call handed off: the apology, nothing posted.
    Replayed,
    /// No `BACKEND_SIGNING_SECRET` for an `action` flow.
    NoSigningSecret,

    // The application's answer could not continue the call (the fallback or the apology).
    /// Not 2xx (a redirect included).
    AppErrorStatus,
    /// Over 64 KiB.
    AppAnswerTooLarge,
    /// XML that is not well-formed TwiML with a `<Response>` root.
    AppBadTwiml,
    /// JSON without a speakable `account` and `balance`.
    AppBadJson,
    /// Neither XML nor JSON.
    AppWrongContentType,
    /// No answer within the timeout.
    AppTimeout,
    /// The application could not be reached.
    AppUnreachable,

    // After the answer.
    /// A `status_callback` event was not taken (no 2xx answer within the wait, or the receiver
    /// could not be reached): its own log line, after the request's.
    StatusCallbackFailed,

    // The relay (`/relay/<name>`).
    /// Not a `GET` with `Upgrade: websocket`: 426.
    NotWebSocket,
    /// `/relay/<name>` names no relay of `GATHER_RELAYS`: 404.
    UnknownRelay,
    /// A relayed session ended: its one line, with what its captures came to.
    RelaySession,

    // The development build's demo backend.
    /// The demo backend answered a submission.
    DemoAnswered,
    /// A submission to the demo backend without a valid signature: 401.
    DemoBadSignature,
    /// Not a submission the demo backend can open: 400.
    DemoBadRequest,
}

impl Outcome {
    /// Every outcome, in the order README lists them.
    pub const ALL: [Outcome; 43] = [
        Outcome::WrongMethod,
        Outcome::WrongContentType,
        Outcome::TooLarge,
        Outcome::UnreadableBody,
        Outcome::UnknownPath,
        Outcome::BadSignature,
        Outcome::UnsupportedSignatureAlgorithm,
        Outcome::NoSharedKey,
        Outcome::Misconfigured,
        Outcome::UnknownFlow,
        Outcome::BadState,
        Outcome::MissingCallSid,
        Outcome::SealFailed,
        Outcome::Asked,
        Outcome::Sealed,
        Outcome::Reprompted,
        Outcome::CodeSent,
        Outcome::CodeDenied,
        Outcome::HandedOff,
        Outcome::HandedOffAccount,
        Outcome::Redirected,
        Outcome::Rejected,
        Outcome::Unconfirmed,
        Outcome::Locked,
        Outcome::AccountLocked,
        Outcome::AnonymousRefused,
        Outcome::LockoutUnavailable,
        Outcome::Replayed,
        Outcome::NoSigningSecret,
        Outcome::AppErrorStatus,
        Outcome::AppAnswerTooLarge,
        Outcome::AppBadTwiml,
        Outcome::AppBadJson,
        Outcome::AppWrongContentType,
        Outcome::AppTimeout,
        Outcome::AppUnreachable,
        Outcome::StatusCallbackFailed,
        Outcome::NotWebSocket,
        Outcome::UnknownRelay,
        Outcome::RelaySession,
        Outcome::DemoAnswered,
        Outcome::DemoBadSignature,
        Outcome::DemoBadRequest,
    ];

    /// The word in the log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::WrongMethod => "wrong-method",
            Outcome::WrongContentType => "wrong-content-type",
            Outcome::TooLarge => "too-large",
            Outcome::UnreadableBody => "unreadable-body",
            Outcome::UnknownPath => "unknown-path",
            Outcome::BadSignature => "bad-signature",
            Outcome::UnsupportedSignatureAlgorithm => "unsupported-signature-algorithm",
            Outcome::NoSharedKey => "no-shared-key",
            Outcome::Misconfigured => "misconfigured",
            Outcome::UnknownFlow => "unknown-flow",
            Outcome::BadState => "bad-state",
            Outcome::MissingCallSid => "missing-call-sid",
            Outcome::SealFailed => "seal-failed",
            Outcome::Asked => "asked",
            Outcome::Sealed => "sealed",
            Outcome::Reprompted => "reprompted",
            Outcome::CodeSent => "code-sent",
            Outcome::CodeDenied => "code-denied",
            Outcome::HandedOff => "handed-off",
            Outcome::HandedOffAccount => "handed-off-account",
            Outcome::Redirected => "redirected",
            Outcome::Rejected => "rejected",
            Outcome::Unconfirmed => "unconfirmed",
            Outcome::Locked => "locked",
            Outcome::AccountLocked => "account-locked",
            Outcome::AnonymousRefused => "anonymous-refused",
            Outcome::LockoutUnavailable => "lockout-unavailable",
            Outcome::Replayed => "replayed",
            Outcome::NoSigningSecret => "no-signing-secret",
            Outcome::AppErrorStatus => "app-error-status",
            Outcome::AppAnswerTooLarge => "app-answer-too-large",
            Outcome::AppBadTwiml => "app-bad-twiml",
            Outcome::AppBadJson => "app-bad-json",
            Outcome::AppWrongContentType => "app-wrong-content-type",
            Outcome::AppTimeout => "app-timeout",
            Outcome::AppUnreachable => "app-unreachable",
            Outcome::StatusCallbackFailed => "status-callback-failed",
            Outcome::NotWebSocket => "not-websocket",
            Outcome::UnknownRelay => "unknown-relay",
            Outcome::RelaySession => "relay-session",
            Outcome::DemoAnswered => "demo-answered",
            Outcome::DemoBadSignature => "demo-bad-signature",
            Outcome::DemoBadRequest => "demo-bad-request",
        }
    }

    /// Whether the application answered with TwiML or an account that continues the call.
    pub fn is_answered_hand_off(self) -> bool {
        matches!(self, Outcome::HandedOff | Outcome::HandedOffAccount)
    }
}
