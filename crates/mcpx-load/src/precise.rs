//! Sub-millisecond sleeps for the open-model schedule.
//!
//! tokio's timer wheel counts whole milliseconds: a `sleep` fires at the first tick at or after
//! its deadline, so an arrival scheduled 200 µs from now leaves up to a millisecond late, and
//! at 5,000 calls/s the calls of each millisecond leave together, as a burst of five. Both
//! distort what a fixed-rate run measures: the lag is latency the server did not cause (it is
//! counted, because latency runs from the intended send time), and the bursts make the server
//! (or a proxy in front of it) queue requests that the schedule spread out.
//!
//! [`PreciseTimer`] sleeps on a Linux `timerfd` (a high-resolution kernel timer, microsecond
//! precision) registered with tokio's reactor, so the task wakes when the deadline passes, not
//! at the next millisecond tick, without a thread of its own. Elsewhere, or when the timerfd
//! cannot be created, it falls back to `tokio::time::sleep_until`.

use std::time::Duration;

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

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn on_linux_the_timer_is_a_timerfd() {
        assert!(PreciseTimer::new().is_precise());
    }
}
