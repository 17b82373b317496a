//! Test support: real servers on loopback, real databases in temp folders.
#![allow(dead_code)]

#[cfg(feature = "direct-postgres")]
pub mod postgres;
pub mod server;
