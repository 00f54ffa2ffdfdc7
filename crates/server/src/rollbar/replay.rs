//! What a start rebuilds from the stored occurrences: the items document is a checkpoint
//! (written every [`super::ingest::CHECKPOINT_OCCURRENCES`] occurrences, on PATCH, and on a
//! timer), the `Error` events are the durable record. On first use the occurrences stored
//! after the checkpoint's last occurrence id replay into it ([`Items::replay`]), and the
//! recent uuids (duplicate detection) are read back from the newest occurrences.

use model::schema::{Catalog, COL_NAME, FIELD_TIMESTAMP};
use model::Value;
use protocols::rollbar::items::{Occurrence, Stored, RECENT_UUIDS_PER_PROJECT_MAX};
use protocols::rollbar::translate::fields;
use protocols::rollbar::{Fingerprint, Items, Level, Projects, RecentUuids};
use query::plan::{compare, resolve_column, CmpOp, ColumnRef, EventList, Plan, Predicate};
use store::{Store, StoreError};

/// Occurrences read per replay statement (our choice: bounds the rows held at once; a
/// replay after a crash is at most a checkpoint interval, ~50k occurrences).
const REPLAY_PAGE_ROWS: u32 = 20_000;

/// Replays into `items` every stored occurrence after its last occurrence id, project by
/// project (occurrence ids are global and ascending in commit order), in id order. Returns
/// the occurrences replayed.
pub(super) fn replay_stored(
    items: &mut Items,
    store: &dyn Store,
    projects: &Projects,
) -> Result<u64, StoreError> {
    let catalog = store.catalog();
    if catalog.get(fields::OCCURRENCE_ID).is_none()
        && catalog.get_overflow(fields::OCCURRENCE_ID).is_none()
    {
        return Ok(0); // no occurrence was ever stored
    }
    let from = items.next_occurrence_id();
    let mut replayed = 0;
    for project in projects.projects() {
        let mut after = from;
        loop {
            let sql = page_sql(&catalog, &project.name, after);
            let rows = store.run_sql(&sql)?;
            let n = rows.len();
            for row in &rows {
                let get = |c: usize| row.get(c).and_then(|v| v.as_ref());
                let Some((occ, stored)) = occurrence(project.id, &get) else {
                    continue;
                };
                after = after.max(stored.occurrence_id);
                items.replay(&occ, &stored);
                replayed += 1;
            }
            if n < REPLAY_PAGE_ROWS as usize {
                break;
            }
        }
    }
    Ok(replayed)
}

/// The recent uuids of every project: its newest [`RECENT_UUIDS_PER_PROJECT_MAX`]
/// occurrences' `rollbar.uuid`, remembered oldest first.
pub(super) fn recent_uuids(
    store: &dyn Store,
    projects: &Projects,
) -> Result<RecentUuids, StoreError> {
    let mut recent = RecentUuids::new();
    let catalog = store.catalog();
    if catalog.get(fields::UUID).is_none() && catalog.get_overflow(fields::UUID).is_none() {
        return Ok(recent);
    }
    for project in projects.projects() {
        let mut warnings = Vec::new();
        let mut col = |name: &str| resolve_column(name, &catalog, &mut warnings);
        let occurrence = col(fields::OCCURRENCE_ID);
        let list = EventList {
            columns: vec![col(fields::UUID)],
            order: vec![(occurrence.clone(), true)],
        };
        let plan = occurrences_plan(
            &project.name,
            compare(&occurrence, CmpOp::Gt, &Value::Int(0)),
            RECENT_UUIDS_PER_PROJECT_MAX as u32,
        );
        let rows = store.run_sql(&query::sql::render_event_list(&plan, &list, &query::DuckDb))?;
        for row in rows.iter().rev() {
            if let Some(Some(Value::Str(u))) = row.first() {
                recent.insert(project.id, u);
            }
        }
    }
    Ok(recent)
}

/// The columns one replay row carries, in this order.
const REPLAY_COLUMNS: [&str; 12] = [
    fields::OCCURRENCE_ID,
    fields::ITEM_ID,
    fields::COUNTER,
    fields::ENVIRONMENT,
    fields::FINGERPRINT,
    COL_NAME,
    fields::LEVEL,
    fields::CODE_VERSION,
    FIELD_TIMESTAMP,
    fields::FRAMEWORK,
    "platform",
    "language",
];

/// A plan over every stored occurrence of one project (all time) for which `predicate`
/// holds: the shape every occurrence read of the Rollbar API takes (`read`, and here).
pub(super) fn occurrences_plan(dataset: &str, predicate: Predicate, limit: u32) -> Plan {
    Plan {
        dataset: Some(dataset.to_owned()),
        start_ns: 0,
        end_ns: i64::MAX,
        predicate: Predicate::and(vec![predicate]),
        group_by: Vec::new(),
        aggregates: Vec::new(),
        havings: Vec::new(),
        orders: Vec::new(),
        limit,
        granularity_ns: 1,
        warnings: Vec::new(),
        uniform_weights: true,
    }
}

/// One page of a project's occurrences after `after`, oldest id first.
fn page_sql(catalog: &Catalog, dataset: &str, after: u64) -> String {
    let mut warnings = Vec::new();
    let cols: Vec<ColumnRef> = REPLAY_COLUMNS
        .iter()
        .map(|c| resolve_column(c, catalog, &mut warnings))
        .collect();
    let list = EventList {
        columns: cols.clone(),
        order: vec![(cols[0].clone(), false)],
    };
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let plan = occurrences_plan(
        dataset,
        compare(&cols[0], CmpOp::Gt, &Value::Int(after)),
        REPLAY_PAGE_ROWS,
    );
    query::sql::render_event_list(&plan, &list, &query::DuckDb)
}

/// Rebuilds the occurrence and its ids from one row (as `translate` stored them); `None`
/// when an id is missing (not an occurrence Waggle recorded).
fn occurrence<'a>(
    project_id: u64,
    get: &impl Fn(usize) -> Option<&'a Value>,
) -> Option<(Occurrence, Stored)> {
    let id = |c: usize| match get(c)? {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::Float(f) if *f >= 0.0 => Some(*f as u64),
        Value::Str(s) => s.parse().ok(),
        _ => None,
    };
    let text = |c: usize| match get(c)? {
        Value::Str(s) => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
    };
    let time_ns = match get(8)? {
        Value::Int(n) => *n,
        Value::Float(f) => *f as i64,
        _ => return None,
    };
    let stored = Stored {
        occurrence_id: id(0)?,
        item_id: id(1)?,
        counter: id(2)?,
        new_item: false,
        reactivated: false,
    };
    let occ = Occurrence {
        project_id,
        environment: text(3).unwrap_or_default(),
        fingerprint: Fingerprint(text(4)?),
        title: text(5).unwrap_or_default(),
        level: text(6)
            .as_deref()
            .and_then(Level::parse)
            .unwrap_or(Level::Error),
        code_version: text(7).filter(|v| !v.is_empty()),
        uuid: String::new(),
        timestamp: time_ns.div_euclid(1_000_000_000),
        framework: text(9),
        platform: text(10),
        language: text(11),
    };
    Some((occ, stored))
}
