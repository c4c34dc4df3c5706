//! CPU time per request, from the kernel's accounting: what a figure costs, apart from how
//! fast this machine happened to be during the run. On a shared 2-core machine the rate
//! drifts by ±15 % between runs minutes apart (the trivial ceiling by more), while the
//! registry's CPU per lease says what the registry itself needs. Beside it, how long the
//! registry's threads waited for a core ([`Scheduling`]): a lease passes through several
//! threads in turn, and on two shared cores each can wait as long as it runs.

use std::time::{Duration, Instant};

/// Ticks per second of `/proc/PID/stat`'s times: `USER_HZ`, which Linux fixes at 100 for
/// that file whatever the kernel's own tick.
const USER_HZ: f64 = 100.0;

/// User plus system time a process (every thread) has used so far, from `/proc/PID/stat`;
/// `None` where there is no such file (not Linux, or the process is gone).
pub fn used(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it are numbers.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15; `fields[0]` is field 3.
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(Duration::from_secs_f64(ticks / USER_HZ))
}

/// Busy and total time of every CPU of the machine so far, from `/proc/stat`.
pub fn machine() -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|t| t.parse().unwrap_or(0.0))
        .collect();
    // user nice system idle iowait irq softirq steal …: idle and iowait are not busy, nor
    // is steal, the time the hypervisor gave this machine's CPUs to another.
    let total: f64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4)? + ticks.get(7)?;
    let seconds = |t: f64| Duration::from_secs_f64(t / USER_HZ);
    Some((seconds(total - idle), seconds(total)))
}

/// The CPUs `/proc/stat` adds up in [`machine`] (its `cpuN` lines); what Rust says this
/// process may use where there is no such file.
pub fn cores() -> f64 {
    let listed = std::fs::read_to_string("/proc/stat").map(|stat| {
        stat.lines()
            .filter(|line| line.starts_with("cpu") && !line.starts_with("cpu "))
            .count()
    });
    match listed {
        Ok(n) if n > 0 => n as f64,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
    }
}

/// The SQLite lease writer's thread name (`registry/src/store/leases.rs`).
const LEASE_WRITER: &str = "lease-writer";

/// How a process's threads were scheduled so far, from each `/proc/PID/task/TID/schedstat`
/// (nanoseconds on a CPU, nanoseconds runnable but waiting for one): the wait of every
/// thread, and the time running and waiting of the lease writers among them.
#[derive(Clone, Copy, Default)]
pub struct Scheduling {
    waited: Duration,
    writer_running: Duration,
    writer_waiting: Duration,
    writers: usize,
}

impl Scheduling {
    /// The threads of the processes `pids` so far; nothing where there is no `/proc`.
    fn of(pids: &[u32]) -> Scheduling {
        let mut seen = Scheduling::default();
        let tasks = pids
            .iter()
            .filter_map(|pid| std::fs::read_dir(format!("/proc/{pid}/task")).ok())
            .flatten();
        for task in tasks.flatten() {
            let read = |file| std::fs::read_to_string(task.path().join(file)).ok();
            let Some(times) = read("schedstat") else {
                continue;
            };
            let mut ns = times
                .split_whitespace()
                .map(|t| Duration::from_nanos(t.parse().unwrap_or(0)));
            let (running, waiting) = (ns.next().unwrap_or_default(), ns.next().unwrap_or_default());
            seen.waited += waiting;
            if read("comm").is_some_and(|name| name.trim() == LEASE_WRITER) {
                seen.writer_running += running;
                seen.writer_waiting += waiting;
                seen.writers += 1;
            }
        }
        seen
    }

    /// What happened between `self` (earlier) and `now`; a thread gone since counts as
    /// nothing.
    fn since(self, now: Scheduling) -> Scheduling {
        Scheduling {
            waited: now.waited.saturating_sub(self.waited),
            writer_running: now.writer_running.saturating_sub(self.writer_running),
            writer_waiting: now.writer_waiting.saturating_sub(self.writer_waiting),
            writers: now.writers,
        }
    }

    /// The lease writers' share of `wall` running and waiting for a core, in %, where the
    /// registry has such threads (SQLite's).
    fn writer_shares(&self, wall: Duration) -> Option<(f64, f64)> {
        let whole = wall.as_secs_f64() * self.writers as f64;
        (self.writers > 0 && whole > 0.0).then(|| {
            (
                100.0 * self.writer_running.as_secs_f64() / whole,
                100.0 * self.writer_waiting.as_secs_f64() / whole,
            )
        })
    }
}

/// `spent` per request, in µs, `requests` having been served.
fn micros_each(spent: Duration, requests: f64) -> f64 {
    spent.as_secs_f64() * 1e6 / requests.max(1.0)
}

/// CPU time of the registry (every process of it), of this process (the load generator)
/// and of the machine (busy, total): so far when read, or between two readings.
pub struct Cost {
    registry: Option<Duration>,
    generator: Option<Duration>,
    machine: Option<(Duration, Duration)>,
    scheduling: Scheduling,
    /// How long the run took (zero in a reading).
    wall: Duration,
}

/// The reading taken when a run starts.
pub struct Meter {
    registry_pids: Vec<u32>,
    start: Cost,
    started: Instant,
}

