//! Behaviour only the direct-postgres backend has: schema versions and `db-sync`, pool
//! timeouts when PostgreSQL is down or busy, and concurrency on one database.

mod api_concurrency;
mod api_faults;
mod concurrency;
mod deployment;
mod import_nodes;
mod plans;
mod schema;
mod unavailable;
