//! A small seeded pseudo-random generator (SplitMix64).
//!
//! The benchmark needs reproducible, not secure, randomness: the same seed gives the same
//! seeded clicks and the same slug sequence per connection on every run, so two runs differ
//! only in what they measure. Five lines here beat a dependency for that.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (the modulo bias is far below anything measured here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `true` with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `choices`, each as likely as its weight.
    pub fn pick<T: Copy>(&mut self, choices: &[(T, u64)]) -> T {
        let total: u64 = choices.iter().map(|(_, w)| w).sum();
        let mut roll = self.below(total);
        for &(choice, weight) in choices {
            if roll < weight {
                return choice;
            }
            roll -= weight;
        }
        choices[choices.len() - 1].0
    }
}

/// Ranks `0..n` drawn with Zipf's law, rank `r` about as likely as `1 / (r + 1)^θ`: a few
/// links get most clicks, as on a real shortener, where a link is shared, clicked for a
/// while, and forgotten. YCSB's generator (Gray et al., "Quickly generating billion-record
/// synthetic databases", 1994), with YCSB's default θ = 0.99; and, as YCSB's
/// `ScrambledZipfianGenerator`, the ranks are spread over `0..n` so that the popular links
/// are not neighbours in the database.
pub struct Zipf {
    n: u64,
    theta: f64,
    zeta_n: f64,
    alpha: f64,
    eta: f64,
}

impl Zipf {
    pub const THETA: f64 = 0.99;

    pub fn new(n: u64) -> Self {
        let theta = Self::THETA;
        let zeta = |n: u64| (1..=n).map(|i| 1.0 / (i as f64).powf(theta)).sum::<f64>();
        let zeta_n = zeta(n);
        Self {
            n,
            theta,
            zeta_n,
            alpha: 1.0 / (1.0 - theta),
            eta: (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta(2) / zeta_n),
        }
    }

    /// A rank, most often a small one.
    pub fn rank(&self, rng: &mut Rng) -> u64 {
        // 53 random bits make a uniform float in [0, 1).
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let uz = u * self.zeta_n;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1;
        }
        let rank = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        rank.min(self.n - 1)
    }

    /// An index in `0..n` for a rank: a fixed shuffle (multiplying by a number that shares
    /// no factor with `n` permutes `0..n`; a prime is such a number unless it divides `n`).
    pub fn spread(&self, rank: u64) -> u64 {
        const PRIME: u64 = 2_654_435_761;
        debug_assert!(!self.n.is_multiple_of(PRIME));
        (rank * PRIME) % self.n
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::{Rng, Zipf};

    #[test]
    fn zipf_ranks_are_skewed_as_ycsb_says() {
        let zipf = Zipf::new(100_000);
        let mut rng = Rng::new(7);
        let ranks: Vec<u64> = (0..20_000).map(|_| zipf.rank(&mut rng)).collect();
        assert!(ranks.iter().all(|&r| r < 100_000));
        // Rank 0 is drawn with probability 1 / zeta(100,000, 0.99), about 7.7%.
        let top = ranks.iter().filter(|&&r| r == 0).count() as f64 / ranks.len() as f64;
        assert!((0.065..0.09).contains(&top), "rank 0 drawn {top}");
        // A long tail: thousands of distinct links in a batch's worth of clicks.
        let distinct = ranks.iter().collect::<HashSet<_>>().len();
        assert!((5_000..10_000).contains(&distinct), "{distinct} distinct");
    }

    #[test]
    fn spreading_ranks_permutes_the_links() {
        let zipf = Zipf::new(100_000);
        let spread: HashSet<u64> = (0..100_000).map(|rank| zipf.spread(rank)).collect();
        assert_eq!(spread.len(), 100_000);
        assert!(spread.iter().all(|&i| i < 100_000));
    }
}
