//! CPU time per request, from the kernel's accounting: what a figure costs, apart from how
//! fast this machine happened to be during the run. On a shared 2-core machine the rate
//! drifts by ±15 % between runs minutes apart (the trivial ceiling by more), while the
//! registry's CPU per lease says what the registry itself needs.

use std::time::Duration;

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
}

/// The reading taken when a run starts.
pub struct Meter {
    registry_pids: Vec<u32>,
    start: Cost,
}

impl Cost {
    fn read(registry_pids: &[u32]) -> Cost {
        Cost {
            registry: registry_pids.iter().map(|&pid| used(pid)).sum(),
            generator: used(std::process::id()),
            machine: machine(),
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
            "{:.0} + {:.0} + {:.0} µs; {:.0} % busy; ≤ {:.0}/s",
            per(registry),
            per(generator),
            per(rest),
            100.0 * busy.as_secs_f64() / all.as_secs_f64().max(1e-9),
            cores * 1e6 / per(busy).max(1.0)
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
}
