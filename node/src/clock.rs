//! The one seam for time, with a scale.
//!
//! madsim puts a 1 ms floor under every sleep and every simulated TCP
//! delivery, far above a cache's latencies. The simulator therefore runs on a
//! clock scaled by `D` (about 1000): every *model* duration the code asks for
//! is stretched `D` times on the runtime's clock, and every duration measured
//! on the runtime's clock is divided by `D`. A real node runs with `D = 1`.
//!
//! Nothing in the node or the load generator calls `tokio::time` or
//! `std::time` directly; everything goes through a [`Clock`]. Pure code never
//! sees a clock at all: it takes `now` ([`Micros`]) as an argument.
//!
//! Model time is microseconds since the Unix epoch ([`Micros`]) so that
//! absolute expiry times and last-writer-wins versions mean the same on every
//! node. A real node takes the epoch offset from the system clock once, at
//! start, and then advances monotonically. The simulator builds one clock and
//! hands copies to every node and client, so all of them agree exactly,
//! unless a scenario skews a node's clock: that node's copy then carries a
//! [`SkewHandle`] the simulator changes at the fault's time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::Instant;

pub use ringlab_core::clock::{Micros, Skew};

/// A node clock's skew against model time, shared by the node's [`Clock`]
/// and the simulator that changes it (a `skew` fault). Nothing else writes
/// it, and no thread or real clock is involved: the simulator sets it at a
/// model instant and the node reads it at its next `now`.
#[derive(Debug, Default)]
pub struct SkewHandle(Mutex<Skew>);

impl SkewHandle {
    /// A handle that lives to the end of the process, for [`Clock::skewed`]:
    /// a few bytes per simulated node per run, never freed, so that a clock
    /// stays `Copy`. Only the simulator makes them.
    pub fn leak() -> &'static SkewHandle {
        Box::leak(Box::default())
    }

    /// The skew now.
    pub fn get(&self) -> Skew {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the skew (from model time `skew.since` on).
    pub fn set(&self, skew: Skew) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = skew;
    }
}

/// The error of [`Clock::timeout`]: the future did not finish in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("timed out")]
pub struct Elapsed;

/// Model time on top of the runtime's clock. Cheap to copy; copies agree
/// (a skewed copy reads its own time, see [`Clock::skewed`]).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// How many runtime nanoseconds make one model nanosecond (`D`).
    scale: u32,
    /// The runtime instant that corresponds to `origin_us`.
    origin: Instant,
    /// Model time at `origin`.
    origin_us: Micros,
    /// This node's skew, when the simulator skews it (None: model time).
    /// A `'static` borrow keeps the clock `Copy`, which the node and the
    /// load generator rely on everywhere (see [`SkewHandle::leak`]).
    skew: Option<&'static SkewHandle>,
}

impl Clock {
    /// The clock of a real node: scale 1, Unix time read from the system once.
    pub fn real() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            scale: 1,
            origin: Instant::now(),
            origin_us: since_epoch.as_micros() as Micros,
            skew: None,
        }
    }

    /// A clock whose model time is `origin_us` now and runs `scale` times
    /// slower than the runtime's clock. The simulator builds one of these
    /// (with a fixed `origin_us`, so reports do not depend on madsim's
    /// seed-dependent start date) and copies it to every node and client.
    pub fn scaled(scale: u32, origin_us: Micros) -> Self {
        assert!(scale >= 1, "a clock's scale must be at least 1");
        Self {
            scale,
            origin: Instant::now(),
            origin_us,
            skew: None,
        }
    }

    /// This clock read through `skew`: `now` is the node's local time and
    /// `sleep_until` takes a local deadline. Relative durations (`sleep`,
    /// `timeout`, `interval`) stay in model time: the simulator's capacity
    /// and network run on model time, whatever a node's clock reads.
    pub fn skewed(&self, skew: &'static SkewHandle) -> Self {
        Self {
            skew: Some(skew),
            ..*self
        }
    }

    /// The scale `D`: runtime time per model time.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Model time now (the node's local time when skewed).
    pub fn now(&self) -> Micros {
        let real = Instant::now().saturating_duration_since(self.origin);
        let model = self.origin_us + (real.as_nanos() / (u128::from(self.scale) * 1000)) as Micros;
        match &self.skew {
            Some(s) => s.get().local(model),
            None => model,
        }
    }

    /// Model time elapsed since `then` (zero if `then` is in the future).
    pub fn since(&self, then: Micros) -> Duration {
        Duration::from_micros(self.now().saturating_sub(then))
    }

    /// A model duration stretched onto the runtime's clock.
    pub fn to_runtime(&self, model: Duration) -> Duration {
        model.saturating_mul(self.scale)
    }

    /// A runtime duration shrunk to model time.
    pub fn to_model(&self, runtime: Duration) -> Duration {
        runtime / self.scale
    }

    /// The runtime instant at model time `at` (when skewed: when this
    /// clock reads `at`).
    pub fn runtime_instant(&self, at: Micros) -> Instant {
        let at = match &self.skew {
            Some(s) => s.get().global(at),
            None => at,
        };
        let model = Duration::from_micros(at.saturating_sub(self.origin_us));
        self.origin + self.to_runtime(model)
    }

    /// Sleeps for a model duration.
    pub fn sleep(&self, model: Duration) -> Sleep {
        Sleep::new(tokio::time::sleep(self.to_runtime(model)))
    }

    /// Sleeps until model time `at` (returns at once if it has passed).
    pub fn sleep_until(&self, at: Micros) -> Sleep {
        Sleep::new(tokio::time::sleep_until(self.runtime_instant(at)))
    }

    /// Runs `fut` for at most a model duration.
    pub async fn timeout<F: Future>(&self, model: Duration, fut: F) -> Result<F::Output, Elapsed> {
        let sleep = self.sleep(model);
        tokio::select! {
            biased;
            out = fut => Ok(out),
            () = sleep => Err(Elapsed),
        }
    }

    /// An interval that ticks every `period` of model time; the first tick is
    /// one period from now, and missed ticks are skipped, not bunched.
    pub fn interval(&self, period: Duration) -> tokio::time::Interval {
        let period = self.to_runtime(period).max(Duration::from_nanos(1));
        let mut iv = tokio::time::interval_at(Instant::now() + period, period);
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        iv
    }
}

