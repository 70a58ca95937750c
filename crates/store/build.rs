//! `sqlx::migrate!` embeds the migrations at compile time; without this a migration
//! added to the folder is missing from an incremental build until something else in
//! this crate changes.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
