//! Rebuild when a migration changes: refinery embeds the SQL files at compile time. The whole
//! `src/data_access` folder is watched (not each backend's `migrations/`) because a path that
//! does not exist in a build would make cargo rerun this script, and rebuild, every time.

fn main() {
    println!("cargo:rerun-if-changed=src/data_access");
}
