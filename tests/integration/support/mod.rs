//! Test support: real servers on loopback, real databases in temp folders.
#![allow(dead_code)]

pub mod server;
