//! The compliance view's first screen: every number of the organization with
//! its consent state, narrowed by state, advisor, dates and a search; the
//! hash chain's state; the organization's record as a download.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::task::spawn_local;
use optin_core::api::{ConsentView, MAX_PAGE_SIZE};
use optin_core::compliance::{AdvisorSummary, ChainStatus, NumberSummary};

use crate::api::{consent_param, Api, ClientError, NumberFilter, CONSENT_STATES};
use crate::components::chain_status::{grouped, ChainBanner};
use crate::components::consent_badge::{consent_label, ConsentBadge};
use crate::components::download::DownloadButtons;
use crate::fetched::Fetched;
use crate::labels;
use crate::live::Live;
use crate::route::{Link, Route};
use crate::time::{local_day_start, local_now, stamp, ServerClock};

/// Rows drawn at first, and added by each "Show more numbers".
const PAGE_ROWS: u32 = 40;

/// What the list is narrowed to, as typed; kept by the shell, so coming back
/// from a number's timeline finds the list as it was left.
#[derive(Clone, Copy, Debug)]
pub struct ComplianceFilters {
    /// Part of a name or number.
    pub q: RwSignal<String>,
    /// A consent state.
    pub state: RwSignal<Option<ConsentView>>,
    /// An advisor's id.
    pub advisor: RwSignal<Option<i64>>,
    /// First day, `YYYY-MM-DD` as the date input gives it.
    pub from: RwSignal<String>,
    /// Last day (included), `YYYY-MM-DD`.
    pub to: RwSignal<String>,
}

impl Default for ComplianceFilters {
    fn default() -> Self {
        Self::new()
    }
}

impl ComplianceFilters {
    /// No filter.
    pub fn new() -> Self {
        Self {
            q: RwSignal::new(String::new()),
            state: RwSignal::new(None),
            advisor: RwSignal::new(None),
            from: RwSignal::new(String::new()),
            to: RwSignal::new(String::new()),
        }
    }

    /// The filter the service is asked for (tracked); days are the person's
    /// local days, the last one included.
    pub fn filter(&self) -> NumberFilter {
        NumberFilter {
            state: self.state.get(),
            advisor_id: self.advisor.get(),
            since: self.from.with(|d| local_day_start(d, 0)),
            until: self.to.with(|d| local_day_start(d, 1)),
            q: self.q.get(),
        }
    }

    /// Back to every number.
    pub fn clear(&self) {
        self.q.set(String::new());
        self.state.set(None);
        self.advisor.set(None);
        self.from.set(String::new());
        self.to.set(String::new());
    }
}

/// The filters from the shell, or fresh ones (tests, a page on its own).
fn use_filters() -> ComplianceFilters {
    use_context::<ComplianceFilters>().unwrap_or_default()
}

