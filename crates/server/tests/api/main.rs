//! End-to-end tests through the real gRPC and HTTP ports, on SQLite and PostgreSQL.
// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod helpers;

mod access;
mod allsecure;
mod auth;
mod bad_input;
mod browser;
mod checkout;
mod command_line;
mod connections;
mod console;
mod disputes;
mod disputes_by_hand;
mod escrow;
mod events;
mod fixtures;
mod hostile_input;
mod idempotency;
mod jwks;
mod loadgen;
mod marketplace;
mod marketplace_rules;
mod observability;
mod openapi;
mod original_fields;
mod pages;
mod reconcile;
mod recovered_reversals;
mod replicas;
mod stripe;
mod stripe_connect;
mod stripe_support;
mod wallet;
mod webhooks;
