//! Benchmarks live in `benches/`; this crate holds what they share: [`CpuTime`], the clock
//! of `ring` and `translate` (the figures `bench/report.sh` reads).
//!
//! Why CPU time: the machine is shared, and wall-clock time under load measures the
//! neighbours. `openssl speed`, the reference of every ratio, divides by the CPU (user) time
//! of its process too (unless `-elapsed`), so a ratio of two CPU-time rates is measured on
//! the same clock. The benches run on one thread (a current-thread runtime, no TSA), so the
//! process CPU time is the translation's.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use std::time::Duration;

/// The CPU time (user + system) of this process, `CLOCK_PROCESS_CPUTIME_ID`.
pub struct CpuTime;

fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant of the platform.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        panic!("clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

static WALL: WallTime = WallTime;

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        process_cpu()
    }
    fn end(&self, i: Duration) -> Duration {
        process_cpu().saturating_sub(i)
    }
    fn add(&self, v1: &Duration, v2: &Duration) -> Duration {
        *v1 + *v2
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, as the wall clock's: the same units and throughput formatting.
        WALL.formatter()
    }
}

/// The criterion configuration of the benches that use [`CpuTime`].
pub fn cpu_criterion() -> criterion::Criterion<CpuTime> {
    criterion::Criterion::default().with_measurement(CpuTime)
}
