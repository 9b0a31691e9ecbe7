//! The runner's measurements into [`Metrics`]: the [`Sink`] the load command uses.

use std::sync::{Mutex, PoisonError};

use crate::metrics::{Metrics, RequestRecord};
use crate::runner::{RunEvent, Sink};

/// [`Metrics`] behind a mutex, fed by every user task (one short lock per measurement).
#[derive(Debug)]
pub struct MetricsSink {
    metrics: Mutex<Metrics>,
}

impl MetricsSink {
    /// A sink over `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        Self {
            metrics: Mutex::new(metrics),
        }
    }

    /// Runs `f` on the metrics (for snapshots and the final report).
    pub fn with<T>(&self, f: impl FnOnce(&mut Metrics) -> T) -> T {
        let mut m = self.metrics.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut m)
    }
}

impl Sink for MetricsSink {
    fn request(&self, record: &RequestRecord<'_>) {
        self.with(|m| m.record_request(record));
    }

    fn event(&self, e: RunEvent<'_>) {
        self.with(|m| match e {
            RunEvent::UserStarted { family } => m.user_started(family),
            RunEvent::FanOuts { fan_outs } => {
                for f in fan_outs {
                    m.record_fan_out(u64::from(*f));
                }
            }
            RunEvent::UserFinished {
                family,
                stats,
                requests,
                at_us,
            } => {
                m.user_finished(family);
                let end = stats.conversation_end_us.unwrap_or(at_us);
                m.record_conversation(
                    family,
                    end.saturating_sub(stats.start_us),
                    u64::from(stats.calls),
                    requests,
                );
                for f in &stats.fan_outs {
                    m.record_fan_out(u64::from(*f));
                }
                for t in &stats.turn_us {
                    m.record_turn(family, *t);
                }
            }
            RunEvent::SessionOpened { family } => m.session_opened(family),
            RunEvent::SessionClosed { family } => m.session_closed(family),
            RunEvent::StreamOpened => m.stream_opened(),
            RunEvent::StreamClosed => m.stream_closed(),
            RunEvent::SseEvent { method, latency_us } => m.record_sse_event(method, latency_us),
            RunEvent::ProgressGap { gap_us } => m.record_progress_gap(gap_us),
            RunEvent::ArgsSize { bytes } => m.record_args_size(bytes),
            RunEvent::ResultSize { bytes } => m.record_result_size(bytes),
            RunEvent::HandshakeCall { family, latency_us } => {
                m.record_handshake_call(family, latency_us);
            }
        });
    }
}