/// Chain status, exports, filters and the list of numbers.
#[component]
pub fn CompliancePage() -> impl IntoView {
    let api = expect_context::<Api>();
    let live = expect_context::<Live>();
    let filters = use_filters();
    let filter = Memo::new(move |_| filters.filter());
    let limit = RwSignal::new(PAGE_ROWS);
    Effect::new(move |_| {
        // Read, not only tracked: a memo only tracked is never computed (see `Fetched`).
        filter.with(|_| ());
        if limit.get_untracked() != PAGE_ROWS {
            limit.set(PAGE_ROWS);
        }
    });
    let page = Fetched::new({
        let api = api.clone();
        move || {
            let api = api.clone();
            let filter = filter.get();
            let limit = limit.get();
            // Every number of the organization is on the stream: any event may change a row.
            live.revision();
            async move { api.compliance_numbers(&filter, 0, limit).await }
        }
    });
    let advisors = Fetched::new({
        let api = api.clone();
        move || {
            let api = api.clone();
            async move { api.compliance_advisors().await }
        }
    });
    let advisors = Signal::derive(move || advisors.get().and_then(Result::ok).unwrap_or_default());

    // The chain is verified on demand (it reads the whole record), not on every event.
    let chain = RwSignal::new(None::<Result<ChainStatus, ClientError>>);
    let checking = RwSignal::new(false);
    let clock = RwSignal::new(None::<ServerClock>);
    let check = Callback::new({
        let api = api.clone();
        move |_: ()| {
            if checking.get_untracked() {
                return;
            }
            checking.set(true);
            let api = api.clone();
            spawn_local(async move {
                let answer = api.chain_status().await;
                if let Ok(status) = &answer {
                    let _ = clock.try_set(Some(ServerClock::read(status.checked_at)));
                }
                let _ = chain.try_set(Some(answer));
                let _ = checking.try_set(false);
            });
        }
    });
    check.run(());
    let now = Memo::new(move |_| {
        live.revision();
        clock.get().map(|c| c.now()).unwrap_or_else(local_now)
    });

    let rows = Memo::new(move |_| {
        page.get()
            .and_then(Result::ok)
            .map(|p| p.numbers)
            .unwrap_or_default()
    });
    let summary = move || match page.get() {
        None => view! { <p class="muted">"Loading numbers…"</p> }.into_any(),
        Some(Err(error)) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
        Some(Ok(page)) if page.numbers.is_empty() && filter.with(NumberFilter::is_empty) => {
            view! { <p class="muted">"No numbers yet."</p> }.into_any()
        }
        Some(Ok(page)) if page.numbers.is_empty() => {
            view! { <p class="muted">"No number matches these filters."</p> }.into_any()
        }
        Some(Ok(page)) => {
            let shown = page.numbers.len() as u64;
            let can_grow = page.next_offset.is_some() && limit.get_untracked() < MAX_PAGE_SIZE;
            let counted = if page.total > shown {
                format!(
                    "Showing {} of {} numbers.",
                    grouped(shown),
                    grouped(page.total)
                )
            } else if page.total == 1 {
                "1 number.".to_owned()
            } else {
                format!("{} numbers.", grouped(page.total))
            };
            view! {
                <p class="muted">{counted}</p>
                {(page.total > shown).then(|| if can_grow {
                    view! {
                        <button type="button" class="button" on:click=move |_| limit.update(|l| *l = (*l + PAGE_ROWS).min(MAX_PAGE_SIZE))>
                            "Show more numbers"
                        </button>
                    }.into_any()
                } else {
                    view! { <p class="muted">"Narrow the filters to find the others."</p> }.into_any()
                })}
            }
            .into_any()
        }
    };

    view! {
        <div class="compliance">
            <div class="compliance__top">
                <ChainBanner status=chain checking=checking now=now on_check=check/>
                <section class="card exports" aria-labelledby="exports-title">
                    <h3 id="exports-title" class="exports__title">"Organization's record"</h3>
                    <p class="muted exports__intro">"Every step for every number, in chain order."</p>
                    <DownloadButtons prefix="Export all" fetch={
                        let api = api.clone();
                        move |format| {
                            let api = api.clone();
                            async move { api.organization_export(format).await }
                        }
                    }/>
                </section>
            </div>
            <OpenStopFlags now=now/>
            <section class="contacts numbers" aria-labelledby="numbers-heading">
                <div class="contacts__head">
                    <h2 id="numbers-heading" tabindex="-1" data-page-title>"Numbers"</h2>
                    <button type="button" class="button button--small" on:click=move |_| filters.clear()>"Clear filters"</button>
                </div>
                <Filters filters advisors/>
                <div class="numbers__summary" role="status">{summary}</div>
                <Show when=move || !rows.with(Vec::is_empty)>
                    <ul class="number-list" aria-label="Numbers">
                        <For each=move || rows.get() key=|n| (n.phone.clone(), n.state, n.updated_at, n.holders.len()) let(number)>
                            <NumberRow number now/>
                        </For>
                    </ul>
                </Show>
            </section>
            <WebhookReviews now=now/>
            <AccessLog now=now/>
        </div>
    }
}

