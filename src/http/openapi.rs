//! `GET /openapi.json`: the API described with utoipa. The shapes of
//! bodies live beside their handlers; this module only gathers them.

use super::ApiContext;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

pub fn router() -> Router<ApiContext> {
    Router::new().route("/openapi.json", get(openapi_json))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "medaid", description = "One-stop settlement (一站式结算) for medical aid: the claim and the answer in docs/claims-and-answers.md."),
    paths(
        super::settlements::settle,
        super::settlements::preview,
        super::settlements::read,
        super::settlements::list::list,
        super::settlements::cancel,
        super::settlements::reverse::reverse,
        super::settlements::slip::slip,
        super::settlements::nhsa::nhsa_settle,
        super::settlements::nhsa::nhsa_preview,
        super::persons::accumulators,
        super::recon::status,
        super::recon::statement,
        super::recon::details,
        super::recon::clearing,
        super::recon::disbursement,
        super::recon::ledger,
        super::recon::check_totals,
        super::recon::check_details,
        super::recon::close,
        super::recon::reopen,
        super::recon::roster_match,
        super::recon::resettle_preview,
        super::recon::resettle_confirm,
        super::simulations::simulate,
        crate::http::console::api::upload_policy,
        crate::http::console::api::simulation,
        super::health::healthz,
        super::health::readyz,
        super::access::list,
        super::health::metrics,
    ),
    modifiers(&SecurityAddon, &ErrorsAddon),
    tags(
        (name = "settlements", description = "Settle, preview, read, list, cancel; the slip"),
        (name = "persons", description = "Annual accumulators"),
        (name = "reconciliation", description = "The medical-aid centre's month: statements, checks, clearing, ledgers, close; roster matching and 应退应补"),
        (name = "simulations", description = "Funding-gap simulation on the stored claims (admin)"),
        (name = "policies", description = "Upload a policy, in force from its effective_from without a restart (admin)"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("API key: mdk_…"))
                    .build(),
            ),
        );
    }
}

/// Every operation lists every status it can answer, each with an
/// example: 401 for operations behind a key, 503 where the database may be
/// busy, 500 everywhere; a problem document's example where none is given.
struct ErrorsAddon;

/// An example problem document for `status`.
fn problem_example(status: u16) -> serde_json::Value {
    use serde_json::json;
    let (title, detail, errors) = match status {
        400 => ("Bad request", None, json!([{"path": "from", "message": "expected a date YYYY-MM-DD, found \"2017-13-01\""}])),
        401 => ("Unauthorized", None, json!([{"path": "Authorization", "message": "invalid API key"}])),
        403 => ("Forbidden", Some("only a hospital key may do this; this key's role is centre"), json!([])),
        404 => ("Not found", Some("no settlement \"6f1c…\""), json!([])),
        409 => ("Claim id already used", Some("a different claim was already settled under this claim id (settlement 6f1c…)"), json!([{"path": "claim_id", "message": "already used for a different claim; send the same claim to retry, or use a new claim id"}])),
        413 => ("Request body too large", None, json!([{"path": "", "message": "the body must not exceed 4194304 bytes"}])),
        415 => ("Unsupported media type", None, json!([{"path": "Content-Type", "message": "\"text/csv\": send application/json or application/xml"}])),
        422 => ("Invalid claim", Some("items[1].amount: negative amount -2400.00"), json!([{"path": "items[1].amount", "message": "negative amount -2400.00"}])),
        503 => ("Busy, try again", Some("the database was too busy to answer in time; nothing was written, and the same request may be sent again"), json!([])),
        _ => ("Internal error", None, json!([])),
    };
    let mut v = json!({"type": "about:blank", "title": title, "status": status, "errors": errors});
    if let Some(d) = detail {
        v["detail"] = json!(d);
    }
    v
}

impl Modify for ErrorsAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let problem = |status: u16, description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .example(Some(problem_example(status)))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.delete.as_mut(),
            ];
            for op in ops.into_iter().flatten() {
                let national = path.starts_with("/v1/nhsa/");
                let keyed = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let r = &mut op.responses.responses;
                if !national {
                    if keyed {
                        r.entry("401".into())
                            .or_insert_with(|| problem(401, "No or bad API key"));
                        r.entry("503".into()).or_insert_with(|| {
                            problem(503, "The database was busy: nothing written, send again")
                        });
                    }
                    r.entry("500".into())
                        .or_insert_with(|| problem(500, "Internal error (logged; no detail)"));
                }
                // Examples for the problem documents listed by the handlers.
                for (code, resp) in r.iter_mut() {
                    let Ok(status) = code.parse::<u16>() else {
                        continue;
                    };
                    if status < 400 {
                        continue;
                    }
                    if let RefOr::T(resp) = resp {
                        if let Some(c) = resp.content.get_mut("application/problem+json") {
                            if c.example.is_none() {
                                c.example = Some(problem_example(status));
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn openapi_json() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(body) => {
            let mut resp = (StatusCode::OK, body).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "openapi does not serialize");
            super::error::ApiError::internal().into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_lists_its_errors_with_examples() {
        let spec = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let paths = spec["paths"].as_object().unwrap();
        let mut operations = 0;
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                let keyed = op
                    .get("security")
                    .and_then(|s| s.as_array())
                    .is_some_and(|s| !s.is_empty());
                if !path.starts_with("/v1/nhsa/") {
                    assert!(responses.contains_key("500"), "{method} {path}: no 500");
                    if keyed {
                        for s in ["401", "503"] {
                            assert!(responses.contains_key(s), "{method} {path}: no {s}");
                        }
                    }
                }
                for (status, r) in responses {
                    if status.as_str() < "400" {
                        continue;
                    }
                    for (media, c) in r["content"].as_object().into_iter().flatten() {
                        assert!(
                            c.get("example").is_some_and(|e| !e.is_null())
                                || c["schema"].get("$ref").is_some(),
                            "{method} {path} {status} {media}: no example"
                        );
                    }
                }
                operations += 1;
            }
        }
        assert!(operations > 20);
        let schemas = &spec["components"]["schemas"];
        for s in [
            "ClaimDoc",
            "AnswerDoc",
            "NhsaRequestDoc",
            "Nhsa2304Doc",
            "NhsaErrorDoc",
        ] {
            assert!(!schemas[s]["example"].is_null(), "{s} has no example");
        }
    }
}
