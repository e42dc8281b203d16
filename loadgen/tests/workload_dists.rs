//! Key distributions, op mix and value sizes produce the shares they
//! promise, over large seeded samples (chi-square and share checks).

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ringlab_loadgen::workload::{
    KeyDist, KeyGen, KeySpace, Mix, OpGen, OpKind, SizeGen, ValueSize, write_key,
};

fn keys(count: u64, distribution: KeyDist) -> KeyGen {
    KeyGen::new(
        &KeySpace {
            count,
            distribution,
        },
        "test",
    )
    .expect("valid key space")
}

/// Pearson's chi-square statistic of `observed` counts against `expected`
/// probabilities (which sum to 1) over `n` samples.
fn chi_square(observed: &[u64], expected: &[f64], n: u64) -> f64 {
    assert_eq!(observed.len(), expected.len());
    assert!((expected.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    observed
        .iter()
        .zip(expected)
        .map(|(&o, &p)| {
            let e = p * n as f64;
            (o as f64 - e).powi(2) / e
        })
        .sum()
}

/// Chi-square critical value at significance 0.001 for `df` degrees of
/// freedom (Wilson-Hilferty approximation; within 1% for df >= 5).
fn critical(df: usize) -> f64 {
    let k = df as f64;
    let z = 3.090; // the 0.999 quantile of the standard normal
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

/// The zipf probabilities of ranks 1..=n with exponent s.
fn zipf_pmf(n: u64, s: f64) -> Vec<f64> {
    let w: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
    let h: f64 = w.iter().sum();
    w.into_iter().map(|x| x / h).collect()
}

/// Buckets: ranks 1..=20 one by one, then 21..=100, 101..=n.
fn zipf_buckets(pmf: &[f64], counts: &[u64]) -> (Vec<f64>, Vec<u64>) {
    let mut e: Vec<f64> = pmf[..20].to_vec();
    let mut o: Vec<u64> = counts[..20].to_vec();
    e.push(pmf[20..100].iter().sum());
    o.push(counts[20..100].iter().sum());
    e.push(pmf[100..].iter().sum());
    o.push(counts[100..].iter().sum());
    (e, o)
}

#[test]
fn critical_values_match_tables() {
    // Tabulated chi-square 0.999 quantiles.
    for (df, table) in [(10, 29.588), (21, 46.797), (50, 86.661)] {
        assert!((critical(df) - table).abs() / table < 0.01, "df {df}");
    }
}

#[test]
fn uniform_keys_are_uniform() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut g = keys(1000, KeyDist::Uniform);
    let n = 200_000;
    let mut buckets = vec![0u64; 50];
    for _ in 0..n {
        let k = g.next(OpKind::Get, &mut rng);
        buckets[(k / 20) as usize] += 1;
    }
    let chi = chi_square(&buckets, &[1.0 / 50.0; 50], n);
    assert!(chi < critical(49), "chi-square {chi}");
}

#[test]
fn zipf_keys_follow_the_zipf_law() {
    for s in [0.6, 0.99, 1.2] {
        let count = 1000;
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut g = keys(count, KeyDist::Zipf { s });
        let n = 300_000;
        let mut counts = vec![0u64; count as usize];
        for _ in 0..n {
            counts[g.next(OpKind::Get, &mut rng) as usize] += 1;
        }
        let (e, o) = zipf_buckets(&zipf_pmf(count, s), &counts);
        let chi = chi_square(&o, &e, n);
        assert!(chi < critical(e.len() - 1), "s = {s}: chi-square {chi}");
        // The hottest key is index 0 and takes its promised share.
        let share0 = counts[0] as f64 / n as f64;
        assert!(
            (share0 - e[0]).abs() < 0.01,
            "s = {s}: key 0 share {share0} vs {}",
            e[0]
        );
    }
}

#[test]
fn zipf_over_a_million_keys_stays_in_range_and_skewed() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut g = keys(1_000_000, KeyDist::Zipf { s: 0.99 });
    let n = 100_000;
    let mut top100 = 0;
    for _ in 0..n {
        let k = g.next(OpKind::Get, &mut rng);
        assert!(k < 1_000_000);
        top100 += u64::from(k < 100);
    }
    // sum_{k<=100} k^-0.99 / sum_{k<=1e6} k^-0.99: about 0.355.
    let pmf_top: f64 = {
        let h: f64 = (1..=1_000_000u64).map(|k| (k as f64).powf(-0.99)).sum();
        (1..=100u64).map(|k| (k as f64).powf(-0.99)).sum::<f64>() / h
    };
    let share = top100 as f64 / n as f64;
    assert!(
        (share - pmf_top).abs() < 0.01,
        "top-100 share {share} vs {pmf_top}"
    );
}

#[test]
fn hotspot_sends_its_share_to_the_hot_keys_uniformly() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (hot_fraction, hot_share) = (0.1, 0.9);
    let mut g = keys(
        1000,
        KeyDist::Hotspot {
            hot_fraction,
            hot_share,
        },
    );
    let n = 200_000u64;
    let mut hot = vec![0u64; 10];
    let mut cold = vec![0u64; 10];
    for _ in 0..n {
        let k = g.next(OpKind::Get, &mut rng);
        if k < 100 {
            hot[(k / 10) as usize] += 1;
        } else {
            cold[((k - 100) / 90) as usize] += 1;
        }
    }
    let hot_n: u64 = hot.iter().sum();
    let share = hot_n as f64 / n as f64;
    // Binomial: sd = sqrt(0.9 * 0.1 / n) = 0.00067; allow 5 sd.
    assert!((share - hot_share).abs() < 0.0034, "hot share {share}");
    assert!(chi_square(&hot, &[0.1; 10], hot_n) < critical(9));
    assert!(chi_square(&cold, &[0.1; 10], n - hot_n) < critical(9));
}

