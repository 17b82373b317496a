//! The process's own resources, read from `/proc/self` at scrape time, under the names of
//! Prometheus's standard process collector (as the Python and Go clients export them):
//! resident and virtual memory, open and allowed file descriptors, start time. The soak test
//! (scripts/load/soak.py) charts them over time; on a system without `/proc` they are absent.

use metrics::{describe_gauge, gauge, Unit};

pub const RESIDENT_MEMORY: &str = "process_resident_memory_bytes";
pub const VIRTUAL_MEMORY: &str = "process_virtual_memory_bytes";
pub const OPEN_FDS: &str = "process_open_fds";
pub const MAX_FDS: &str = "process_max_fds";
pub const START_TIME: &str = "process_start_time_seconds";

pub(super) fn describe() {
    describe_gauge!(RESIDENT_MEMORY, Unit::Bytes, "Resident memory size.");
    describe_gauge!(VIRTUAL_MEMORY, Unit::Bytes, "Virtual memory size.");
    describe_gauge!(OPEN_FDS, "Open file descriptors.");
    describe_gauge!(MAX_FDS, "The soft limit of open file descriptors.");
    describe_gauge!(
        START_TIME,
        Unit::Seconds,
        "Start time of the process since the Unix epoch."
    );
}

/// What `/proc/self` says now (`None` for what it does not say).
#[derive(Debug, Default, PartialEq)]
pub struct Usage {
    pub resident_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

/// Set the process gauges (called by `GET /metrics`).
pub fn record() {
    let usage = read();
    let set = |name: &'static str, value: Option<f64>| {
        if let Some(value) = value {
            gauge!(name).set(value);
        }
    };
    set(RESIDENT_MEMORY, usage.resident_bytes.map(|v| v as f64));
    set(VIRTUAL_MEMORY, usage.virtual_bytes.map(|v| v as f64));
    set(OPEN_FDS, usage.open_fds.map(|v| v as f64));
    set(MAX_FDS, usage.max_fds.map(|v| v as f64));
    set(START_TIME, usage.start_time_seconds);
}

pub fn read() -> Usage {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let uptime = std::fs::read_to_string("/proc/uptime").unwrap_or_default();
    Usage {
        resident_bytes: status_kib(&status, "VmRSS:").map(|kib| kib * 1024),
        virtual_bytes: status_kib(&status, "VmSize:").map(|kib| kib * 1024),
        open_fds: std::fs::read_dir("/proc/self/fd")
            .ok()
            // The listing's own descriptor is counted by the kernel's listing; drop it.
            .map(|dir| (dir.count() as u64).saturating_sub(1)),
        max_fds: soft_limit(&limits, "Max open files"),
        start_time_seconds: start_time(&stat, &uptime),
    }
}

/// `VmRSS:   1234 kB` → 1234.
fn status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// `Max open files            1024                 524288               files` → 1024.
fn soft_limit(limits: &str, name: &str) -> Option<u64> {
    let line = limits.lines().find(|line| line.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// The start time from `/proc/self/stat` (field 22, in clock ticks since boot) and the boot
/// time (now minus `/proc/uptime`). Clock ticks are 100 per second on Linux's user ABI.
fn start_time(stat: &str, uptime: &str) -> Option<f64> {
    const TICKS_PER_SECOND: f64 = 100.0;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Fields from 3 on; the start time is field 22, the 20th of these.
    let ticks: f64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
    let up: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    Some(now - up + ticks / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields_parse() {
        assert_eq!(
            status_kib("Name:\tx\nVmRSS:\t  2048 kB\n", "VmRSS:"),
            Some(2048)
        );
        assert_eq!(status_kib("Name:\tx\n", "VmRSS:"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(soft_limit(limits, "Max open files"), Some(1024));
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 500 19 20";
        let started = start_time(stat, "100.00 1.00").expect("start time");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64();
        // Booted 100 s ago, started 5 s after boot: 95 s ago.
        assert!((now - started - 95.0).abs() < 2.0, "{}", now - started);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_read() {
        let usage = read();
        assert!(usage.resident_bytes.is_some_and(|b| b > 1024 * 1024));
        assert!(usage.virtual_bytes >= usage.resident_bytes);
        let file = std::fs::File::open("/proc/self/status").expect("open");
        let with_one_more = read().open_fds.expect("fds");
        drop(file);
        assert!(with_one_more >= 1 && usage.max_fds.is_some_and(|m| m >= with_one_more));
        assert!(usage.start_time_seconds.is_some());
    }
}
