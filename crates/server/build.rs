//! The migrations are embedded by `sqlx::migrate!` at compile time: a new or
//! changed migration file must rebuild the crate, which cargo would not know.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=migrations-postgres");
}
