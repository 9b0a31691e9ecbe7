//! Sub-millisecond sleeps for the open-model schedule.
//!
//! tokio's timer wheel counts whole milliseconds: a `sleep` fires at the first tick at or after
//! its deadline, so an arrival scheduled 200 µs from now leaves up to a millisecond late, and
//! at 5,000 calls/s the calls of each millisecond leave together, as a burst of five. Both
//! distort what a fixed-rate run measures: the lag is latency the server did not cause (it is
//! counted, because latency runs from the intended send time), and the bursts make the server
//! (or a proxy in front of it) queue requests that the schedule spread out.
//!
//! The same holds for a virtual user's think time: the request after it is intended at the
//! answer's arrival + the wait, so a wake-up a millisecond late is a millisecond of latency
//! the server did not cause. [`Wheel`] gives every user sub-millisecond wake-ups through one
//! shared timer.
//!
//! [`PreciseTimer`] sleeps on a Linux `timerfd` (a high-resolution kernel timer, microsecond
//! precision) registered with tokio's reactor, so the task wakes when the deadline passes, not
//! at the next millisecond tick, without a thread of its own. Elsewhere, or when the timerfd
//! cannot be created, it falls back to `tokio::time::sleep_until`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// A reusable high-resolution sleep for one task (the arrival scheduler).
pub(crate) struct PreciseTimer {
    #[cfg(target_os = "linux")]
    fd: Option<tokio::io::unix::AsyncFd<linux::TimerFd>>,
}

impl PreciseTimer {
    /// A timer on a fresh timerfd (Linux), or on tokio's wheel when that is not possible.
    pub(crate) fn new() -> Self {
        #[cfg(target_os = "linux")]
        {
            let fd = linux::TimerFd::new()
                .and_then(linux::register)
                .map_err(|e| {
                    tracing::debug!(error = %e, "no timerfd; the schedule uses tokio's 1 ms timer");
                })
                .ok();
            Self { fd }
        }
        #[cfg(not(target_os = "linux"))]
        {
            Self {}
        }
    }

    /// Whether sleeps have sub-millisecond precision.
    #[cfg(test)]
    pub(crate) fn is_precise(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            self.fd.is_some()
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    }

    /// Sleeps until `deadline`. May return early (an expiry left over from a sleep that was
    /// dropped before it finished): callers re-check the time, as the scheduler loop does.
    /// Cancel-safe: dropping the future leaves the timer reusable.
    pub(crate) async fn sleep_until(&mut self, deadline: Instant) {
        let now = Instant::now();
        if deadline <= now {
            return;
        }
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd
            && fd.get_ref().arm(deadline - now).is_ok()
        {
            loop {
                let Ok(mut guard) = fd.readable().await else {
                    break;
                };
                match guard.try_io(|inner| inner.get_ref().consume()) {
                    // Expired. One read takes every expiry, so the fd is not readable
                    // until the next one: clear the readiness now instead of learning it
                    // from a read that fails.
                    Ok(Ok(())) => {
                        guard.clear_ready();
                        return;
                    }
                    Ok(Err(_)) => break,
                    // Not expired yet (a spurious wake-up): readiness cleared, wait on.
                    Err(_would_block) => {}
                }
            }
            // The timerfd failed: the coarse timer still ends the sleep.
        }
        tokio::time::sleep_until(deadline).await;
    }

    /// Sleeps for `d` (see [`PreciseTimer::sleep_until`]).
    #[cfg(test)]
    pub(crate) async fn sleep(&mut self, d: Duration) {
        self.sleep_until(Instant::now() + d).await;
    }
}

/// Users' high-resolution wake-ups through one timer: a min-heap of (deadline, user) served by
/// one task sleeping on one [`PreciseTimer`] until the earliest deadline, so thousands of users
/// get sub-millisecond wake-ups from one timerfd (one per user would cost a descriptor and a
/// reactor registration each).
///
/// A user keeps one [`WakeSlot`]. [`Wheel::sleep_until`] registers the slot's deadline (a
/// generation number makes an older registration of the same slot stale: it is dropped when it
/// comes due, without a wake-up) and waits for the wheel's notification. Registering costs a
/// lock and a heap push, so callers sleep on tokio's coarse timer first and come here only for
/// the last [`Wheel::MARGIN`] (see `runner::UserClock`): a user waiting on a 60 s deadline never
/// enters the heap, and the heap holds only the next couple of milliseconds' wake-ups.
pub(crate) struct Wheel {
    shared: Arc<WheelShared>,
    task: tokio::task::AbortHandle,
}

