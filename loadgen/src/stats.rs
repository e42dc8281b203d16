//! Small, distribution-free statistics for judging runs across seeds:
//! the one-sided Mann-Whitney U test, Holm's correction for testing many
//! figures at once, and order-statistic confidence intervals.
//!
//! Written by hand rather than taken from a crate: each is a few dozen
//! lines, the exact U distribution with ties is not offered by the
//! well-kept crates (statrs has no rank tests), and the results must be
//! bit-for-bit deterministic because they reach report files.

/// Samples below which no p-value is computed: with one value on a side
/// there is no spread to compare a shift with.
pub const MIN_SAMPLES: usize = 2;

/// Sizes up to which [`mann_whitney_greater`] computes the exact
/// permutation distribution (ties included); above, the normal
/// approximation with tie correction, accurate at these sizes.
const EXACT_UP_TO: usize = 60;

/// The median of `v` (the mean of the two middle values for an even
/// count); `None` for an empty slice.
pub fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// Ranks of `v` counted from 1, ties sharing the mean of their ranks;
/// doubled so that they stay whole numbers.
fn doubled_midranks(v: &[f64]) -> Vec<u64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share (i+1 + j+1) / 2; doubled: i + j + 2.
        for &k in &order[i..=j] {
            ranks[k] = (i + j + 2) as u64;
        }
        i = j + 1;
    }
    ranks
}

/// The one-sided Mann-Whitney U test: the probability, if `base` and `new`
/// came from one distribution, of `new`'s ranks summing to at least what
/// they do. Small when `new` tends to be larger. `None` when a side has
/// fewer than [`MIN_SAMPLES`] values or a value is not finite.
///
/// Exact (every way of splitting the pooled ranks, ties kept as mid-ranks)
/// for up to 60 values in all; the normal approximation with the tie
/// correction and a continuity correction above.
pub fn mann_whitney_greater(base: &[f64], new: &[f64]) -> Option<f64> {
    if base.len() < MIN_SAMPLES || new.len() < MIN_SAMPLES {
        return None;
    }
    if base.iter().chain(new).any(|x| !x.is_finite()) {
        return None;
    }
    let pooled: Vec<f64> = base.iter().chain(new).copied().collect();
    let ranks = doubled_midranks(&pooled);
    let observed: u64 = ranks[base.len()..].iter().sum();
    if pooled.len() <= EXACT_UP_TO {
        Some(exact_tail(&ranks, new.len(), observed))
    } else {
        Some(normal_tail(&ranks, base.len(), new.len(), observed))
    }
}

/// P(sum of `m` of `ranks` drawn without replacement >= `observed`), by
/// counting subsets per sum (a knapsack over the doubled ranks).
fn exact_tail(ranks: &[u64], m: usize, observed: u64) -> f64 {
    let max_sum: u64 = ranks.iter().sum();
    let width = max_sum as usize + 1;
    // ways[k][s]: subsets of k of the ranks seen so far summing to s.
    let mut ways = vec![vec![0f64; width]; m + 1];
    ways[0][0] = 1.0;
    for &r in ranks {
        let r = r as usize;
        for k in (1..=m).rev() {
            let (lower, upper) = ways.split_at_mut(k);
            let (from, to) = (&lower[k - 1], &mut upper[0]);
            for s in (r..width).rev() {
                to[s] += from[s - r];
            }
        }
    }
    let total: f64 = ways[m].iter().sum();
    let tail: f64 = ways[m][observed as usize..].iter().sum();
    (tail / total).min(1.0)
}

