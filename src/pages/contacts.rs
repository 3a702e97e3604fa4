//! The advisor's contacts: search as you type, list with consent badges, add.
//!
//! A keystroke filters the rows already loaded at once (the whole list is
//! loaded in the background, up to `PREFETCH_ROWS`); the service's answer for
//! that search then refines them, and answers to older searches are dropped.
//! The shell keeps the list (`KeptContacts`): coming back from a contact
//! draws it at once as it was left.

use std::collections::HashSet;
use std::ops::Range;

use leptos::prelude::*;
use leptos::task::spawn_local;
use optin_core::api::{ConsentView, Contact, ContactPage};
use optin_core::search::ContactQuery;

use crate::api::{Api, ClientError};
use crate::components::add_contact_form::AddContactForm;
use crate::components::chain_status::grouped;
use crate::components::confirm_opt_in::ConfirmOptIn;
use crate::components::contact_list::ContactList;
use crate::contact_rows::{ContactLists, ContactRows, Provenance, PAGE_ROWS, PREFETCH_ROWS};
use crate::live::Live;
use crate::route::{use_router, Route};

/// How long typing stops before a search whose every match is already shown
/// asks the service (a key every 100–200 ms is usual typing).
const TYPING_PAUSE: std::time::Duration = std::time::Duration::from_millis(150);

/// What the advisor is told under the list.
#[derive(Debug, Clone, PartialEq)]
enum ListStatus {
    Loading,
    /// A search's matches among the rows loaded so far; the service's answer follows.
    Searching,
    NoContacts,
    NoMatch(String),
    Counted {
        total: u64,
        searched: bool,
    },
}

impl ListStatus {
    fn of(rows: &ContactRows, typed: &str) -> Self {
        let searched = !rows.query().is_empty();
        match rows.provenance() {
            Provenance::Loading => Self::Loading,
            // "No match" only on the service's word: the rows loaded may be
            // older than a contact added elsewhere (another tab, the CRM).
            Provenance::Filtered { .. } if rows.total() == 0 => Self::Searching,
            _ if !rows.total_is_known() => Self::Searching,
            _ if rows.total() > 0 => Self::Counted {
                total: rows.total(),
                searched,
            },
            _ if searched => Self::NoMatch(typed.trim().to_owned()),
            _ => Self::NoContacts,
        }
    }
}

/// The list as the advisor left it, kept by the shell (as the compliance
/// filters are): coming back from a contact draws it at once, with the search
/// typed and scrolled where it was, and asks the service again only for the
/// rows in view, instead of the whole list (up to `PREFETCH_ROWS` rows).
#[derive(Clone, Copy)]
pub struct KeptContacts {
    typed: RwSignal<String>,
    lists: RwSignal<ContactLists>,
    /// Bumped after a contact is added, and each time a loaded list opens
    /// again, so that the rows in view are fetched again: a change may have
    /// come while the list was closed, and without the event stream (polling)
    /// nothing says so.
    refreshes: RwSignal<u64>,
    /// How far the list is scrolled, in CSS pixels, and the rows in view
    /// there (so that opening again asks for those, not the first page).
    scroll_top: RwSignal<f64>,
    in_view: RwSignal<Range<u64>>,
}

impl Default for KeptContacts {
    fn default() -> Self {
        Self {
            typed: RwSignal::new(String::new()),
            lists: RwSignal::new(ContactLists::default()),
            refreshes: RwSignal::new(0),
            scroll_top: RwSignal::new(0.0),
            in_view: RwSignal::new(0..0),
        }
    }
}

/// The list's first page, asked for beside the shell's `GET /me` rather than
/// after it: the list is an advisor's first screen, and waiting for one
/// answer before asking the other cost a round trip before the first paint.
/// Taken by the first list that opens; later ones ask for themselves. Its
/// answer also lets the shell draw the list before `GET /me` answers.
#[derive(Clone, Copy)]
pub struct FirstContactsPage {
    /// `None` until the service answers.
    answer: RwSignal<Option<Result<ContactPage, ClientError>>>,
    /// The live revision it was asked at.
    revision: u64,
    taken: StoredValue<bool>,
}

impl FirstContactsPage {
    pub fn ask(api: Api, revision: u64) -> Self {
        let answer = RwSignal::new(None);
        spawn_local(async move {
            let page = ask_page(&api, &ContactQuery::default(), 0).await;
            let _ = answer.try_set(Some(page));
        });
        Self {
            answer,
            revision,
            taken: StoredValue::new(false),
        }
    }

