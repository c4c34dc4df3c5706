//! Black-box tests of the registry API: a real server on loopback, over a real SQLite file
//! or, with `SEKUIRE_TEST_POSTGRES`, a real PostgreSQL database (see `harness.rs`).
//! One test binary (modules below) so the suite links once.

// In test helpers a panic is the failure report, as in the tests themselves.
#![allow(clippy::unwrap_used)]

mod harness;

mod auth;
mod delivery;
mod durability;
mod errors;
mod events;
mod fleet;
mod hardening;
mod installations;
mod lifecycle;
mod migration;
mod onboarding;
mod processes;
mod serving;
