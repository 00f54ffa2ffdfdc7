//! GetTraceSummaries as SQL: the traces matching a compiled filter in a time window, newest
//! first, one page at a time, plus the naive evaluation of the same (the definition the SQL
//! must meet). Modelled on [`crate::tempo::render_search`].
//!
//! Rows: `(hi BIGINT, lo BIGINT, start_ns BIGINT, duration_ms DOUBLE, response_time_ms
//! DOUBLE)` — the trace id halves, the trace's earliest span start, its duration as
//! [`Predicate::TraceDuration`] defines it, and its root span's `duration_ms` (the smallest
//! if there are several roots). Ordered by `start_ns` descending, then `hi`, `lo` ascending
//! (signed); a page resumes after the [`Cursor`] of the previous page's last row.
//!
//! Which traces a window `[start_ns, end_ns)` holds ([`TimeRangeType`]; AWS: "TraceId (trace
//! start time), Event (trace update time), or Service (trace segment end time)"):
//! - `TraceId`: the epoch seconds embedded in the trace id (the high 32 bits of `hi`; the first
//!   8 hex digits of `1-xxxxxxxx-…`) fall in the window. Random W3C ids rarely do.
//! - `Event`: a matching span starts in the window (we keep no receive time, so "update
//!   time" is read as span start).
//! - `Service`: a matching span ends in the window (start + `trunc(duration_ms × 10⁶)` ns;
//!   no duration: its start).
//!
//! For `TraceId` and `Service` the matching span must also start within the window widened by
//! [`TRACE_LOOKAROUND_NS`] (so the store reads a bounded time range). A trace's spans (for
//! its start, duration and whole-trace predicates) are those within that widened window.

use model::schema::{
    COL_DURATION_MS, COL_KIND, COL_PARENT_ID, COL_TIME_NS, COL_TRACE_HI, COL_TRACE_LO,
};
use model::{Event, SignalKind, TraceId};

use crate::dialect::Dialect;
use crate::naive::{self, Ctx};
use crate::plan::{Predicate, NS_PER_S, TRACE_LOOKAROUND_NS};
use crate::sql::{Renderer, EVENTS_TABLE, EVENT_ALIAS};

/// Most traces one page returns. Our choice: AWS does not document GetTraceSummaries' page
/// size; 1000 bounds one answer's rows.
pub const SUMMARIES_LIMIT_MAX: u32 = 1000;
/// Longest NextToken [`Cursor::from_token`] reads (our choice: a token we issue is ≤ 56 bytes).
pub const TOKEN_LEN_MAX: usize = 128;

/// GetTraceSummaries `TimeRangeType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeRangeType {
    TraceId,
    Event,
    Service,
}

impl TimeRangeType {
    /// The API's spelling (`TraceId`, `Event`, `Service`), exactly.
    pub fn from_api(s: &str) -> Option<Self> {
        match s {
            "TraceId" => Some(Self::TraceId),
            "Event" => Some(Self::Event),
            "Service" => Some(Self::Service),
            _ => None,
        }
    }
}

/// Where a page ends: the last row's start and trace id halves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub start_ns: i64,
    pub hi: i64,
    pub lo: i64,
}

impl Cursor {
    /// The opaque NextToken text: `v1.<start_ns>.<32 hex digits>`.
    pub fn to_token(&self) -> String {
        format!(
            "v1.{}.{:016x}{:016x}",
            self.start_ns, self.hi as u64, self.lo as u64
        )
    }

    /// Reads a token [`Cursor::to_token`] made; None for anything else.
    pub fn from_token(token: &str) -> Option<Cursor> {
        if token.len() > TOKEN_LEN_MAX {
            return None;
        }
        let rest = token.strip_prefix("v1.")?;
        let (start, id) = rest.split_once('.')?;
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let hi = u64::from_str_radix(id.get(..16)?, 16).ok()? as i64;
        let lo = u64::from_str_radix(id.get(16..)?, 16).ok()? as i64;
        Some(Cursor {
            start_ns: start.parse().ok()?,
            hi,
            lo,
        })
    }

    /// The cursor of a trace id.
    pub fn of(start_ns: i64, id: TraceId) -> Cursor {
        let (hi, lo) = id.halves();
        Cursor {
            start_ns,
            hi: hi as i64,
            lo: lo as i64,
        }
    }
}

/// One GetTraceSummaries page to find.
#[derive(Debug, Clone, PartialEq)]
pub struct SummariesQuery {
    /// The compiled filter ([`Predicate::True`] without one).
    pub predicate: Predicate,
    pub start_ns: i64,
    pub end_ns: i64,
    pub time_range_type: TimeRangeType,
    /// Rows per page (clamped to 1..=[`SUMMARIES_LIMIT_MAX`]).
    pub limit: u32,
    /// The previous page's last row.
    pub after: Option<Cursor>,
}

