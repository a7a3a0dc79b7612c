//! The live event stream, `GET /v1/events`: every journal record that tells what happened
//! (starts, exits, crash verdicts, health changes, recoveries, state changes, control
//! actions and reloads, the daemon's own events), as Server-Sent Events.
//!
//! The journal tells the bus of each record as it is queued (`Journal::set_tap`); with
//! no reader, that is a counter's increment and nothing else. Each reader has a
//! broadcast receiver and a bounded queue towards its connection. A reader that does not
//! keep up (its queue full, or the broadcast ring past it) is dropped: a last `dropped`
//! event if there is room for it, then its connection is closed. Nothing waits for a
//! reader, so no reader can slow the daemon.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::Frame;
use tokio::sync::{Notify, broadcast, mpsc};
use ward_api::{EventBody, LiveEvent};
use ward_store::Record;

/// Events the broadcast ring holds for its slowest reader.
const RING: usize = 1024;

/// Frames waiting for one reader's connection.
const QUEUE: usize = 256;

/// The stream every reader subscribes to.
pub(crate) struct Bus {
    tx: broadcast::Sender<Arc<LiveEvent>>,
    seq: AtomicU64,
    /// The loop's way in for `[[hooks]]`, used while the config has hooks.
    hooks: mpsc::UnboundedSender<Arc<LiveEvent>>,
    hooks_wanted: AtomicBool,
    /// Readers that asked for the sampling rounds (`?usage=true`): without one, a round
    /// is not put into an event at all.
    usage_readers: Arc<AtomicUsize>,
    /// Told of each new reader of the rounds, so that the loop starts them if they had
    /// stopped (`sample_while = "watched"`).
    usage_asked: Arc<Notify>,
}

impl Bus {
    /// The bus, and the receiving end of the events for `[[hooks]]`.
    pub fn new() -> (Arc<Bus>, mpsc::UnboundedReceiver<Arc<LiveEvent>>) {
        let (hooks, rx) = mpsc::unbounded_channel();
        let bus = Arc::new(Bus {
            tx: broadcast::channel(RING).0,
            seq: AtomicU64::new(0),
            hooks,
            hooks_wanted: AtomicBool::new(false),
            usage_readers: Arc::new(AtomicUsize::new(0)),
            usage_asked: Arc::new(Notify::new()),
        });
        (bus, rx)
    }

    /// Whether the loop hears of every event, for `[[hooks]]`.
    pub fn want_hooks(&self, wanted: bool) {
        self.hooks_wanted.store(wanted, Ordering::Relaxed);
    }

    /// What the journal calls with each record.
    pub fn tap(self: &Arc<Bus>) -> ward_store::Tap {
        let bus = self.clone();
        Box::new(move |record| bus.publish(record))
    }

    fn publish(&self, record: &Record) {
        if matches!(record, Record::Unit { .. } | Record::AuditHead { .. }) {
            return;
        }
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let hooks = self.hooks_wanted.load(Ordering::Relaxed);
        // Nobody listens: the record is not put into words at all.
        if self.tx.receiver_count() == 0 && !hooks {
            return;
        }
        let Some((at_ms, unit, detail, body)) = describe(record) else {
            return;
        };
        let ev = Arc::new(LiveEvent {
            seq,
            at_ms,
            unit,
            detail,
            body,
        });
        if hooks {
            let _ = self.hooks.send(ev.clone());
        }
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(ev);
        }
    }

    /// Whether any reader asked for the sampling rounds: without one, a round is not
    /// gathered into an event at all.
    pub fn wants_usage(&self) -> bool {
        self.usage_readers.load(Ordering::Relaxed) > 0
    }

    /// What the loop waits on to hear of a new reader of the rounds.
    pub fn usage_asked(&self) -> Arc<Notify> {
        self.usage_asked.clone()
    }

    /// A sampling round, for the readers that asked for it: one event, numbered `0`
    /// since it is no journal record (the numbers of the others stay without gaps).
    pub fn publish_usage(&self, samples: Vec<ward_api::UnitUsage>) {
        if samples.is_empty() || !self.wants_usage() {
            return;
        }
        let ev = LiveEvent {
            seq: 0,
            at_ms: ward_store::now_ms(),
            unit: None,
            detail: format!("{} unit(s) sampled", samples.len()),
            body: EventBody::Usage { samples },
        };
        let _ = self.tx.send(Arc::new(ev));
    }

    /// A new reader's body: the events from now on, in SSE frames; the sampling rounds
    /// too with `usage`. `kill` closes its connection when it falls behind.
    pub fn reader(&self, kill: Arc<Notify>, usage: bool) -> SseBody {
        let mut rx = self.tx.subscribe();
        // Counted while the reader lives: the task below holds the count's guard.
        let wants_usage = usage.then(|| UsageReader::new(self.usage_readers.clone()));
        if usage {
            self.usage_asked.notify_one();
        }
        let (tx, frames) = mpsc::channel::<Bytes>(QUEUE);
        tokio::spawn(async move {
            // A comment first: the client sees the stream open at once.
            let _ = tx.try_send(Bytes::from_static(b": ward events\n\n"));
            loop {
                tokio::select! {
                    got = rx.recv() => {
                        let missed = match got {
                            Ok(ev) if matches!(ev.body, EventBody::Usage { .. }) && wants_usage.is_none() => continue,
                            Ok(ev) => match tx.try_send(frame(&ev)) {
                                Ok(()) => continue,
                                Err(mpsc::error::TrySendError::Closed(_)) => return,
                                Err(mpsc::error::TrySendError::Full(_)) => 1,
                            },
                            Err(broadcast::error::RecvError::Lagged(n)) => n,
                            Err(broadcast::error::RecvError::Closed) => return,
                        };
                        tracing::warn!(missed, "an event reader did not keep up; dropped");
                        let notice = LiveEvent {
                            seq: 0,
                            at_ms: ward_store::now_ms(),
                            unit: None,
                            detail: format!("this reader did not keep up and is dropped; {missed} event(s) missed at least"),
                            body: EventBody::Dropped { missed },
                        };
                        let _ = tx.try_send(frame(&notice));
                        kill.notify_one();
                        return;
                    }
                    _ = tx.closed() => return,
                }
            }
        });
        SseBody { frames }
    }
}

