//! Many hospitals settling for the same people at once: the annual caps are
//! reached exactly and never passed, and every accumulator equals the sum
//! of the answers given.

use super::helpers::*;
use serde_json::Value;
use std::collections::BTreeMap;

on_both!(caps_hold_under_concurrency);

/// Fire `n` distinct claims for `persons` people from three hospitals at
/// once against `bases` (servers, round robin); returns every answer.
pub async fn race(
    client: &reqwest::Client,
    bases: &[String],
    keys: &[String; 3],
    persons: usize,
    n: usize,
) -> Vec<Value> {
    let hospitals = ["H0001", "H0002", "H0003"];
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let h = (i / persons) % 3;
        let claim = big_claim(
            &format!("Z-{i:04}"),
            hospitals[h],
            &cap_person(i % persons),
            (i % 28) as u32 + 1,
            "30000.00",
        );
        let client = client.clone();
        let url = format!("{}/v1/settlements", bases[i % bases.len()]);
        let key = keys[h].clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .header("Content-Type", "application/json")
                .body(claim.to_string())
                .send()
                .await
                .expect("send");
            let status = r.status().as_u16();
            let text = r.text().await.expect("text");
            assert_eq!(status, 201, "{text}");
            serde_json::from_str::<Value>(&text).expect("json")
        }));
    }
    let mut answers = Vec::with_capacity(n);
    for t in tasks {
        answers.push(t.await.expect("task"));
    }
    answers
}

/// Check the caps and that each person's accumulators are the sum of
/// their answers.
pub fn check_caps(answers: &[Value], accumulators: &BTreeMap<String, Value>) {
    for (person, acc) in accumulators {
        // Demand far exceeds both caps: each is reached to the fen.
        assert_eq!(acc_field(acc, "basic", "paid"), "150000.00", "{person}");
        assert_eq!(
            acc_field(acc, "aid", "paid"),
            "20000.00",
            "{person} (major-disease aid cap)"
        );
    }
    check_sums(answers, accumulators);
}

/// Each person's accumulators are the sum of their active answers, and no
/// cap is passed.
pub fn check_sums(answers: &[Value], accumulators: &BTreeMap<String, Value>) {
    let mut sums: BTreeMap<(String, String), i64> = BTreeMap::new();
    for a in answers {
        let person = a["person_id"].as_str().unwrap().to_string();
        for l in a["layers"].as_array().unwrap() {
            *sums
                .entry((person.clone(), l["id"].as_str().unwrap().to_string()))
                .or_default() += fen(l["paid"].as_str().unwrap());
        }
    }
    for (person, acc) in accumulators {
        assert!(
            fen(&acc_field(acc, "basic", "paid")) <= 15_000_000,
            "{person}"
        );
        assert!(fen(&acc_field(acc, "aid", "paid")) <= 2_000_000, "{person}");
        for layer in ["basic", "critical", "aid", "floor"] {
            let summed = sums
                .get(&(person.clone(), layer.to_string()))
                .copied()
                .unwrap_or(0);
            assert_eq!(
                fen(&acc_field(acc, layer, "paid")),
                summed,
                "{person} {layer}"
            );
        }
    }
}

async fn caps_hold_under_concurrency(app: TestApp) {
    let persons = 6;
    let keys = [app.h1.clone(), app.h2.clone(), app.h3.clone()];
    let answers = race(
        &app.client,
        std::slice::from_ref(&app.base),
        &keys,
        persons,
        240,
    )
    .await;
    let mut accs = BTreeMap::new();
    for p in 0..persons {
        accs.insert(cap_person(p), app.accumulators(&cap_person(p), 2017).await);
    }
    check_caps(&answers, &accs);
    app.assert_ledger_balanced().await;
    assert_eq!(app.count_settlements().await, 240);

    // Cancel every fifth settlement while 60 new claims race for the freed
    // room: the accumulators stay the sum of what is still active.
    let mut cancels = Vec::new();
    for a in answers.iter().step_by(5) {
        let id = a["settlement_id"].as_str().unwrap().to_string();
        let h = ["H0001", "H0002", "H0003"]
            .iter()
            .position(|h| a["hospital"] == *h)
            .unwrap();
        let (client, url, key) = (
            app.client.clone(),
            format!("{}/v1/settlements/{id}/cancel", app.base),
            keys[h].clone(),
        );
        cancels.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 200);
            id
        }));
    }
    let mut more = Vec::new();
    for i in 0..60 {
        let h = i % 3;
        let claim = big_claim(
            &format!("Y-{i:04}"),
            ["H0001", "H0002", "H0003"][h],
            &cap_person(i % persons),
            (i % 28) as u32 + 1,
            "30000.00",
        );
        let (client, url, key) = (
            app.client.clone(),
            format!("{}/v1/settlements", app.base),
            keys[h].clone(),
        );
        more.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .json(&claim)
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.expect("json")
        }));
    }
    let mut cancelled = std::collections::BTreeSet::new();
    for c in cancels {
        cancelled.insert(c.await.expect("cancel"));
    }
    let mut active: Vec<Value> = answers
        .into_iter()
        .filter(|a| !cancelled.contains(a["settlement_id"].as_str().unwrap()))
        .collect();
    for m in more {
        active.push(m.await.expect("settle"));
    }
    let mut accs = BTreeMap::new();
    for p in 0..persons {
        accs.insert(cap_person(p), app.accumulators(&cap_person(p), 2017).await);
    }
    check_sums(&active, &accs);
    app.assert_ledger_balanced().await;
}
