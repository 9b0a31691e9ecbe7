//! Sharding: one [`SessionTable`] per shard, so that no single lock sits on every request.
//!
//! [`SessionTable::sharded`] splits one [`Config`] into `count` tables. Whatever a request names
//! says which shard serves it, with no shared lookup structure:
//! - a session id starts with its shard's hex digit ([`shard_of_session`]); the other 128 bits
//!   are the generator's own (so ids stay 128-bit random, one character longer);
//! - a stream key is congruent to its shard modulo `count` ([`StreamKey::shard`]), so an SSE
//!   event id (`"{stream}-{seq}"`) and everything addressed by stream find their table;
//! - requests that name neither (`initialize`, the stateless era) go to any shard; the server
//!   picks one round-robin and, when that one is full of busy sessions, tries the others.
//!
//! Limits that bound the whole server (`max_sessions`, `max_stateless_in_flight`) are divided
//! among the shards, so the sum is exactly the configured limit. Least-recently-used eviction
//! works per shard: the idle session evicted is the oldest of its shard, not of the server (an
//! approximation that costs nothing on the request path).

use crate::id::SessionIdGenerator;
use crate::{Config, ConfigError, OsRngIds, SessionId, SessionTable, StreamKey};

/// At most this many shards: a session id carries its shard as one hex digit, and a handful of
/// shards already removes lock contention on machines of tens of cores.
pub const MAX_SHARDS: usize = 16;

/// The shard that issued session id `id` in a table of `count` shards (0 for ids it cannot
/// have issued: that shard then answers 404, as for any unknown session).
pub fn shard_of_session(id: &[u8], count: usize) -> usize {
    if count <= 1 {
        return 0;
    }
    let digit = match id.first() {
        Some(&b @ b'0'..=b'9') => usize::from(b - b'0'),
        Some(&b @ b'a'..=b'f') => usize::from(b - b'a' + 10),
        _ => return 0,
    };
    if digit < count { digit } else { 0 }
}

impl StreamKey {
    /// The shard whose table issued this key, in a table of `count` shards.
    pub fn shard(self, count: usize) -> usize {
        if count <= 1 {
            return 0;
        }
        // `count` <= MAX_SHARDS, so the remainder fits any usize.
        usize::try_from(self.get() % count as u64).unwrap_or(0)
    }
}

/// Prefixes another generator's ids with the shard's hex digit.
struct ShardIds {
    inner: Box<dyn SessionIdGenerator>,
    digit: char,
}

impl SessionIdGenerator for ShardIds {
    fn generate(&mut self) -> Option<SessionId> {
        let inner = self.inner.generate()?;
        let mut id = String::with_capacity(inner.as_str().len() + 1);
        id.push(self.digit);
        id.push_str(inner.as_str());
        SessionId::new(&id)
    }

    fn validate(&self, id: &str) -> bool {
        id.strip_prefix(self.digit)
            .is_some_and(|rest| self.inner.validate(rest))
    }
}

impl SessionTable {
    /// `count` tables that together serve `config` (see the [module docs](crate::shard)), with
    /// session ids from the OS CSPRNG. `count` is clamped to `1..=MAX_SHARDS` and to the
    /// session limit (a shard holds at least one session); the length of the result is the
    /// count in effect, which the server passes to [`shard_of_session`] and
    /// [`StreamKey::shard`].
    pub fn sharded(config: Config, count: usize) -> Result<Vec<SessionTable>, ConfigError> {
        Self::sharded_with_ids(config, count, |_| Box::new(OsRngIds::new()))
    }

    /// [`sharded`](Self::sharded) with a session id generator per shard (seeded ones in tests).
    pub fn sharded_with_ids(
        config: Config,
        count: usize,
        mut ids: impl FnMut(usize) -> Box<dyn SessionIdGenerator>,
    ) -> Result<Vec<SessionTable>, ConfigError> {
        config.validate()?;
        let count = count
            .clamp(1, MAX_SHARDS)
            .min(config.max_sessions.max(1))
            .min(config.max_stateless_in_flight.max(1));
        if count == 1 {
            return Ok(vec![Self::with_id_generator(config, ids(0))?]);
        }
        let share = |total: usize, i: usize| total / count + usize::from(i < total % count);
        (0..count)
            .map(|i| {
                let mut shard = config.clone();
                shard.max_sessions = share(config.max_sessions, i);
                shard.max_stateless_in_flight = share(config.max_stateless_in_flight, i);
                let digit = char::from_digit(i as u32, 16).unwrap_or('0');
                let generator = Box::new(ShardIds {
                    inner: ids(i),
                    digit,
                });
                let mut table = Self::with_id_generator(shard, generator)?;
                table.set_stream_keys(i as u64, count as u64);
                Ok(table)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeededIds;

    #[test]
    fn limits_are_divided_exactly_and_ids_name_their_shard() {
        let mut config = Config::new();
        config.max_sessions(10).max_stateless_in_flight(7);
        let tables =
            SessionTable::sharded_with_ids(config, 4, |i| Box::new(SeededIds::new(i as u64)))
                .unwrap();
        assert_eq!(tables.len(), 4);
        let sessions: usize = tables.iter().map(|t| t.config().max_sessions).sum();
        let stateless: usize = tables
            .iter()
            .map(|t| t.config().max_stateless_in_flight)
            .sum();
        assert_eq!((sessions, stateless), (10, 7));
        for (i, mut t) in tables.into_iter().enumerate() {
            let id = t.ids.generate().unwrap();
            assert_eq!(id.as_str().len(), 33);
            assert_eq!(shard_of_session(id.as_str().as_bytes(), 4), i);
            assert!(t.ids.validate(id.as_str()));
            let other = format!(
                "{}{}",
                (b'0' + ((i as u8 + 1) % 4)) as char,
                &id.as_str()[1..]
            );
            assert!(
                !t.ids.validate(&other),
                "a foreign shard's digit is refused"
            );
            for _ in 0..3 {
                let key = t.new_stream_key();
                assert_eq!(key.shard(4), i);
            }
        }
    }

    #[test]
    fn count_is_clamped() {
        let mut config = Config::new();
        config.max_sessions(3);
        assert_eq!(SessionTable::sharded(config.clone(), 64).unwrap().len(), 3);
        assert_eq!(SessionTable::sharded(config, 0).unwrap().len(), 1);
        let big = SessionTable::sharded(Config::new(), 1000).unwrap();
        assert_eq!(big.len(), MAX_SHARDS);
        // One shard: ids and keys as an unsharded table's.
        let mut one = SessionTable::sharded(Config::new(), 1).unwrap();
        assert_eq!(one[0].ids.generate().unwrap().as_str().len(), 32);
        assert_eq!(shard_of_session(b"zz", 1), 0);
        assert_eq!(shard_of_session(b"", 4), 0);
        assert_eq!(shard_of_session(b"f0", 4), 0);
    }
}
