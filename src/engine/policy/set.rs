//! The policies a program has loaded, and the one rule that picks a claim's
//! policy: in force on the discharge date, and whose region covers the
//! claim's region (the insured region, 参保地, else the hospital's), the
//! most specific region winning. The command line, the service and the
//! simulator all choose through [`PolicySet::choose`].

use super::Policy;
use chrono::NaiveDate;
use std::fmt;

/// Why no policy could be chosen for a claim. `field` is the claim field
/// the refusal names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoPolicy {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for NoPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A region code with its trailing `00` pairs removed: `411300` → `4113`,
/// `410000` → `41`, `""` → `""`.
fn stem(region: &str) -> &str {
    let mut r = region.trim();
    while r.len() >= 2 && r.ends_with("00") {
        r = &r[..r.len() - 2];
    }
    r
}

/// Whether a policy of `region` covers the 6-digit `code`.
pub fn covers_region(region: &str, code: &str) -> bool {
    code.trim().starts_with(stem(region))
}

/// A validated set of policies: no id names two different files, and no
/// two policies of one region are in force on the same day.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    policies: Vec<Policy>,
}

/// A set reads as the slice of its policies.
impl std::ops::Deref for PolicySet {
    type Target = [Policy];
    fn deref(&self) -> &[Policy] {
        &self.policies
    }
}

impl PolicySet {
    /// Check and own `policies`. A second copy of the same file (same id,
    /// same hash) is dropped; the same id with another text, or two
    /// policies of one region whose periods overlap, is an error.
    pub fn new(policies: Vec<Policy>) -> Result<PolicySet, String> {
        let mut out: Vec<Policy> = Vec::with_capacity(policies.len());
        for p in policies {
            if let Some(q) = out.iter().find(|q| q.id == p.id) {
                if q.hash == p.hash {
                    continue;
                }
                return Err(format!(
                    "policy id `{}` names two different files (hashes {}… and {}…): give each version its own id",
                    p.id,
                    &q.hash[..12],
                    &p.hash[..12]
                ));
            }
            if let Some(q) = out.iter().find(|q| {
                stem(&q.region) == stem(&p.region)
                    && q.effective_from <= p.effective_to
                    && p.effective_from <= q.effective_to
            }) {
                return Err(format!(
                    "policies `{}` ({} to {}) and `{}` ({} to {}) are both in force for region {:?} on overlapping days",
                    q.id, q.effective_from, q.effective_to, p.id, p.effective_from, p.effective_to, p.region
                ));
            }
            out.push(p);
        }
        Ok(PolicySet { policies: out })
    }

    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    pub fn by_id(&self, id: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.id == id)
    }

    pub fn by_hash(&self, hash: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.hash == hash)
    }

    /// The policy for a claim discharged on `date` whose insured region is
    /// `insured` and hospital region `hospital` (either may be unknown).
    pub fn choose(
        &self,
        date: NaiveDate,
        insured: Option<&str>,
        hospital: Option<&str>,
    ) -> Result<&Policy, NoPolicy> {
        let in_force: Vec<&Policy> = self.policies.iter().filter(|p| p.covers(date)).collect();
        if in_force.is_empty() {
            return Err(NoPolicy {
                field: "discharged_on",
                message: format!("no policy in force on {date}"),
            });
        }
        let (field, code) = match (nonempty(insured), nonempty(hospital)) {
            (Some(i), _) => ("insured_region", i),
            (None, Some(h)) => ("hospital_region", h),
            (None, None) => return only_region(&in_force, date),
        };
        in_force
            .iter()
            .filter(|p| covers_region(&p.region, code))
            .max_by_key(|p| stem(&p.region).len())
            .copied()
            .ok_or_else(|| NoPolicy {
                field,
                message: format!(
                    "no policy in force on {date} covers region {code} (in force: {})",
                    describe(&in_force)
                ),
            })
    }
}

