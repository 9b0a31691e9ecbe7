//! The seeded random number generator: xoshiro256++ seeded through splitmix64.
//!
//! Every random draw of a run derives from `(seed, domain, index)`, so user *k* behaves the same
//! whatever other users exist (`--shard i/n`), on every platform. The bit stream is exact on every
//! platform; the samplers in [`crate::dist`] use only `ln`, `exp` and `sqrt` on top of it, whose
//! last-bit results can in principle differ between libms (never observed on x86-64/aarch64 glibc
//! or musl for these inputs), which could move a clamped draw by one microsecond at most.

/// Domain of the per-user streams ([`Rng::for_user`]).
pub const DOMAIN_USER: u64 = 0x7573_6572; // "user"
/// Domain of the load schedulers' arrival streams.
pub const DOMAIN_ARRIVALS: u64 = 0x6172_7276; // "arrv"
/// Domain of the mock target's per-call draws.
pub const DOMAIN_TARGET: u64 = 0x7467_7274; // "tgrt"
/// Domain of the seeded tool-rank shuffle used when a target's tools carry no rank.
pub const DOMAIN_RANK: u64 = 0x7261_6e6b; // "rank"
/// Domain of the prefilled users' lifetimes and ages (one stream per prefilled user).
pub const DOMAIN_PREFILL: u64 = 0x7072_6566; // "pref"

/// The splitmix64 finaliser: a bijective 64-bit mixer.
const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A splitmix64 generator, used only to expand a 64-bit seed into xoshiro's 256-bit state.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }
}

/// xoshiro256++ (Blackman and Vigna, 2019): fast, 256 bits of state, passes BigCrush.
///
/// Not cryptographic: it picks think times and tool names, never secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator seeded from one 64-bit value (expanded with splitmix64).
    #[must_use]
    pub fn from_seed(seed: u64) -> Self {
        let mut sm = SplitMix64(seed);
        let mut s = [sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()];
        if s == [0; 4] {
            // The all-zero state is xoshiro's only fixed point; splitmix64 never yields four
            // zeros in a row, but keep the invariant local.
            s[0] = 1;
        }
        Self { s }
    }

    /// A placeholder for a stream set before its first draw (a chain's, by `add_chain`):
    /// xoshiro's smallest valid state, without seeding work.
    pub(crate) const fn unseeded() -> Self {
        Self { s: [1, 0, 0, 0] }
    }

    /// The independent stream `(seed, domain, index)`: streams of different indices or domains
    /// share no state, so one user's draws never depend on another's.
    #[must_use]
    pub fn derive(seed: u64, domain: u64, index: u64) -> Self {
        Self::from_seed(mix64(mix64(mix64(seed) ^ domain) ^ index))
    }

    /// The stream of virtual user `k` of a run seeded with `seed` (PROFILE 2: user *k* draws from
    /// an RNG seeded by (`profile.seed`, k)).
    #[must_use]
    pub fn for_user(seed: u64, k: u64) -> Self {
        Self::derive(seed, DOMAIN_USER, k)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = self.s;
        let out = s0.wrapping_add(s3).rotate_left(23).wrapping_add(s0);
        let t = s1 << 17;
        let mut s = [s0, s1, s2 ^ s0, s3 ^ s1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        self.s = s;
        out
    }

    /// A uniform draw in `[0, 1)` with 53 random bits.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform draw in `(0, 1]`: safe to pass to `ln`.
    pub fn f64_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `true` with probability `p` (`p <= 0` never, `p >= 1` always, without consuming a draw).
    pub fn bernoulli(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            false
        } else if p >= 1.0 {
            true
        } else {
            self.f64() < p
        }
    }

    /// A uniform integer in `[0, n)` (Lemire's multiply-shift with rejection: unbiased);
    /// 0 when `n == 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Moves the stream on by `n` draws: what `n` calls of [`Rng::next_u64`] (or of
    /// `below(1)`, which is 0 after exactly one draw) leave behind, without their results.
    pub fn discard(&mut self, n: u64) {
        for _ in 0..n {
            self.next_u64();
        }
    }

    /// A uniform draw in `[lo, hi)` (or `lo` if `hi <= lo`).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        if hi <= lo {
            lo
        } else {
            lo + (hi - lo) * self.f64()
        }
    }

    /// A standard normal draw (Marsaglia's polar method: only `ln` and `sqrt`, no trigonometry).
    pub fn normal(&mut self) -> f64 {
        // Each round accepts with probability pi/4; 64 rounds fail with probability < 1e-42.
        for _ in 0..64 {
            let u = 2.0 * self.f64() - 1.0;
            let v = 2.0 * self.f64() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return u * (-2.0 * s.ln() / s).sqrt();
            }
        }
        0.0
    }

    /// Random ASCII alphanumerics (base62), appended to `out`.
    pub fn base62(&mut self, n: usize, out: &mut String) {
        const ALPHABET: &[u8; 62] =
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        for _ in 0..n {
            let i = self.below(62) as usize;
            out.push(char::from(ALPHABET[i % 62]));
        }
    }

    /// Random lower-case hex digits, appended to `out`.
    pub fn hex(&mut self, n: usize, out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for _ in 0..n {
            out.push(char::from(HEX[(self.next_u64() >> 60) as usize % 16]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_reference_vector() {
        // Reference output of xoshiro256++ from state [1, 2, 3, 4] (the authors' C code).
        let mut r = Rng { s: [1, 2, 3, 4] };
        let got: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
        assert_eq!(
            got,
            [41943041, 58720359, 3588806011781223, 3591011842654386]
        );
    }

    #[test]
    fn streams_are_stable_and_independent() {
        let a = Rng::for_user(1, 7).next_u64();
        assert_eq!(a, Rng::for_user(1, 7).next_u64());
        assert_ne!(a, Rng::for_user(1, 8).next_u64());
        assert_ne!(a, Rng::for_user(2, 7).next_u64());
        assert_ne!(a, Rng::derive(1, DOMAIN_TARGET, 7).next_u64());
    }

    #[test]
    fn below_and_unit_interval() {
        let mut r = Rng::from_seed(3);
        let mut counts = [0u32; 6];
        for _ in 0..60_000 {
            counts[r.below(6) as usize] += 1;
            let x = r.f64();
            assert!((0.0..1.0).contains(&x));
            assert!(r.f64_open0() > 0.0);
        }
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn discard_is_draws_of_one_value() {
        let mut a = Rng::from_seed(5);
        let mut b = a.clone();
        a.discard(1000);
        for _ in 0..1000 {
            assert_eq!(b.below(1), 0);
        }
        assert_eq!(a, b);
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn normal_moments() {
        let mut r = Rng::from_seed(11);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.01, "{var}");
    }
}
