//! What a call carries from one webhook to the next (`flow::CallState`): the step, the attempt
//! and the values sealed so far, written into the `<Gather>` action URL and read back; and the
//! rule that every value carried must be this call's, sealed for its field under a key of the
//! ring, or the call stops.

mod common;

use common::gather::advance_turn as advance;
use common::gather::{
    bound_to, flow, from_query, opened, sealed_for, state, step, CARD, EXPIRY, NOW, PIN,
};
use common::{key, ring, tohex, unhex, CALL_SID, KEY_HEX, OTHER_CALL_SID, OTHER_KEY_HEX};
use gather_seal::flow::{context, GatherResult, Turn};
use gather_seal::{CallError, Error, KeyRing};

// ------------------------------------------------------------------------------------------
// The state in the action URL
// ------------------------------------------------------------------------------------------

#[test]
fn call_state_is_written_as_step_attempt_and_the_fields_so_far() {
    let flow = flow();
    let (a, b) = ("00ff".repeat(16), "abcd".repeat(9));
    let cases = [
        (state(0, 1, &[]), "step=card&attempt=1".to_owned()),
        (state(0, 3, &[]), "step=card&attempt=3".to_owned()),
        (
            state(1, 2, &[("card", &a)]),
            format!("step=expiry&attempt=2&card={a}"),
        ),
        (
            state(2, 1, &[("card", &a), ("expiry", &b)]),
            format!("step=pin&attempt=1&card={a}&expiry={b}"),
        ),
    ];
    for (state, query) in cases {
        assert_eq!(state.to_query(&flow), query);
        assert_eq!(from_query(&flow, &query), Ok(Some(state)), "{query}");
    }
}

#[test]
fn call_state_reading_is_lenient_only_where_harmless() {
    let flow = flow();
    let a = "00ff".repeat(16);
    // No step: the call has just come in, whatever else is there.
    assert_eq!(from_query(&flow, ""), Ok(None));
    assert_eq!(from_query(&flow, &format!("attempt=2&card={a}")), Ok(None));
    assert_eq!(
        from_query(&flow, "STEP=card"),
        Ok(None),
        "names are case-sensitive"
    );
    // No attempt means the first; parameters the flow does not know are ignored.
    assert_eq!(from_query(&flow, "step=card"), Ok(Some(state(0, 1, &[]))));
    assert_eq!(
        from_query(&flow, &format!("utm=x&step=expiry&card={a}&attempt=2&x=")),
        Ok(Some(state(1, 2, &[("card", &a)])))
    );
    // The highest attempt the flow allows.
    assert_eq!(
        from_query(&flow, "step=card&attempt=3"),
        Ok(Some(state(0, 3, &[])))
    );
}

