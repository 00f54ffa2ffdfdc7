//! The X-Ray daemon's UDP side: one thread drains the socket (off the async executor, so a
//! burst is read as fast as it arrives), decodes and translates each datagram, and hands
//! batches to the ingest pipeline through a bounded channel. A datagram is acknowledged by
//! nobody, so nothing here blocks on the pipeline; what cannot be queued is counted.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use model::Event;
use protocols::xray::DATAGRAM_BYTES_MAX;
use tokio::sync::mpsc;

use super::XrayState;
use crate::pipeline::{IngestError, Pipeline};

/// Kernel receive buffer asked for (our choice: 16 MiB holds ~16k segments of ~1 KB, a
/// third of a second at the 50,000 segments/s goal, while the writer commits; Linux caps it
/// at `net.core.rmem_max` unless the process may raise it).
pub const SOCKET_RECV_BUFFER_BYTES: usize = 16 * 1024 * 1024;
/// Events per batch handed to the pipeline, at most (our choice: a few thousand amortises a
/// commit; below `pipeline::REQUEST_EVENTS_MAX`).
pub const BATCH_EVENTS_MAX: usize = 4096;
/// Longest a decoded event waits for its batch to fill (our choice: well under the SDK's
/// expectations of "seconds" to visibility).
pub const BATCH_WAIT: Duration = Duration::from_millis(20);
/// Batches waiting for the pipeline, at most (our choice: 64 × 4096 events ≈ 260k events,
/// the pipeline's own queue is the real bound).
pub const BATCHES_QUEUED_MAX: usize = 64;
/// How long the submitter retries a batch the pipeline refused as overloaded before it drops
/// it (our choice: rides out a checkpoint stall of the writer).
pub const OVERLOAD_RETRY_MAX: Duration = Duration::from_secs(2);

const _: () = assert!(BATCH_EVENTS_MAX <= crate::pipeline::REQUEST_EVENTS_MAX);

/// Binds the UDP socket with a large receive buffer.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    if let Err(e) = socket.set_recv_buffer_size(SOCKET_RECV_BUFFER_BYTES) {
        tracing::warn!(error = %e, "x-ray daemon: cannot enlarge the UDP receive buffer");
    }
    socket.bind(&addr.into())?;
    let socket: UdpSocket = socket.into();
    socket.set_read_timeout(Some(BATCH_WAIT))?;
    Ok(socket)
}

/// Starts the receiver thread and the submitter task; both stop when `stop` is set.
pub fn start(
    socket: UdpSocket,
    xray: Arc<XrayState>,
    pipeline: Pipeline,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<Vec<Event>>(BATCHES_QUEUED_MAX);
    let x = xray.clone();
    std::thread::Builder::new()
        .name("waggle-xray-udp".into())
        .spawn(move || receive(socket, x, tx, stop))?;
    tokio::spawn(async move {
        while let Some(batch) = rx.recv().await {
            submit(&pipeline, &xray, batch).await;
        }
    });
    Ok(())
}

async fn submit(pipeline: &Pipeline, xray: &XrayState, batch: Vec<Event>) {
    // Wait (bounded) for queue room rather than lose the batch to a momentary stall.
    let started = Instant::now();
    let n = batch.len();
    while !pipeline.has_room(n) && started.elapsed() < OVERLOAD_RETRY_MAX {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    match pipeline.submit(batch).await {
        Ok(_) => {}
        Err(e) => {
            if !matches!(e, IngestError::Overloaded) {
                tracing::warn!(error = %e, events = n, "x-ray daemon: batch not stored");
            }
            xray.counters
                .dropped_overload
                .fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

fn receive(
    socket: UdpSocket,
    xray: Arc<XrayState>,
    tx: mpsc::Sender<Vec<Event>>,
    stop: Arc<AtomicBool>,
) {
    // One byte more than the largest valid datagram, so an oversized one is detected.
    let mut buf = vec![0u8; DATAGRAM_BYTES_MAX + 1];
    let mut batch: Vec<Event> = Vec::with_capacity(BATCH_EVENTS_MAX);
    let mut oldest: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        match socket.recv_from(&mut buf) {
            Ok((n, _peer)) => {
                xray.counters.datagrams.fetch_add(1, Ordering::Relaxed);
                let now_s = crate::now_ns() / 1_000_000_000;
                match protocols::xray::decode_datagram(&buf[..n], now_s) {
                    Ok(parsed) => {
                        xray.counters
                            .segments_rejected
                            .fetch_add(parsed.rejected.len() as u64, Ordering::Relaxed);
                        for r in &parsed.rejected {
                            xray.counters.drop_reason(rejection_reason(r.error_code));
                        }
                        for doc in parsed.documents {
                            let resolver = |t: model::TraceId, p: model::SpanId| xray.resolve(t, p);
                            let evs = protocols::xray::translate(&doc, &resolver);
                            xray.remember_segments(&evs);
                            xray.counters
                                .segments_accepted
                                .fetch_add(1, Ordering::Relaxed);
                            batch.extend(evs);
                        }
                        oldest.get_or_insert_with(Instant::now);
                    }
                    Err(e) => xray.counters.drop_reason(e.reason.as_str()),
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                tracing::warn!(error = %e, "x-ray daemon: UDP receive failed");
                std::thread::sleep(BATCH_WAIT);
            }
        }
        let due = oldest.is_some_and(|t| t.elapsed() >= BATCH_WAIT);
        if !batch.is_empty() && (batch.len() >= BATCH_EVENTS_MAX || due) {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_EVENTS_MAX));
            oldest = None;
            let n = full.len() as u64;
            if tx.try_send(full).is_err() {
                xray.counters
                    .dropped_overload
                    .fetch_add(n, Ordering::Relaxed);
            }
        }
    }
}

fn rejection_reason(code: &str) -> &'static str {
    match code {
        "MissingParam" => "missing_param",
        "JSONFormatError" => "bad_json",
        "InvalidTraceId" => "invalid_trace_id",
        _ => "invalid_segment",
    }
}
