//! A number's evidence bundle (see [`crate::bundle`]): the checkpoint that
//! covers its last event (signed now if none does yet), then the zip,
//! written row by row into an anonymous temporary file on a blocking thread.

use std::io::Seek;

use crate::bundle::{self, BundleError, BundleHeader};
use crate::checkpoints::{public_key_pem, VerifyError};
use crate::error::{AppError, AppResult};
use crate::store::StoreResult;
use crate::AppState;

/// A bundle written whole, ready to be sent.
pub struct BuiltBundle {
    /// The zip, read from its start; deleted when closed.
    pub file: std::fs::File,
    /// Its size in bytes.
    pub length: u64,
}

/// Writes the evidence bundle of `phone` (E.164) of the organization. The
/// file is whole before anything is sent, so a failure is still a JSON error.
pub async fn build(state: &AppState, organization_id: i64, phone: &str) -> AppResult<BuiltBundle> {
    let (first, last) = state
        .store
        .number_seq_range(organization_id, phone)
        .await?
        .ok_or_else(|| AppError::Conflict {
            code: "no_evidence",
            field: None,
            message: "This number has no consent-record event yet: there is nothing to bundle."
                .into(),
        })?;
    let not_anchored = || AppError::Conflict {
        code: "record_not_anchored",
        field: None,
        message: "The consent record no longer leads to its last signed checkpoint, so no \
                  bundle would verify; run verify-chain."
            .into(),
    };
    let signer = &state.checkpoints;
    let checkpoint = signer
        .covering(&state.store, organization_id, last, state.clock.now())
        .await
        .map_err(|e| match e {
            VerifyError::Store(e) => AppError::from(e),
            other => AppError::Internal(other.into()),
        })?
        .ok_or_else(not_anchored)?;
    let signed_seq = checkpoint.checkpoint.seq;
    let time_stamp = signer.time_stamp_of(organization_id, signed_seq).await;
    let header = BundleHeader {
        phone: phone.to_owned(),
        organization_id,
        public_key_pem: public_key_pem(&signer.public_key()),
        made_at: state.clock.now(),
        checkpoint,
        time_stamp,
    };
    let (store, runtime) = (state.store.clone(), tokio::runtime::Handle::current());
    let number = Some(phone.to_owned());
    let written = tokio::task::spawn_blocking(move || {
        let mut file = tempfile::tempfile()?;
        let read_number = || store.evidence_stream(organization_id, number.clone(), Some(last));
        bundle::write(
            &mut file,
            &header,
            opened_when_read(&runtime, read_number),
            opened_when_read(&runtime, read_number),
            opened_when_read(&runtime, || {
                store.chain_links(organization_id, first, signed_seq)
            }),
        )?;
        let length = file.seek(std::io::SeekFrom::End(0))?;
        file.rewind()?;
        Ok(BuiltBundle { file, length })
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?;
    written.map_err(|e| match e {
        BundleError::Store(e) => e.into(),
        BundleError::NotAnchored { .. } => {
            tracing::error!(error = %e, "an evidence bundle was refused");
            not_anchored()
        }
        other => AppError::Internal(other.into()),
    })
}

/// The rows of a query, for a blocking reader, run only once the first row
/// is asked for: a bundle's three reads then hold one connection at a time.
fn opened_when_read<T: Send + 'static>(
    runtime: &tokio::runtime::Handle,
    open: impl FnOnce() -> tokio_stream::wrappers::ReceiverStream<StoreResult<T>>,
) -> impl Iterator<Item = StoreResult<T>> {
    let (runtime, mut open, mut rows) = (runtime.clone(), Some(open), None);
    std::iter::from_fn(move || {
        let rows = rows.get_or_insert_with(|| {
            let _inside = runtime.enter();
            open.take().expect("opened once")().into_inner()
        });
        rows.blocking_recv()
    })
}
