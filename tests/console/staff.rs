//! Staff accounts and a cookie-carrying client for the console.

use crate::helpers::TestApp;
use medaid::engine::PolicySet;
use medaid::service::console::StaffRole;
use medaid::service::Service;
use medaid::storage::console::Actor;

pub const PASSWORD: &str = "correct-horse-42";

/// Create a staff account on the app's database.
pub async fn create(app: &TestApp, login: &str, name: &str, role: StaffRole) -> i64 {
    let svc = Service::new(app.db.clone(), PolicySet::default());
    svc.create_staff(login, name, role, Some(PASSWORD), &Actor::cli())
        .await
        .expect("create staff")
        .0
}

/// A logged-in console client (cookies kept by hand).
pub struct Console<'a> {
    pub app: &'a TestApp,
    pub cookie: String,
    pub csrf: String,
}

pub fn set_cookie(r: &crate::helpers::Resp, name: &str) -> Option<String> {
    r.headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or("")[name.len() + 1..].to_string())
}

fn no_redirect() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Try a login: the response (303 on success).
pub async fn try_login(app: &TestApp, login: &str, password: &str) -> crate::helpers::Resp {
    let c = no_redirect();
    let page = app.send(c.get(format!("{}/console/login", app.base))).await;
    let token = set_cookie(&page, "medaid_login").expect("login cookie");
    app.send(
        c.post(format!("{}/console/login", app.base))
            .header("Cookie", format!("medaid_login={token}"))
            .form(&[
                ("login", login),
                ("password", password),
                ("csrf", token.as_str()),
                ("next", "/console"),
            ]),
    )
    .await
}

impl<'a> Console<'a> {
    pub async fn login(app: &'a TestApp, login: &str) -> Console<'a> {
        let r = try_login(app, login, PASSWORD).await;
        assert_eq!(r.status, 303, "{}", r.text);
        let cookie = set_cookie(&r, "medaid_console").expect("session cookie");
        let mut c = Console {
            app,
            cookie,
            csrf: String::new(),
        };
        let home = c.get("/console").await;
        assert_eq!(home.status, 200, "{}", home.text);
        let at = home
            .text
            .find("name=\"csrf\" value=\"")
            .expect("csrf field")
            + 19;
        c.csrf = home.text[at..at + 64].to_string();
        c
    }

    pub async fn get(&self, path: &str) -> crate::helpers::Resp {
        self.app
            .send(
                no_redirect()
                    .get(format!("{}{path}", self.app.base))
                    .header("Cookie", format!("medaid_console={}", self.cookie)),
            )
            .await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> crate::helpers::Resp {
        self.app
            .send(
                no_redirect()
                    .post(format!("{}{path}", self.app.base))
                    .header("Cookie", format!("medaid_console={}", self.cookie))
                    .form(form),
            )
            .await
    }

    /// A multipart form (fields, then files as (field, file name, text)).
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str)],
    ) -> crate::helpers::Resp {
        let boundary = "medaid-test-boundary-7d9f";
        let mut body = String::new();
        for (k, v) in fields {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            ));
        }
        for (k, name, text) in files {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n{text}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        self.app
            .send(
                no_redirect()
                    .post(format!("{}{path}", self.app.base))
                    .header("Cookie", format!("medaid_console={}", self.cookie))
                    .header(
                        "Content-Type",
                        format!("multipart/form-data; boundary={boundary}"),
                    )
                    .body(body),
            )
            .await
    }
}
