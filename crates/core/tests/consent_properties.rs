//! Property tests: random event sequences through the consent state machine,
//! and random sentences through the keyword classifier.
#![cfg(not(target_arch = "wasm32"))]

use chrono::{DateTime, Duration, TimeZone, Utc};
use optin_core::consent::{apply, Cause, ConsentEvent, ConsentState, ConsentStatus, ConsentView};
use optin_core::keywords::{all_words, classify, Keyword};
use optin_core::vocab::ErrorCode;
use optin_core::window::RESEND_INTERVAL;
use proptest::prelude::*;

fn event() -> impl Strategy<Value = ConsentEvent> {
    let id = prop_oneof![
        Just(None),
        (0u8..4).prop_map(|n| Some(format!("wamid.{n}")))
    ];
    let code = prop_oneof![
        Just(131026u32),
        Just(130429),
        Just(131056),
        Just(131049),
        Just(131050),
        any::<u32>(),
    ]
    .prop_map(|c| Some(ErrorCode(c)));
    let code = prop_oneof![9 => code, 1 => Just(None)];
    prop_oneof![
        3 => Just(ConsentEvent::Requested),
        3 => Just(ConsentEvent::Resent),
        3 => (0u8..4).prop_map(|n| ConsentEvent::ProviderAccepted { message_id: format!("wamid.{n}") }),
        2 => (id, code).prop_map(|(message_id, code)| ConsentEvent::ProviderFailed { message_id, code }),
        1 => Just(ConsentEvent::TappedYes),
        1 => Just(ConsentEvent::TappedNo),
        1 => Just(ConsentEvent::KeywordOptIn),
        1 => Just(ConsentEvent::KeywordOptOut),
        1 => Just(ConsentEvent::KeywordDecline),
        1 => Just(ConsentEvent::RevokedByOtherMeans),
    ]
}

/// Events with the minutes elapsed before each (up to 30 h, so both sides of
/// the 24 h line are hit often). A few go backwards to mimic clock skew.
fn timeline() -> impl Strategy<Value = Vec<(i64, ConsentEvent)>> {
    prop::collection::vec((-5i64..30 * 60, event()), 0..40)
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 7, 9, 0, 0).unwrap()
}

