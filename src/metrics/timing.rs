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
}

impl Spent {
    /// `db;dur=0.412, registry;dur=0.120, total;dur=0.950` (milliseconds).
    pub fn server_timing(&self, total: Duration) -> String {
        use std::fmt::Write;
        // Milliseconds with three decimals from integer microseconds (float formatting with
        // a precision is the slow path of `fmt`, and this runs on every response).
        let ms = |out: &mut String, name: &str, d: Duration| {
            let us = d.as_micros();
            let _ = write!(out, "{name};dur={}.{:03}", us / 1000, us % 1000);
        };
        let mut out = String::with_capacity(64);
        ms(&mut out, "db", self.db);
        if !self.registry.is_zero() {
            out.push_str(", ");
            ms(&mut out, "registry", self.registry);
        }
        out.push_str(", ");
        ms(&mut out, "total", total);
        out
    }
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
        };
        assert_eq!(
            spent.server_timing(Duration::from_micros(12_345_678)),
            "db;dur=0.412, total;dur=12345.678"
        );
        let spent = Spent {
            db: Duration::from_nanos(1_999),
            registry: Duration::from_micros(120),
        };
        assert_eq!(
            spent.server_timing(Duration::from_micros(950)),
            "db;dur=0.001, registry;dur=0.120, total;dur=0.950"
        );
    }
}
