//! The web console (工作台): server-rendered pages in Chinese for
//! the medical-aid centre and administrators, served by `medaid serve`
//! under `/console`.
//!
//! Staff log in with named accounts (`medaid users create`); API keys do
//! not open any page. A session is an HttpOnly, SameSite=Strict cookie;
//! every form carries the session's CSRF token and every POST checks it.
//! Pages are [maud] templates (checked at compile time); a vendored htmx
//! (served from the binary) only enhances them — every page and form works
//! without JavaScript. Handlers call the service layer, never SQL.

pub mod admin;
pub mod api;
pub mod home;
pub mod layout;
pub mod months;
pub mod policies;
pub mod registry;
pub mod settlements;
pub mod simulations;

use crate::http::ApiContext;
use crate::service::console::{Session, StaffRole};
use crate::service::ServiceError;
use axum::extract::{FromRequestParts, Multipart};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::Markup;
use std::collections::HashMap;
use subtle::ConstantTimeEq;

/// The session cookie.
pub const COOKIE: &str = "medaid_console";
/// The login form's CSRF cookie (before there is a session).
pub const LOGIN_COOKIE: &str = "medaid_login";

pub fn router() -> Router<ApiContext> {
    Router::new()
        .route("/console", get(home::page))
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .route("/console/login", get(home::login_page).post(home::login))
        .route("/console/logout", post(home::logout))
        .route("/console/budget", post(home::set_budget))
        .route("/console/assets/{name}", get(asset))
        // Pages that are not the console's (the slip) make browsers ask.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/console/persons", get(registry::search))
        .route("/console/persons/{id}", get(registry::person))
        .route(
            "/console/registry/import",
            get(registry::import_form).post(registry::import_check),
        )
        .route(
            "/console/registry/import/confirm",
            post(registry::import_confirm),
        )
        .route("/console/registry/resettle", post(registry::resettle))
        .route("/console/settlements", get(settlements::list))
        .route("/console/settlements/{id}", get(settlements::detail))
        .route("/console/settlements/{id}/slip", get(settlements::slip))
        .route("/console/months", get(months::page))
        .route("/console/months/{month}/close", post(months::close))
        .route("/console/months/{month}/reopen", post(months::reopen))
        .route("/console/months/{month}/check", post(months::check))
        .route("/console/months/{month}/file/{kind}", get(months::file))
        .route("/console/policies", get(policies::list))
        .route("/console/policies/diff", get(policies::diff))
        .route("/console/policies/upload", post(policies::upload))
        .route("/console/policies/{hash}", get(policies::show))
        .route(
            "/console/simulations",
            get(simulations::page).post(simulations::run),
        )
        .route("/console/simulations/{id}", get(simulations::show))
        .route(
            "/console/simulations/{id}/report",
            get(simulations::report_html),
        )
        .route(
            "/console/admin/users",
            get(admin::users).post(admin::users_post),
        )
        .route(
            "/console/admin/keys",
            get(admin::keys).post(admin::keys_post),
        )
        .route("/console/admin/audit", get(admin::audit))
        .merge(api::router())
}

/// Static files built into the binary.
async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, ty): (&'static [u8], &str) = match name.as_str() {
        "htmx.min.js" => (
            include_bytes!("assets/htmx.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "console.css" => (
            include_bytes!("assets/console.css"),
            "text/css; charset=utf-8",
        ),
        "console.js" => (
            include_bytes!("assets/console.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, ty),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// A cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the request came over HTTPS (directly or via a proxy that
/// says so): cookies are then `Secure`.
pub fn secure(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict");
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A console page or an error page, as a response with the console's
/// security headers.
pub fn html(status: StatusCode, m: Markup) -> Response {
    let mut r = (status, m.into_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'self'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    r
}

/// Why a console request failed: shown as a page.
#[derive(Debug)]
pub enum PageError {
    /// Not logged in: to the login page.
    Login(String),
    /// Logged in, but not an administrator.
    Forbidden,
    /// The form's CSRF token is missing or wrong.
    Csrf,
    NotFound(String),
    BadRequest(String),
    Internal,
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound => PageError::NotFound("没有找到".into()),
            ServiceError::Invalid(f) => PageError::BadRequest(
                f.iter()
                    .map(|x| format!("{}：{}", x.path, x.message))
                    .collect::<Vec<_>>()
                    .join("；"),
            ),
            ServiceError::Unreadable(f) | ServiceError::Forbidden(f) => {
                PageError::BadRequest(f.message)
            }
            e => {
                tracing::error!(error = %e, "console request failed");
                PageError::Internal
            }
        }
    }
}

impl From<crate::storage::StorageError> for PageError {
    fn from(e: crate::storage::StorageError) -> Self {
        ServiceError::from(e).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            PageError::Login(next) => {
                let to = format!("/console/login?next={}", urlencode(&next));
                return Redirect::to(&to).into_response();
            }
            PageError::Forbidden => (
                StatusCode::FORBIDDEN,
                "无权访问",
                "此页面仅限管理员使用。".to_string(),
            ),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "请求已失效",
                "表单已过期或来源不明，请返回上一页刷新后重试。".to_string(),
            ),
            PageError::NotFound(t) => (StatusCode::NOT_FOUND, "没有找到", t),
            PageError::BadRequest(t) => (StatusCode::BAD_REQUEST, "请求有误", t),
            PageError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "服务出错",
                "处理请求时出错，详情见服务日志。".to_string(),
            ),
        };
        html(status, layout::bare(title, &text))
    }
}

/// Percent-encode for a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The logged-in staff member of a console request (any role).
#[derive(Debug, Clone)]
pub struct Staff(pub Session);

/// The logged-in staff member, who must be an administrator.
#[derive(Debug, Clone)]
pub struct Admin(pub Session);

impl FromRequestParts<ApiContext> for Staff {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &ApiContext,
    ) -> Result<Self, Self::Rejection> {
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/console".into());
        let next = if parts.method == axum::http::Method::GET {
            next
        } else {
            "/console".into()
        };
        let Some(token) = cookie(&parts.headers, COOKIE) else {
            return Err(PageError::Login(next));
        };
        match ctx.service.session(token).await? {
            Some(s) => Ok(Staff(s)),
            None => Err(PageError::Login(next)),
        }
    }
}

