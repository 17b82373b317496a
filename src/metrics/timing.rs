//! Per-request time attribution for `Server-Timing`: data-access time (`db`) and, in
//! registry-proxy mode, the registry hop's own cost (`registry`: the RPC's round trip minus
//! the registry's database time). Kept in a task-local scoped around each request.

use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

#[derive(Clone, Copy, Debug, Default)]
pub struct Spent {
    pub db: Duration,
    pub registry: Duration,
    /// keystone auth mode: time spent validating the caller's token with Keystone.
    pub auth: Duration,
}

impl Spent {
    /// `db;dur=0.412, registry;dur=0.120, total;dur=0.950` (milliseconds).
    pub fn server_timing(&self, total: Duration) -> String {
        let mut out = String::with_capacity(64);
        push_millis(&mut out, "db", self.db);
        if !self.registry.is_zero() {
            out.push_str(", ");
            push_millis(&mut out, "registry", self.registry);
        }
        if !self.auth.is_zero() {
            out.push_str(", ");
            push_millis(&mut out, "auth", self.auth);
        }
        out.push_str(", ");
        push_millis(&mut out, "total", total);
        out
    }
}

/// `name;dur=M.UUU`: milliseconds with three decimals, from integer microseconds by hand
/// (`fmt` machinery was 1.4k instructions per response, and this runs on every one).
fn push_millis(out: &mut String, name: &str, spent: Duration) {
    let micros = u64::try_from(spent.as_micros()).unwrap_or(u64::MAX);
    out.push_str(name);
    out.push_str(";dur=");
    push_digits(out, micros / 1000, 1);
    out.push('.');
    push_digits(out, micros % 1000, 3);
}

/// The decimal digits of `value`, zero-padded to at least `width`.
fn push_digits(out: &mut String, mut value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    while value > 0 || digits.len() - start < width {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out.extend(digits[start..].iter().map(|&d| char::from(d)));
}

tokio::task_local! {
    static SPENT: Cell<Spent>;
}

/// Run `fut` with a fresh accumulator and return what it spent.
pub async fn measure<F: Future>(fut: F) -> (F::Output, Spent) {
    SPENT
        .scope(Cell::new(Spent::default()), async move {
            let out = fut.await;
            let spent = SPENT.try_with(Cell::get).unwrap_or_default();
            (out, spent)
        })
        .await
}

fn add(update: impl FnOnce(&mut Spent)) {
    let _ = SPENT.try_with(|cell| {
        let mut spent = cell.get();
        update(&mut spent);
        cell.set(spent);
    });
}

/// Count data-access time against the current request (no-op outside one).
pub fn add_db(elapsed: Duration) {
    add(|s| s.db += elapsed);
}

/// Count Keystone validation time against the current request (no-op outside one).
pub fn add_auth(elapsed: Duration) {
    add(|s| s.auth += elapsed);
}

/// Count registry-hop time against the current request (no-op outside one).
pub fn add_registry(elapsed: Duration) {
    add(|s| s.registry += elapsed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_in_milliseconds_with_three_decimals() {
        let spent = Spent {
            db: Duration::from_micros(412),
            registry: Duration::ZERO,
            auth: Duration::ZERO,
        };
        assert_eq!(
            spent.server_timing(Duration::from_micros(12_345_678)),
            "db;dur=0.412, total;dur=12345.678"
        );
        let spent = Spent {
            db: Duration::from_nanos(1_999),
            registry: Duration::from_micros(120),
            auth: Duration::from_micros(3_500),
        };
        assert_eq!(
            spent.server_timing(Duration::from_micros(950)),
            "db;dur=0.001, registry;dur=0.120, auth;dur=3.500, total;dur=0.950"
        );
        assert_eq!(
            Spent::default().server_timing(Duration::ZERO),
            "db;dur=0.000, total;dur=0.000"
        );
    }
}