#[test]
fn hotspot_edges_stay_in_range() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (f, s) in [
        (0.0, 0.9),
        (1.0, 0.9),
        (0.5, 0.0),
        (0.5, 1.0),
        (0.0001, 1.0),
    ] {
        let mut g = keys(
            10,
            KeyDist::Hotspot {
                hot_fraction: f,
                hot_share: s,
            },
        );
        let hot = KeyGen::hot_keys(10, f);
        for _ in 0..1000 {
            let k = g.next(OpKind::Get, &mut rng);
            assert!(k < 10);
            if s == 1.0 && hot > 0 {
                assert!(k < hot, "f {f} s {s}: key {k} outside the hot set");
            }
            if s == 0.0 && hot < 10 {
                assert!(k >= hot, "f {f} s {s}: key {k} inside the hot set");
            }
        }
    }
}

#[test]
fn latest_reads_follow_zipf_behind_the_newest_write() {
    let count = 1000u64;
    let s = 0.99;
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut g = keys(count, KeyDist::Latest { s });
    let ops = OpGen::new(&Mix {
        get: 0.8,
        set: 0.2,
        ..Mix::default()
    });
    let mut newest = 0u64;
    let mut sets = 0;
    let mut back = vec![0u64; count as usize];
    let mut reads = 0u64;
    for _ in 0..300_000 {
        let op = ops.next(&mut rng);
        let k = g.next(op, &mut rng);
        assert!(k < count);
        if op == OpKind::Set {
            // Writes go to the key after the newest, in order.
            assert_eq!(k, (newest + 1) % count);
            newest = k;
            sets += 1;
        } else {
            back[((newest + count - k) % count) as usize] += 1;
            reads += 1;
        }
    }
    assert!(sets > 50_000);
    let (e, o) = zipf_buckets(&zipf_pmf(count, s), &back);
    let chi = chi_square(&o, &e, reads);
    assert!(chi < critical(e.len() - 1), "chi-square {chi}");
}

#[test]
fn the_op_mix_gives_its_shares() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mix = Mix {
        get: 0.5,
        set: 0.2,
        delete: 0.1,
        incr: 0.1,
        mget: 0.05,
        expire: 0.05,
    };
    let g = OpGen::new(&mix);
    let n = 200_000;
    let mut c = [0u64; 6];
    for _ in 0..n {
        c[g.next(&mut rng) as usize] += 1;
    }
    let shares = [0.5, 0.2, 0.1, 0.1, 0.05, 0.05];
    assert!(chi_square(&c, &shares, n) < 20.52); // df 5 at 0.001
}

