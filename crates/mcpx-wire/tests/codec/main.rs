//! Codec tests: hand-written cases, round-trip and forwarding properties, the differential test
//! against the serde_json reference, the digest's examples and the fuzz corpus replay. One test
//! binary (link time matters on 2 cores).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod cases;
mod corpus;
mod differential;
mod raw_member;
mod roundtrip_prop;
mod spec_examples;
