//! Deterministic simulation tests: a client driver and the table on a simulated clock.

mod http_table;
mod lifecycle;
mod prop;
mod stateless;
mod util;