#[test]
fn malformed_call_state_is_refused() {
    let flow = flow();
    let a = "00ff".repeat(16);
    let b = "abcd".repeat(16);
    let cases = [
        ("step twice", format!("step=expiry&step=expiry&card={a}")),
        ("two steps", format!("step=expiry&step=pin&card={a}")),
        ("attempt twice", "step=card&attempt=1&attempt=1".to_owned()),
        ("attempt 0", "step=card&attempt=0".to_owned()),
        ("attempt 10", "step=card&attempt=10".to_owned()),
        (
            "attempt beyond the flow's",
            "step=card&attempt=4".to_owned(),
        ),
        ("attempt x", "step=card&attempt=x".to_owned()),
        ("attempt empty", "step=card&attempt=".to_owned()),
        ("attempt 01", "step=card&attempt=01".to_owned()),
        ("attempt -1", "step=card&attempt=-1".to_owned()),
        ("attempt +1", "step=card&attempt=+1".to_owned()),
        ("an unknown step", "step=account".to_owned()),
        ("an empty step", "step=".to_owned()),
        ("a step in the wrong case", "step=Card".to_owned()),
        ("an earlier field missing", "step=expiry".to_owned()),
        (
            "one of two earlier fields missing",
            format!("step=pin&card={a}"),
        ),
        (
            "an earlier field twice",
            format!("step=expiry&card={a}&card={a}"),
        ),
        (
            "the asked field present",
            format!("step=expiry&card={a}&expiry={b}"),
        ),
        ("a later field present", format!("step=card&pin={a}")),
        (
            "a later field present with earlier ones",
            format!("step=expiry&card={a}&pin={b}"),
        ),
    ];
    for (why, query) in cases {
        assert_eq!(
            from_query(&flow, &query),
            Err(CallError::BadCallState),
            "{why}: {query}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// What is carried must be this call's
// ------------------------------------------------------------------------------------------

#[test]
fn the_seal_context_is_call_sid_colon_field() {
    assert_eq!(
        context(CALL_SID, "pin").as_bytes(),
        bound_to(CALL_SID, "pin")
    );
    assert_eq!(context("CA1", "last_four"), "CA1:last_four");
    assert_ne!(context("CA1", "pin"), context("CA2", "pin"));
}

#[test]
fn a_tampered_or_foreign_carried_value_stops_the_call() {
    let (flow, ring) = (flow(), ring(KEY_HEX));
    let card = sealed_for(&ring, CALL_SID, "card", CARD);
    let expiry = sealed_for(&ring, CALL_SID, "expiry", EXPIRY);
    let mut flipped = unhex(&card);
    flipped[14] ^= 0x01;
    let flipped = tohex(&flipped);
    let mut flipped_tag = unhex(&card);
    let last = flipped_tag.len() - 1;
    flipped_tag[last] ^= 0x80;
    let flipped_tag = tohex(&flipped_tag);
    let foreign_call = sealed_for(&ring, OTHER_CALL_SID, "card", CARD);
    let foreign_key = sealed_for(&common::ring(OTHER_KEY_HEX), CALL_SID, "card", CARD);
    let cases = [
        ("one flipped ciphertext bit", flipped.as_str()),
        ("one flipped tag bit", flipped_tag.as_str()),
        ("copied from another call", foreign_call.as_str()),
        ("sealed under another key", foreign_key.as_str()),
        ("the expiry carried as the card", expiry.as_str()),
        ("truncated", &card[..card.len() - 2]),
        ("odd length", &card[..card.len() - 1]),
        ("not hex", "not-a-sealed-value"),
        ("empty", ""),
    ];
    for (why, value) in cases {
        for digits in [Some(EXPIRY), Some("12"), None] {
            assert_eq!(
                advance(
                    &flow,
                    &ring,
                    CALL_SID,
                    Some(state(1, 1, &[("card", value)])),
                    digits,
                    NOW,
                    None
                ),
                Err(CallError::BadCallState),
                "{why}, digits {digits:?}"
            );
        }
        // Also when it rides along behind a good value at a later step (as the expiry, the
        // card is the swapped value).
        let as_expiry = if value == expiry { &card } else { value };
        assert_eq!(
            advance(
                &flow,
                &ring,
                CALL_SID,
                Some(state(2, 1, &[("card", &card), ("expiry", as_expiry)])),
                Some(PIN),
                NOW,
                None
            ),
            Err(CallError::BadCallState),
            "{why}, as the expiry"
        );
    }
    // The whole call copied into another call stops too.
    assert_eq!(
        advance(
            &flow,
            &ring,
            OTHER_CALL_SID,
            Some(state(2, 1, &[("card", &card), ("expiry", &expiry)])),
            Some(PIN),
            NOW,
            None
        ),
        Err(CallError::BadCallState)
    );
    // The untouched values go through.
    let turn = advance(
        &flow,
        &ring,
        CALL_SID,
        Some(state(2, 1, &[("card", &card), ("expiry", &expiry)])),
        Some(PIN),
        NOW,
        None,
    );
    assert!(
        matches!(
            turn,
            Ok(Turn::HandOff {
                result: GatherResult::Success,
                ..
            })
        ),
        "{turn:?}"
    );
}

#[test]
fn a_hand_built_state_must_carry_exactly_the_earlier_fields() {
    let (flow, ring) = (flow(), ring(KEY_HEX));
    let card = sealed_for(&ring, CALL_SID, "card", CARD);
    let expiry = sealed_for(&ring, CALL_SID, "expiry", EXPIRY);
    let (card, expiry) = (card.as_str(), expiry.as_str());
    let cases = [
        ("nothing carried at the expiry", 1, vec![]),
        ("a later field carried", 0, vec![("card", card)]),
        ("the wrong name", 1, vec![("expiry", card)]),
        ("out of order", 2, vec![("expiry", expiry), ("card", card)]),
        ("a field twice", 2, vec![("card", card), ("card", card)]),
        (
            "past the last field",
            3,
            vec![("card", card), ("expiry", expiry)],
        ),
    ];
    for (why, index, carried) in cases {
        assert_eq!(
            advance(
                &flow,
                &ring,
                CALL_SID,
                Some(state(index, 1, &carried)),
                Some(PIN),
                NOW,
                None
            ),
            Err(CallError::BadCallState),
            "{why}"
        );
    }
}

#[test]
fn values_sealed_before_a_rotation_still_carry_and_new_ones_use_the_new_key() {
    let flow = flow();
    let before = ring(OTHER_KEY_HEX);
    let card = sealed_for(&before, CALL_SID, "card", CARD);
    let after = KeyRing::new(key(KEY_HEX)).with_previous(key(OTHER_KEY_HEX));
    let Turn::Ask { state: next, .. } = step(
        &flow,
        &after,
        CALL_SID,
        Some(state(1, 1, &[("card", &card)])),
        Some(EXPIRY),
    ) else {
        panic!("expected the PIN to be asked");
    };
    assert_eq!(
        next.sealed[0].1, card,
        "a carried value is passed on as it came"
    );
    let expiry = &next.sealed[1].1;
    assert_eq!(
        opened(expiry, &ring(KEY_HEX), CALL_SID, "expiry").as_deref(),
        Ok(EXPIRY)
    );
    assert_eq!(
        opened(expiry, &before, CALL_SID, "expiry"),
        Err(Error::Unauthentic)
    );
    // Without the old key in the ring, the old value stops the call.
    assert_eq!(
        advance(
            &flow,
            &ring(KEY_HEX),
            CALL_SID,
            Some(state(1, 1, &[("card", &card)])),
            Some(EXPIRY),
            NOW,
            None
        ),
        Err(CallError::BadCallState)
    );
}
