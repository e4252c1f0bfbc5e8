//! The summary an administrator reads on the terminal.

use super::*;
use std::io::Write;

fn pct_interval(i: &Interval) -> String {
    match i {
        Some([a, b]) => format!(" [90%: {a} … {b}]"),
        None => String::new(),
    }
}

fn signed(d: Yuan) -> String {
    if d.0 > Decimal::ZERO {
        format!("+{d}")
    } else {
        d.to_string()
    }
}

/// A summary an administrator reads on the terminal.
pub fn write_text(r: &SimReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "medaid simulate: {} claims of {} persons ({} read, {} duplicated, {} dropped); volume growth {}, price growth {}",
        r.input.claims_simulated, r.input.persons, r.input.claims_read, r.input.duplicated, r.input.dropped, r.input.volume_growth, r.input.price_growth
    )?;
    if r.settings.bootstrap > 0 {
        writeln!(
            out,
            "intervals: 90% bootstrap over persons, {} replicates, seed {}",
            r.settings.bootstrap, r.settings.seed
        )?;
    }
    for p in &r.policies {
        write_policy_heading(p, out)?;
        write_policy_totals(p, out)?;
        write_policy_lines(p, out)?;
        write_policy_people(p, out)?;
    }
    Ok(())
}

/// A change against the baseline, after a figure.
fn vs_baseline(d: Option<Yuan>) -> String {
    d.map(|d| format!("  ({} vs baseline)", signed(d)))
        .unwrap_or_default()
}

/// The policy, what it settled and its first refusal.
fn write_policy_heading(p: &PolicyReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(out, "== {} {} — {} ({})", p.role, p.id, p.name, p.file)?;
    writeln!(
        out,
        "settled {} claims of {} persons; refused {}",
        p.settled, p.summary.persons, p.refused
    )?;
    if let Some(f) = p.refusals.first() {
        writeln!(
            out,
            "  first refusal: line {}: {}{}: {}",
            f.line,
            f.claim_id
                .as_deref()
                .map(|c| format!("claim {c}: "))
                .unwrap_or_default(),
            f.path,
            f.message
        )?;
    }
    Ok(())
}

/// The totals with their intervals and changes.
fn write_policy_totals(p: &PolicyReport, out: &mut dyn Write) -> std::io::Result<()> {
    let s = &p.summary;
    writeln!(
        out,
        "  total cost        {:>16}{}",
        s.total,
        pct_interval(&s.intervals.total)
    )?;
    writeln!(
        out,
        "  hospital waived   {:>16}{}{}",
        s.hospital_waived,
        pct_interval(&s.intervals.hospital_waived),
        vs_baseline(s.vs_baseline.as_ref().map(|v| v.hospital_waived))
    )?;
    writeln!(
        out,
        "  fund paid         {:>16}{}{}",
        s.fund_paid,
        pct_interval(&s.intervals.fund_paid),
        vs_baseline(s.vs_baseline.as_ref().map(|v| v.fund_paid))
    )?;
    writeln!(
        out,
        "  patients paid     {:>16}{}{}",
        s.patient_payable,
        pct_interval(&s.intervals.patient_payable),
        vs_baseline(s.vs_baseline.as_ref().map(|v| v.patient_payable))
    )?;
    writeln!(out, "  reimbursement     {:>16}", s.reimbursement_ratio)?;
    Ok(())
}

/// Layers, payers and budget gaps, one line each.
fn write_policy_lines(p: &PolicyReport, out: &mut dyn Write) -> std::io::Result<()> {
    for l in &p.layers {
        writeln!(
            out,
            "  layer {:<18} {:>16}  {:>7} claims {:>7} persons{}{}",
            l.id,
            l.paid,
            l.claims,
            l.persons,
            pct_interval(&l.interval),
            vs_baseline(l.vs_baseline.as_ref().map(|v| v.paid))
        )?;
    }
    for y in &p.payers {
        writeln!(
            out,
            "  payer {:<18} {:>16}{}{}",
            y.payer,
            y.paid,
            pct_interval(&y.interval),
            vs_baseline(y.vs_baseline.as_ref().map(|v| v.paid))
        )?;
    }
    for g in &p.gaps {
        writeln!(
            out,
            "  gap {:<16} paid {} − budget {} = {}{}",
            g.key,
            g.paid,
            g.budget,
            signed(g.gap),
            pct_interval(&g.gap_interval)
        )?;
    }
    Ok(())
}

/// Out-of-pocket spending and who gains or loses.
fn write_policy_people(p: &PolicyReport, out: &mut dyn Write) -> std::io::Result<()> {
    let o = &p.out_of_pocket;
    writeln!(
        out,
        "  out of pocket per person-year: mean {}, median {}, p90 {}; {} of {} above {}",
        o.mean, o.median, o.p90, o.catastrophic, o.person_years, o.catastrophic_threshold
    )?;
    if let Some(c) = &p.changes {
        writeln!(
            out,
            "  vs baseline: {} persons pay less (−{}), {} pay more (+{}), {} unchanged",
            c.gainers.count, c.gainers.amount, c.losers.count, c.losers.amount, c.unchanged
        )?;
    }
    Ok(())
}
