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
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut parts = vec![format!("db;dur={:.3}", ms(self.db))];
        if !self.registry.is_zero() {
            parts.push(format!("registry;dur={:.3}", ms(self.registry)));
        }
        parts.push(format!("total;dur={:.3}", ms(total)));
        parts.join(", ")
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
