//! Lockout across calls: caller-ID normalisation, counter names, and the counting rules the
//! Durable Object applies.

use gather_seal::lockout::{
    caller, counter_name, gives_back, hand_off_outcome, AppVerdict, Caller, Counter, Limits,
    Subject, Verdict,
};
mod common;

use common::{ring, CALL_SID, KEY_HEX, OTHER_CALL_SID};
use gather_seal::config::{Flow, Flows};
use gather_seal::flow::{advance, GatherResult, Turn};
use gather_seal::lockout::{call_counters, caller_counter, field_counter, CallerCounter};
use gather_seal::outcome::Outcome;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const FIVE_PER_HOUR: Limits = Limits {
    failures: 5,
    window_ms: 60 * 60 * 1000,
};

#[test]
fn withheld_caller_ids_are_recognised() {
    for from in [
        "",
        "  ",
        "anonymous",
        "Anonymous",
        "ANONYMOUS",
        "restricted",
        "RESTRICTED",
        "blocked",
        "unknown",
        "Unavailable",
        "private",
        "withheld",
        "+266696687",
        "+7378742833",
        "+2562533",
        "+86282452253",
        "+8656696",
        " +266696687 ",
    ] {
        assert_eq!(caller(from), Caller::Withheld, "{from:?}");
    }
}

#[test]
fn numbers_and_identities_are_counted_as_they_are() {
    for (from, known) in [
        ("+15005550006", "+15005550006"),
        (" +441234567890\n", "+441234567890"),
        ("client:alice", "client:alice"),
        ("sip:bob@example.com", "sip:bob@example.com"),
        // A real number that merely contains a placeholder's digits is a number.
        ("+2666966870", "+2666966870"),
        ("anonymous1", "anonymous1"),
    ] {
        assert_eq!(caller(from), Caller::Known(known), "{from:?}");
    }
}

