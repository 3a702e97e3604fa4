//! The compliance view's reads, organization-wide (roles `compliance` and
//! `admin`; advisors get 403):
//! - `GET /compliance/numbers?state=&advisor_id=&since=&until=&q=&offset=&limit=`: every number;
//! - `GET /compliance/numbers/{e164}`: a number's summary, consent, events and every message;
//! - `GET /compliance/numbers/{e164}/record?format=jsonl|csv|json`: its consent record;
//! - `GET /compliance/numbers/{e164}/bundle`: its evidence bundle (a zip, see [`crate::bundle`]);
//! - `GET /compliance/events/{id}/raw`: one event's raw evidence;
//! - `GET /compliance/chain`: the hash chain, verified now against the signed checkpoints;
//! - `GET /compliance/advisors`: the organization's people;
//! - `GET /compliance/reviews`: parts of the organization's webhooks kept for review;
//! - `GET /compliance/access-log?phone=&before=&limit=`: who read or exported what;
//! - `GET /compliance/archive?after=&limit=`: the archive feed from a cursor, as a zip of
//!   RFC 5322 messages with `manifest.json` (see `crate::archive`).
//!
//! Reading a number's timeline or raw evidence, and every download, is
//! logged first (see [`log_access`]).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use optin_core::api::{ConsentView, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use optin_core::compliance::{
    AccessLogPage, AdvisorSummary, ChainStatus, NumberPage, NumberSummary, NumberTimeline,
    RawEvidence, TimelineEvent, WebhookReview,
};
use optin_core::vocab::{AccessKind, Mode, Role};
use serde::Deserialize;

use crate::auth::Supervisor;
use crate::bundle::file_name;
use crate::checkpoints::{self, Verdict};
use crate::error::{ApiPath, ApiQuery, AppError, AppResult};
use crate::routes::consent::{record_download, RecordQuery};
use crate::services::evidence_bundle::{self, BuiltBundle};
use crate::services::{log_access, snapshot};
use crate::store::compliance::{NumberFilter, OrganizationNumber};
use crate::store::evidence::EvidenceRow;
use crate::store::messages::ConversationOf;
use crate::store::{parse_name, parse_optional_timestamp, parse_timestamp, StoreError};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/compliance/numbers", get(numbers))
        .route("/compliance/numbers/{phone}", get(timeline))
        .route("/compliance/numbers/{phone}/record", get(record))
        .route("/compliance/numbers/{phone}/bundle", get(bundle))
        .route("/compliance/events/{id}/raw", get(raw))
        .route("/compliance/chain", get(chain))
        .route("/compliance/advisors", get(advisors))
        .route("/compliance/reviews", get(reviews))
        .route("/compliance/access-log", get(access_log))
        .route("/compliance/archive", get(archive))
}

#[derive(Deserialize)]
struct NumberQuery {
    state: Option<String>,
    advisor_id: Option<i64>,
    since: Option<String>,
    until: Option<String>,
    q: Option<String>,
    offset: Option<u64>,
    limit: Option<u32>,
}

fn time_param(field: &'static str, text: Option<&str>) -> AppResult<Option<DateTime<Utc>>> {
    text.filter(|t| !t.is_empty())
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    AppError::invalid(
                        "invalid_time",
                        field,
                        "Give times in RFC 3339, e.g. 2026-12-01T00:00:00Z.",
                    )
                })
        })
        .transpose()
}