/// The normal approximation of [`exact_tail`] for large samples.
fn normal_tail(ranks: &[u64], n: usize, m: usize, observed: u64) -> f64 {
    let big_n = (n + m) as f64;
    // Rank sums in real (not doubled) units.
    let w = observed as f64 / 2.0;
    let mean = m as f64 * (big_n + 1.0) / 2.0;
    let mut sorted = ranks.to_vec();
    sorted.sort_unstable();
    let mut ties = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let j = sorted[i..].iter().take_while(|&&r| r == sorted[i]).count();
        let t = j as f64;
        ties += t * t * t - t;
        i += j;
    }
    let var = n as f64 * m as f64 / 12.0 * ((big_n + 1.0) - ties / (big_n * (big_n - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = (w - mean - 0.5) / var.sqrt();
    upper_normal_tail(z)
}

/// P(Z >= z) for a standard normal Z (Abramowitz and Stegun 7.1.26 via
/// erfc; absolute error below 1.5e-7, ample for a p-value).
pub fn upper_normal_tail(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let erfc = |x: f64| {
        let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
        let poly = t
            * (0.254_829_592
                + t * (-0.284_496_736
                    + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
        let e = poly * (-x * x).exp();
        if x >= 0.0 { e } else { 2.0 - e }
    };
    erfc(x) / 2.0
}

/// The smallest p-value [`mann_whitney_greater`] can return with `n` and
/// `m` values: 1 / C(n + m, n), when every new value beats every base one.
pub fn smallest_p(n: usize, m: usize) -> f64 {
    let mut c = 1.0f64;
    for i in 0..m {
        c = c * (n + m - i) as f64 / (i + 1) as f64;
    }
    1.0 / c
}

/// Holm's step-down correction: which of the hypotheses with p-values `ps`
/// are rejected, keeping the chance of any false rejection at most
/// `alpha`. Returns, per p-value, the threshold it was held to (`None`
/// for the ones never reached) and whether it was rejected.
pub fn holm(ps: &[f64], alpha: f64) -> Vec<(Option<f64>, bool)> {
    let mut order: Vec<usize> = (0..ps.len()).collect();
    order.sort_by(|&a, &b| ps[a].total_cmp(&ps[b]).then(a.cmp(&b)));
    let mut out = vec![(None, false); ps.len()];
    let k = ps.len();
    for (step, &i) in order.iter().enumerate() {
        let threshold = alpha / (k - step) as f64;
        let rejected = ps[i] <= threshold;
        out[i] = (Some(threshold), rejected);
        if !rejected {
            break;
        }
    }
    out
}

/// Ranks (1-based, into the sorted sample) of a distribution-free
/// confidence interval of the `q` quantile from `n` values, at about 95%
/// (normal approximation of the binomial; clamped into 1..=n). `None` when
/// `n` is too small for an interval narrower than the whole sample.
pub fn quantile_ci_ranks(n: u64, q: f64) -> Option<(u64, u64)> {
    if n == 0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let nf = n as f64;
    let half = 1.96 * (nf * q * (1.0 - q)).sqrt();
    let lo = (nf * q - half).floor();
    let hi = (nf * q + half).ceil() + 1.0;
    if lo < 1.0 || hi > nf {
        return None;
    }
    Some((lo as u64, hi as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_p_matches_hand_counts() {
        // Complete separation, 3 and 3: 1 split in C(6,3) = 20.
        let p = mann_whitney_greater(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
        assert!((p - 0.05).abs() < 1e-12, "{p}");
        assert!((smallest_p(3, 3) - 0.05).abs() < 1e-12);
        // The other way round: every split sums to at least the smallest.
        let p = mann_whitney_greater(&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!((p - 1.0).abs() < 1e-12, "{p}");
        // All tied: no evidence at all.
        assert_eq!(mann_whitney_greater(&[2.0; 4], &[2.0; 4]), Some(1.0));
        assert_eq!(mann_whitney_greater(&[1.0], &[2.0, 3.0]), None);
        assert_eq!(mann_whitney_greater(&[1.0, f64::NAN], &[2.0, 3.0]), None);
    }

    #[test]
    fn normal_tail_agrees_with_exact_near_the_switch() {
        let base: Vec<f64> = (0..30).map(|i| f64::from(i * 7 % 31)).collect();
        let new: Vec<f64> = (0..30).map(|i| f64::from(i * 5 % 29) + 4.0).collect();
        let pooled: Vec<f64> = base.iter().chain(&new).copied().collect();
        let ranks = doubled_midranks(&pooled);
        let observed: u64 = ranks[30..].iter().sum();
        let exact = exact_tail(&ranks, 30, observed);
        let approx = normal_tail(&ranks, 30, 30, observed);
        assert!(
            (exact - approx).abs() < 0.01,
            "exact {exact} approx {approx}"
        );
    }

    #[test]
    fn holm_steps_down_and_stops() {
        let r = holm(&[0.001, 0.04, 0.012, 0.5], 0.05);
        assert_eq!(r[0], (Some(0.0125), true));
        assert_eq!(r[2], (Some(0.05 / 3.0), true));
        assert_eq!(r[1], (Some(0.025), false));
        assert_eq!(r[3], (None, false));
    }

    #[test]
    fn quantile_interval_brackets_the_quantile() {
        let (lo, hi) = quantile_ci_ranks(10_000, 0.99).unwrap();
        assert!(lo < 9_900 && hi > 9_900 && hi <= 10_000, "{lo} {hi}");
        assert_eq!(quantile_ci_ranks(50, 0.999), None);
    }
}
