//! Pagination tokens: round trip, page-to-page difference, tamper, garbage and cross-scope
//! refusal, and a property that arbitrary strings never panic or decode.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use waggle_protocols::aws::token::{self, TokenError, TokenKey, TOKEN_CHARS_MAX};
use waggle_protocols::aws::AwsError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Page {
    after_seq: u64,
    group: String,
}

fn key() -> TokenKey {
    TokenKey::from_bytes([7; 32])
}

#[test]
fn round_trip() {
    let state = Page {
        after_seq: 42,
        group: "cruddur".into(),
    };
    let t = token::encode(&key(), "DescribeLogGroups", &state).unwrap();
    assert!(
        t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{t}"
    );
    let back: Page = token::decode(&key(), "DescribeLogGroups", &t).unwrap();
    assert_eq!(back, state);
}

#[test]
fn small_states_fit_xray_get_groups_100_char_limit() {
    let t = token::encode(
        &key(),
        "GetGroups",
        &Page {
            after_seq: u64::MAX,
            group: "a-32-character-group-name-abcdef".into(),
        },
    )
    .unwrap();
    assert!(t.len() <= 100, "{} chars", t.len());
}

#[test]
fn tokens_differ_page_to_page_and_are_deterministic() {
    let a = token::encode(
        &key(),
        "op",
        &Page {
            after_seq: 1,
            group: "g".into(),
        },
    )
    .unwrap();
    let b = token::encode(
        &key(),
        "op",
        &Page {
            after_seq: 2,
            group: "g".into(),
        },
    )
    .unwrap();
    assert_ne!(a, b);
    // GetLogEvents returns the caller's token unchanged at the end of a stream.
    assert_eq!(
        a,
        token::encode(
            &key(),
            "op",
            &Page {
                after_seq: 1,
                group: "g".into()
            }
        )
        .unwrap()
    );
}

#[test]
fn every_flipped_bit_is_refused() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let t = token::encode(
        &key(),
        "op",
        &Page {
            after_seq: 9,
            group: "x".into(),
        },
    )
    .unwrap();
    let raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
    for i in 0..raw.len() * 8 {
        let mut m = raw.clone();
        m[i / 8] ^= 1 << (i % 8);
        let forged = URL_SAFE_NO_PAD.encode(&m);
        assert_eq!(
            token::decode::<Page>(&key(), "op", &forged),
            Err(TokenError::Tampered),
            "bit {i}"
        );
    }
}

#[test]
fn other_key_or_scope_is_refused() {
    let t = token::encode(
        &key(),
        "op",
        &Page {
            after_seq: 9,
            group: "x".into(),
        },
    )
    .unwrap();
    assert_eq!(
        token::decode::<Page>(&TokenKey::from_bytes([8; 32]), "op", &t),
        Err(TokenError::Tampered)
    );
    assert_eq!(
        token::decode::<Page>(&key(), "other", &t),
        Err(TokenError::Tampered)
    );
}

#[test]
fn garbage_is_refused() {
    for (t, want) in [
        ("", TokenError::TooShort),
        ("abc", TokenError::TooShort),
        ("not base64!", TokenError::NotBase64),
        ("AAAAAAAAAAAAAAAAAAAAAAAAAAAA", TokenError::Tampered),
        (
            "f/00000000000000000000000000000000000000000000000000000000",
            TokenError::NotBase64,
        ),
    ] {
        assert_eq!(token::decode::<Page>(&key(), "op", t), Err(want), "{t:?}");
    }
    let long = "A".repeat(TOKEN_CHARS_MAX + 1);
    assert_eq!(
        token::decode::<Page>(&key(), "op", &long),
        Err(TokenError::TooLong)
    );
}

#[test]
fn a_token_for_another_state_type_is_refused_without_panicking() {
    let t = token::encode(&key(), "op", &"just a string").unwrap();
    assert_eq!(
        token::decode::<Page>(&key(), "op", &t),
        Err(TokenError::State)
    );
}

#[test]
fn errors_become_invalid_token_answers() {
    let e: AwsError = TokenError::Tampered.into();
    assert_eq!(e, AwsError::invalid_token());
}

#[test]
fn key_debug_hides_the_key() {
    assert_eq!(format!("{:?}", key()), "TokenKey(***)");
    assert!(TokenKey::generate().is_ok());
}

proptest! {
    #[test]
    fn arbitrary_tokens_never_decode(t in ".{0,200}") {
        prop_assert!(token::decode::<Page>(&key(), "op", &t).is_err());
    }
}
