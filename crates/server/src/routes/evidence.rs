//! What anyone needs to check the consent record's evidence (public, no
//! token: it proves nothing by itself and hides nothing):
//! - `GET /evidence/public-key`: the Ed25519 key that signs the record's
//!   checkpoints (see `crate::checkpoints`), as PEM (SPKI).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::checkpoints::public_key_pem;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/evidence/public-key", get(public_key))
}

#[utoipa::path(
    get,
    path = "/api/v1/evidence/public-key",
    tag = "public",
    responses((
        status = 200,
        description = "The Ed25519 public key that verifies the checkpoints in the witness, \
            as PEM (SPKI): `openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in message -sigfile signature`.",
        content_type = "application/x-pem-file",
        body = String,
    )),
)]
pub(crate) async fn public_key(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        public_key_pem(&state.checkpoints.public_key()),
    )
}