    /// Whether the service has given the page (tracked): only an advisor is.
    pub fn answered(&self) -> bool {
        self.answer.with(|answer| matches!(answer, Some(Ok(_))))
    }

    /// This, the first time only.
    fn take(self) -> Option<Self> {
        let first = self
            .taken
            .try_update_value(|taken| !std::mem::replace(taken, true));
        first.unwrap_or(false).then_some(self)
    }
}

/// Page `number` of the list for `query`, in the service's order.
async fn ask_page(
    api: &Api,
    query: &ContactQuery,
    number: u64,
) -> Result<ContactPage, ClientError> {
    api.contacts(query.text(), number * PAGE_ROWS, PAGE_ROWS as u32)
        .await
}

/// Search field, contact list and the add-contact form.
#[component]
pub fn ContactsPage() -> impl IntoView {
    let api = StoredValue::new(expect_context::<Api>());
    let live = expect_context::<Live>();
    let router = use_router();
    // The shell's, or a list of its own (tests, a page on its own).
    let KeptContacts {
        typed,
        lists,
        refreshes,
        scroll_top,
        in_view,
    } = use_context().unwrap_or_default();
    if lists.with_untracked(|l| l.everyone().provenance() != Provenance::Loading) {
        refreshes.update(|n| *n += 1);
    }
    // Any consent change may change a badge: pages fetched before the latest
    // revision are fetched again when in view.
    let revision = Memo::new(move |_| live.revision() + refreshes.get());
    // The last failure to fetch a search's rows (shown while that search is),
    // until a fetch for it succeeds.
    let failure = RwSignal::new(None::<(ContactQuery, ClientError)>);
    // Pages asked for and not answered yet: (search text, page number).
    let asking = StoredValue::new(HashSet::<(String, u64)>::new());

    let fetch = move |query: ContactQuery, number: u64| {
        let key = (query.text().to_owned(), number);
        if !asking
            .try_update_value(|asking| asking.insert(key.clone()))
            .unwrap_or(false)
        {
            return;
        }
        let (api, revision) = (api.get_value(), revision.get_untracked());
        let deferred = key.clone();
        let ask = async move {
            let answer = ask_page(&api, &query, number).await;
            asking.try_update_value(|asking| asking.remove(&key));
            match answer {
                // An answer to a search no longer shown is dropped there.
                Ok(page) => {
                    lists.try_update(|l| l.answer(&query, number, page, revision));
                    failure.try_update(|f| f.take_if(|(failed, _)| failed == &query));
                }
                Err(error) => {
                    let _ = failure.try_set(Some((query, error)));
                }
            }
        };
        if deferred.0.is_empty() {
            spawn_local(ask);
            return;
        }
        // A search's rows are already filtered on screen: its request waits
        // until that frame is painted (issuing it cost a keystroke about a
        // millisecond), and is not sent if another keystroke came first.
        // When those rows are all the matches (the whole list is loaded), the
        // answer can only refresh them: it waits for a pause in the typing,
        // so that its decoding does not hold back the next key's frame.
        let send = move || {
            let still_shown = lists
                .try_with_untracked(|l| l.shown().query().text() == deferred.0)
                .unwrap_or(false);
            if still_shown {
                spawn_local(ask);
            } else {
                asking.try_update_value(|asking| asking.remove(&deferred));
            }
        };
        let all_matches_shown = lists.with_untracked(|l| {
            let rows = l.shown();
            rows.provenance() == (Provenance::Filtered { complete: true }) && rows.total() > 0
        });
        if all_matches_shown {
            set_timeout(send, TYPING_PAUSE);
        } else {
            crate::after_paint(send);
        }
    };
    // The first page when the shell asked for it: counted as asked until it
    // answers; asked again (as any page) if that failed.
    if let Some(first) = use_context::<FirstContactsPage>().and_then(FirstContactsPage::take) {
        let key = (String::new(), 0);
        asking.update_value(|asking| {
            asking.insert(key.clone());
        });
        Effect::new(move |used: Option<bool>| {
            if used == Some(true) || first.answer.with(Option::is_none) {
                return used.unwrap_or(false);
            }
            asking.update_value(|asking| {
                asking.remove(&key);
            });
            match first.answer.get_untracked() {
                Some(Ok(page)) => lists.update(|l| {
                    l.answer(&ContactQuery::default(), 0, page, first.revision);
                }),
                _ => fetch(ContactQuery::default(), 0),
            }
            true
        });
    }
    // The rows in view, as the service has them now.
    Effect::new(move |_| {
        let (range, revision) = (in_view.get(), revision.get());
        let (query, pages) = lists.with(|l| {
            let rows = l.shown();
            (rows.query().clone(), rows.pages_to_fetch(range, revision))
        });
        for number in pages {
            fetch(query.clone(), number);
        }
    });
    // Then the whole list in the background, one page at a time, so that
    // searches filter it in the browser at once.
    Effect::new(move |_| {
        let next = lists.with(|l| l.everyone().next_missing_page(PREFETCH_ROWS));
        let busy = asking.with_value(|asking| asking.iter().any(|(text, _)| text.is_empty()));
        if let Some(number) = next.filter(|_| !busy) {
            fetch(ContactQuery::default(), number);
        }
    });

    let confirm = RwSignal::new(None::<Contact>);
    let on_whatsapp = Callback::new(move |contact: Contact| {
        if contact.consent == ConsentView::None {
            confirm.set(Some(contact));
        } else {
            router.go(Route::Contact(contact.id));
        }
    });
    let on_sms = Callback::new(move |contact: Contact| router.go(Route::Sms(contact.id)));

    let status =
        Memo::new(move |_| typed.with(|typed| lists.with(|l| ListStatus::of(l.shown(), typed))));
    let has_rows = Memo::new(move |_| lists.with(|l| l.shown().total() > 0));
    // The form below the list comes with the list's first answer, so the
    // list appearing does not push it down (a layout shift).
    let answered = Memo::new(move |before: Option<&bool>| {
        before == Some(&true)
            || status.get() != ListStatus::Loading
            || failure.with(Option::is_some)
    });
    // The list (or its count, or why it failed) is what the first screen
    // drawn before the app ran showed: the app's page takes its place.
    Effect::new(move |_| {
        if answered.get() {
            crate::first_screen::hand_over();
        }
    });
    let shown_failure = Memo::new(move |_| {
        failure.with(|f| {
            f.as_ref()
                .filter(|(query, _)| lists.with(|l| l.shown().query() == query))
                .map(|(_, error)| error.to_string())
        })
    });
    let summary = move || {
        if let Some(error) = shown_failure.get() {
            return view! { <p class="error" role="alert">{error}</p> }.into_any();
        }
        let text = match status.get() {
            // Shown by `loading`: the count is a new node under the list,
            // never the loading line moved down by it (a layout shift).
            ListStatus::Loading => return ().into_any(),
            ListStatus::Searching => "Searching…".to_owned(),
            ListStatus::NoContacts => "No contacts yet. Add your first one below.".to_owned(),
            ListStatus::NoMatch(typed) => format!("No contact matches “{typed}”."),
            ListStatus::Counted {
                total: 1,
                searched: false,
            } => "1 contact.".to_owned(),
            ListStatus::Counted {
                total,
                searched: false,
            } => format!("{} contacts.", grouped(total)),
            ListStatus::Counted {
                total: 1,
                searched: true,
            } => "1 contact matches.".to_owned(),
            ListStatus::Counted {
                total,
                searched: true,
            } => {
                format!("{} contacts match.", grouped(total))
            }
        };
        view! { <p class="muted contacts__count" role="status">{text}</p> }.into_any()
    };

    let loading = move || {
        (status.get() == ListStatus::Loading && shown_failure.with(Option::is_none)).then(
            || view! { <p class="muted contacts__count" role="status">"Loading contacts…"</p> },
        )
    };

    view! {
        <section class="contacts" aria-labelledby="contacts-heading">
            <div class="contacts__head">
                <h2 id="contacts-heading" tabindex="-1" data-page-title>"Contacts"</h2>
                <label class="search">
                    <span class="visually-hidden">"Search contacts"</span>
                    <input
                        type="search"
                        placeholder="Search by name or number"
                        autocomplete="off"
                        prop:value=typed
                        on:input=move |ev| {
                            let text = event_target_value(&ev);
                            // Filtered at once from the rows loaded; the service's answer follows.
                            lists.update(|l| l.search(ContactQuery::new(&text)));
                            typed.set(text);
                        }
                    />
                </label>
            </div>
            <Show when=move || has_rows.get()>
                <ContactList lists=lists.into() in_view scroll_top on_whatsapp on_sms/>
            </Show>
            {loading}
            {summary}
        </section>
        <Show when=move || answered.get()>
            <AddContactForm on_added=Callback::new(move |_| refreshes.update(|n| *n += 1))/>
        </Show>
        <ConfirmOptIn
            target=confirm
            on_sent=Callback::new(move |(contact, _): (Contact, _)| router.go(Route::Contact(contact.id)))
        />
    }
}
