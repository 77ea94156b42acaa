//! The Onsite sync server: the truth every laptop converges to.
//!
//! - [`api`]: the HTTP calls of PROTOCOL.md (one router, testable without a socket);
//! - [`push`]: what happens to one pushed operation, whatever the storage;
//! - [`storage`]: the storage trait; [`sqlite`]: its embedded SQLite implementation;
//! - [`auth`]: passwords, tokens, the session extractors;
//! - [`demo`]: realistic demo data for `--demo`.

pub mod api;
pub mod auth;
pub mod demo;
pub mod error;
pub mod openapi;
pub mod push;
pub mod sqlite;
pub mod storage;
pub mod throttle;

pub use api::router;
