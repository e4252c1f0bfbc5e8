//! API keys (接口密钥): random, shown once, stored as SHA-256 hashes.
//!
//! A key reads `mdk_<id>_<secret>`: the 16-hex-digit id is public and finds
//! the stored row; the 64-hex-digit secret (32 random bytes from the OS)
//! is never stored. The SHA-256 of the whole key is compared in constant
//! time, so response timing says nothing about how much of a guess was
//! right. Hashing without a salt is fine here: the secret has 256 bits of
//! entropy, nothing a dictionary could cover.

use crate::storage::KeyRow;
use rand::RngCore;
use subtle::ConstantTimeEq;

/// What a key may do (the roles of the HTTP API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A hospital: settles, previews, cancels and reads its own settlements.
    Hospital(String),
    /// The medical-aid centre (救助中心): registry, reconciliation, reads all.
    Centre,
    /// Administrators: policies, keys, simulation; reads all.
    Admin,
}

impl Role {
    pub fn name(&self) -> &'static str {
        match self {
            Role::Hospital(_) => "hospital",
            Role::Centre => "centre",
            Role::Admin => "admin",
        }
    }

    /// The role of a stored key, if its columns make sense.
    pub fn of(row: &KeyRow) -> Option<Role> {
        match (row.role.as_str(), &row.hospital) {
            ("hospital", Some(h)) => Some(Role::Hospital(h.clone())),
            ("centre", _) => Some(Role::Centre),
            ("admin", _) => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A fresh key: the text to show once and the row to store.
pub fn generate(role: &Role) -> (String, KeyRow) {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut id);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let key_id = hex::encode(id);
    let key = format!("mdk_{key_id}_{}", hex::encode(secret));
    let row = KeyRow {
        key_hash: hash(&key),
        key_id,
        role: role.name().to_string(),
        hospital: match role {
            Role::Hospital(h) => Some(h.clone()),
            _ => None,
        },
        revoked: false,
    };
    (key, row)
}

/// SHA-256 of a key, lower-case hex.
pub fn hash(key: &str) -> String {
    super::sha256_hex(key.as_bytes())
}

/// The public id inside a key, if it has the shape of one.
pub fn key_id(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("mdk_")?;
    let (id, secret) = rest.split_once('_')?;
    let ok = id.len() == 16
        && secret.len() == 64
        && id
            .bytes()
            .chain(secret.bytes())
            .all(|b| b.is_ascii_hexdigit());
    ok.then_some(id)
}

/// Whether `key` is the key stored as `row` (constant-time on the hash).
pub fn verify(key: &str, row: &KeyRow) -> bool {
    let presented = hash(key);
    !row.revoked && bool::from(presented.as_bytes().ct_eq(row.key_hash.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let (key, row) = generate(&Role::Hospital("H0001".into()));
        assert_eq!(key_id(&key), Some(row.key_id.as_str()));
        assert!(verify(&key, &row));
        assert!(!key.contains(&row.key_hash));
        let mut wrong = key.clone();
        wrong.pop();
        wrong.push(if key.ends_with('0') { '1' } else { '0' });
        assert!(!verify(&wrong, &row));
        assert_eq!(Role::of(&row), Some(Role::Hospital("H0001".into())));
        assert_eq!(key_id("mdk_short_x"), None);
    }
}
