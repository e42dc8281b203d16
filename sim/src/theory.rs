//! Queueing theory beside the experiment: what M/M/c (or, for service that
//! is not exponential, M/G/c by the Allen–Cunneen approximation) predicts
//! for one node, and the Universal Scalability Law fitted to throughput
//! against cluster size.
//!
//! Pure functions of numbers only (no scenario, no clock), so they are
//! tested against textbook values; `plan` puts them beside its simulated
//! figures (`plan::report`, `plan::page`).
//!
//! # The node as a queue
//! A simulated node is `c` cores in front of one FIFO (`crate::capacity`,
//! `crate::fast::capacity`): an M/G/c queue when its arrivals are Poisson.
//! With offered load `a = lambda / mu` (in cores) and utilization
//! `rho = a / c < 1`:
//! - Erlang C, the chance an arrival waits, is computed from the Erlang B
//!   recursion `B(k) = a B(k-1) / (k + a B(k-1))`, which never forms `a^c`
//!   or `c!` and so stays accurate for any `c` ([`erlang_c`]).
//! - M/M/c: mean wait `C / (c mu - lambda)`; the wait is 0 with chance
//!   `1 - C`, else exponential with rate `c mu - lambda`, and the time in
//!   the system is that wait plus an independent exponential service, whose
//!   tail has a closed form ([`Service::Exponential`]).
//! - M/G/c (Allen–Cunneen): mean wait `(C / (c mu - lambda)) (Ca² + Cs²) / 2`
//!   with `Ca² = 1` (Poisson arrivals) and `Cs²` the service's squared
//!   coefficient of variation. The wait's shape is an approximation too: 0
//!   with chance `C`'s complement, else exponential with the mean that
//!   makes the mean wait right. Its p99 is then read off the sum with the
//!   real service distribution by numerical integration.
//!
//! # The Universal Scalability Law
//! `X(N) = lambda N / (1 + sigma (N - 1) + kappa N (N - 1))` (Gunther):
//! `sigma` is contention (the serial share), `kappa` coherency (the
//! crosstalk cost that makes throughput fall past a peak at
//! `N* = sqrt((1 - sigma) / kappa)`). [`fit_usl`] fits it by least squares on
//! the linear form `N / X = a + b N + c N²`; three parameters and a 3x3
//! system solved by hand need no crate (a nonlinear-fit crate would bring
//! a linear-algebra stack for one tiny solve, and the linear form is the one
//! Gunther's own spreadsheets use).

/// A service-time distribution, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Service {
    /// Always `s`.
    Constant(f64),
    /// Exponential with mean `mean`.
    Exponential { mean: f64 },
    /// Lognormal with median `median` and shape `sigma`.
    LogNormal { median: f64, sigma: f64 },
}

impl Service {
    /// The mean, seconds.
    pub fn mean(&self) -> f64 {
        match *self {
            Service::Constant(s) => s,
            Service::Exponential { mean } => mean,
            Service::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
        }
    }

    /// Squared coefficient of variation: variance / mean².
    pub fn scv(&self) -> f64 {
        match *self {
            Service::Constant(_) => 0.0,
            Service::Exponential { .. } => 1.0,
            Service::LogNormal { sigma, .. } => (sigma * sigma).exp() - 1.0,
        }
    }

    /// P(S > t).
    fn tail(&self, t: f64) -> f64 {
        if t < 0.0 {
            return 1.0;
        }
        match *self {
            Service::Constant(s) => f64::from(u8::from(t < s)),
            Service::Exponential { mean } => (-t / mean).exp(),
            Service::LogNormal { median, sigma } => {
                if t == 0.0 {
                    1.0
                } else {
                    0.5 * erfc((t / median).ln() / (sigma * std::f64::consts::SQRT_2))
                }
            }
        }
    }

    /// The density at `t` (not defined for a constant).
    fn density(&self, t: f64) -> f64 {
        match *self {
            Service::Constant(_) => 0.0,
            Service::Exponential { mean } => (-t / mean).exp() / mean,
            Service::LogNormal { median, sigma } => {
                if t <= 0.0 {
                    return 0.0;
                }
                let z = (t / median).ln() / sigma;
                (-z * z / 2.0).exp() / (t * sigma * (2.0 * std::f64::consts::PI).sqrt())
            }
        }
    }
}

/// Erlang C: the chance an arrival waits in an M/M/c queue with `c` cores
/// and offered load `a = lambda / mu`; 1 when `a >= c` (the queue grows
/// without bound). Computed through the Erlang B recursion, stable for any
/// `c` and `a`.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    let cf = f64::from(c);
    if c == 0 || a >= cf {
        return 1.0;
    }
    if a <= 0.0 {
        return 0.0;
    }
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    let rho = a / cf;
    b / (1.0 - rho * (1.0 - b))
}