fn summary(number: &OrganizationNumber, now: DateTime<Utc>) -> NumberSummary {
    NumberSummary {
        display_phone: optin_core::phone::international(&number.phone),
        state: number.consent.status.view(now),
        sms_opted_out: number.consent.sms_opted_out,
        updated_at: number.updated_at,
        holders: number.holders.clone(),
        phone: number.phone.clone(),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/compliance/numbers",
    tag = "compliance",
    security(("bearer" = [])),
    params(
        ("state" = Option<optin_core::consent::ConsentView>, Query, description = "Only numbers whose consent is shown in this state."),
        ("advisor_id" = Option<i64>, Query, description = "Only numbers this advisor holds."),
        ("since" = Option<String>, Query, description = "RFC 3339: only numbers updated at or after this time."),
        ("until" = Option<String>, Query, description = "RFC 3339: only numbers updated before this time."),
        ("q" = Option<String>, Query, description = "Part of a contact name or number."),
        ("offset" = Option<u64>, Query, description = "Numbers to skip (0 by default)."),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 200 (50 by default)."),
    ),
    responses(
        (status = 200, description = "One page of the organization's numbers matching the filter, with where their consent stands and who holds them.", body = optin_core::compliance::NumberPage),
        (status = 422, description = "An unknown state, a page size outside 1 to 200, or a time not in RFC 3339 (`invalid_state`, `invalid_limit`, `invalid_time`); `field` names which.", body = optin_core::api::ErrorBody),
        (status = 403, description = "The person is an advisor, not compliance or an admin (`compliance_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn numbers(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ApiQuery(query): ApiQuery<NumberQuery>,
) -> AppResult<Json<NumberPage>> {
    let wanted: Option<ConsentView> = query
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| {
                AppError::invalid(
                    "invalid_state",
                    "state",
                    "Filter by one of: none, sending, pending, expired, failed, no_whatsapp, opted_in, opted_out.",
                )
            })
        })
        .transpose()?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(AppError::invalid(
            "invalid_limit",
            "limit",
            format!("A page holds 1 to {MAX_PAGE_SIZE} numbers."),
        ));
    }
    let filter = NumberFilter {
        advisor_id: query.advisor_id,
        text: query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()),
        since: time_param("since", query.since.as_deref())?,
        until: time_param("until", query.until.as_deref())?,
    };
    let now = state.clock.now();
    let matching: Vec<NumberSummary> = state
        .store
        .organization_numbers(me.organization_id, &filter)
        .await?
        .iter()
        .map(|number| summary(number, now))
        .filter(|number| wanted.is_none_or(|w| number.state == w))
        .collect();
    let total = matching.len() as u64;
    let offset = query.offset.unwrap_or(0);
    let numbers: Vec<NumberSummary> = matching
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(limit as usize)
        .collect();
    let end = offset + numbers.len() as u64;
    Ok(Json(NumberPage {
        numbers,
        total,
        offset,
        next_offset: (end < total).then_some(end),
    }))
}

/// The organization's number named in the path, or 404.
async fn organization_number(
    state: &AppState,
    organization_id: i64,
    phone: &str,
) -> AppResult<OrganizationNumber> {
    let filter = NumberFilter {
        text: Some(phone),
        ..NumberFilter::default()
    };
    state
        .store
        .organization_numbers(organization_id, &filter)
        .await?
        .into_iter()
        .find(|number| number.phone == phone)
        .ok_or(AppError::NotFound("That number"))
}