impl SummariesQuery {
    fn limit(&self) -> u32 {
        self.limit.clamp(1, SUMMARIES_LIMIT_MAX)
    }

    fn widened(&self) -> (i64, i64) {
        (
            self.start_ns.saturating_sub(TRACE_LOOKAROUND_NS),
            self.end_ns.saturating_add(TRACE_LOOKAROUND_NS),
        )
    }

    /// `[lo, hi)` bounds on `__trace_hi` for `TimeRangeType::TraceId`: epoch second `s` is
    /// in `[start_ns, end_ns)` when `s ≥ ⌈start/10⁹⌉` and `s < ⌈end/10⁹⌉`.
    fn trace_hi_bounds(&self) -> (i64, i64) {
        let ceil_s = |ns: i64| ns.div_euclid(NS_PER_S) + i64::from(ns.rem_euclid(NS_PER_S) != 0);
        (
            ceil_s(self.start_ns).saturating_mul(1 << 32),
            ceil_s(self.end_ns).saturating_mul(1 << 32),
        )
    }
}

/// One row of a page.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub hi: i64,
    pub lo: i64,
    pub start_ns: i64,
    pub duration_ms: Option<f64>,
    pub response_time_ms: Option<f64>,
}

impl SummaryRow {
    pub fn trace_id(&self) -> TraceId {
        TraceId::from_halves(self.hi as u64, self.lo as u64)
    }

    pub fn cursor(&self) -> Cursor {
        Cursor {
            start_ns: self.start_ns,
            hi: self.hi,
            lo: self.lo,
        }
    }
}

/// The SQL of one page (columns: module docs).
pub fn render_summaries(q: &SummariesQuery, d: &dyn Dialect) -> String {
    let r = Renderer::new(d, q.start_ns, q.end_ns);
    let id = |x: &str| d.ident(x);
    let e = EVENT_ALIAS;
    let span_kind = d.int(SignalKind::Span as u8 as i64);
    let (wlo, whi) = q.widened();
    let span_end = |alias: &str| {
        format!(
            "{} + {}",
            r.qcol(alias, COL_TIME_NS),
            d.trunc_to_bigint(&format!(
                "COALESCE({}, {}) * {}",
                r.qcol(alias, COL_DURATION_MS),
                d.double(0.0),
                d.double(1e6)
            ))
        )
    };
    let time = r.qcol(e, COL_TIME_NS);
    let widened = format!("{time} >= {} AND {time} < {}", d.int(wlo), d.int(whi));
    let window = match q.time_range_type {
        TimeRangeType::Event => r.scope(None, e),
        TimeRangeType::Service => {
            let end = format!("COALESCE({}, {time})", span_end(e));
            format!(
                "{widened} AND {end} >= {} AND {end} < {}",
                d.int(q.start_ns),
                d.int(q.end_ns)
            )
        }
        TimeRangeType::TraceId => {
            let (lo, hi) = q.trace_hi_bounds();
            let th = r.qcol(e, COL_TRACE_HI);
            format!(
                "{widened} AND {th} >= {} AND {th} < {}",
                d.int(lo),
                d.int(hi)
            )
        }
    };
    let matching = format!(
        "SELECT DISTINCT {} AS {}, {} AS {} FROM {} AS {} WHERE {window} AND {} = {span_kind} AND {} IS NOT NULL AND {}",
        r.qcol(e, COL_TRACE_HI),
        id("hi"),
        r.qcol(e, COL_TRACE_LO),
        id("lo"),
        id(EVENTS_TABLE),
        id(e),
        r.qcol(e, COL_KIND),
        r.qcol(e, COL_TRACE_LO),
        r.predicate(&q.predicate, e)
    );
    let sp = "s";
    let stime = r.qcol(sp, COL_TIME_NS);
    let traces = format!(
        "SELECT {} AS {}, {} AS {}, MIN({stime}) AS {}, MAX({}) AS {}, {} AS {} FROM {} AS {} WHERE {} = {span_kind} AND {stime} >= {} AND {stime} < {} AND EXISTS (SELECT 1 FROM {} WHERE {}.{} = {} AND {}.{} = {}) GROUP BY {}, {}",
        r.qcol(sp, COL_TRACE_HI),
        id("hi"),
        r.qcol(sp, COL_TRACE_LO),
        id("lo"),
        id("start_ns"),
        span_end(sp),
        id("end_ns"),
        d.filtered(
            "MIN",
            &r.qcol(sp, COL_DURATION_MS),
            &format!("{} IS NULL", r.qcol(sp, COL_PARENT_ID))
        ),
        id("response_time_ms"),
        id(EVENTS_TABLE),
        id(sp),
        r.qcol(sp, COL_KIND),
        d.int(wlo),
        d.int(whi),
        id("m"),
        id("m"),
        id("hi"),
        r.qcol(sp, COL_TRACE_HI),
        id("m"),
        id("lo"),
        r.qcol(sp, COL_TRACE_LO),
        r.qcol(sp, COL_TRACE_HI),
        r.qcol(sp, COL_TRACE_LO),
    );
    let (start, hi, lo) = (id("start_ns"), id("hi"), id("lo"));
    let after = match q.after {
        None => String::new(),
        Some(c) => {
            let (cs, ch, cl) = (d.int(c.start_ns), d.int(c.hi), d.int(c.lo));
            format!(
                " WHERE ({start} < {cs} OR ({start} = {cs} AND ({hi} > {ch} OR ({hi} = {ch} AND {lo} > {cl}))))"
            )
        }
    };
    format!(
        "WITH {} AS ({matching}),\n{} AS ({traces})\nSELECT {hi}, {lo}, {start}, {} / {} AS {}, {} FROM {}{after} ORDER BY {start} DESC, {hi} ASC, {lo} ASC LIMIT {}",
        id("m"),
        id("t"),
        d.to_double(&format!("{} - {start}", id("end_ns"))),
        d.double(1e6),
        id("duration_ms"),
        id("response_time_ms"),
        id("t"),
        q.limit()
    )
}