impl FromRequestParts<ApiContext> for Admin {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &ApiContext,
    ) -> Result<Self, Self::Rejection> {
        let Staff(s) = Staff::from_request_parts(parts, ctx).await?;
        if s.staff.role == StaffRole::Admin {
            Ok(Admin(s))
        } else {
            Err(PageError::Forbidden)
        }
    }
}

/// Check a form's CSRF token against the session's.
pub fn check_csrf(s: &Session, token: Option<&str>) -> Result<(), PageError> {
    match token {
        Some(t) if bool::from(t.as_bytes().ct_eq(s.csrf.as_bytes())) => Ok(()),
        _ => {
            tracing::warn!(user = %s.staff.login, "console form without a valid CSRF token");
            Err(PageError::Csrf)
        }
    }
}

/// The fields of a multipart form: text fields, and files as
/// (file name, text).
#[derive(Debug, Default)]
pub struct Upload {
    pub fields: HashMap<String, String>,
    pub files: HashMap<String, (String, String)>,
}

impl Upload {
    pub async fn read(mut m: Multipart) -> Result<Upload, PageError> {
        let mut u = Upload::default();
        while let Some(field) = m
            .next_field()
            .await
            .map_err(|e| PageError::BadRequest(format!("表单无法读取：{e}")))?
        {
            let name = field.name().unwrap_or("").to_string();
            let file = field.file_name().map(str::to_string);
            let bytes = field
                .bytes()
                .await
                .map_err(|e| PageError::BadRequest(format!("表单无法读取：{e}")))?;
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| PageError::BadRequest("文件应为 UTF-8 文本".into()))?;
            match file {
                Some(f) => {
                    u.files.insert(name, (f, text));
                }
                None => {
                    u.fields.insert(name, text);
                }
            }
        }
        Ok(u)
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// A file's (name, text), when one was chosen and is not empty.
    pub fn file(&self, name: &str) -> Option<(&str, &str)> {
        self.files
            .get(name)
            .filter(|(n, t)| !n.is_empty() || !t.is_empty())
            .map(|(n, t)| (n.as_str(), t.as_str()))
    }
}

/// Yuan with two decimals from fen.
pub fn yuan(fen: i64) -> String {
    crate::money::fmt2(crate::money::from_fen(fen))
}

/// A hospital's name, from the directory (the code when unknown).
pub fn hospital_name(hs: &[crate::storage::Hospital], code: &str) -> String {
    hs.iter()
        .find(|h| h.code == code)
        .map_or(code.to_string(), |h| h.name.clone())
}

/// A category's label from the loaded policies (the id when none names
/// it; "参保" for the insured-only marker).
pub fn category_label(ctx: &ApiContext, id: &str) -> String {
    if id.is_empty() {
        return "参保（无救助类别）".into();
    }
    ctx.service
        .policies
        .iter()
        .flat_map(|p| p.categories.iter())
        .find(|(k, _)| k == id)
        .map_or(id.to_string(), |(_, l)| l.clone())
}

/// A medical type's label from the loaded policies.
pub fn medical_type_label(ctx: &ApiContext, id: &str) -> String {
    ctx.service
        .policies
        .iter()
        .flat_map(|p| p.medical_types.iter())
        .find(|(k, _)| k == id)
        .map_or(id.to_string(), |(_, l)| l.clone())
}

/// Empty form values are absent.
pub fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}
