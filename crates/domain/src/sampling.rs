//! Reproducible draws: the same key and id give the same answer on any machine and with
//! any Rust version, so a sample can be re-drawn and audited.

/// FNV-1a over the key and the id, finished with SplitMix64's mixer: stable across
/// platforms and Rust versions, unlike `std`'s hasher.
pub fn keyed_hash(key: &[u8], id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.iter().chain(id.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Whether `id` falls in a `fraction` sample keyed by `key`: its hash, as a fraction of
/// the hash range, lies below `fraction`. Each id is drawn independently, so the sample
/// is about `fraction` of the ids and never changes as other ids come and go.
pub fn in_sample(key: &str, id: &str, fraction: f64) -> bool {
    if fraction <= 0.0 {
        return false;
    }
    if fraction >= 1.0 {
        return true;
    }
    (keyed_hash(key.as_bytes(), id) as f64) < fraction * (u64::MAX as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_stable_and_near_the_fraction() {
        // A fixed value, computed independently (FNV-1a 64 then SplitMix64's finaliser, in
        // Python): the draw must not change between machines or releases.
        assert_eq!(keyed_hash(b"policy-1", "ACC1"), 16_586_759_581_415_686_663);
        assert_ne!(
            keyed_hash(b"policy-1", "ACC1"),
            keyed_hash(b"policy-2", "ACC1")
        );
        let drawn = (0..100_000)
            .filter(|i| in_sample("2026.11-1", &format!("A{i}"), 0.05))
            .count();
        // 5% of 100,000: 5,000 with a binomial SD of about 69.
        assert!((4_750..=5_250).contains(&drawn), "{drawn}");
        assert!(!in_sample("k", "x", 0.0));
        assert!(in_sample("k", "x", 1.0));
    }
}