/// Fields that must agree with the state, whatever happened before.
fn assert_consistent(s: &ConsentStatus) {
    match s.state {
        ConsentState::Sending => assert!(s.last_request_at.is_some() && s.last_failure.is_none()),
        ConsentState::Pending => assert!(s.last_request_at.is_some() && s.message_id.is_some()),
        ConsentState::NoWhatsapp => {
            assert_eq!(
                s.last_failure.map(|f| f.code),
                Some(Some(ErrorCode(131026)))
            )
        }
        ConsentState::OptedIn | ConsentState::OptedOut => assert!(s.answered_at.is_some()),
        ConsentState::None => {}
    }
    if let (Some(first), Some(last)) = (s.requested_at, s.last_request_at) {
        assert!(first <= last);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_sequences_never_panic_and_keep_status_consistent(steps in timeline()) {
        let mut now = start();
        let mut status = ConsentStatus::default();
        for (minutes, event) in steps {
            now += Duration::minutes(minutes);
            match apply(&status, &event, now) {
                Ok(t) => {
                    prop_assert_eq!(t.from, status.state);
                    prop_assert_eq!(t.cause, event.cause());
                    assert_consistent(&t.status);
                    status = t.status;
                }
                Err(_) => prop_assert_eq!(event.cause(), Cause::Advisor),
            }
            let view = status.view(now);
            if view == ConsentView::Expired {
                prop_assert!(now - status.last_request_at.unwrap() >= RESEND_INTERVAL);
            }
        }
    }

    #[test]
    fn only_the_contact_opts_in_or_leaves_opted_out(steps in timeline()) {
        let mut now = start();
        let mut status = ConsentStatus::default();
        for (minutes, event) in steps {
            now += Duration::minutes(minutes);
            if let Ok(t) = apply(&status, &event, now) {
                let left_opted_out = t.from == ConsentState::OptedOut && t.state_changed();
                let entered_opted_in = t.from != ConsentState::OptedIn
                    && t.status.state == ConsentState::OptedIn;
                if left_opted_out || entered_opted_in {
                    prop_assert_eq!(t.cause, Cause::Contact, "{:?}", event);
                }
                if left_opted_out {
                    prop_assert_eq!(t.status.state, ConsentState::OptedIn);
                }
                status = t.status;
            }
        }
    }

    #[test]
    fn requests_are_never_accepted_less_than_24_hours_apart(steps in timeline()) {
        let mut now = start();
        let mut status = ConsentStatus::default();
        let mut last_accepted: Option<DateTime<Utc>> = None;
        for (minutes, event) in steps {
            now += Duration::minutes(minutes);
            if let Ok(t) = apply(&status, &event, now) {
                if t.cause == Cause::Advisor {
                    if let Some(last) = last_accepted {
                        prop_assert!(now - last >= RESEND_INTERVAL, "{:?} after {:?}", now, last);
                    }
                    last_accepted = Some(now);
                }
                status = t.status;
            }
        }
    }

    #[test]
    fn classify_never_panics(text in any::<String>()) {
        let _ = classify(&text);
    }

    #[test]
    fn keyword_inside_a_longer_sentence_is_never_matched(
        keyword in prop::sample::select(KEYWORDS),
        before in prop::collection::vec(prop::sample::select(FILLER), 0..4),
        after in prop::collection::vec(prop::sample::select(FILLER), 0..4),
    ) {
        prop_assume!(!before.is_empty() || !after.is_empty());
        let sentence = [before.join(" "), keyword.to_string(), after.join(" ")].join(" ");
        prop_assert_eq!(classify(&sentence), None, "{:?}", sentence);
    }

    #[test]
    fn keyword_glued_to_other_letters_is_never_matched(
        keyword in prop::sample::select(KEYWORDS),
        prefix in "[a-z]{0,3}",
        suffix in "[a-z]{0,3}",
    ) {
        let word = format!("{prefix}{keyword}{suffix}");
        // Gluing can spell another keyword, of any language ("n" + "o",
        // "no" + "n" in French); that one may match.
        if !all_words().any(|known| known == word) {
            prop_assert_eq!(classify(&word), None, "{:?}", word);
        }
    }

    #[test]
    fn keyword_survives_case_spacing_and_trailing_punctuation(
        keyword in prop::sample::select(&["yes", "stop", "opt in", "unsubscribe", "no"][..]),
        upper in prop::collection::vec(any::<bool>(), 16),
        pad_left in "[ \t\n]{0,3}",
        pad_right in "[ \t\n]{0,3}",
        punct in "[.!]{0,3}",
    ) {
        let cased: String = keyword
            .chars()
            .zip(upper.iter().cycle())
            .map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c })
            .collect();
        let spaced = cased.replace(' ', "  ");
        let text = format!("{pad_left}{spaced}{punct}{pad_right}");
        prop_assert_eq!(classify(&text), classify(keyword));
        prop_assert!(classify(keyword).is_some());
    }
}

/// Every keyword the classifier knows, for the "never inside a sentence" checks.
const KEYWORDS: &[&str] = &[
    "yes",
    "y",
    "yes please",
    "start",
    "unstop",
    "opt in",
    "optin",
    "subscribe",
    "stop",
    "stopall",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "revoke",
    "opt out",
    "optout",
    "no",
    "n",
    "no thanks",
    "help",
    "info",
];

/// Words that never form a keyword together with one.
const FILLER: &[&str] = &[
    "we",
    "must",
    "this",
    "bill",
    "today",
    "please?",
    "really",
    "the",
    "meeting",
    "I",
    "said",
    "can",
    "you",
    "call",
    "me",
    "tomorrow",
    "about",
    "portfolio",
    "?",
];

#[test]
fn keyword_list_here_matches_the_classifier() {
    for k in KEYWORDS {
        assert!(classify(k).is_some(), "{k:?}");
    }
    assert_eq!(classify("we must stop this bill"), None);
    assert_eq!(classify("yesterday"), None);
    assert_eq!(classify("yes").map(|k| k == Keyword::OptIn), Some(true));
}
