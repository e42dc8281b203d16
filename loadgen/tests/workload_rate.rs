//! Arrival schedules: evenly spaced arrivals give exactly rate x duration
//! (over all clients together), Poisson arrivals match it within the
//! statistical bound, ramps follow their shape.

use std::time::Duration;

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ringlab_loadgen::workload::{
    Arrival, ArrivalGen, KeyDist, KeySpace, Mix, Phase, Rate, ValueSize,
};

fn phase(duration: Duration, rate: Rate, arrival: Arrival) -> Phase {
    Phase {
        name: "p".into(),
        duration,
        rate,
        arrival,
        keys: KeySpace {
            count: 10,
            distribution: KeyDist::Uniform,
        },
        mix: Mix {
            get: 1.0,
            set: 0.0,
            ..Mix::default()
        },
        value_size: ValueSize::Fixed(1),
        timeout: Duration::from_secs(1),
        clients: 1,
        connections: 1,
        max_in_flight: 1,
        ttl: None,
        mget_keys: 10,
    }
}

/// All arrivals of one client, as offsets from the phase start.
fn arrivals(p: &Phase, client: u32, clients: u32, seed: u64) -> Vec<Duration> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = ArrivalGen::new(p, client, clients, &mut rng).unwrap();
    std::iter::from_fn(|| g.next(&mut rng)).collect()
}

#[test]
fn evenly_spaced_arrivals_are_exact_and_even() {
    let p = phase(
        Duration::from_secs(2),
        Rate::Constant(1000.0),
        Arrival::Uniform,
    );
    let a = arrivals(&p, 0, 1, 1);
    assert_eq!(a.len(), 2000);
    for (i, t) in a.iter().enumerate() {
        assert_eq!(t.as_micros(), i as u128 * 1000, "arrival {i}");
    }
}

#[test]
fn evenly_spaced_clients_together_are_exact_and_interleaved() {
    let p = phase(
        Duration::from_secs(1),
        Rate::Constant(1000.0),
        Arrival::Uniform,
    );
    for clients in [2u32, 3, 7] {
        let mut all: Vec<Duration> = (0..clients)
            .flat_map(|c| arrivals(&p, c, clients, 1))
            .collect();
        assert_eq!(all.len(), 1000, "{clients} clients");
        all.sort();
        // Together they are evenly spaced: 1 ms apart (within rounding).
        for w in all.windows(2) {
            let gap = (w[1] - w[0]).as_nanos() as i128;
            assert!(
                (gap - 1_000_000).abs() <= 1_000,
                "{clients} clients: gap {gap} ns"
            );
        }
    }
}