impl Cost {
    fn read(registry_pids: &[u32]) -> Cost {
        Cost {
            registry: registry_pids.iter().map(|&pid| used(pid)).sum(),
            generator: used(std::process::id()),
            machine: machine(),
            scheduling: Scheduling::of(registry_pids),
            wall: Duration::ZERO,
        }
    }
}

impl Meter {
    /// Starts metering the registry's processes `registry_pids` and this process (the
    /// load generator).
    pub fn start(registry_pids: &[u32]) -> Meter {
        Meter {
            registry_pids: registry_pids.to_vec(),
            start: Cost::read(registry_pids),
            started: Instant::now(),
        }
    }

    /// The CPU each side used since [`Meter::start`].
    pub fn stop(self) -> Cost {
        let (start, now) = (self.start, Cost::read(&self.registry_pids));
        let since = |start: Option<Duration>, now: Option<Duration>| Some(now? - start?);
        Cost {
            registry: since(start.registry, now.registry),
            generator: since(start.generator, now.generator),
            machine: start
                .machine
                .zip(now.machine)
                .map(|((busy0, all0), (busy1, all1))| (busy1 - busy0, all1 - all0)),
            scheduling: start.scheduling.since(now.scheduling),
            wall: self.started.elapsed(),
        }
    }
}

impl Cost {
    /// One line: CPU per request on each side, how busy the machine was, and the rate the
    /// registry's own CPU per request would allow if it had every core to itself.
    pub fn describe(&self, requests: f64) -> String {
        let per = |d: Duration| micros_each(d, requests);
        let cores = cores();
        let mut line = String::new();
        if let Some(registry) = self.registry {
            line += &format!(
                "registry CPU {:.0} µs/lease (alone on {cores} cores: at most {:.0}/s)",
                per(registry),
                cores * 1e6 / per(registry).max(1.0)
            );
        }
        if let Some(generator) = self.generator {
            line += &format!("; load generator {:.0} µs/lease", per(generator));
        }
        if let Some((busy, all)) = self.machine {
            line += &format!(
                "; machine {:.0} % busy",
                100.0 * busy.as_secs_f64() / all.as_secs_f64().max(1e-9)
            );
        }
        line + &self.waits(requests)
    }

    /// What the registry's threads waited for a core, per request, and the lease writers'
    /// time running and waiting for one, where there are such threads: threads that wait
    /// for a core as long as they run hold a lease back by the hand-offs between them as
    /// much as by its work (`bench/notes.md`).
    fn waits(&self, requests: f64) -> String {
        let mut line = format!(
            "; registry threads waited {:.0} µs/lease for a core",
            micros_each(self.scheduling.waited, requests)
        );
        if let Some((running, waiting)) = self.scheduling.writer_shares(self.wall) {
            line += &format!("; lease writer {running:.0} % running, {waiting:.0} % waiting");
        }
        line
    }

    /// A table cell: CPU per request in the registry, the load generator and the rest of
    /// the machine (PostgreSQL, when it runs here), how busy the machine was, and the
    /// rate its cores allow at that cost, `requests` having been served.
    pub fn cell(&self, requests: f64) -> String {
        let (Some(registry), Some(generator), Some((busy, all))) =
            (self.registry, self.generator, self.machine)
        else {
            return "not measured".to_owned();
        };
        let per = |d: Duration| micros_each(d, requests);
        let rest = busy.saturating_sub(registry + generator);
        let cores = cores();
        format!(
            "{:.0} + {:.0} + {:.0} µs; {:.0} % busy; ≤ {:.0}/s{}",
            per(registry),
            per(generator),
            per(rest),
            100.0 * busy.as_secs_f64() / all.as_secs_f64().max(1e-9),
            cores * 1e6 / per(busy).max(1.0),
            self.waits(requests)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_process_is_seen_using_cpu() {
        let before = used(std::process::id()).expect("this process's /proc/PID/stat");
        let started = std::time::Instant::now();
        let mut spin = 0u64;
        while started.elapsed() < Duration::from_millis(300) {
            spin = std::hint::black_box(spin.wrapping_add(1));
        }
        let after = used(std::process::id()).expect("still there");
        assert!(
            after - before >= Duration::from_millis(150),
            "{before:?} → {after:?}"
        );
        let (busy, all) = machine().expect("/proc/stat");
        assert!(busy <= all && all > Duration::ZERO);
    }

    #[test]
    fn a_lease_writer_thread_is_seen_running() {
        let (spun, stay) = std::sync::mpsc::channel::<()>();
        let (done, ended) = std::sync::mpsc::channel::<()>();
        let meter = Meter::start(&[std::process::id()]);
        let spinning = std::thread::Builder::new()
            .name(LEASE_WRITER.into())
            .spawn(move || {
                let started = Instant::now();
                let mut spin = 0u64;
                while started.elapsed() < Duration::from_millis(300) {
                    spin = std::hint::black_box(spin.wrapping_add(1));
                }
                // Still there when the meter reads it.
                spun.send(()).unwrap();
                let _ = ended.recv();
            })
            .unwrap();
        stay.recv().unwrap();
        let cost = meter.stop();
        done.send(()).unwrap();
        spinning.join().unwrap();
        assert_eq!(cost.scheduling.writers, 1, "the named thread is found");
        let (running, waiting) = cost.scheduling.writer_shares(cost.wall).unwrap();
        assert!(
            running > 20.0 && running + waiting <= 101.0,
            "{running} {waiting}"
        );
    }
}
