//! The web console (issue 13): accounts, sessions, CSRF, throttling and
//! audit rows over HTTP on both databases (`api`), and the pages driven
//! in a real Chromium through chromedriver (`browser`).

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

mod api;
mod browser;
mod staff;
mod webdriver;