#[test]
fn an_evenly_spaced_ramp_has_exactly_its_integral_and_its_shape() {
    // 1000/s to 3000/s over 2 s: 4000 requests, 1500 in the first second.
    let p = phase(
        Duration::from_secs(2),
        Rate::Ramp {
            from: 1000.0,
            to: 3000.0,
        },
        Arrival::Uniform,
    );
    let a = arrivals(&p, 0, 1, 1);
    assert_eq!(a.len(), 4000);
    let first = a.iter().filter(|t| **t < Duration::from_secs(1)).count();
    assert_eq!(first, 1500);
    assert!(a.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn poisson_counts_match_rate_times_duration_statistically() {
    let p = phase(
        Duration::from_secs(10),
        Rate::Constant(5000.0),
        Arrival::Poisson,
    );
    let mean = 50_000.0f64;
    let sd = mean.sqrt();
    let mut total = 0.0;
    let seeds = 20;
    for seed in 0..seeds {
        let n = arrivals(&p, 0, 1, seed).len() as f64;
        // Each run: a Poisson count, within 5 sd.
        assert!((n - mean).abs() < 5.0 * sd, "seed {seed}: {n}");
        total += n;
    }
    // The mean of 20 runs: within 5 sd / sqrt(20).
    let avg = total / seeds as f64;
    assert!(
        (avg - mean).abs() < 5.0 * sd / (seeds as f64).sqrt(),
        "mean {avg}"
    );
}

#[test]
fn poisson_gaps_are_exponential() {
    let p = phase(
        Duration::from_secs(20),
        Rate::Constant(1000.0),
        Arrival::Poisson,
    );
    let a = arrivals(&p, 0, 1, 9);
    let gaps: Vec<f64> = a.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
    let n = gaps.len() as f64;
    let mean = gaps.iter().sum::<f64>() / n;
    assert!(
        (mean - 0.001).abs() < 0.001 * 5.0 / n.sqrt(),
        "mean gap {mean}"
    );
    // P(gap > mean) = e^-1 for an exponential.
    let above = gaps.iter().filter(|g| **g > 0.001).count() as f64 / n;
    assert!(
        (above - (-1.0f64).exp()).abs() < 0.015,
        "share above the mean {above}"
    );
}

#[test]
fn a_poisson_ramp_follows_its_shape() {
    // 0/s to 20000/s over 2 s: 20000 expected, a quarter in the first second.
    let p = phase(
        Duration::from_secs(2),
        Rate::Ramp {
            from: 0.0,
            to: 20_000.0,
        },
        Arrival::Poisson,
    );
    let a = arrivals(&p, 0, 1, 3);
    let n = a.len() as f64;
    assert!((n - 20_000.0).abs() < 5.0 * 20_000f64.sqrt(), "{n}");
    let first = a.iter().filter(|t| **t < Duration::from_secs(1)).count() as f64;
    assert!((first - 5_000.0).abs() < 5.0 * 5_000f64.sqrt(), "{first}");
}

#[test]
fn poisson_clients_share_the_rate() {
    let p = phase(
        Duration::from_secs(10),
        Rate::Constant(4000.0),
        Arrival::Poisson,
    );
    let n: usize = (0..4).map(|c| arrivals(&p, c, 4, 11).len()).sum();
    let mean = 40_000.0f64;
    assert!((n as f64 - mean).abs() < 5.0 * mean.sqrt(), "{n}");
}

#[test]
fn bad_rates_and_client_splits_are_errors() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let p = phase(
        Duration::from_secs(1),
        Rate::Constant(-1.0),
        Arrival::Uniform,
    );
    let e = ArrivalGen::new(&p, 0, 1, &mut rng).unwrap_err();
    assert!(e.to_string().contains("rate"), "{e}");
    let p = phase(
        Duration::from_secs(1),
        Rate::Constant(f64::NAN),
        Arrival::Poisson,
    );
    assert!(ArrivalGen::new(&p, 0, 1, &mut rng).is_err());
    let p = phase(
        Duration::from_secs(1),
        Rate::Constant(1.0),
        Arrival::Uniform,
    );
    assert!(ArrivalGen::new(&p, 2, 2, &mut rng).is_err());
    assert!(ArrivalGen::new(&p, 0, 0, &mut rng).is_err());
}

proptest! {
    #[test]
    fn arrivals_are_ordered_and_inside_the_phase(
        ms in 1u64..3000,
        from in 0.0..5000.0f64,
        to in 0.0..5000.0f64,
        poisson in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let arrival = if poisson { Arrival::Poisson } else { Arrival::Uniform };
        let p = phase(Duration::from_millis(ms), Rate::Ramp { from, to }, arrival);
        let a = arrivals(&p, 0, 1, seed);
        prop_assert!(a.windows(2).all(|w| w[0] <= w[1]));
        prop_assert!(a.iter().all(|t| *t <= p.duration));
        if !poisson {
            // Evenly spaced: ceil of the integral (one more or less only when
            // float rounding lands the integral a hair off a whole number).
            let integral = (from + to) / 2.0 * p.duration.as_secs_f64();
            prop_assert!((a.len() as f64 - integral.ceil()).abs() <= 1.0,
                "{} arrivals for integral {integral}", a.len());
        }
    }
}
