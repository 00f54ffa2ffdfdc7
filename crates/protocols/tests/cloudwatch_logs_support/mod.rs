//! An in-memory event store for the CloudWatch Logs tests: what the server does between a
//! plan and its response (fetch by stream, time and position).
#![allow(dead_code)]

use model::{Event, Value};
use waggle_protocols::aws::token::TokenKey;
use waggle_protocols::cloudwatch_logs::state::{Direction, EventKey, FilterPlan, GetPlan};
use waggle_protocols::cloudwatch_logs::translate::{self, FIELD_LOG_STREAM};

pub fn key() -> TokenKey {
    TokenKey::from_bytes([9; 32])
}

#[derive(Default)]
pub struct Store {
    pub events: Vec<(u64, Event)>,
}

impl Store {
    pub fn insert(&mut self, events: Vec<Event>) {
        for e in events {
            let seq = self.events.len() as u64;
            self.events.push((seq, e));
        }
    }

    fn stream(e: &Event) -> &str {
        match e.get(FIELD_LOG_STREAM) {
            Some(Value::Str(s)) => s,
            _ => "",
        }
    }

    fn key_of(seq: u64, e: &Event) -> EventKey {
        EventKey {
            timestamp_ms: e.time_ns.div_euclid(1_000_000),
            seq,
        }
    }

    pub fn get(
        &self,
        plan: &GetPlan,
    ) -> Vec<(
        EventKey,
        waggle_protocols::cloudwatch_logs::shapes::OutputLogEvent,
    )> {
        let mut hits: Vec<(EventKey, &Event)> = self
            .events
            .iter()
            .filter(|(_, e)| e.dataset == plan.group && Self::stream(e) == plan.stream)
            .map(|(s, e)| (Self::key_of(*s, e), e))
            .filter(|(k, _)| plan.admits(*k))
            .collect();
        hits.sort_by_key(|(k, _)| *k);
        if plan.direction == Direction::Backward {
            let n = hits.len().saturating_sub(plan.limit);
            hits.drain(..n);
        } else {
            hits.truncate(plan.limit);
        }
        hits.into_iter()
            .map(|(k, e)| (k, translate::to_output_event(e)))
            .collect()
    }

    /// `matches` stands in for the filter pattern (the query crate's).
    pub fn filter(
        &self,
        plan: &FilterPlan,
        matches: impl Fn(&str) -> bool,
    ) -> Vec<(
        EventKey,
        waggle_protocols::cloudwatch_logs::shapes::FilteredLogEvent,
    )> {
        let mut hits: Vec<(
            EventKey,
            waggle_protocols::cloudwatch_logs::shapes::FilteredLogEvent,
        )> = self
            .events
            .iter()
            .filter(|(_, e)| e.dataset == plan.group)
            .map(|(s, e)| (Self::key_of(*s, e), *s, e))
            .filter(|(k, _, e)| plan.admits(Self::stream(e), *k))
            .map(|(k, s, e)| (k, translate::to_filtered_event(e, "", s)))
            .filter(|(_, f)| matches(&f.message))
            .collect();
        hits.sort_by_key(|(k, _)| *k);
        hits.truncate(plan.limit + 1);
        hits
    }
}