fn timeline_event(
    row: &EvidenceRow,
    people: &std::collections::HashMap<i64, (String, Role)>,
    database_mode: Mode,
) -> Result<TimelineEvent, StoreError> {
    let what = format!("consent event {}", row.id);
    let person = row.advisor_id.and_then(|id| people.get(&id));
    let detail: serde_json::Value =
        serde_json::from_str(&row.detail_json).map_err(|e| StoreError::Corrupt {
            what: what.clone(),
            problem: e.to_string(),
        })?;
    let text = ["rendered_text", "text", "body"]
        .iter()
        .find_map(|key| detail.get(key).and_then(|v| v.as_str()))
        .map(str::to_owned);
    Ok(TimelineEvent {
        id: row.id,
        seq: row.seq,
        kind: parse_name(&what, &row.kind)?,
        cause: parse_name(&what, &row.cause)?,
        state_after: row
            .state_after
            .as_deref()
            .map(|s| parse_name(&what, s))
            .transpose()?,
        advisor_name: person.map(|(name, _)| name.clone()),
        advisor_role: person.map(|&(_, role)| role),
        received_at: parse_timestamp(&what, &row.received_at)?,
        provider_time: parse_optional_timestamp(&what, row.provider_time.as_deref())?,
        text,
        detail,
        has_raw: row.raw_body.is_some(),
        signature_valid: row.signature_valid,
        // Steps recorded before modes were kept are in the database's mode.
        mode: match row.mode.as_deref() {
            Some(mode) => parse_name(&what, mode)?,
            None => database_mode,
        },
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/compliance/numbers/{phone}",
    tag = "compliance",
    security(("bearer" = [])),
    params(
        ("phone" = String, Path, description = "The number in E.164 (`+` escaped as `%2B`)."),
    ),
    responses(
        (status = 200, description = "The number's summary, consent, every consent-record step and every message with it (any advisor, both channels).", body = optin_core::compliance::NumberTimeline),
        (status = 404, description = "The organization neither holds nor has consent of the number (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 403, description = "The person is an advisor, not compliance or an admin (`compliance_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn timeline(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ApiPath(phone): ApiPath<String>,
) -> AppResult<Json<NumberTimeline>> {
    let number = organization_number(&state, me.organization_id, &phone).await?;
    log_access(
        &state,
        &me,
        AccessKind::ConversationViewed,
        Some(&phone),
        None,
    )
    .await?;
    let now = state.clock.now();
    let people = state.store.people(me.organization_id).await?;
    let events = state
        .store
        .evidence(me.organization_id, Some(&phone))
        .await?
        .iter()
        .map(|row| timeline_event(row, &people, state.store.mode()))
        .collect::<Result<Vec<_>, _>>()?;
    let messages = state
        .store
        .conversation(me.organization_id, &phone, ConversationOf::Everyone)
        .await?;
    let mut snapshot = snapshot(&phone, &number.consent, now);
    crate::services::revocation::annotate(&state, me.organization_id, &mut snapshot).await?;
    Ok(Json(NumberTimeline {
        summary: summary(&number, now),
        snapshot,
        events,
        messages,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/compliance/numbers/{phone}/record",
    tag = "compliance",
    security(("bearer" = [])),
    params(
        ("phone" = String, Path, description = "The number in E.164 (`+` escaped as `%2B`)."),
        ("format" = Option<String>, Query, description = "`json` (default), `jsonl` or `csv`."),
    ),
    responses(
        (status = 200, description = "Every consent-record event about the number: JSON array, JSON lines or CSV as `format` asks (JSON lines and CSV as attachments).", content(
            (Vec<crate::store::evidence::EvidenceRow> = "application/json"),
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        (status = 404, description = "The organization neither holds nor has consent of the number (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 422, description = "An unknown `format` (`invalid_format`).", body = optin_core::api::ErrorBody),
        (status = 403, description = "The person is an advisor, not compliance or an admin (`compliance_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn record(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ApiPath(phone): ApiPath<String>,
    ApiQuery(query): ApiQuery<RecordQuery>,
) -> AppResult<Response> {
    organization_number(&state, me.organization_id, &phone).await?;
    record_download(&state, &me, Some(&phone), &query).await
}

#[utoipa::path(
    get,
    path = "/api/v1/compliance/numbers/{phone}/bundle",
    description = "The number's evidence bundle, one zip: its consent record as JSON lines, the raw webhook bodies with their signature headers (and SMS signed URLs), the exact text each event's hash covers, the organization's chain links from the number's first event to the signed checkpoint that covers its last (signed now if none does yet), that checkpoint and its signature, the public key, `SHA256SUMS`, and `VERIFY.md` saying how to check it with sha256sum and openssl alone, or with `optin-server verify-bundle`.",
    tag = "compliance",
    security(("bearer" = [])),
    params(
        ("phone" = String, Path, description = "The number in E.164 (`+` escaped as `%2B`)."),
    ),
    responses(
        (status = 200, description = "The bundle, as an attachment `evidence-bundle-<digits>.zip` (binary: in OpenAPI 3.1 a string of the content type).", content_type = "application/zip", body = String),
        (status = 404, description = "The organization neither holds nor has consent of the number (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 409, description = "The number has no consent-record event yet (`no_evidence`), or the record no longer leads to its signed checkpoint, so no bundle would verify (`record_not_anchored`: run verify-chain).", body = optin_core::api::ErrorBody),
        (status = 403, description = "The person is an advisor, not compliance or an admin (`compliance_role_required`).", body = optin_core::api::ErrorBody),
        (status = 503, description = "Other downloads are being prepared (`exports_busy`); `Retry-After` in seconds.", body = optin_core::api::ErrorBody),
    ),
)]
async fn bundle(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ApiPath(phone): ApiPath<String>,
) -> AppResult<Response> {
    let organization_id = me.organization_id;
    organization_number(&state, organization_id, &phone).await?;
    let permit = state.limits.export_permit()?;
    let BuiltBundle { file, length } =
        evidence_bundle::build(&state, organization_id, &phone).await?;
    // Logged once the bundle exists (a refused one was not downloaded), before it is served.
    log_access(
        &state,
        &me,
        AccessKind::BundleDownloaded,
        Some(&phone),
        None,
    )
    .await?;
    let chunks = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    // The download keeps its place among the exports until it is sent (or dropped).
    let body = futures_util::StreamExt::map(chunks, move |chunk| {
        let _ = &permit;
        chunk
    });
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    let disposition = format!("attachment; filename=\"{}\"", file_name(&phone));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(|e| AppError::Internal(e.into()))?,
    );
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/api/v1/compliance/events/{id}/raw",
    tag = "compliance",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Consent event id.")),
    responses(
        (status = 200, description = "The event's evidence as stored: the provider's raw body with its signature header (and, for SMS, the signed URL), the detail and the hash links.", body = optin_core::compliance::RawEvidence),
        (status = 404, description = "No such event in the organization's record (`not_found`).", body = optin_core::api::ErrorBody),
        (status = 403, description = "The person is an advisor, not compliance or an admin (`compliance_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn raw(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<RawEvidence>> {
    let row = state
        .store
        .evidence_event(me.organization_id, id)
        .await?
        .ok_or(AppError::NotFound("That event"))?;
    let step = format!("step #{} ({})", row.seq, row.kind);
    log_access(
        &state,
        &me,
        AccessKind::RawEvidenceViewed,
        Some(&row.phone_e164),
        Some(step),
    )
    .await?;
    let detail = serde_json::from_str(&row.detail_json).map_err(|e| StoreError::Corrupt {
        what: format!("consent event {id}"),
        problem: e.to_string(),
    })?;
    Ok(Json(RawEvidence {
        id: row.id,
        raw_body: row.raw_body,
        signature_header: row.signature_header,
        signed_url: row.signed_url,
        detail,
        prev_hash: row.prev_hash,
        hash: row.hash,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/compliance/chain",
    tag = "compliance",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The organization's hash chain, verified now; where it breaks, if it does.", body = optin_core::compliance::ChainStatus),
        (status = 403, description = "The person is an advisor, not compliance or an admin (`compliance_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn chain(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
) -> AppResult<Json<ChainStatus>> {
    let checked_at = state.clock.now();
    let signer = &state.checkpoints;
    let verdict = checkpoints::verify(
        &state.store,
        signer.witness(),
        Some(&signer.public_key()),
        me.organization_id,
    )
    .await
    .map_err(|e| match e {
        checkpoints::VerifyError::Store(e) => AppError::from(e),
        other => AppError::Internal(other.into()),
    })?;
    let status = match verdict {
        Verdict::Intact { events, .. } => ChainStatus {
            intact: true,
            events,
            checked_at,
            broken_at_seq: None,
            reason: None,
        },
        Verdict::Broken(broken) => ChainStatus {
            intact: false,
            events: u64::try_from(broken.seq - 1).unwrap_or(0),
            checked_at,
            broken_at_seq: Some(broken.seq),
            reason: Some(broken.fault.to_string()),
        },
        Verdict::Witness(fault) => ChainStatus {
            intact: false,
            events: 0,
            checked_at,
            broken_at_seq: None,
            reason: Some(format!("a checkpoint cannot be trusted: {fault}")),
        },
    };
    Ok(Json(status))
}

#[utoipa::path(
    get,
    path = "/api/v1/compliance/advisors",
    tag = "compliance",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The organization's people (advisors, compliance, admins), disabled ones included, by name.", body = Vec<optin_core::compliance::AdvisorSummary>),
        (status = 403, description = "The person is an advisor, not compliance or an admin (`compliance_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn advisors(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
) -> AppResult<Json<Vec<AdvisorSummary>>> {
    Ok(Json(state.store.advisors(me.organization_id).await?))
}

/// Most kept parts listed at once.
const MAX_REVIEWS: u32 = 200;

#[utoipa::path(
    get,
    path = "/api/v1/compliance/reviews",
    tag = "compliance",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Parts of the organization's validly signed webhooks that were not understood (acknowledged, kept raw with the reason): open ones first, newest first, at most 200. Parts whose organization could not be told are the operator's (CLI).", body = Vec<optin_core::compliance::WebhookReview>),
        (status = 403, description = "The person is an advisor, not compliance or an admin (`compliance_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn reviews(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
) -> AppResult<Json<Vec<WebhookReview>>> {
    Ok(Json(
        state
            .store
            .organization_reviews(me.organization_id, MAX_REVIEWS)
            .await?,
    ))
}

#[derive(Deserialize)]
struct AccessLogQuery {
    phone: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

#[derive(Deserialize)]
struct ArchiveQuery {
    after: Option<i64>,
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/compliance/access-log",
    tag = "compliance",
    security(("bearer" = [])),
    params(
        ("phone" = Option<String>, Query, description = "Only accesses to this number (E.164)."),
        ("before" = Option<i64>, Query, description = "Only entries older than this entry id (the previous page's `next_before`)."),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 200 (50 by default)."),
    ),
    responses(
        (status = 200, description = "Who opened a conversation or raw evidence, or downloaded a record, bundle or archive: newest first.", body = optin_core::compliance::AccessLogPage),
        (status = 422, description = "A page size outside 1 to 200 (`invalid_limit`).", body = optin_core::api::ErrorBody),
        (status = 403, description = "The person is an advisor, not compliance or an admin (`compliance_role_required`).", body = optin_core::api::ErrorBody),
    ),
)]
async fn access_log(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ApiQuery(query): ApiQuery<AccessLogQuery>,
) -> AppResult<Json<AccessLogPage>> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(AppError::invalid(
            "invalid_limit",
            "limit",
            format!("A page holds 1 to {MAX_PAGE_SIZE} entries."),
        ));
    }
    let phone = query.phone.as_deref().filter(|p| !p.is_empty());
    let entries = state
        .store
        .access_log(me.organization_id, phone, query.before, limit)
        .await?;
    let next_before = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(AccessLogPage {
        entries,
        next_before,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/compliance/archive",
    tag = "compliance",
    security(("bearer" = [])),
    params(
        ("after" = Option<i64>, Query, description = "The cursor to export after: 0 (the default) for the first item, else a manifest's `to_cursor`."),
        ("limit" = Option<u32>, Query, description = "Most items, 1 to 1000 (500 by default); `more` in the manifest says whether others wait."),
    ),
    responses(
        (status = 200, description = "A zip of the organization's archive items after the cursor, one RFC 5322 message (`.eml`) each, in feed order, with `manifest.json` (`ArchiveManifest`: cursors, counts, each file's SHA-256). `X-Archive-Next-Cursor` repeats `to_cursor`.", content((String = "application/zip"))),
        (status = 422, description = "A negative cursor or a limit outside 1 to 1000 (`invalid_cursor`, `invalid_limit`).", body = optin_core::api::ErrorBody),
        (status = 403, description = "The person is an advisor, not compliance or an admin (`compliance_role_required`).", body = optin_core::api::ErrorBody),
        (status = 503, description = "Other downloads are running (`exports_busy`); `Retry-After` in seconds.", body = optin_core::api::ErrorBody),
    ),
)]
async fn archive(
    State(state): State<AppState>,
    Supervisor(me): Supervisor,
    ApiQuery(query): ApiQuery<ArchiveQuery>,
) -> AppResult<Response> {
    use optin_core::archive::{DEFAULT_EXPORT_ITEMS, MAX_EXPORT_ITEMS};

    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(AppError::invalid(
            "invalid_cursor",
            "after",
            "A cursor is 0 or a manifest's to_cursor.",
        ));
    }
    let limit = query.limit.unwrap_or(DEFAULT_EXPORT_ITEMS);
    if !(1..=MAX_EXPORT_ITEMS).contains(&limit) {
        return Err(AppError::invalid(
            "invalid_limit",
            "limit",
            format!("An export holds 1 to {MAX_EXPORT_ITEMS} items."),
        ));
    }
    // The zip is built in memory (bounded by the limit): it shares the
    // downloads' budget.
    let _permit = state.limits.export_permit()?;
    let export = crate::archive::export(
        &state.store,
        me.organization_id,
        after,
        limit,
        &state.config.archive.domain,
    )
    .await?;
    let to_cursor = export.manifest.to_cursor;
    // Logged once the zip exists, before it is served.
    log_access(
        &state,
        &me,
        AccessKind::ArchiveExported,
        None,
        Some(format!(
            "archive items {} to {to_cursor}",
            after.saturating_add(1)
        )),
    )
    .await?;
    let disposition = format!(
        "attachment; filename=\"archive-org-{}-after-{after}.zip\"",
        me.organization_id
    );
    let mut response = export.zip.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).expect("digits and dashes"),
    );
    headers.insert("x-archive-next-cursor", HeaderValue::from(to_cursor));
    Ok(response)
}
