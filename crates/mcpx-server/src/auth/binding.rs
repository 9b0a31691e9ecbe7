//! Which subject owns each session (MCP security guidance: bind session state to the user the
//! validated token names, never to the session id alone). Bounded; see
//! [`DEFAULT_MAX_BOUND_SESSIONS`](super::DEFAULT_MAX_BOUND_SESSIONS).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::service::lock;

/// Session id -> owning subject, with the insertion order for eviction.
pub(crate) struct Bindings {
    inner: Mutex<Inner>,
    max: usize,
}

#[derive(Default)]
struct Inner {
    owners: HashMap<Box<str>, Arc<str>>,
    /// Session ids in binding order (may name unbound ids, skipped when popped).
    order: VecDeque<Box<str>>,
}

impl Bindings {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            max: max.max(1),
        }
    }

    /// Whether `session` is bound to `subject`. An unbound id is nobody's: every session made
    /// in bearer mode was bound when it was created, so an unbound one is unknown or forgotten
    /// and must not be usable by whoever presents its id.
    pub(crate) fn is_owner(&self, session: &str, subject: &str) -> bool {
        lock(&self.inner)
            .owners
            .get(session)
            .is_some_and(|owner| &**owner == subject)
    }

    /// Binds a new session to `subject`. At the bound, first drops the sessions `alive` says
    /// are gone, then the oldest.
    pub(crate) fn bind(&self, session: &str, subject: &str, alive: impl Fn(&str) -> bool) {
        let mut inner = lock(&self.inner);
        if inner.owners.len() >= self.max {
            let Inner { owners, order } = &mut *inner;
            owners.retain(|id, _| alive(id));
            order.retain(|id| owners.contains_key(id));
            while owners.len() >= self.max {
                match order.pop_front() {
                    Some(id) => {
                        owners.remove(&id);
                    }
                    None => break,
                }
            }
        }
        inner.owners.insert(session.into(), subject.into());
        inner.order.push_back(session.into());
        // Unbinding leaves ids in `order`; keep it within twice the live entries.
        if inner.order.len() > 2 * self.max {
            let Inner { owners, order } = &mut *inner;
            order.retain(|id| owners.contains_key(id));
        }
    }

    /// Forgets the owner of an ended session.
    pub(crate) fn unbind(&self, session: &str) {
        lock(&self.inner).owners.remove(session);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.inner).owners.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_belong_to_their_creator_only() {
        let b = Bindings::new(10);
        b.bind("s1", "alice", |_| true);
        assert!(b.is_owner("s1", "alice"));
        assert!(!b.is_owner("s1", "mallory"));
        assert!(!b.is_owner("s2", "alice"), "an unbound id is nobody's");
        b.unbind("s1");
        assert!(!b.is_owner("s1", "alice"));
    }

    #[test]
    fn at_the_bound_dead_sessions_go_first_then_the_oldest() {
        let b = Bindings::new(3);
        b.bind("a", "u", |_| true);
        b.bind("b", "u", |_| true);
        b.bind("c", "u", |_| true);
        // "b" has ended: it makes room, "a" stays.
        b.bind("d", "u", |id| id != "b");
        assert!(b.is_owner("a", "u") && !b.is_owner("b", "u") && b.is_owner("d", "u"));
        assert_eq!(b.len(), 3);
        // All alive: the oldest ("a") goes.
        b.bind("e", "u", |_| true);
        assert!(!b.is_owner("a", "u") && b.is_owner("c", "u") && b.is_owner("e", "u"));
        assert_eq!(b.len(), 3);
    }
}
