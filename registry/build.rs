//! Rebuilds the registry when a migration changes. `sqlx::migrate!` embeds the migrations
//! at compile time, and cargo does not know it reads them: a migration added or edited
//! alone left the binary with the old set, which then refused a database the new set had
//! migrated ("migration 13 was previously applied but has been modified").

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=migrations-postgres");
}
