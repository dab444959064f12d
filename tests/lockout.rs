//! Lockout across calls: caller-ID normalisation, counter names, and the counting rules the
//! Durable Object applies.

use gather_seal::lockout::{caller, counter_name, Caller, Counter, Limits, Verdict};
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
    let name = counter_name(key, "login", Some("+15005550006"));
    assert_eq!(
        name,
        expected_name(key, b"gather-seal lockout v1\0login\0+15005550006")
    );
    assert_eq!(name.len(), 64);
    assert!(!name.contains("5005550006"));
    // Another flow, caller or key is another counter.
    assert_ne!(name, counter_name(key, "default", Some("+15005550006")));
    assert_ne!(name, counter_name(key, "login", Some("+15005550007")));
    assert_ne!(
        name,
        counter_name(b"another key", "login", Some("+15005550006"))
    );
    // The shared bucket of withheld callers is its own, and no flow/number pair reaches it.
    let shared = counter_name(key, "login", None);
    assert_eq!(
        shared,
        expected_name(key, b"gather-seal lockout v1\0login\x01withheld")
    );
    assert_ne!(shared, counter_name(key, "login", Some("")));
    assert_ne!(shared, counter_name(key, "login", Some("withheld")));
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