/// Messages flagged as possible requests to stop, organization-wide: each
/// links to its number, where compliance decides.
#[component]
pub fn OpenStopFlags(
    /// The server's clock.
    #[prop(into)]
    now: Signal<DateTime<Utc>>,
) -> impl IntoView {
    let api = expect_context::<Api>();
    let live = expect_context::<Live>();
    let flags = Fetched::new(move || {
        live.revision();
        let api = api.clone();
        async move { api.compliance_stop_flags().await }
    });
    let list = move || {
        match flags.get() {
        None => None,
        Some(Err(e)) => Some(view! { <p class="error">{e.to_string()}</p> }.into_any()),
        Some(Ok(flags)) if flags.is_empty() => None,
        Some(Ok(flags)) => Some(
            view! {
                <section class="card flags" aria-labelledby="open-flags-title">
                    <h3 id="open-flags-title" class="flags__title">{format!("Possible requests to stop ({})", flags.len())}</h3>
                    <p class="flags__intro">"Messages that read as a request to stop, waiting for a decision. Open the number to apply or dismiss each."</p>
                    <ul class="flags__list">
                        {flags.into_iter().map(|flag| {
                            let at = flag.flagged_at;
                            view! {
                                <li class="flag">
                                    <p class="flag__meta">
                                        <Link to=Route::ComplianceNumber(flag.phone.clone()) class="flag__number">{flag.phone.clone()}</Link>
                                        {format!(" · {} message · ", labels::channel(flag.channel))}
                                        <time datetime=at.to_rfc3339()>{move || stamp(at, now.get())}</time>
                                    </p>
                                    <blockquote class="flag__text">{flag.text}</blockquote>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </section>
            }
            .into_any(),
        ),
    }
    };
    view! { {list} }
}

/// Parts of the organization's webhooks that were not understood: kept raw
/// with the reason, the raw part collapsed.
#[component]
pub fn WebhookReviews(
    /// The server's clock.
    #[prop(into)]
    now: Signal<DateTime<Utc>>,
) -> impl IntoView {
    let api = expect_context::<Api>();
    let reviews = Fetched::new(move || {
        let api = api.clone();
        async move { api.compliance_reviews().await }
    });
    let body = move || match reviews.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
        Some(Ok(reviews)) if reviews.is_empty() => {
            view! { <p class="muted">"Every webhook was understood."</p> }.into_any()
        }
        Some(Ok(reviews)) => view! {
            <ul class="reviews__list">
                {reviews.into_iter().map(|review| {
                    let at = review.received_at;
                    let open = review.reviewed_at.is_none();
                    view! {
                        <li class="review">
                            <p class="review__reason">{review.reason}</p>
                            <p class="review__meta">
                                {format!("{} · received ", labels::channel(review.provider))}
                                <time datetime=at.to_rfc3339()>{move || stamp(at, now.get())}</time>
                                {(!open).then_some(" · reviewed")}
                            </p>
                            <details>
                                <summary>"Show the raw part"</summary>
                                <pre tabindex="0">{review.item}</pre>
                            </details>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
        .into_any(),
    };
    view! {
        <section class="card reviews" aria-labelledby="reviews-title">
            <h3 id="reviews-title" class="card__title">"Webhook parts kept for review"</h3>
            <p class="muted card__intro">"Parts of provider messages the service could not understand. They were acknowledged and kept as received; nothing else in the same message was lost."</p>
            {body}
        </section>
    }
}

/// Entries of the access log shown at once.
const ACCESS_ROWS: u32 = 20;

/// Who read or downloaded which records lately, newest first; refreshed on
/// every event, since opening a number here adds an entry.
#[component]
pub fn AccessLog(
    /// The server's clock.
    #[prop(into)]
    now: Signal<DateTime<Utc>>,
) -> impl IntoView {
    let api = expect_context::<Api>();
    let live = expect_context::<Live>();
    let log = Fetched::new(move || {
        live.revision();
        let api = api.clone();
        async move { api.compliance_access_log(ACCESS_ROWS).await }
    });
    let body = move || {
        match log.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
        Some(Ok(page)) if page.entries.is_empty() => {
            view! { <p class="muted">"Nobody has opened or downloaded a record yet."</p> }.into_any()
        }
        Some(Ok(page)) => view! {
            <ul class="access__list">
                {page.entries.into_iter().map(|entry| {
                    let at = entry.at;
                    view! {
                        <li class="access">
                            <span class="access__who">{format!("{} ({})", entry.person_name, labels::role(entry.role))}</span>
                            <span class="access__what">
                                {labels::access(entry.kind)}
                                {entry.phone.map(|phone| view! {
                                    " · "<Link to=Route::ComplianceNumber(phone.clone()) class="access__number">{phone}</Link>
                                })}
                                {entry.detail.map(|detail| format!(" · {detail}"))}
                            </span>
                            <time class="access__when" datetime=at.to_rfc3339()>{move || stamp(at, now.get())}</time>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
        .into_any(),
    }
    };
    view! {
        <section class="card access-log" aria-labelledby="access-title">
            <h3 id="access-title" class="card__title">"Access log"</h3>
            <p class="muted card__intro">"Who opened a conversation or raw evidence, or downloaded a record, newest first. Every such read is logged before it is shown."</p>
            {body}
        </section>
    }
}

/// The list's filters: search, state, advisor, days.
#[component]
pub fn Filters(
    /// What the list is narrowed to.
    filters: ComplianceFilters,
    /// The advisors to choose from.
    #[prop(into)]
    advisors: Signal<Vec<AdvisorSummary>>,
) -> impl IntoView {
    let on_state = move |ev| {
        let value = event_target_value(&ev);
        filters.state.set(
            CONSENT_STATES
                .into_iter()
                .find(|s| consent_param(*s) == value),
        );
    };
    let on_advisor = move |ev| filters.advisor.set(event_target_value(&ev).parse().ok());
    view! {
        <form class="filters" role="search" aria-label="Filter numbers" on:submit=|ev| ev.prevent_default()>
            <div class="field filters__search">
                <label for="filter-q">"Search"</label>
                <input id="filter-q" type="search" placeholder="Name or number" autocomplete="off"
                    prop:value=filters.q on:input=move |ev| filters.q.set(event_target_value(&ev))/>
            </div>
            <div class="field">
                <label for="filter-state">"Consent state"</label>
                <select id="filter-state" on:change=on_state>
                    <option value="" selected=move || filters.state.get().is_none()>"Any state"</option>
                    {CONSENT_STATES.into_iter().map(|s| view! {
                        <option value=consent_param(s) selected=move || filters.state.get() == Some(s)>{consent_label(s)}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="filter-advisor">"Advisor"</label>
                <select id="filter-advisor" on:change=on_advisor>
                    <option value="" selected=move || filters.advisor.get().is_none()>"Any advisor"</option>
                    {move || advisors.get().into_iter().map(|a| {
                        let id = a.id;
                        view! { <option value=id.to_string() selected=move || filters.advisor.get() == Some(id)>{a.name}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="filter-from">"Changed from"</label>
                <input id="filter-from" type="date" prop:value=filters.from
                    on:change=move |ev| filters.from.set(event_target_value(&ev))/>
            </div>
            <div class="field">
                <label for="filter-to">"Changed until"</label>
                <input id="filter-to" type="date" prop:value=filters.to
                    on:change=move |ev| filters.to.set(event_target_value(&ev))/>
            </div>
        </form>
    }
}

/// "Kerry Fisher (Jane Smith), K. Fisher (Sam Rivera)".
pub fn holders_text(number: &NumberSummary) -> String {
    if number.holders.is_empty() {
        return "In no advisor's contacts".to_owned();
    }
    number
        .holders
        .iter()
        .map(|h| format!("{} ({})", h.contact_name, h.advisor_name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One number: link to its timeline, who holds it, state, last change.
#[component]
pub fn NumberRow(
    /// The number shown.
    number: NumberSummary,
    /// The server's clock, for "Today, 09:56 AM".
    #[prop(into)]
    now: Signal<DateTime<Utc>>,
) -> impl IntoView {
    let holders = holders_text(&number);
    let NumberSummary {
        phone,
        display_phone,
        state,
        sms_opted_out,
        updated_at,
        ..
    } = number;
    let updated = move || match updated_at {
        Some(at) => view! {
            <time datetime=at.to_rfc3339()>{format!("Changed {}", stamp(at, now.get()))}</time>
        }
        .into_any(),
        None => view! { <span>"Never asked"</span> }.into_any(),
    };
    view! {
        <li class="number">
            <span class="number__text">
                <Link to=Route::ComplianceNumber(phone) class="number__phone">{display_phone}</Link>
                <span class="number__holders">{holders}</span>
            </span>
            <span class="number__state">
                <ConsentBadge state=state/>
                {sms_opted_out.then(|| view! { <span class="tag">"SMS stopped"</span> })}
            </span>
            <span class="number__updated">{updated}</span>
        </li>
    }
}
