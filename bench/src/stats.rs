//! Percentiles and the load generator shared by every benchmark.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Median, 99th percentile and count of a set of durations.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub p50: Duration,
    pub p99: Duration,
    pub count: usize,
}

impl Summary {
    pub fn of(mut samples: Vec<Duration>) -> Summary {
        samples.sort();
        let at = |q: f64| {
            if samples.is_empty() {
                Duration::ZERO
            } else {
                samples[((samples.len() - 1) as f64 * q).round() as usize]
            }
        };
        Summary {
            p50: at(0.50),
            p99: at(0.99),
            count: samples.len(),
        }
    }
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1_000.0)
}

/// What a load run achieved.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    pub per_second: f64,
    pub errors: usize,
    pub latency: Summary,
}

/// Runs `request(worker, n)` from `concurrency` workers for `duration`; each call returns
/// whether it succeeded.
pub async fn load<F, Fut>(concurrency: usize, duration: Duration, request: F) -> Throughput
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let request = request.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                let mut n = 0;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    if request(worker, n).await {
                        latencies.push(sent.elapsed());
                    } else {
                        errors += 1;
                    }
                    n += 1;
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for worker in workers {
        if let Ok((latencies, e)) = worker.await {
            all.extend(latencies);
            errors += e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    Throughput {
        per_second: all.len() as f64 / elapsed,
        errors,
        latency: Summary::of(all),
    }
}

/// Like [`load`] but paced: the workers together aim at `per_second` requests a second
/// (each waits for its next slot), as a fleet of agents leasing on schedule would.
pub async fn load_paced<F, Fut>(
    concurrency: usize,
    duration: Duration,
    per_second: f64,
    request: F,
) -> Throughput
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let slot = Duration::from_secs_f64(concurrency as f64 / per_second);
    let request = Arc::new(request);
    load(concurrency, duration, move |worker, n| {
        let request = request.clone();
        async move {
            let started = Instant::now();
            let ok = request(worker, n).await;
            if let Some(rest) = slot.checked_sub(started.elapsed()) {
                tokio::time::sleep(rest).await;
            }
            ok
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_right_samples() {
        let samples = (1..=100).map(Duration::from_millis).collect();
        let s = Summary::of(samples);
        assert_eq!(s.p50, Duration::from_millis(51));
        assert_eq!(s.p99, Duration::from_millis(99));
        assert_eq!(s.count, 100);
        assert_eq!(Summary::of(Vec::new()).p50, Duration::ZERO);
    }
}
