#![no_main]
//! The inspector on mutations of real vdi images (seed corpus: tests/fuzz/seed.sh).
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::check("vdi", data));