/// A sleep on the runtime's clock that arms the runtime's timer once per
/// waker.
///
/// madsim's `Sleep` adds a new entry to its timer heap every time it is
/// polled while pending, and entries are never cancelled. A sleep that sits
/// in a `select!` loop is polled on every wake-up of its task, so it would
/// pile up heap entries, each of which later fires as a spurious wake-up:
/// measured, that was the simulator's largest single cost. Polling the
/// inner sleep again only when the waker changes keeps one entry per sleep.
/// On real tokio this is equally correct: its timer keeps the waker it was
/// given until it fires.
pub struct Sleep {
    inner: Pin<Box<tokio::time::Sleep>>,
    /// The waker the runtime's timer was armed with, if any.
    armed: Option<Waker>,
}

impl Sleep {
    fn new(inner: tokio::time::Sleep) -> Self {
        Self {
            inner: Box::pin(inner),
            armed: None,
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.is_elapsed() {
            return Poll::Ready(());
        }
        if self.armed.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        self.armed = Some(cx.waker().clone());
        self.inner.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.inner.deadline())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_conversions_round_trip() {
        let c = Clock {
            scale: 1000,
            origin: Instant::now(),
            origin_us: 1_000_000,
            skew: None,
        };
        assert_eq!(
            c.to_runtime(Duration::from_micros(20)),
            Duration::from_millis(20)
        );
        assert_eq!(
            c.to_model(Duration::from_millis(20)),
            Duration::from_micros(20)
        );
        assert_eq!(
            c.runtime_instant(1_000_050) - c.origin,
            Duration::from_millis(50)
        );
        // Before the origin clamps to the origin rather than panicking.
        assert_eq!(c.runtime_instant(0), c.origin);
    }

    #[test]
    fn real_clock_is_unix_time_and_monotonic() {
        let c = Clock::real();
        let a = c.now();
        let b = c.now();
        assert!(b >= a);
        // 2020-01-01 in microseconds: the real clock reads the system's date.
        assert!(a > 1_577_836_800_000_000);
        assert_eq!(c.since(a + 10_000_000), Duration::ZERO);
    }

    /// The sleep arms the runtime's timer once per waker, however often it
    /// is polled, and still completes at its deadline.
    #[cfg(not(madsim))] // madsim cannot build a tokio runtime by hand
    #[test]
    fn sleep_completes_and_skips_re_arming() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .expect("a runtime");
        rt.block_on(async {
            let c = Clock::real();
            let start = c.now();
            let mut sleep = c.sleep(Duration::from_millis(20));
            // Poll it many times with the same waker while pending.
            for _ in 0..100 {
                let polled =
                    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut sleep).poll(cx))).await;
                assert!(polled.is_pending());
            }
            sleep.await;
            assert!(c.since(start) >= Duration::from_millis(20));
            let timed_out = c
                .timeout(Duration::from_millis(5), std::future::pending::<()>())
                .await;
            assert_eq!(timed_out, Err(Elapsed));
            assert_eq!(c.timeout(Duration::from_secs(5), async { 7 }).await, Ok(7));
        });
    }
}
