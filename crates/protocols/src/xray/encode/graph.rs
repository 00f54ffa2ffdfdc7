//! `GetTraceGraph` / `GetServiceGraph` services: one node per (service name, type), edges to
//! the services it calls, statistics and histograms, and the `client` node X-Ray draws in
//! front of root segments. [`ServiceGraphBuilder`] is incremental: feed it batches of whole
//! traces and memory stays bounded by the number of nodes and edges, not traces.

use super::summary::inferred_service;
use super::view::{by_trace, dedup_spans, Span, Tree};
use model::Event;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Nodes one graph holds (our choice: the X-Ray console's map is unreadable long before a
/// thousand services). Spans of further services are not counted; `truncated()` says so.
pub const GRAPH_NODES_MAX: usize = 1000;
/// Edges one graph holds (our choice: 4 per node on average).
pub const GRAPH_EDGES_MAX: usize = 4 * GRAPH_NODES_MAX;
/// Histogram values are seconds rounded to 2 significant digits, clamped to
/// [`HISTOGRAM_MIN_S`, `HISTOGRAM_MAX_S`] (our choice): 7 decades × 90 values + 1 bounds a
/// histogram at 631 buckets.
pub const HISTOGRAM_MIN_S: f64 = 1e-3;
pub const HISTOGRAM_MAX_S: f64 = 1e4;
pub const HISTOGRAM_BUCKETS_MAX: usize = 7 * 90 + 1;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Service {
    pub reference_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    pub state: String,
    pub start_time: f64,
    pub end_time: f64,
    pub edges: Vec<Edge>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary_statistics: Option<EdgeStatistics>,
    pub duration_histogram: Vec<HistogramEntry>,
    pub response_time_histogram: Vec<HistogramEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Edge {
    pub reference_id: i64,
    pub start_time: f64,
    pub end_time: f64,
    pub summary_statistics: EdgeStatistics,
    pub response_time_histogram: Vec<HistogramEntry>,
    pub aliases: Vec<serde_json::Value>,
}

/// `EdgeStatistics` / `ServiceStatistics` (same members).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EdgeStatistics {
    pub ok_count: i64,
    pub error_statistics: ErrorStatistics,
    pub fault_statistics: FaultStatistics,
    pub total_count: i64,
    pub total_response_time: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorStatistics {
    pub throttle_count: i64,
    pub other_count: i64,
    pub total_count: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FaultStatistics {
    pub other_count: i64,
    pub total_count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistogramEntry {
    pub value: f64,
    pub count: i64,
}

/// Seconds → histogram bucket key (micro-seconds of the rounded value).
fn bucket(v: f64) -> u64 {
    let v = if v.is_finite() { v } else { 0.0 };
    let v = v.clamp(HISTOGRAM_MIN_S, HISTOGRAM_MAX_S);
    let scale = 10f64.powf(v.log10().floor() - 1.0);
    ((v / scale).round() * scale * 1e6).round() as u64
}

#[derive(Debug, Clone, Default)]
struct Stats {
    s: EdgeStatistics,
    start: f64,
    end: f64,
    hist: BTreeMap<u64, i64>,
}

impl Stats {
    fn new() -> Self {
        Stats {
            start: f64::INFINITY,
            end: f64::NEG_INFINITY,
            ..Default::default()
        }
    }

    fn record(&mut self, span: &Span) {
        let (flags, start, end, d) = (span.flags, span.start_s, span.end_s, span.duration_s());
        let s = &mut self.s;
        s.total_count += 1;
        s.total_response_time += d;
        if flags.fault {
            s.fault_statistics.other_count += 1;
            s.fault_statistics.total_count += 1;
        } else if flags.throttle {
            s.error_statistics.throttle_count += 1;
            s.error_statistics.total_count += 1;
        } else if flags.error {
            s.error_statistics.other_count += 1;
            s.error_statistics.total_count += 1;
        } else {
            s.ok_count += 1;
        }
        self.start = self.start.min(start);
        self.end = self.end.max(end);
        *self.hist.entry(bucket(d)).or_insert(0) += 1;
    }

    fn histogram(&self) -> Vec<HistogramEntry> {
        self.hist
            .iter()
            .map(|(k, c)| HistogramEntry {
                value: *k as f64 / 1e6,
                count: *c,
            })
            .collect()
    }
}

#[derive(Debug)]
struct Node {
    name: String,
    type_: Option<String>,
    root: bool,
    stats: Stats,
}

/// Key of the client node in the edge map.
const CLIENT: usize = usize::MAX;

/// Accumulates the service graph of many traces.
#[derive(Debug, Default)]
pub struct ServiceGraphBuilder {
    nodes: Vec<Node>,
    index: HashMap<(String, Option<String>), usize>,
    edges: HashMap<(usize, usize), Stats>,
    edge_order: Vec<(usize, usize)>,
    client_seen: bool,
    truncated: bool,
}

impl ServiceGraphBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a limit ([`GRAPH_NODES_MAX`], [`GRAPH_EDGES_MAX`]) left something out.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    fn node(&mut self, name: &str, type_: Option<String>) -> Option<usize> {
        let key = (name.to_owned(), type_);
        if let Some(&i) = self.index.get(&key) {
            return Some(i);
        }
        if self.nodes.len() >= GRAPH_NODES_MAX {
            self.truncated = true;
            return None;
        }
        self.nodes.push(Node {
            name: key.0.clone(),
            type_: key.1.clone(),
            root: false,
            stats: Stats::new(),
        });
        self.index.insert(key, self.nodes.len() - 1);
        Some(self.nodes.len() - 1)
    }

    fn edge(&mut self, from: usize, to: usize, span: &Span) {
        let key = (from, to);
        if !self.edges.contains_key(&key) {
            if self.edges.len() >= GRAPH_EDGES_MAX {
                self.truncated = true;
                return;
            }
            self.edges.insert(key, Stats::new());
            self.edge_order.push(key);
        }
        if let Some(e) = self.edges.get_mut(&key) {
            e.record(span);
        }
    }

    /// Adds the traces in `events`. Each trace's events must all be in one call (edges are
    /// found between spans of the same call); several traces per call are fine.
    pub fn add(&mut self, events: &[Event]) {
        for group in by_trace(events) {
            let evs = dedup_spans(group);
            let tree = Tree::build(&evs);
            self.add_tree(&tree);
        }
    }

    fn add_tree(&mut self, tree: &Tree) {
        let n = tree.spans.len();
        let mut node_of: Vec<Option<usize>> = vec![None; n];
        // Segments: their service's node and the edge from the caller (or the client).
        for (i, slot) in node_of.iter_mut().enumerate() {
            if !tree.is_segment_root(i) {
                continue;
            }
            let s = &tree.spans[i];
            let Some(ni) = self.node(&s.service, s.origin()) else {
                continue;
            };
            *slot = Some(ni);
            self.nodes[ni].stats.record(s);
            if tree.parent_ix[i].is_none() {
                self.nodes[ni].root = true;
                self.client_seen = true;
                self.edge(CLIENT, ni, s);
            }
        }
        for i in 0..n {
            if !tree.is_segment_root(i) {
                continue;
            }
            let (Some(p), Some(to)) = (tree.parent_ix[i], node_of[i]) else {
                continue;
            };
            let Some(from) = node_of[tree.root_of[p]] else {
                continue;
            };
            let s = &tree.spans[i];
            self.edge(from, to, s);
        }
        // Outgoing calls with no traced downstream: inferred nodes.
        for i in 0..n {
            let Some(sid) = inferred_service(tree, i) else {
                continue;
            };
            let Some(from) = node_of[tree.root_of[i]] else {
                continue;
            };
            let s = &tree.spans[i];
            let Some(to) = self.node(&sid.name, sid.type_) else {
                continue;
            };
            self.nodes[to].stats.record(s);
            self.edge(from, to, s);
        }
    }

    /// The `Services` list: the client node first (ReferenceId 0) when any trace had a root
    /// segment, then services in first-seen order.
    pub fn finish(self) -> Vec<Service> {
        let offset = i64::from(self.client_seen);
        let ref_of = |i: usize| i as i64 + offset;
        let mut out_edges: HashMap<usize, Vec<Edge>> = HashMap::new();
        for key in &self.edge_order {
            let Some(st) = self.edges.get(key) else {
                continue;
            };
            out_edges.entry(key.0).or_default().push(Edge {
                reference_id: ref_of(key.1),
                start_time: st.start,
                end_time: st.end,
                summary_statistics: st.s.clone(),
                response_time_histogram: st.histogram(),
                aliases: Vec::new(),
            });
        }
        let mut out = Vec::with_capacity(self.nodes.len() + 1);
        if self.client_seen {
            let edges = out_edges.remove(&CLIENT).unwrap_or_default();
            let start = edges
                .iter()
                .map(|e| e.start_time)
                .fold(f64::INFINITY, f64::min);
            let end = edges
                .iter()
                .map(|e| e.end_time)
                .fold(f64::NEG_INFINITY, f64::max);
            // [unverified] the console's client node has no name and state "unknown".
            out.push(Service {
                reference_id: 0,
                name: None,
                names: Vec::new(),
                root: None,
                account_id: None,
                type_: Some("client".into()),
                state: "unknown".into(),
                start_time: start,
                end_time: end,
                edges,
                summary_statistics: None,
                duration_histogram: Vec::new(),
                response_time_histogram: Vec::new(),
            });
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let hist = n.stats.histogram();
            out.push(Service {
                reference_id: ref_of(i),
                name: Some(n.name.clone()),
                names: vec![n.name.clone()],
                root: Some(n.root),
                account_id: None,
                type_: n.type_.clone(),
                state: "active".into(),
                start_time: n.stats.start,
                end_time: n.stats.end,
                edges: out_edges.remove(&i).unwrap_or_default(),
                summary_statistics: Some(n.stats.s.clone()),
                duration_histogram: hist.clone(),
                response_time_histogram: hist,
            });
        }
        out
    }
}

/// The services of the traces in `events` (one call of [`ServiceGraphBuilder`]).
pub fn trace_graph_services(events: &[Event]) -> Vec<Service> {
    let mut b = ServiceGraphBuilder::new();
    b.add(events);
    b.finish()
}

const _: () = assert!(GRAPH_EDGES_MAX >= GRAPH_NODES_MAX);