/// HMAC-SHA256 from the `hmac` crate over the documented message, written out here.
fn expected_name(key: &[u8], message: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn counter_names_are_keyed_hashes_that_hold_no_number() {
    let key = b"a secret the worker holds";
    let name = counter_name(key, "login", Subject::Caller(Some("+15005550006")));
    assert_eq!(
        name,
        expected_name(key, b"gather-seal lockout v1\0login\0+15005550006")
    );
    assert_eq!(name.len(), 64);
    assert!(!name.contains("5005550006"));
    // Another flow, caller or key is another counter.
    assert_ne!(
        name,
        counter_name(key, "default", Subject::Caller(Some("+15005550006")))
    );
    assert_ne!(
        name,
        counter_name(key, "login", Subject::Caller(Some("+15005550007")))
    );
    assert_ne!(
        name,
        counter_name(
            b"another key",
            "login",
            Subject::Caller(Some("+15005550006"))
        )
    );
    // The shared bucket of withheld callers is its own, and no flow/number pair reaches it.
    let shared = counter_name(key, "login", Subject::Caller(None));
    assert_eq!(
        shared,
        expected_name(key, b"gather-seal lockout v1\0login\x01withheld")
    );
    assert_ne!(
        shared,
        counter_name(key, "login", Subject::Caller(Some("")))
    );
    assert_ne!(
        shared,
        counter_name(key, "login", Subject::Caller(Some("withheld")))
    );
}

#[test]
fn five_failed_calls_lock_the_sixth_out() {
    let mut counter = Counter::default();
    let t0 = 1_700_000_000_000;
    for i in 0..5 {
        // Each call takes a try and fails (it never gives it back).
        assert_eq!(
            counter.begin(FIVE_PER_HOUR, t0 + i * 1000),
            Verdict::Open,
            "call {i}"
        );
    }
    assert_eq!(counter.begin(FIVE_PER_HOUR, t0 + 10_000), Verdict::Locked);
    // A locked call records nothing: the count stays at the limit.
    assert_eq!(counter.times.len(), 5);
}

#[test]
fn a_call_that_succeeds_gives_its_try_back() {
    let mut counter = Counter::default();
    let t0 = 1_700_000_000_000;
    for i in 0..20 {
        assert_eq!(
            counter.begin(FIVE_PER_HOUR, t0 + i),
            Verdict::Open,
            "call {i}"
        );
        counter.succeed(FIVE_PER_HOUR, t0 + i);
    }
    assert!(counter.times.is_empty());
    // Four failures and a success leave four.
    for i in 0..4 {
        counter.begin(FIVE_PER_HOUR, t0 + 100 + i);
    }
    counter.begin(FIVE_PER_HOUR, t0 + 200);
    counter.succeed(FIVE_PER_HOUR, t0 + 201);
    assert_eq!(counter.times.len(), 4);
    assert_eq!(counter.begin(FIVE_PER_HOUR, t0 + 300), Verdict::Open);
    assert_eq!(counter.begin(FIVE_PER_HOUR, t0 + 301), Verdict::Locked);
}

#[test]
fn parallel_calls_each_take_a_try_before_any_ends() {
    // Five calls from one number enter at once: the sixth is refused before any has failed.
    let mut counter = Counter::default();
    let t0 = 1_700_000_000_000;
    let verdicts: Vec<Verdict> = (0..8).map(|_| counter.begin(FIVE_PER_HOUR, t0)).collect();
    assert_eq!(verdicts.iter().filter(|v| **v == Verdict::Open).count(), 5);
    assert_eq!(&verdicts[5..], &[Verdict::Locked; 3]);
}

#[test]
fn failures_expire_at_the_end_of_the_window() {
    let mut counter = Counter::default();
    let t0 = 1_700_000_000_000;
    for i in 0..5 {
        counter.begin(FIVE_PER_HOUR, t0 + i);
    }
    let window = FIVE_PER_HOUR.window_ms;
    // One millisecond before the first failure is an hour old: still locked.
    assert_eq!(
        counter.begin(FIVE_PER_HOUR, t0 + window - 1),
        Verdict::Locked
    );
    // Exactly an hour: the first has expired, one try is free.
    assert_eq!(counter.begin(FIVE_PER_HOUR, t0 + window), Verdict::Open);
    assert_eq!(counter.begin(FIVE_PER_HOUR, t0 + window), Verdict::Locked);
    // Long after, all have expired.
    assert_eq!(counter.begin(FIVE_PER_HOUR, t0 + 3 * window), Verdict::Open);
    assert_eq!(counter.times, vec![t0 + 3 * window]);
}

#[test]
fn times_from_a_clock_that_went_back_do_not_lock_for_longer() {
    let mut counter = Counter {
        times: vec![2_000_000_000_000; 5],
    };
    // The counter's clock now reads earlier than the stored times: they are dropped.
    assert_eq!(
        counter.begin(FIVE_PER_HOUR, 1_700_000_000_000),
        Verdict::Open
    );
    assert_eq!(counter.times, vec![1_700_000_000_000]);
}

#[test]
fn a_limit_of_one_allows_one_try_at_a_time() {
    let one = Limits {
        failures: 1,
        window_ms: 1000,
    };
    let mut counter = Counter::default();
    assert_eq!(counter.begin(one, 0), Verdict::Open);
    assert_eq!(counter.begin(one, 10), Verdict::Locked);
    counter.succeed(one, 20);
    assert_eq!(counter.begin(one, 30), Verdict::Open);
}

#[test]
fn a_field_value_names_its_own_counter_apart_from_any_caller() {
    let key = b"a secret the worker holds";
    let card = Subject::Field {
        name: "card",
        value: b"4242424242424242",
    };
    let name = counter_name(key, "login", card);
    assert_eq!(
        name,
        expected_name(
            key,
            b"gather-seal lockout v1\0login\x02card\x004242424242424242"
        )
    );
    assert!(!name.contains("4242424242"));
    // The same digits as a caller, or at another field or flow, are another counter.
    assert_ne!(
        name,
        counter_name(key, "login", Subject::Caller(Some("4242424242424242")))
    );
    let at = |field, flow| {
        let subject = Subject::Field {
            name: field,
            value: b"4242424242424242",
        };
        counter_name(key, flow, subject)
    };
    assert_ne!(name, at("account", "login"));
    assert_ne!(name, at("card", "default"));
}

#[test]
fn the_application_header_is_read_as_accepted_rejected_or_unconfirmed() {
    let cases = [
        (Some("accepted"), AppVerdict::Accepted),
        (Some(" Accepted\t"), AppVerdict::Accepted),
        (Some("REJECTED"), AppVerdict::Rejected),
        (Some("rejected "), AppVerdict::Rejected),
        (None, AppVerdict::Unconfirmed),
        (Some(""), AppVerdict::Unconfirmed),
        (Some("yes"), AppVerdict::Unconfirmed),
        (Some("accepted, rejected"), AppVerdict::Unconfirmed),
        (Some("accept"), AppVerdict::Unconfirmed),
    ];
    for (header, verdict) in cases {
        assert_eq!(AppVerdict::from_header(header), verdict, "{header:?}");
    }
    assert_eq!(AppVerdict::Accepted.as_header(), Some("accepted"));
    assert_eq!(AppVerdict::Rejected.as_header(), Some("rejected"));
    assert_eq!(AppVerdict::Unconfirmed.as_header(), None);
}

#[test]
fn only_an_explicit_yes_gives_the_tries_back() {
    use gather_seal::flow::GatherResult::*;
    // action flows: only success with `accepted`.
    assert!(gives_back(Success, Some(AppVerdict::Accepted)));
    assert!(!gives_back(Success, Some(AppVerdict::Rejected)));
    assert!(!gives_back(Success, Some(AppVerdict::Unconfirmed)));
    // A redirect flow cannot hear its application: a success gives the tries back.
    assert!(gives_back(Success, None));
    for result in [
        TooManyAttempts,
        Locked,
        Anonymous,
        Unavailable,
        VerifyFailed,
        VerifyUnavailable,
    ] {
        for verdict in [
            None,
            Some(AppVerdict::Accepted),
            Some(AppVerdict::Rejected),
            Some(AppVerdict::Unconfirmed),
        ] {
            assert!(!gives_back(result, verdict), "{result:?} {verdict:?}");
        }
    }
}

/// The outcome spelled `text`.
fn word(text: &str) -> Outcome {
    let found = Outcome::ALL.into_iter().find(|o| o.as_str() == text);
    found.unwrap_or_else(|| panic!("no outcome {text}"))
}

#[test]
fn the_log_says_rejected_or_unconfirmed_only_for_an_answered_success() {
    use gather_seal::flow::GatherResult::*;
    let cases = [
        (
            Success,
            Some(AppVerdict::Accepted),
            "handed-off",
            "handed-off",
        ),
        (
            Success,
            Some(AppVerdict::Rejected),
            "handed-off",
            "rejected",
        ),
        (
            Success,
            Some(AppVerdict::Rejected),
            "handed-off-account",
            "rejected",
        ),
        (
            Success,
            Some(AppVerdict::Unconfirmed),
            "handed-off",
            "unconfirmed",
        ),
        (
            Success,
            Some(AppVerdict::Unconfirmed),
            "handed-off-account",
            "unconfirmed",
        ),
        // An unusable answer keeps its own word: it says more.
        (
            Success,
            Some(AppVerdict::Unconfirmed),
            "app-timeout",
            "app-timeout",
        ),
        (
            Success,
            Some(AppVerdict::Rejected),
            "app-bad-twiml",
            "app-bad-twiml",
        ),
        (Success, None, "redirected", "redirected"),
        (
            TooManyAttempts,
            Some(AppVerdict::Unconfirmed),
            "handed-off",
            "handed-off",
        ),
        (
            VerifyFailed,
            Some(AppVerdict::Rejected),
            "handed-off",
            "handed-off",
        ),
    ];
    for (result, verdict, delivery, expected) in cases {
        assert_eq!(
            hand_off_outcome(result, verdict, word(delivery)),
            word(expected),
            "{result:?} {verdict:?} {delivery}"
        );
    }
}

/// The articles' flow (card digits, then PIN) with these `limits` (JSON, or none).
fn flow_with(limits: Option<&str>, anonymous: Option<&str>) -> Flow {
    let limits = limits.map_or(String::new(), |l| format!(r#""limits": {l},"#));
    let anonymous = anonymous.map_or(String::new(), |a| format!(r#""anonymous": "{a}","#));
    let text = format!(
        r#"{{"login": {{ {limits} {anonymous}
        "fields": [
            {{"name": "card", "prompt": "Card?", "kind": "digits", "length": 4}},
            {{"name": "pin", "prompt": "PIN?", "kind": "digits", "length": 4}}
        ],
        "then": {{"action": "https://app.example.com/done"}} }}}}"#
    );
    let flows = Flows::from_json(&text).expect("a valid flow");
    flows.get("login").expect("the flow").clone()
}

const KEY: &[u8] = b"the counter key";

#[test]
fn the_caller_is_counted_only_when_the_flow_counts_by_caller() {
    let named = |number| CallerCounter::Named(counter_name(KEY, "login", Subject::Caller(number)));
    let by_caller = flow_with(Some(r#"{"failures": 5, "window_minutes": 60}"#), None);
    assert_eq!(
        caller_counter(KEY, &by_caller, "+15005550006"),
        named(Some("+15005550006"))
    );
    assert_eq!(
        caller_counter(KEY, &by_caller, " anonymous "),
        CallerCounter::Refused
    );
    let shared = flow_with(
        Some(r#"{"failures": 5, "window_minutes": 60}"#),
        Some("shared"),
    );
    assert_eq!(caller_counter(KEY, &shared, "restricted"), named(None));
    let by_card = flow_with(
        Some(r#"{"failures": 5, "window_minutes": 60, "by": ["card"]}"#),
        None,
    );
    assert_eq!(
        caller_counter(KEY, &by_card, "+15005550006"),
        CallerCounter::NotCounted
    );
    assert_eq!(
        caller_counter(KEY, &by_card, "anonymous"),
        CallerCounter::NotCounted
    );
    let no_limits = flow_with(None, None);
    assert_eq!(
        caller_counter(KEY, &no_limits, "+15005550006"),
        CallerCounter::NotCounted
    );
}

#[test]
fn a_field_is_counted_only_when_limits_name_it() {
    let by_card = flow_with(
        Some(r#"{"failures": 5, "window_minutes": 60, "by": ["card"]}"#),
        None,
    );
    let subject = Subject::Field {
        name: "card",
        value: b"1234",
    };
    assert_eq!(
        field_counter(KEY, &by_card, "card", b"1234"),
        Some(counter_name(KEY, "login", subject))
    );
    assert_eq!(field_counter(KEY, &by_card, "pin", b"1234"), None);
    let by_caller = flow_with(Some(r#"{"failures": 5, "window_minutes": 60}"#), None);
    assert_eq!(field_counter(KEY, &by_caller, "card", b"1234"), None);
    assert_eq!(
        field_counter(KEY, &flow_with(None, None), "card", b"1234"),
        None
    );
}

/// Plays `typed` through `flow` with the core alone: the turns, and what each gathered (the
/// field's name and the value, which a counter by that field is named from).
fn play(flow: &Flow, typed: &[&str]) -> (Turn, Vec<Option<(String, String)>>) {
    let ring = ring(KEY_HEX);
    let mut turn = advance(flow, &ring, CALL_SID, None, None, 0, None)
        .expect("the call starts")
        .turn;
    let mut gathered = Vec::new();
    for digits in typed {
        let Turn::Ask { state, .. } = turn.clone() else {
            panic!("the call asks while there are digits to type");
        };
        let advanced =
            advance(flow, &ring, CALL_SID, Some(state), Some(digits), 0, None).expect("a turn");
        gathered.push(advanced.gathered.map(|(field, value)| {
            let name = flow.fields[field].name.clone();
            (name, String::from_utf8(value.to_vec()).expect("digits"))
        }));
        turn = advanced.turn;
    }
    (turn, gathered)
}

fn took(name: &str, value: &str) -> Option<(String, String)> {
    Some((name.to_owned(), value.to_owned()))
}

#[test]
fn a_field_is_gathered_when_the_call_moves_past_it() {
    let flow = flow_with(None, None);
    // card 1234, a bad PIN, then a good one: card, nothing, pin.
    let (turn, gathered) = play(&flow, &["1234", "12", "4321"]);
    assert_eq!(
        gathered,
        vec![took("card", "1234"), None, took("pin", "4321")]
    );
    assert!(matches!(
        turn,
        Turn::HandOff {
            result: GatherResult::Success,
            ..
        }
    ));
    // Running out of tries at the PIN gathers nothing.
    let (turn, gathered) = play(&flow, &["1234", "1", "2", "3"]);
    assert_eq!(gathered, vec![took("card", "1234"), None, None, None]);
    assert!(matches!(
        turn,
        Turn::HandOff {
            result: GatherResult::TooManyAttempts,
            ..
        }
    ));
    // The call coming in gathers nothing.
    let first = advance(&flow, &ring(KEY_HEX), CALL_SID, None, None, 0, None).expect("a turn");
    assert!(first.gathered.is_none());
}

#[test]
fn a_call_counts_against_its_caller_then_each_counted_value_it_handed_off() {
    let flow = flow_with(
        Some(r#"{"failures": 5, "window_minutes": 60, "by": ["caller", "pin"]}"#),
        None,
    );
    let (turn, _) = play(&flow, &["1234", "4321"]);
    let Turn::HandOff { sealed, .. } = turn else {
        panic!("the call hands off");
    };
    let ring = ring(KEY_HEX);
    let counters = call_counters(KEY, &flow, &ring, CALL_SID, "+15005550006", &sealed);
    let pin = Subject::Field {
        name: "pin",
        value: b"4321",
    };
    assert_eq!(
        counters,
        vec![
            counter_name(KEY, "login", Subject::Caller(Some("+15005550006"))),
            counter_name(KEY, "login", pin),
        ]
    );
    // A value that does not open for this call names no counter.
    let elsewhere = call_counters(KEY, &flow, &ring, OTHER_CALL_SID, "+15005550006", &sealed);
    assert_eq!(elsewhere, counters[..1]);
    // A withheld caller the flow refuses has no counter of its own.
    assert_eq!(
        call_counters(KEY, &flow, &ring, CALL_SID, "anonymous", &sealed),
        counters[1..]
    );
    // No limits: no counters.
    let free = flow_with(None, None);
    assert!(call_counters(KEY, &free, &ring, CALL_SID, "+15005550006", &sealed).is_empty());
}