fn nonempty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// A claim that names no region: fine under one region's policy, ambiguous
/// under several.
fn only_region<'a>(in_force: &[&'a Policy], date: NaiveDate) -> Result<&'a Policy, NoPolicy> {
    let first = in_force[0];
    if in_force
        .iter()
        .all(|p| stem(&p.region) == stem(&first.region))
    {
        return Ok(first);
    }
    Err(NoPolicy {
        field: "insured_region",
        message: format!(
            "ambiguous: the claim names no region and policies of several regions are in force on {date} ({})",
            describe(in_force)
        ),
    })
}

fn describe(ps: &[&Policy]) -> String {
    ps.iter()
        .map(|p| {
            if p.region.is_empty() {
                format!("{} (every region)", p.id)
            } else {
                format!("{} (region {})", p.id, p.region)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(id: &str, region: &str, from: &str, to: &str) -> Policy {
        let text = format!(
            "[policy]\nid = \"{id}\"\nregion = \"{region}\"\neffective_from = \"{from}\"\neffective_to = \"{to}\"\n\
             [levels]\ncounty = \"县级\"\n[medical_types]\ninpatient = \"住院\"\n\
             [[layers]]\nid = \"aid\"\npayer = \"aid\"\nratio = \"0.5\"\n"
        );
        Policy::from_toml(&text, id).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn region_stems_cover_codes() {
        assert!(covers_region("411303", "411303"));
        assert!(!covers_region("411303", "411302"));
        assert!(covers_region("411300", "411321"));
        assert!(covers_region("410000", "419999"));
        assert!(!covers_region("410000", "420100"));
        assert!(covers_region("", "110101"));
    }

    #[test]
    fn the_most_specific_covering_region_wins() {
        let set = PolicySet::new(vec![
            policy("prov", "410000", "2024-01-01", "2024-12-31"),
            policy("city", "411300", "2024-01-01", "2024-12-31"),
            policy("county", "411303", "2024-01-01", "2024-12-31"),
        ])
        .unwrap();
        let d = day("2024-06-01");
        assert_eq!(set.choose(d, Some("411303"), None).unwrap().id, "county");
        assert_eq!(set.choose(d, Some("411321"), None).unwrap().id, "city");
        assert_eq!(set.choose(d, Some("410101"), None).unwrap().id, "prov");
        // the insured region decides, not the hospital's
        assert_eq!(
            set.choose(d, Some("411321"), Some("411303")).unwrap().id,
            "city"
        );
        assert_eq!(set.choose(d, None, Some("411303")).unwrap().id, "county");
        let e = set.choose(d, Some("420100"), None).unwrap_err();
        assert_eq!(e.field, "insured_region");
        let e = set.choose(d, None, None).unwrap_err();
        assert!(e.message.contains("ambiguous"), "{e}");
        let e = set
            .choose(day("2025-01-01"), Some("411303"), None)
            .unwrap_err();
        assert_eq!(e.field, "discharged_on");
    }

    #[test]
    fn one_region_needs_no_region_on_the_claim() {
        let set = PolicySet::new(vec![
            policy("a", "411303", "2017-01-01", "2017-12-31"),
            policy("b", "411303", "2018-01-01", "2018-12-31"),
        ])
        .unwrap();
        assert_eq!(set.choose(day("2018-03-01"), None, None).unwrap().id, "b");
    }

    #[test]
    fn refuses_one_id_for_two_files_and_overlaps() {
        let a = policy("a", "411303", "2017-01-01", "2017-12-31");
        let mut a2 = policy("a", "411303", "2018-01-01", "2018-12-31");
        assert!(PolicySet::new(vec![a.clone(), a.clone()]).is_ok());
        a2.hash = "f".repeat(64);
        let e = PolicySet::new(vec![a.clone(), a2]).unwrap_err();
        assert!(e.contains("two different files"), "{e}");
        let b = policy("b", "411303", "2017-06-01", "2018-05-31");
        let e = PolicySet::new(vec![a, b]).unwrap_err();
        assert!(e.contains("overlapping"), "{e}");
    }
}
