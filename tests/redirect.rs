//! `then.redirect` (`handoff::redirect`): the result, the approved `verify` fields and the
//! sealed values added to the application's URL, and the `<Redirect>` that carries it.

mod common;

use common::XML;
use gather_seal::flow::GatherResult;
use gather_seal::handoff::{redirect_twiml, redirect_url};

// ------------------------------------------------------------------------------------------
// then.redirect
// ------------------------------------------------------------------------------------------

fn sealed_pair() -> Vec<(String, String)> {
    vec![
        ("card".to_owned(), "0a".repeat(30)),
        ("last_four".to_owned(), "0b".repeat(30)),
    ]
}

#[test]
fn redirect_url_adds_the_result_and_values_to_the_query() {
    let (a, b) = ("0a".repeat(30), "0b".repeat(30));
    assert_eq!(
        redirect_url("https://app.example.com/next", GatherResult::Success, &sealed_pair(), &[], &[]),
        format!("https://app.example.com/next?result=success&encryptedCardDigits={a}&encryptedLastFourDigits={b}")
    );
    assert_eq!(
        redirect_url(
            "https://webhooks.twilio.com/v1/Accounts/AC1/Flows/FW1?FlowEvent=return",
            GatherResult::Success,
            &sealed_pair(),
            &[], &[]
        ),
        format!("https://webhooks.twilio.com/v1/Accounts/AC1/Flows/FW1?FlowEvent=return&result=success&encryptedCardDigits={a}&encryptedLastFourDigits={b}")
    );
    assert_eq!(
        redirect_url(
            "https://app.example.com/next",
            GatherResult::TooManyAttempts,
            &[],
            &[],
            &[]
        ),
        "https://app.example.com/next?result=too-many-attempts"
    );
    // Approved verify fields are named, before the values.
    assert_eq!(
        redirect_url(
            "https://app.example.com/next",
            GatherResult::Success,
            &sealed_pair()[..1],
            &["otp".to_owned(), "otp2".to_owned()],
            &[]
        ),
        format!(
            "https://app.example.com/next?result=success&verified=otp,otp2&encryptedCardDigits={a}"
        )
    );
    assert_eq!(
        redirect_url(
            "https://app.example.com/next",
            GatherResult::VerifyFailed,
            &[],
            &[],
            &[]
        ),
        "https://app.example.com/next?result=verify-failed"
    );
}

#[test]
fn redirect_twiml_escapes_the_url() {
    let a = "0a".repeat(30);
    assert_eq!(
        redirect_twiml(
            "https://app.example.com/next?x=1",
            GatherResult::Success,
            &sealed_pair()[..1],
            &[],
            &[]
        ),
        format!(
            r#"{XML}<Response><Redirect method="POST">https://app.example.com/next?x=1&amp;result=success&amp;encryptedCardDigits={a}</Redirect></Response>"#
        )
    );
}
