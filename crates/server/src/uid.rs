//! UIDs radgate derives for what it writes (its SRs, UPS work items): under the
//! UUID-derived root 2.25 (PS3.5 B.2), the same for the same seed, so that writing again
//! after a retry or a restart gives the same instance.

use sha2::{Digest, Sha256};

/// The UID of `seed`: `2.25.` and 128 bits of its SHA-256.
pub(crate) fn derived(seed: &str) -> String {
    let digest = Sha256::digest(format!("radgate:{seed}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    format!("2.25.{}", u128::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::derived;

    #[test]
    fn uids_are_stable_valid_and_distinct() {
        let a = derived("sr:r1");
        assert_eq!(a, derived("sr:r1"));
        assert_ne!(a, derived("sr:r2"));
        assert!(a.starts_with("2.25.") && a.len() <= 64, "{a}");
        let digits = &a["2.25.".len()..];
        assert!(digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0'));
    }
}