/// A reader of the sampling rounds, counted while it lives.
struct UsageReader(Arc<AtomicUsize>);

impl UsageReader {
    fn new(count: Arc<AtomicUsize>) -> UsageReader {
        count.fetch_add(1, Ordering::Relaxed);
        UsageReader(count)
    }
}

impl Drop for UsageReader {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One SSE frame: its number, its kind, its JSON.
fn frame(ev: &LiveEvent) -> Bytes {
    let json = serde_json::to_string(ev).unwrap_or_default();
    Bytes::from(format!(
        "id: {}\nevent: {}\ndata: {json}\n\n",
        ev.seq,
        ev.body.kind()
    ))
}

/// A stream's response body, fed by its task: an event reader's here, a log follower's
/// in `log_tail`.
pub(crate) struct SseBody {
    frames: mpsc::Receiver<Bytes>,
}

impl SseBody {
    /// The body that sends what arrives on `frames`, and ends when its sender goes.
    pub fn new(frames: mpsc::Receiver<Bytes>) -> SseBody {
        SseBody { frames }
    }
}

impl hyper::body::Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.frames
            .poll_recv(cx)
            .map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// When, about which unit, in words, and as data; `None` for the journal's bookkeeping.
fn describe(record: &Record) -> Option<(i64, Option<String>, String, EventBody)> {
    Some(match record {
        Record::Unit { .. } | Record::AuditHead { .. } => return None,
        Record::RunStarted {
            unit,
            pid,
            at_ms,
            adopted,
            ..
        } => (
            *at_ms,
            Some(unit.clone()),
            if *adopted {
                format!("pid {pid} (adopted from an earlier daemon)")
            } else {
                format!("pid {pid}")
            },
            EventBody::Start {
                pid: *pid,
                adopted: *adopted,
            },
        ),
        Record::RunEnded {
            unit,
            pid,
            at_ms,
            exit,
            ..
        } => (
            *at_ms,
            Some(unit.clone()),
            format!("pid {pid}: {}", exit.description),
            EventBody::Exit {
                pid: *pid,
                description: exit.description.clone(),
                code: exit.code,
                signal: exit.signal.clone(),
            },
        ),
        Record::Crash {
            unit,
            pid,
            at_ms,
            class,
            severity,
            evidence,
            evidence_lines,
            summary,
            recommendation,
        } => (
            *at_ms,
            Some(unit.clone()),
            format!("{class} ({severity}): {evidence}"),
            EventBody::Crash {
                pid: *pid,
                class: class.clone(),
                severity: severity.clone(),
                summary: summary.clone(),
                evidence: evidence_lines.clone(),
                recommendation: recommendation.clone(),
            },
        ),
        Record::Health {
            unit,
            at_ms,
            from,
            to,
            detail,
        } => (
            *at_ms,
            Some(unit.clone()),
            if detail.is_empty() {
                format!("{from} -> {to}")
            } else {
                format!("{from} -> {to}: {detail}")
            },
            EventBody::Health {
                from: from.clone(),
                to: to.clone(),
            },
        ),
        Record::Recovery {
            unit,
            at_ms,
            action,
            delay_ms,
        } => (
            *at_ms,
            Some(unit.clone()),
            match delay_ms {
                Some(d) => format!("{action} after {d}ms"),
                None => action.clone(),
            },
            EventBody::Recovery {
                action: action.clone(),
                delay_ms: *delay_ms,
            },
        ),
        Record::Transition {
            unit,
            at_ms,
            from,
            to,
        } => (
            *at_ms,
            Some(unit.clone()),
            format!("{from} -> {to}"),
            EventBody::State {
                from: from.clone(),
                to: to.clone(),
            },
        ),
        Record::Action {
            at_ms,
            who,
            what,
            targets,
            result,
        } => (
            *at_ms,
            None,
            format!("{what} {targets} by {who}: {result}"),
            EventBody::Action {
                who: who.clone(),
                what: what.clone(),
                targets: targets.clone(),
                result: result.clone(),
            },
        ),
        Record::Daemon {
            at_ms,
            what,
            detail,
        } => (
            *at_ms,
            None,
            detail.clone(),
            EventBody::Daemon { what: what.clone() },
        ),
    })
}
