//! The machine side of what the console does (admin keys): upload a policy
//! (`POST /v1/policies`) and read a kept simulation run
//! (`GET /v1/simulations/{id}`).

use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::{json_response, read_text, ApiContext};
use crate::service::keys::Role;
use crate::storage::console::Actor;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/v1/policies", post(upload_policy))
        .route("/v1/simulations/{id}", get(simulation))
}

fn admin_only(caller: &Caller) -> Result<(), ApiError> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "only an admin key may do this; this key's role is {}",
            caller.role.name()
        )))
    }
}

/// An admin key, as the audit log names it.
fn key_actor() -> Actor {
    Actor {
        user_id: None,
        login: "api:admin".into(),
        name: "管理员接口密钥".into(),
    }
}

/// `POST /v1/policies`: the body is a policy file (TOML). 201 with its id
/// and hash when it is new, 200 when that text was loaded already, 422
/// with every error (path, line, message) otherwise.
#[utoipa::path(post, path = "/v1/policies", tag = "policies",
    request_body(content = String, content_type = "application/toml", description = "A policy file (docs/policy-language.md)"),
    responses(
        (status = 201, description = "Stored by hash and in force from its effective_from: {id, hash, effective_from, new, warnings}"),
        (status = 200, description = "This very text was uploaded before"),
        (status = 403, description = "Not an admin key", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Every error of the policy: errors[].path and the line in errors[].message; nothing stored", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn upload_policy(
    State(ctx): State<ApiContext>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    admin_only(&caller)?;
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media != "application/toml" && media != "text/toml" {
        return Err(
            ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type").field(
                "Content-Type",
                format!("{media:?}: send application/toml (a policy file)"),
            ),
        );
    }
    let text = read_text(body).await?;
    match ctx
        .service
        .upload_policy(&text, "request body", &key_actor())
        .await
    {
        Ok(up) => Ok(json_response(
            if up.new {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            &json!({
                "id": up.id,
                "hash": up.hash,
                "effective_from": up.effective_from,
                "new": up.new,
                "warnings": up.warnings,
            }),
        )),
        Err(refused) => {
            let mut e =
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid policy").detail(format!(
                    "{} error{} in the policy",
                    refused.errors.len(),
                    if refused.errors.len() == 1 { "" } else { "s" }
                ));
            for x in &refused.errors {
                e = e.field(
                    x.path.clone(),
                    match x.line {
                        Some(l) => format!("line {l}: {}", x.message),
                        None => x.message.clone(),
                    },
                );
            }
            Err(e)
        }
    }
}

/// `GET /v1/simulations/{id}`: a kept run's report (JSON).
#[utoipa::path(get, path = "/v1/simulations/{id}", tag = "simulations",
    params(("id" = String, Path, description = "run id (the console's 测算 page)")),
    responses(
        (status = 200, description = "{id, created_at, created_by, title, request, report}: the request as sent and the simulation report"),
        (status = 403, description = "Not an admin key", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn simulation(
    State(ctx): State<ApiContext>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    admin_only(&caller)?;
    let run = ctx
        .service
        .db
        .simulation_run(&id)
        .await
        .map_err(crate::service::ServiceError::from)?
        .ok_or_else(|| ApiError::not_found().detail(format!("no simulation {id:?}")))?;
    let body = format!(
        "{{\"id\":{},\"created_at\":{},\"created_by\":{},\"title\":{},\"request\":{},\"report\":{}}}",
        json!(run.id),
        json!(run.created_at),
        json!(run.created_by),
        json!(run.title),
        run.request,
        run.report
    );
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