/// The end of span `s` as the SQL computes it (None when it does not fit 64 bits).
fn span_end_ns(s: &Event) -> Option<i64> {
    let d = (s.duration_ms.unwrap_or(0.0) * 1e6).trunc();
    // [-2^63, 2^63): the range TRY_CAST(… AS BIGINT) accepts.
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        return None;
    }
    s.time_ns.checked_add(d as i64)
}

/// What [`render_summaries`] returns on `events` (the executable definition).
pub fn run_naive(q: &SummariesQuery, events: &[Event]) -> Vec<SummaryRow> {
    let ctx = Ctx {
        events,
        start_ns: q.start_ns,
        end_ns: q.end_ns,
    };
    let (wlo, whi) = q.widened();
    let (thi_lo, thi_hi) = q.trace_hi_bounds();
    let in_window = |e: &Event| -> bool {
        let widened = e.time_ns >= wlo && e.time_ns < whi;
        match q.time_range_type {
            TimeRangeType::Event => e.time_ns >= q.start_ns && e.time_ns < q.end_ns,
            TimeRangeType::Service => {
                let end = span_end_ns(e).unwrap_or(e.time_ns);
                widened && end >= q.start_ns && end < q.end_ns
            }
            TimeRangeType::TraceId => {
                let hi = e.trace_id.map(|t| t.halves().0 as i64);
                widened && hi.is_some_and(|h| h >= thi_lo && h < thi_hi)
            }
        }
    };
    let mut ids: Vec<TraceId> = Vec::new();
    for e in events {
        let Some(tid) = e.trace_id else { continue };
        if e.kind == SignalKind::Span
            && !ids.contains(&tid)
            && in_window(e)
            && naive::matches(&q.predicate, e, &ctx)
        {
            ids.push(tid);
        }
    }
    let mut rows: Vec<SummaryRow> = ids
        .into_iter()
        .filter_map(|tid| {
            let spans: Vec<&Event> = events
                .iter()
                .filter(|s| {
                    s.trace_id == Some(tid)
                        && s.kind == SignalKind::Span
                        && s.time_ns >= wlo
                        && s.time_ns < whi
                })
                .collect();
            let start_ns = spans.iter().map(|s| s.time_ns).min()?;
            let end_ns = spans.iter().filter_map(|s| span_end_ns(s)).max();
            let mut response: Option<f64> = None;
            for s in spans.iter().filter(|s| s.parent_id.is_none()) {
                if let Some(d) = s.duration_ms {
                    // MIN with DuckDB's order: NaN is the largest double.
                    response = Some(match response {
                        None => d,
                        Some(r) if r.is_nan() => d,
                        Some(r) if d.is_nan() => r,
                        Some(r) => r.min(d),
                    });
                }
            }
            let (hi, lo) = tid.halves();
            Some(SummaryRow {
                hi: hi as i64,
                lo: lo as i64,
                start_ns,
                duration_ms: end_ns.map(|e| e.wrapping_sub(start_ns) as f64 / 1e6),
                response_time_ms: response,
            })
        })
        .filter(|r| match q.after {
            None => true,
            Some(c) => {
                (r.start_ns, -(r.hi as i128), -(r.lo as i128))
                    < (c.start_ns, -(c.hi as i128), -(c.lo as i128))
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.start_ns
            .cmp(&a.start_ns)
            .then(a.hi.cmp(&b.hi))
            .then(a.lo.cmp(&b.lo))
    });
    rows.truncate(q.limit() as usize);
    rows
}