proptest! {
    /// A mix of GET, SET and DEL draws exactly the kinds it drew before
    /// INCR, MGET and EXPIRE existed (one draw, the same thresholds), so no
    /// scenario's requests changed.
    #[test]
    fn get_set_delete_mixes_draw_as_before(get in 0u32..=100, set in 0u32..=100, seed: u64) {
        let set = set.min(100 - get);
        let mix = Mix {
            get: f64::from(get) / 100.0,
            set: f64::from(set) / 100.0,
            delete: f64::from(100 - get - set) / 100.0,
            ..Mix::default()
        };
        let g = OpGen::new(&mix);
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(seed), ChaCha8Rng::seed_from_u64(seed));
        for _ in 0..1000 {
            let u: f64 = b.random();
            let before = if u < mix.get {
                OpKind::Get
            } else if u < mix.get + mix.set {
                OpKind::Set
            } else {
                OpKind::Delete
            };
            prop_assert_eq!(g.next(&mut a), before);
        }
    }
}

#[test]
fn value_sizes_follow_their_distribution() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let fixed = SizeGen::new(&ValueSize::Fixed(100), "t").unwrap();
    assert!((0..100).all(|_| fixed.next(&mut rng) == 100));

    let uni = SizeGen::new(&ValueSize::Uniform { min: 10, max: 19 }, "t").unwrap();
    let mut c = [0u64; 10];
    for _ in 0..100_000 {
        let v = uni.next(&mut rng);
        assert!((10..=19).contains(&v));
        c[(v - 10) as usize] += 1;
    }
    assert!(chi_square(&c, &[0.1; 10], 100_000) < critical(9));

    let ln = SizeGen::new(
        &ValueSize::LogNormal {
            median: 1000,
            sigma: 1.0,
            max: 100_000,
        },
        "t",
    )
    .unwrap();
    let mut v: Vec<u64> = (0..100_001).map(|_| ln.next(&mut rng)).collect();
    assert!(v.iter().all(|&x| (1..=100_000).contains(&x)));
    v.sort_unstable();
    let median = v[50_000] as f64;
    assert!((median - 1000.0).abs() < 30.0, "median {median}");
    assert!(SizeGen::new(&ValueSize::Uniform { min: 5, max: 4 }, "t").is_err());
}

#[test]
fn keys_are_padded_like_redis_benchmark() {
    let mut out = Vec::new();
    write_key(&mut out, b"", 12345);
    assert_eq!(out, b"key:000000012345");
    assert_eq!(out.len(), 16);
    out.clear();
    write_key(&mut out, b"t1:", 0);
    assert_eq!(out, b"t1:key:000000000000");
    out.clear();
    write_key(&mut out, b"", 1_234_567_890_123_456);
    assert_eq!(out, b"key:1234567890123456");
}

#[test]
fn bad_key_spaces_are_errors() {
    let e = KeyGen::new(
        &KeySpace {
            count: 0,
            distribution: KeyDist::Uniform,
        },
        "p",
    )
    .unwrap_err();
    assert!(e.to_string().contains("keys.count = 0"), "{e}");
    let e = KeyGen::new(
        &KeySpace {
            count: 10,
            distribution: KeyDist::Zipf { s: -1.0 },
        },
        "p",
    )
    .unwrap_err();
    assert!(e.to_string().contains("keys.s = -1"), "{e}");
    let e = KeyGen::new(
        &KeySpace {
            count: 10,
            distribution: KeyDist::Hotspot {
                hot_fraction: 1.5,
                hot_share: 0.5,
            },
        },
        "p",
    )
    .unwrap_err();
    assert!(e.to_string().contains("hot_fraction = 1.5"), "{e}");
}

fn any_dist() -> impl Strategy<Value = KeyDist> {
    prop_oneof![
        Just(KeyDist::Uniform),
        (0.0..3.0f64).prop_map(|s| KeyDist::Zipf { s }),
        (0.0..3.0f64).prop_map(|s| KeyDist::Latest { s }),
        (0.0..=1.0f64, 0.0..=1.0f64).prop_map(|(hot_fraction, hot_share)| KeyDist::Hotspot {
            hot_fraction,
            hot_share
        }),
    ]
}

proptest! {
    #[test]
    fn keys_always_fall_in_the_key_space(
        count in 1u64..5000,
        dist in any_dist(),
        seed in any::<u64>(),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut g = keys(count, dist);
        for i in 0..200 {
            let op = if i % 3 == 0 { OpKind::Set } else { OpKind::Get };
            prop_assert!(g.next(op, &mut rng) < count);
        }
    }
}
