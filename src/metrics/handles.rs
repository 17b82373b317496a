//! Metric handles kept per thread. The `counter!`/`histogram!` macros build a `Key` and look
//! it up in the exporter's registry on every call (hashing and comparing each label, about
//! 2k instructions per request for the request and data-access metrics); the hot paths take
//! their handles from these small per-thread maps instead. Only handles of the installed
//! recorder are cached: one taken before `metrics::install` would be a no-op forever.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use metrics::{Counter, Histogram, Key, Label, Level, Metadata, SharedString};

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Up to three `(label, value)` pairs, all static; unused slots are `("", "")`.
pub type StaticLabels = [(&'static str, &'static str); 3];

/// `glance_http_requests_total` and `glance_http_request_duration_seconds` of one
/// (method, route, status).
#[derive(Clone)]
pub struct RequestHandles {
    pub count: Counter,
    pub duration: Histogram,
}

/// A multiply-rotate hash (as rustc's FxHash) for these maps: their keys are the program's
/// own static names, so the DoS-resistant default hasher only costs time here (SipHash over
/// seven short strings was 1.4k instructions per lookup).
#[derive(Default)]
struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u8(&mut self, byte: u8) {
        self.write_u64(u64::from(byte));
    }

    fn write_u16(&mut self, value: u16) {
        self.write_u64(u64::from(value));
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type NameMap<K, V> = HashMap<K, V, BuildHasherDefault<NameHasher>>;

thread_local! {
    static HISTOGRAMS: RefCell<NameMap<(&'static str, StaticLabels), Histogram>> =
        RefCell::new(NameMap::default());
    static REQUESTS: RefCell<NameMap<(&'static str, &'static str, u16), RequestHandles>> =
        RefCell::new(NameMap::default());
}

/// The histogram `name` with static `labels`.
pub fn histogram(name: &'static str, labels: StaticLabels) -> Histogram {
    let make = || {
        let labels: Vec<(&'static str, SharedString)> = labels
            .iter()
            .filter(|(key, _)| !key.is_empty())
            .map(|(key, value)| (*key, SharedString::const_str(value)))
            .collect();
        register_histogram(name, &labels)
    };
    if !super::installed() {
        return make();
    }
    HISTOGRAMS.with(|cache| {
        cache
            .borrow_mut()
            .entry((name, labels))
            .or_insert_with(make)
            .clone()
    })
}

/// The request metrics of a static method and route pattern and a status code.
pub fn request(method: &'static str, route: &'static str, status: u16) -> RequestHandles {
    let make = || {
        let labels = [
            ("method", SharedString::const_str(method)),
            ("route", SharedString::const_str(route)),
            ("status", status_label(status)),
        ];
        RequestHandles {
            count: register_counter(super::HTTP_REQUESTS_TOTAL, &labels),
            duration: register_histogram(super::HTTP_REQUEST_DURATION, &labels),
        }
    };
    if !super::installed() {
        return make();
    }
    REQUESTS.with(|cache| {
        cache
            .borrow_mut()
            .entry((method, route, status))
            .or_insert_with(make)
            .clone()
    })
}

/// The `status` label: the code's decimal digits.
pub fn status_label(status: u16) -> SharedString {
    SharedString::from(status.to_string())
}

fn register_histogram(name: &'static str, labels: &[(&'static str, SharedString)]) -> Histogram {
    let key = key_of(name, labels);
    metrics::with_recorder(|recorder| recorder.register_histogram(&key, &METADATA))
}

fn register_counter(name: &'static str, labels: &[(&'static str, SharedString)]) -> Counter {
    let key = key_of(name, labels);
    metrics::with_recorder(|recorder| recorder.register_counter(&key, &METADATA))
}

fn key_of(name: &'static str, labels: &[(&'static str, SharedString)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(key, value)| Label::new(*key, value.clone()))
        .collect();
    Key::from_parts(name, labels)
}

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasher, BuildHasherDefault};

    use super::NameHasher;

    #[test]
    fn name_hasher_tells_keys_apart() {
        let hash = |key: &(&str, [(&str, &str); 3])| {
            BuildHasherDefault::<NameHasher>::default().hash_one(key)
        };
        let a = (
            "m",
            [("operation", "image_get"), ("outcome", "ok"), ("", "")],
        );
        let b = (
            "m",
            [
                ("operation", "image_get"),
                ("outcome", "not_found"),
                ("", ""),
            ],
        );
        let c = (
            "m",
            [("operation", "image_ge"), ("outcome", "tok"), ("", "")],
        );
        assert_eq!(hash(&a), hash(&a.clone()));
        assert_ne!(hash(&a), hash(&b));
        assert_ne!(hash(&a), hash(&c));
    }
}