/// One node as a queue: Poisson arrivals at `lambda` per second, `cores`
/// servers, `service` per operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Queue {
    pub lambda: f64,
    pub cores: u32,
    pub service: Service,
}

/// What theory predicts for a [`Queue`], seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// lambda x mean service / cores.
    pub utilization: f64,
    /// The chance an operation waits (Erlang C).
    pub wait_chance: f64,
    /// Mean time waiting for a core.
    pub mean_wait: f64,
    /// Mean time at the node: wait plus service.
    pub mean_sojourn: f64,
    /// 99th percentile of the time at the node.
    pub p99_sojourn: f64,
    /// True for M/M/c (exact); false for Allen–Cunneen's approximation.
    pub exact: bool,
}

impl Queue {
    /// The prediction; `None` at utilization 1 or above (no steady state:
    /// the queue grows until the bounded buffer refuses work) or without
    /// arrivals, cores or service time.
    pub fn predict(&self) -> Option<Prediction> {
        let es = self.service.mean();
        if self.cores == 0 || es <= 0.0 || self.lambda <= 0.0 || !self.lambda.is_finite() {
            return None;
        }
        let a = self.lambda * es;
        let c = f64::from(self.cores);
        let rho = a / c;
        if rho >= 1.0 {
            return None;
        }
        let pw = erlang_c(self.cores, a);
        let exact = matches!(self.service, Service::Exponential { .. });
        // Allen–Cunneen; exact for exponential service (Cs² = 1).
        let mean_wait = pw / (c / es - self.lambda) * (1.0 + self.service.scv()) / 2.0;
        // The wait, when there is one, as exponential with this rate.
        let wait_rate = if pw > 0.0 && mean_wait > 0.0 {
            pw / mean_wait
        } else {
            f64::INFINITY
        };
        let tail = |t: f64| sojourn_tail(pw, wait_rate, &self.service, t);
        Some(Prediction {
            utilization: rho,
            wait_chance: pw,
            mean_wait,
            mean_sojourn: mean_wait + es,
            p99_sojourn: quantile(tail, 0.99, es),
            exact,
        })
    }
}

/// P(S + W > t) where W is 0 with chance `1 - pw`, else exponential with
/// rate `r`, independent of the service S.
fn sojourn_tail(pw: f64, r: f64, s: &Service, t: f64) -> f64 {
    if t <= 0.0 {
        return 1.0;
    }
    let wait_tail = |x: f64| {
        if x <= 0.0 {
            1.0
        } else if r.is_infinite() {
            0.0
        } else {
            (-r * x).exp()
        }
    };
    // P(S > t) + P(S <= t, W > t - S).
    let conv = match *s {
        Service::Constant(d) => {
            if d > t {
                0.0
            } else {
                wait_tail(t - d)
            }
        }
        Service::Exponential { mean } => {
            let mu = 1.0 / mean;
            if r.is_infinite() {
                0.0
            } else if (r - mu).abs() < 1e-12 * mu {
                mu * t * (-mu * t).exp()
            } else {
                // ∫0^t mu e^{-mu s} e^{-r (t-s)} ds
                mu * ((-r * t).exp() - (-mu * t).exp()) / (mu - r)
            }
        }
        Service::LogNormal { .. } => simpson(|x| s.density(x) * wait_tail(t - x), 0.0, t, 2000),
    };
    s.tail(t) + pw * conv
}

/// Simpson's rule over [lo, hi] with `n` (even) intervals.
fn simpson(f: impl Fn(f64) -> f64, lo: f64, hi: f64, n: usize) -> f64 {
    let h = (hi - lo) / n as f64;
    let mut sum = f(lo) + f(hi);
    for i in 1..n {
        let w = if i % 2 == 1 { 4.0 } else { 2.0 };
        sum += w * f(lo + h * i as f64);
    }
    sum * h / 3.0
}

/// The `q` quantile of a distribution given by its tail (decreasing), by
/// bisection; `scale` is a time of the distribution's order.
fn quantile(tail: impl Fn(f64) -> f64, q: f64, scale: f64) -> f64 {
    let target = 1.0 - q;
    let mut hi = scale.max(1e-12);
    while tail(hi) > target {
        hi *= 2.0;
        if hi > scale * 1e12 {
            return f64::INFINITY;
        }
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if tail(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= hi * 1e-12 {
            break;
        }
    }
    hi
}

/// The complementary error function (W. J. Cody's rational Chebyshev-like
/// fit from Numerical Recipes' `erfcc`: relative error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The Universal Scalability Law's parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usl {
    /// Throughput of one unit (N = 1), per second.
    pub lambda: f64,
    /// Contention.
    pub sigma: f64,
    /// Coherency.
    pub kappa: f64,
}

