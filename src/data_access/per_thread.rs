//! One value per thread, made on the thread's first use. actix-web runs each worker on a
//! single-threaded runtime of its own: a connection made (and so driven) by another thread's
//! runtime costs a cross-thread wake-up on every reply. Pools kept per thread avoid that.

use std::collections::HashMap;
use std::sync::Mutex;
use std::thread::ThreadId;

pub struct PerThread<T> {
    by_thread: Mutex<HashMap<ThreadId, T>>,
}

impl<T: Clone> PerThread<T> {
    pub fn new() -> Self {
        Self {
            by_thread: Mutex::new(HashMap::new()),
        }
    }

    /// This thread's value, made by `make` if the thread has none yet.
    pub fn get_or_try_make<E>(&self, make: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let mut by_thread = self
            .by_thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let thread = std::thread::current().id();
        if let Some(value) = by_thread.get(&thread) {
            return Ok(value.clone());
        }
        let value = make()?;
        by_thread.insert(thread, value.clone());
        Ok(value)
    }

    /// Every thread's value (for gauges that sum over them: the PostgreSQL pools').
    #[cfg_attr(not(feature = "direct-postgres"), allow(dead_code))]
    pub fn all(&self) -> Vec<T> {
        self.by_thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}

impl<T: Clone> Default for PerThread<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn one_value_per_thread_made_once() {
        let made = AtomicUsize::new(0);
        let values = PerThread::new();
        let make = || -> Result<usize, ()> { Ok(made.fetch_add(1, Ordering::SeqCst)) };
        let here = values.get_or_try_make(make);
        assert_eq!(values.get_or_try_make(make), here);
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(values.get_or_try_make(make), Ok(1)));
        });
        assert_eq!(made.load(Ordering::SeqCst), 2);
        let mut all = values.all();
        all.sort_unstable();
        assert_eq!(all, vec![0, 1]);
    }
}
