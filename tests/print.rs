//! What people print: the settlement slip rendered by headless Chromium
//! must fit one A4 page (also when cancelled, and for the longest example
//! claim). Skipped, with a message, where `/usr/bin/chromium` is absent
//! (CI installs it). `MEDAID_PRINT_DIR=dir` keeps the HTML and PDF files
//! to look at.

use medaid::engine::book::Book;
use medaid::engine::{claim, settle_stated, Answer, Policy};
use medaid::http::slip::{render, Labels};
use std::path::{Path, PathBuf};
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Print `html` to PDF with headless Chromium; `None` when it is absent.
fn print_pdf(dir: &Path, name: &str, html: &str) -> Option<Vec<u8>> {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("skipped: {CHROMIUM} is not installed (apt-get install chromium)");
        return None;
    }
    let html_path = dir.join(format!("{name}.html"));
    let pdf_path = dir.join(format!("{name}.pdf"));
    std::fs::write(&html_path, html).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!("--print-to-pdf={}", pdf_path.display()),
        ])
        .arg(format!("file://{}", html_path.display()))
        .output()
        .unwrap();
    assert!(
        pdf_path.exists(),
        "chromium wrote no PDF: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(std::fs::read(&pdf_path).unwrap())
}

/// Pages of a PDF: its `/Type /Page` objects (not `/Pages`).
fn pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    let mut n = 0;
    let mut rest = text.as_ref();
    while let Some(i) = rest.find("/Type") {
        rest = &rest[i + 5..];
        let t = rest.trim_start();
        if t.starts_with("/Page") && !t.starts_with("/Pages") {
            n += 1;
        }
    }
    n
}

fn out_dir() -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("MEDAID_PRINT_DIR") {
        Some(d) => {
            std::fs::create_dir_all(&d).unwrap();
            (None, PathBuf::from(d))
        }
        None => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

/// Every example claim of `policy`, settled in order; the answer with the
/// most explanation text (the longest slip).
fn longest_answer(policy: &str, claims: &str) -> (Policy, Answer) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let p = Policy::load(&root.join(policy)).unwrap();
    let text = std::fs::read_to_string(root.join(claims)).unwrap();
    let mut book = Book::new();
    let mut best: Option<Answer> = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let c = claim::parse_json(line).unwrap();
        let year = chrono::Datelike::year(&c.discharged_on.0);
        let Ok((a, comp)) = settle_stated(&p, &c, book.get(&c.person_id, year, &p)) else {
            continue;
        };
        book.apply(&c.person_id, year, &p, comp.deltas());
        let len = |a: &Answer| {
            a.explanation
                .iter()
                .map(|l| l.chars().count())
                .sum::<usize>()
        };
        if best.as_ref().is_none_or(|b| len(&a) > len(b)) {
            best = Some(a);
        }
    }
    (p, best.unwrap())
}

fn labels<'a>(cats: &'a str) -> Labels<'a> {
    Labels {
        hospital: Some("南阳市卧龙区人民医院"),
        person: Some("周玉梅"),
        medical_type: Some("住院"),
        level: Some("县级"),
        categories: Some(cats),
        policy: Some("卧龙区城乡居民医疗保障一站式结算政策（2017）"),
        admitted_on: Some("2017-03-01"),
        discharged_on: Some("2017-03-10"),
        diagnoses: Some("C34.9、I10"),
        cancelled_at: Some("2017-03-12T09:30:00+08:00"),
        printed_at: Some("2017-03-12 10:05"),
    }
}

#[test]
fn the_slip_is_one_a4_page() {
    let (_keep, dir) = out_dir();
    for (policy, claims) in [
        (
            "fixtures/policies/wolong-2017.toml",
            "fixtures/claims/wolong-2017.jsonl",
        ),
        (
            "fixtures/policies/county-2024.toml",
            "fixtures/claims/county-2024.jsonl",
        ),
    ] {
        let (p, mut a) = longest_answer(policy, claims);
        a.settlement_id = Some("S20170310000123".into());
        a.settled_at = Some("2017-03-10T08:15:42.123456+08:00".into());
        a.status = Some("settled".into());
        let html = render(&a, &labels("低保对象、建档立卡贫困户"));
        assert!(html.contains("@page"), "no page setup");
        assert!(html.contains("人民币"), "no amount in words");
        assert!(
            html.contains("2017-03-10 08:15"),
            "settlement time not readable"
        );
        assert!(
            html.contains("经办人") && html.contains("患者"),
            "no signature lines"
        );
        let name = format!("slip-{}", p.id);
        let Some(pdf) = print_pdf(&dir, &name, &html) else {
            return;
        };
        assert_eq!(pages(&pdf), 1, "{name}: the slip must print on one A4 page");

        a.status = Some("cancelled".into());
        let html = render(&a, &labels("低保对象"));
        assert!(html.contains("已撤销"));
        let pdf = print_pdf(&dir, &format!("{name}-cancelled"), &html).unwrap();
        assert_eq!(pages(&pdf), 1, "{name}, cancelled: one A4 page");
    }
}

#[test]
fn page_counting_sees_pages() {
    let (_keep, dir) = out_dir();
    let long = format!(
        "<!DOCTYPE html><meta charset=utf-8><style>@page {{ size: A4 }}</style>{}",
        "<p>行</p>".repeat(200)
    );
    if let Some(pdf) = print_pdf(&dir, "pages-check", &long) {
        assert!(pages(&pdf) > 1, "a long page must count as several");
    }
}