impl Usl {
    /// X(N).
    pub fn throughput(&self, n: f64) -> f64 {
        self.lambda * n / (1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0))
    }

    /// The N of the largest throughput, `sqrt((1 - sigma) / kappa)`;
    /// `None` when kappa <= 0 (throughput never falls) or sigma >= 1.
    pub fn peak(&self) -> Option<f64> {
        (self.kappa > 0.0 && self.sigma < 1.0).then(|| ((1.0 - self.sigma) / self.kappa).sqrt())
    }
}

/// Fits the USL to `(N, X)` points (N >= 1, X > 0) by least squares on
/// `N / X = a + b N + c N²`, then `lambda = 1 / (a + b + c)`,
/// `kappa = c lambda`, `sigma = b lambda + kappa`. Needs three distinct N;
/// `None` otherwise or when the fit is degenerate (lambda not positive).
/// Parameters are not clamped: a negative sigma or kappa says the points do
/// not follow the law (superlinear, or not measured at saturation).
pub fn fit_usl(points: &[(f64, f64)]) -> Option<Usl> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(n, x)| *n >= 1.0 && *x > 0.0 && n.is_finite() && x.is_finite())
        .collect();
    let mut ns: Vec<f64> = pts.iter().map(|p| p.0).collect();
    ns.sort_by(f64::total_cmp);
    ns.dedup();
    if ns.len() < 3 {
        return None;
    }
    // Normal equations: sum over points of [1 N N²]ᵀ [1 N N²] · p = [1 N N²]ᵀ y.
    let mut m = [[0.0f64; 4]; 3];
    for &(n, x) in &pts {
        let row = [1.0, n, n * n];
        let y = n / x;
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] += row[i] * row[j];
            }
            m[i][3] += row[i] * y;
        }
    }
    let [a, b, c] = solve3(m)?;
    let lambda = 1.0 / (a + b + c);
    if !(lambda.is_finite() && lambda > 0.0) {
        return None;
    }
    let kappa = c * lambda;
    Some(Usl {
        lambda,
        sigma: b * lambda + kappa,
        kappa,
    })
}