struct WheelShared {
    state: Mutex<WheelState>,
    /// Wakes the wheel task when an earlier deadline than the one it sleeps for arrives.
    rearm: Notify,
}

struct WheelState {
    heap: BinaryHeap<Reverse<Entry>>,
    /// The deadline the wheel task sleeps until (`None`: none, it waits for a registration).
    armed: Option<Instant>,
}

struct Entry {
    at: Instant,
    generation: u64,
    slot: Arc<WakeSlot>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.at.cmp(&other.at)
    }
}

/// One waiter's registration point (one per user, reused for every sleep).
#[derive(Default)]
pub(crate) struct WakeSlot {
    generation: AtomicU64,
    notify: Notify,
}

impl Wheel {
    /// How much of a wait the wheel serves: the caller sleeps on tokio's millisecond timer
    /// until this much before its deadline (that timer fires up to a millisecond late, and
    /// under load a little later), then here.
    pub(crate) const MARGIN: Duration = Duration::from_millis(3);

    /// Starts the wheel's task on the current runtime (it ends when the wheel drops).
    pub(crate) fn spawn() -> Self {
        let shared = Arc::new(WheelShared {
            state: Mutex::new(WheelState {
                heap: BinaryHeap::new(),
                armed: None,
            }),
            rearm: Notify::new(),
        });
        let task = tokio::spawn(run_wheel(Arc::clone(&shared))).abort_handle();
        Self { shared, task }
    }

    /// Sleeps until `deadline` on the wheel's timer (sub-millisecond). Cancel-safe: a dropped
    /// sleep leaves a stale registration that is discarded when it comes due.
    pub(crate) async fn sleep_until(&self, slot: &Arc<WakeSlot>, deadline: Instant) {
        while Instant::now() < deadline {
            let notified = slot.notify.notified();
            tokio::pin!(notified);
            // Registered as a waiter before the wheel can see the entry: a wake-up between the
            // push and the first poll is not lost.
            notified.as_mut().enable();
            let generation = slot.generation.fetch_add(1, Ordering::Relaxed) + 1;
            let registered = self.shared.state.lock().ok().map(|mut state| {
                state.heap.push(Reverse(Entry {
                    at: deadline,
                    generation,
                    slot: Arc::clone(slot),
                }));
                let earlier = state.armed.is_none_or(|a| deadline < a);
                if earlier {
                    state.armed = Some(deadline);
                }
                earlier
            });
            let Some(wake_wheel) = registered else {
                // A poisoned wheel (a panic under its lock): the coarse timer still ends the
                // sleep.
                tokio::time::sleep_until(deadline).await;
                return;
            };
            if wake_wheel {
                self.shared.rearm.notify_one();
            }
            notified.await;
        }
    }
}

impl Drop for Wheel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The wheel's task: wakes every registration that is due and still current, then sleeps
/// until the earliest one left or until an earlier one is registered.
async fn run_wheel(shared: Arc<WheelShared>) {
    let mut timer = PreciseTimer::new();
    loop {
        let next = {
            let Ok(mut state) = shared.state.lock() else {
                return;
            };
            let now = Instant::now();
            while let Some(Reverse(e)) = state.heap.peek() {
                if e.at > now {
                    break;
                }
                if let Some(Reverse(e)) = state.heap.pop()
                    && e.slot.generation.load(Ordering::Relaxed) == e.generation
                {
                    e.slot.notify.notify_one();
                }
            }
            let next = state.heap.peek().map(|Reverse(e)| e.at);
            state.armed = next;
            next
        };
        match next {
            Some(at) => {
                tokio::select! {
                    () = timer.sleep_until(at) => {}
                    () = shared.rearm.notified() => {}
                }
            }
            None => shared.rearm.notified().await,
        }
    }
}

