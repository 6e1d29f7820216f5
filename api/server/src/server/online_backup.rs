//! `POST /admin/backup`: an online backup of a running server (admin only).
//!
//! sled locks its directory, so a running store can only be copied through its open
//! handle: the copy is consistent as of the log head when the request arrives, while
//! writes go on. Body: `{"outDir": "/path/to/new/dir"}` (absent or empty directory).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use opsledger_storage::backup::{backup_from, TransferError};
use opsledger_storage::export::hex;
use serde::Deserialize;

use super::caller::Caller;
use super::AppState;
use crate::app::Operation;
use crate::error::{error_body, ApiError};

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupRequest {
    /// Directory to write the backup into (must be absent or empty).
    pub out_dir: std::path::PathBuf,
}

fn refuse(status: StatusCode, err: &ApiError) -> Response {
    (status, Json(error_body(err))).into_response()
}

/// The handler: authenticate an admin, copy the log, answer with where it is consistent as of.
pub async fn admin_backup(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Response {
    let who = match caller.authorize(Operation::OnlineBackup) {
        Ok(who) => who,
        Err((status, err)) => return refuse(status, &err),
    };
    let request: BackupRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &ApiError::validation("outDir", format!("expected {{\"outDir\": \"...\"}}: {e}")),
            )
        }
    };
    match backup_from(state.store().as_ref(), &request.out_dir, &mut |_, _| {}).await {
        Ok(report) => {
            tracing::info!(out = %request.out_dir.display(), events = report.events, by = %who.actor, "online backup written");
            (
                StatusCode::OK,
                Json(serde_json::json!({
                    "outDir": request.out_dir.display().to_string(),
                    "events": report.events,
                    "lastPosition": report.last_position,
                    "lastHash": hex(&report.last_hash),
                })),
            )
                .into_response()
        }
        Err(TransferError::TargetNotEmpty(path)) => refuse(
            StatusCode::CONFLICT,
            &ApiError::Conflict {
                detail: format!("{} is not empty", path.display()),
            },
        ),
        Err(err) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &ApiError::internal(err)),
    }
}