/// Gaussian elimination with partial pivoting on an augmented 3x4 matrix.
fn solve3(mut m: [[f64; 4]; 3]) -> Option<[f64; 3]> {
    for col in 0..3 {
        let piv = (col..3).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[piv][col].abs() < 1e-300 {
            return None;
        }
        m.swap(col, piv);
        let pivot = m[col];
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot[col];
                for (x, p) in row.iter_mut().zip(pivot.iter()).skip(col) {
                    *x -= f * p;
                }
            }
        }
    }
    let x = [m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]];
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn erlang_c_matches_the_table() {
        // C(c, a): textbook values (Kleinrock vol. 1; any Erlang C table).
        assert!(close(erlang_c(1, 0.5), 0.5, 1e-12)); // M/M/1: C = rho
        assert!(close(erlang_c(2, 1.0), 1.0 / 3.0, 1e-12));
        assert!(close(erlang_c(3, 2.0), 4.0 / 9.0, 1e-12));
        assert!(close(erlang_c(4, 3.0), 0.509_434, 1e-5));
        assert!(close(erlang_c(2, 1.6), 0.711_111, 1e-5)); // 64/90
        assert_eq!(erlang_c(2, 2.0), 1.0);
        assert_eq!(erlang_c(3, 0.0), 0.0);
        // Large c: no overflow, and a sensible value (a = 950 on 1000).
        let big = erlang_c(1000, 950.0);
        assert!(big.is_finite() && big > 0.0 && big < 1.0, "{big}");
    }

    #[test]
    fn mm1_p99_is_ln100_over_mu_minus_lambda() {
        // mu = 10,000/s, lambda = 7,000/s.
        let q = Queue {
            lambda: 7_000.0,
            cores: 1,
            service: Service::Exponential { mean: 100e-6 },
        };
        let p = q.predict().unwrap();
        assert!(p.exact);
        assert!(close(p.utilization, 0.7, 1e-12));
        assert!(close(p.mean_sojourn, 1.0 / 3_000.0, 1e-9));
        assert!(close(p.mean_wait, 0.7 / 3_000.0, 1e-9));
        assert!(close(p.p99_sojourn, 100f64.ln() / 3_000.0, 1e-9), "{p:?}");
        // The plan-mm1 test's edge: p99 = 2 ms at lambda = 10,000 - ln(100)/2ms.
        let edge = Queue {
            lambda: 10_000.0 - 100f64.ln() / 2e-3,
            ..q
        };
        assert!(close(edge.predict().unwrap().p99_sojourn, 2e-3, 1e-9));
    }

    #[test]
    fn mmc_mean_wait_and_tail() {
        // M/M/2, mu = 1, lambda = 1: C = 1/3, Wq = C / (2 - 1) = 1/3.
        let q = Queue {
            lambda: 1.0,
            cores: 2,
            service: Service::Exponential { mean: 1.0 },
        };
        let p = q.predict().unwrap();
        assert!(close(p.mean_wait, 1.0 / 3.0, 1e-12));
        assert!(close(p.mean_sojourn, 4.0 / 3.0, 1e-12));
        // r = c mu - lambda = mu here: P(T > t) = e^{-t} (1 + C t).
        let t = p.p99_sojourn;
        assert!(close((-t).exp() * (1.0 + t / 3.0), 0.01, 1e-9), "{t}");
    }

    #[test]
    fn allen_cunneen_halves_the_wait_for_constant_service() {
        let exp = Queue {
            lambda: 15_000.0,
            cores: 2,
            service: Service::Exponential { mean: 100e-6 },
        };
        let det = Queue {
            service: Service::Constant(100e-6),
            ..exp
        };
        let (e, d) = (exp.predict().unwrap(), det.predict().unwrap());
        assert!(!d.exact);
        assert!(close(d.mean_wait, e.mean_wait / 2.0, 1e-12));
        // Constant service: p99 = s + the wait's p99 under the approximation.
        let r = d.wait_chance / d.mean_wait;
        let want = 100e-6 + (d.wait_chance / 0.01).ln() / r;
        assert!(close(d.p99_sojourn, want, 1e-9), "{d:?} {want}");
        // Lognormal service: the numerical tail agrees with the exponential
        // closed form's shape (p99 above the mean, finite).
        let ln = Queue {
            service: Service::LogNormal {
                median: 80e-6,
                sigma: 0.6,
            },
            ..exp
        };
        let l = ln.predict().unwrap();
        assert!(close(ln.service.scv(), 0.36f64.exp() - 1.0, 1e-12));
        assert!(l.p99_sojourn > l.mean_sojourn && l.p99_sojourn.is_finite());
    }

    #[test]
    fn erfc_and_the_lognormal_tail() {
        assert!(close(erfc(0.0), 1.0, 1e-7));
        assert!(close(erfc(1.0), 0.157_299_207, 1e-6));
        assert!(close(erfc(-1.0), 1.842_700_793, 1e-6));
        let s = Service::LogNormal {
            median: 1.0,
            sigma: 0.5,
        };
        assert!(close(s.tail(1.0), 0.5, 1e-7));
        // The density integrates to the CDF.
        let cdf = simpson(|x| s.density(x), 0.0, 2.0, 2000);
        assert!(close(cdf, 1.0 - s.tail(2.0), 1e-6), "{cdf}");
    }

    #[test]
    fn no_steady_state_at_or_past_saturation() {
        let q = Queue {
            lambda: 20_000.0,
            cores: 2,
            service: Service::Exponential { mean: 100e-6 },
        };
        assert!(q.predict().is_none());
        assert!(Queue { lambda: 0.0, ..q }.predict().is_none());
    }

    #[test]
    fn usl_fit_recovers_known_parameters() {
        let truth = Usl {
            lambda: 50_000.0,
            sigma: 0.05,
            kappa: 0.002,
        };
        let pts: Vec<(f64, f64)> = (1..=16)
            .map(|n| (f64::from(n), truth.throughput(f64::from(n))))
            .collect();
        let fit = fit_usl(&pts).unwrap();
        assert!(close(fit.lambda, truth.lambda, 1e-9), "{fit:?}");
        assert!(close(fit.sigma, truth.sigma, 1e-7), "{fit:?}");
        assert!(close(fit.kappa, truth.kappa, 1e-7), "{fit:?}");
        let peak = fit.peak().unwrap();
        assert!(close(peak, (0.95f64 / 0.002).sqrt(), 1e-6), "{peak}");
        // Without the N = 1 point, and with 1% noise, it is still near.
        let noisy: Vec<(f64, f64)> = pts
            .iter()
            .skip(2)
            .enumerate()
            .map(|(i, &(n, x))| (n, x * if i % 2 == 0 { 1.01 } else { 0.99 }))
            .collect();
        let f = fit_usl(&noisy).unwrap();
        assert!(close(f.lambda, truth.lambda, 0.1), "{f:?}");
        assert!((f.kappa - truth.kappa).abs() < 0.001, "{f:?}");
        // Linear scaling: sigma = kappa = 0, no peak.
        let lin: Vec<(f64, f64)> = (1..=5)
            .map(|n| (f64::from(n), 100.0 * f64::from(n)))
            .collect();
        let l = fit_usl(&lin).unwrap();
        assert!(l.sigma.abs() < 1e-9 && l.kappa.abs() < 1e-9, "{l:?}");
        assert!(l.peak().is_none());
        // Two distinct N are too few.
        assert!(fit_usl(&[(2.0, 10.0), (3.0, 14.0), (3.0, 15.0)]).is_none());
    }
}
