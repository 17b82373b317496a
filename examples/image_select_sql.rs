//! Prints the SQL statement GET image runs in direct-postgres mode (admin or project-less
//! caller; `$1` is the image id), so `scripts/load/pgbench.py` measures the service's own
//! statement and not a copy that could drift from it.
//!
//! `cargo run --example image_select_sql --features direct-postgres`

fn main() {
    println!(
        "{}",
        glance_rs::data_access::postgres::image_get_statement()
    );
}