/// The longest single arming of the timer: a sleep longer than this (the scheduler never asks
/// for one; its waits are capped at its tick) wakes early and the caller sleeps again.
const MAX_ARM: Duration = Duration::from_secs(3600);

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::{AsRawFd, OwnedFd, RawFd};
    use std::time::Duration;

    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
        timerfd_settime,
    };
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    /// A non-blocking `CLOCK_MONOTONIC` timerfd.
    pub(super) struct TimerFd(OwnedFd);

    impl TimerFd {
        pub(super) fn new() -> io::Result<Self> {
            let fd = timerfd_create(
                TimerfdClockId::Monotonic,
                TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
            )?;
            Ok(Self(fd))
        }

        /// Arms the timer to expire once, `d` from now (relative; replaces any earlier arming
        /// and its pending expiries).
        pub(super) fn arm(&self, d: Duration) -> io::Result<()> {
            let d = d.clamp(Duration::from_nanos(1), super::MAX_ARM);
            let spec = Itimerspec {
                it_interval: Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: Timespec {
                    // Bounded by MAX_ARM: fits.
                    tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                    tv_nsec: d.subsec_nanos().into(),
                },
            };
            timerfd_settime(&self.0, TimerfdTimerFlags::empty(), &spec)?;
            Ok(())
        }

        /// Reads the expiry count: `Ok` when the timer expired, `WouldBlock` when not yet.
        pub(super) fn consume(&self) -> io::Result<()> {
            let mut count = [0u8; 8];
            rustix::io::read(&self.0, &mut count)?;
            Ok(())
        }
    }

    /// Registers the timer with the current runtime's reactor (an error outside a runtime).
    pub(super) fn register(fd: TimerFd) -> io::Result<AsyncFd<TimerFd>> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other("not inside a tokio runtime"));
        }
        // SAFETY: `register_with_interest` needs the descriptor to stay open and to be the
        // same for as long as the AsyncFd lives: the TimerFd owns it (an OwnedFd, closed only
        // when the TimerFd drops, which happens when the AsyncFd drops), nothing else can
        // close it, and `as_raw_fd` always returns that one descriptor.
        #[allow(unsafe_code)]
        let registered = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) };
        Ok(registered?)
    }

    impl AsRawFd for TimerFd {
        fn as_raw_fd(&self) -> RawFd {
            self.0.as_raw_fd()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeps_until_the_deadline_and_is_reusable() {
        let mut t = PreciseTimer::new();
        for us in [50, 300, 1_500, 0] {
            let start = Instant::now();
            t.sleep(Duration::from_micros(us)).await;
            // Never early (a fresh timer has no leftover expiry), and it comes back.
            assert!(start.elapsed() >= Duration::from_micros(us));
        }
    }

    #[tokio::test]
    async fn a_dropped_sleep_leaves_the_timer_usable() {
        let mut t = PreciseTimer::new();
        // Dropped before it expires; the next sleep re-arms and still ends.
        let _ =
            tokio::time::timeout(Duration::from_millis(2), t.sleep(Duration::from_secs(5))).await;
        let start = Instant::now();
        tokio::time::timeout(Duration::from_secs(5), t.sleep(Duration::from_micros(200)))
            .await
            .unwrap();
        assert!(start.elapsed() >= Duration::from_micros(200));
    }

    /// Sleepers of one wheel wake at their own deadlines, never early, and close to them
    /// (well under tokio's millisecond tick on an idle machine; the bound here allows a loaded
    /// one).
    #[tokio::test]
    async fn the_wheel_wakes_each_sleeper_at_its_deadline() {
        let wheel = Arc::new(Wheel::spawn());
        let mut tasks = Vec::new();
        for i in 0..64u64 {
            let wheel = Arc::clone(&wheel);
            tasks.push(tokio::spawn(async move {
                let slot = Arc::new(WakeSlot::default());
                let mut late = Vec::new();
                for round in 0..3u64 {
                    let d = Duration::from_micros(100 + (i * 7919 + round * 104_729) % 40 * 50);
                    let start = Instant::now();
                    wheel.sleep_until(&slot, start + d).await;
                    late.push(start.elapsed().checked_sub(d).expect("woke early"));
                }
                late
            }));
        }
        let mut late: Vec<Duration> = Vec::new();
        for t in tasks {
            late.extend(t.await.unwrap());
        }
        late.sort();
        let median = late[late.len() / 2];
        assert!(median < Duration::from_millis(20), "{median:?}");
    }

    /// A sleep dropped before its deadline (the user's answer came first) leaves a stale
    /// registration: it wakes nobody, and the slot's next sleep ends at its own deadline.
    #[tokio::test]
    async fn a_dropped_wheel_sleep_leaves_the_slot_usable() {
        let wheel = Wheel::spawn();
        let slot = Arc::new(WakeSlot::default());
        let start = Instant::now();
        let _ = tokio::time::timeout(
            Duration::from_millis(1),
            wheel.sleep_until(&slot, start + Duration::from_millis(3)),
        )
        .await;
        let deadline = start + Duration::from_millis(8);
        tokio::time::timeout(Duration::from_secs(5), wheel.sleep_until(&slot, deadline))
            .await
            .unwrap();
        assert!(Instant::now() >= deadline);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn on_linux_the_timer_is_a_timerfd() {
        assert!(PreciseTimer::new().is_precise());
    }
}
