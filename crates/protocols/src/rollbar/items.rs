//! Items (the groups occurrences fall into) as pure, serializable state: per-project counters,
//! Rollbar's status workflow (active / resolved / muted, reactivation, resolved-in-version),
//! and duplicate-`uuid` detection. One method per state change; time is an input.
//!
//! Facts: an item is keyed by fingerprint **within a project and environment** ("If the hash has
//! been seen before in the same project and environment, that means it's a repeat Occurrence of
//! an existing Item", docs.rollbar.com *Rollbar Terminology*), so an item has one environment.
//! "The level of the *first* occurrence of an item is used as the item's level" (RD) — that is
//! `level`; `max_level` additionally keeps the highest level seen. The title is the first
//! occurrence's and "is only changed if the item is resolved and then later reactivated. Upon
//! reactivation, the title of the reactivating occurrence is used" (docs.rollbar.com *Custom
//! Fingerprinting*). "If the item occurs again in a newer version of the code (or no version
//! was specified), it will be Reactivated" (*Rollbar Terminology*); with a resolved-in version
//! "you will no longer get reactivation notifications for this item until occurrences of this
//! item with a code_version >= 1.1 come in" (rollbar.com blog, *Resolving Rollbar Items in
//! Versions*). Muted items stay muted (*Item Status*).

use super::fingerprint::Fingerprint;
use super::item::Submission;
use super::{Level, CODE_VERSION_CHARS_MAX, TITLE_CHARS_MAX};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// Recently seen occurrence uuids kept per project for duplicate detection (our choice: SDKs
/// resend within seconds — pyrollbar does not retry at all; 262,144 uuids ≈ 10 MB cover 13 s at
/// the 20,000 occurrences/s throughput goal, and far longer at real rates).
pub const RECENT_UUIDS_PER_PROJECT_MAX: usize = 262_144;
/// Code versions remembered per item (our choice: enough for months of daily deploys; the
/// oldest is forgotten first).
pub const CODE_VERSIONS_PER_ITEM_MAX: usize = 256;
/// Items per project (our choice: 10× the benchmark's 10,000 items; a runaway fingerprint —
/// e.g. data in a custom fingerprint — is refused instead of growing the state without end).
pub const ITEMS_PER_PROJECT_MAX: usize = 100_000;

/// `status` (RD `api/items.md`: `active`, `resolved`, `muted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    Active,
    Resolved,
    Muted,
}

impl ItemStatus {
    pub fn parse(s: &str) -> Option<ItemStatus> {
        match s {
            "active" => Some(ItemStatus::Active),
            "resolved" => Some(ItemStatus::Resolved),
            "muted" => Some(ItemStatus::Muted),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Active => "active",
            ItemStatus::Resolved => "resolved",
            ItemStatus::Muted => "muted",
        }
    }
}

/// One item, with the fields the items API returns (names as rollbar-mcp-server's `Item` type
/// spells them; timestamps Unix seconds, RD `api/overview.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemState {
    pub id: u64,
    pub project_id: u64,
    /// Per-project number shown in item URLs (1, 2, 3, …).
    pub counter: u64,
    pub environment: String,
    /// The fingerprint (`hash` in the API).
    pub hash: Fingerprint,
    pub title: String,
    /// The first occurrence's level, or the one PATCHed (RD).
    pub level: Level,
    /// The highest level any occurrence had.
    pub max_level: Level,
    pub framework: Option<String>,
    pub platform: Option<String>,
    pub language: Option<String>,
    pub status: ItemStatus,
    pub resolved_in_version: Option<String>,
    pub assigned_user_id: Option<u64>,
    pub total_occurrences: u64,
    pub first_occurrence_id: u64,
    pub first_occurrence_timestamp: i64,
    pub last_occurrence_id: u64,
    pub last_occurrence_timestamp: i64,
    pub last_activated_timestamp: Option<i64>,
    pub last_resolved_timestamp: Option<i64>,
    pub activating_occurrence_id: Option<u64>,
    /// Code versions seen, oldest first (bounded by [`CODE_VERSIONS_PER_ITEM_MAX`]).
    pub code_versions: Vec<String>,
}

impl ItemState {
    fn note_version(&mut self, v: &str) {
        if self.code_versions.iter().any(|x| x == v) {
            return;
        }
        self.code_versions.push(v.to_owned());
        if self.code_versions.len() > CODE_VERSIONS_PER_ITEM_MAX {
            self.code_versions.remove(0);
        }
    }

    /// Whether an occurrence in `version` reactivates this (resolved) item.
    pub fn reactivates(&self, version: Option<&str>) -> bool {
        match (self.resolved_in_version.as_deref(), version) {
            (None, _) | (Some(_), None) => true,
            (Some(fixed), Some(v)) => match compare_versions(v, fixed) {
                Some(ord) => ord != Ordering::Less,
                // SHAs and other opaque versions: the fixed version itself, or one this item has
                // never seen (so it came after the fix), reactivates; a version seen before the
                // fix is an old deployment still running. Rollbar asks GitHub which commit is
                // the ancestor; we cannot. **[inference]**
                None => v == fixed || !self.code_versions.iter().any(|x| x == v),
            },
        }
    }
}

/// Orders two versions when both are integers or semantic versions (at most three numeric
/// parts, an optional leading `v`; "Any semantic versioning beyond the Minor version will be
/// ignored", docs.rollbar.com *Resolve in version*). `None` when either is something else.
pub fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    fn parts(s: &str) -> Option<[u64; 3]> {
        let s = s.trim();
        let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
        let core = s.split(['-', '+']).next().unwrap_or_default();
        let mut out = [0u64; 3];
        let mut n = 0;
        for p in core.split('.') {
            if p.is_empty() || p.len() > 18 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            if n < 3 {
                out[n] = p.parse().ok()?;
            }
            n += 1;
        }
        (1..=3).contains(&n).then_some(out)
    }
    Some(parts(a)?.cmp(&parts(b)?))
}

/// What one occurrence contributes to its item.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    pub project_id: u64,
    pub environment: String,
    pub fingerprint: Fingerprint,
    pub title: String,
    pub level: Level,
    pub code_version: Option<String>,
    pub uuid: String,
    /// Unix seconds.
    pub timestamp: i64,
    pub framework: Option<String>,
    pub platform: Option<String>,
    pub language: Option<String>,
}

impl Occurrence {
    /// From a validated submission: fingerprint and title per [`super::fingerprint`], the
    /// code version from `data.code_version`, else `server.code_version`, else `server.sha`,
    /// else `client.javascript.code_version` (RD lists all four places).
    pub fn from_submission(project_id: u64, sub: &Submission, uuid: &str, now_ns: i64) -> Self {
        let d = &sub.data;
        Occurrence {
            project_id,
            environment: sub.environment.clone(),
            fingerprint: super::fingerprint::fingerprint(d),
            title: super::fingerprint::title(d),
            level: sub.level,
            code_version: code_version(sub),
            uuid: uuid.to_owned(),
            timestamp: sub.time_ns(now_ns).div_euclid(1_000_000_000),
            framework: d.framework.clone(),
            platform: d.platform.clone(),
            language: d.language.clone(),
        }
    }
}

/// The occurrence's code version (see [`Occurrence::from_submission`]).
pub fn code_version(sub: &Submission) -> Option<String> {
    let d = &sub.data;
    d.code_version
        .clone()
        .or_else(|| d.server.as_ref().and_then(|s| s.code_version.clone()))
        .or_else(|| d.server.as_ref().and_then(|s| s.sha.clone()))
        .or_else(|| {
            d.client
                .as_ref()
                .and_then(|c| c.get("javascript"))
                .and_then(|j| j.get("code_version"))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .filter(|v| !v.is_empty())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub item_id: u64,
    /// The item's per-project counter.
    pub counter: u64,
    pub occurrence_id: u64,
    pub new_item: bool,
    /// A resolved item became active again.
    pub reactivated: bool,
}

/// The ids an occurrence is applied with: `item` (id, counter) when it starts an item.
#[derive(Debug, Clone, Copy)]
struct Ids {
    item: Option<(u64, u64)>,
    occurrence_id: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("project has reached {ITEMS_PER_PROJECT_MAX} items")]
    TooManyItems,
}

/// A PATCH (RD `api/items.md`), already parsed from JSON (see [`super::api::PatchBody`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Patch {
    pub status: Option<ItemStatus>,
    pub resolved_in_version: Option<String>,
    pub level: Option<Level>,
    pub title: Option<String>,
    /// `Some(None)` unassigns.
    pub assigned_user_id: Option<Option<u64>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// 404 (RD `api/overview.md`: "referencing something that does not exist").
    #[error("Item not found")]
    NotFound,
    /// 422.
    #[error("{0}")]
    Invalid(String),
}

/// Occurrence uuids seen recently, per project, for duplicate detection ("If an
/// occurrence is sent with a uuid that was already used, the second one will be discarded",
/// RD): a FIFO per project with a set beside it, at most [`RECENT_UUIDS_PER_PROJECT_MAX`]
/// each. Not part of [`Items`] (it is a cache of the stored occurrences' `rollbar.uuid`,
/// rebuilt from the store on start), so cloning the items stays cheap.
#[derive(Debug, Clone, Default)]
pub struct RecentUuids {
    projects: HashMap<u64, UuidFifo>,
}

#[derive(Debug, Clone, Default)]
struct UuidFifo {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl RecentUuids {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `uuid` was seen in the project (an empty uuid never is).
    pub fn contains(&self, project_id: u64, uuid: &str) -> bool {
        !uuid.is_empty()
            && self
                .projects
                .get(&project_id)
                .is_some_and(|p| p.set.contains(uuid))
    }

    /// Remembers `uuid`, forgetting the project's oldest beyond the bound.
    pub fn insert(&mut self, project_id: u64, uuid: &str) {
        if uuid.is_empty() {
            return;
        }
        let p = self.projects.entry(project_id).or_default();
        if !p.set.insert(uuid.to_owned()) {
            return;
        }
        p.order.push_back(uuid.to_owned());
        while p.order.len() > RECENT_UUIDS_PER_PROJECT_MAX {
            if let Some(old) = p.order.pop_front() {
                p.set.remove(&old);
            }
        }
    }

    /// uuids remembered for the project.
    pub fn len(&self, project_id: u64) -> usize {
        self.projects.get(&project_id).map_or(0, |p| p.order.len())
    }
}

/// (De)serializes the items map through plain `ItemState`s (the `Arc`s are for cheap
/// clones, not part of the document).
mod arc_items {
    use super::ItemState;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<u64, Arc<ItemState>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(m.iter().map(|(k, v)| (k, &**v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<u64, Arc<ItemState>>, D::Error> {
        let m = BTreeMap::<u64, ItemState>::deserialize(d)?;
        Ok(m.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ProjectItems {
    next_counter: u64,
    /// environment → fingerprint → item id.
    by_key: BTreeMap<String, BTreeMap<Fingerprint, u64>>,
    by_counter: BTreeMap<u64, u64>,
    item_count: usize,
}

/// All items of all projects: one document, persisted by the caller (serde) now and then;
/// between two writes, the stored occurrences after [`Items::next_occurrence_id`] replay
/// into it ([`Items::replay`]), so the events are the durable record and the document a
/// checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Items {
    next_item_id: u64,
    next_occurrence_id: u64,
    /// Shared until changed (`Arc::make_mut`), so a batch's working copy costs a map of
    /// pointers, not every item.
    #[serde(with = "arc_items")]
    items: BTreeMap<u64, Arc<ItemState>>,
    projects: BTreeMap<u64, ProjectItems>,
}

impl Items {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, item_id: u64) -> Option<&ItemState> {
        self.items.get(&item_id).map(|i| &**i)
    }

    /// The last occurrence id handed out: the document reflects every occurrence up to it.
    pub fn next_occurrence_id(&self) -> u64 {
        self.next_occurrence_id
    }

    pub fn by_counter(&self, project_id: u64, counter: u64) -> Option<&ItemState> {
        let id = self.projects.get(&project_id)?.by_counter.get(&counter)?;
        self.get(*id)
    }

    /// The item an occurrence with this key belongs to, if any.
    pub fn find(
        &self,
        project_id: u64,
        environment: &str,
        fingerprint: &Fingerprint,
    ) -> Option<&ItemState> {
        let id = self
            .projects
            .get(&project_id)?
            .by_key
            .get(environment)?
            .get(fingerprint)?;
        self.get(*id)
    }

    /// A project's items, newest counter first.
    pub fn project_items(&self, project_id: u64) -> impl Iterator<Item = &ItemState> {
        self.projects
            .get(&project_id)
            .into_iter()
            .flat_map(|p| p.by_counter.values().rev())
            .filter_map(|id| self.get(*id))
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Moves the id sequences past ids that committed events already carry: the item id and
    /// occurrence id (global) and each `(project id, counter)`. A crash between an
    /// occurrence's commit and the document's write leaves such ids behind; without this the
    /// next occurrence would be handed the same numbers. Never lowers a sequence.
    pub fn reserve_ids(
        &mut self,
        max_item_id: u64,
        max_occurrence_id: u64,
        max_counters: &[(u64, u64)],
    ) {
        self.next_item_id = self.next_item_id.max(max_item_id);
        self.next_occurrence_id = self.next_occurrence_id.max(max_occurrence_id);
        for &(project_id, counter) in max_counters {
            let p = self.projects.entry(project_id).or_default();
            p.next_counter = p.next_counter.max(counter);
        }
    }

    /// Adds one occurrence: a new item, or the next occurrence of an existing one (which may
    /// reactivate it), with fresh ids. Duplicate uuids are the caller's to catch first
    /// ([`RecentUuids`]).
    pub fn record(&mut self, occ: &Occurrence) -> Result<Stored, RecordError> {
        let project = self.projects.entry(occ.project_id).or_default();
        let existing = project
            .by_key
            .get(&occ.environment)
            .and_then(|m| m.get(&occ.fingerprint))
            .copied();
        if existing.is_none() && project.item_count >= ITEMS_PER_PROJECT_MAX {
            return Err(RecordError::TooManyItems);
        }
        let ids = match existing {
            Some(_) => Ids {
                item: None,
                occurrence_id: self.next_occurrence_id + 1,
            },
            None => Ids {
                item: Some((self.next_item_id + 1, project.next_counter + 1)),
                occurrence_id: self.next_occurrence_id + 1,
            },
        };
        Ok(self.apply(occ, existing, ids))
    }

    /// Applies an occurrence that is already stored with the ids `stored` names (the
    /// events committed after the document was last written, replayed on load in
    /// occurrence-id order), exactly as [`Items::record`] applied it then. Never refuses: the
    /// occurrence is in the store.
    pub fn replay(&mut self, occ: &Occurrence, stored: &Stored) {
        let existing = self
            .projects
            .get(&occ.project_id)
            .and_then(|p| p.by_key.get(&occ.environment))
            .and_then(|m| m.get(&occ.fingerprint))
            .copied();
        let ids = Ids {
            item: existing
                .is_none()
                .then_some((stored.item_id, stored.counter)),
            occurrence_id: stored.occurrence_id,
        };
        self.apply(occ, existing, ids);
    }

    /// The one state change behind [`Items::record`] and [`Items::replay`]: moves the id
    /// sequences to at least the ids used.
    fn apply(&mut self, occ: &Occurrence, existing: Option<u64>, ids: Ids) -> Stored {
        let project = self.projects.entry(occ.project_id).or_default();
        let occurrence_id = ids.occurrence_id;
        self.next_occurrence_id = self.next_occurrence_id.max(occurrence_id);
        match existing.and_then(|id| self.items.get_mut(&id)) {
            Some(item) => {
                let item = Arc::make_mut(item);
                let mut reactivated = false;
                if item.status == ItemStatus::Resolved
                    && item.reactivates(occ.code_version.as_deref())
                {
                    item.status = ItemStatus::Active;
                    item.title = occ.title.clone();
                    item.resolved_in_version = None;
                    item.last_activated_timestamp = Some(occ.timestamp);
                    item.activating_occurrence_id = Some(occurrence_id);
                    reactivated = true;
                }
                item.total_occurrences += 1;
                item.max_level = item.max_level.max(occ.level);
                if occ.timestamp >= item.last_occurrence_timestamp {
                    item.last_occurrence_timestamp = occ.timestamp;
                    item.last_occurrence_id = occurrence_id;
                }
                if occ.timestamp < item.first_occurrence_timestamp {
                    item.first_occurrence_timestamp = occ.timestamp;
                }
                if let Some(v) = occ.code_version.as_deref() {
                    item.note_version(v);
                }
                Stored {
                    item_id: item.id,
                    counter: item.counter,
                    occurrence_id,
                    new_item: false,
                    reactivated,
                }
            }
            None => {
                let (id, counter) = ids
                    .item
                    .unwrap_or((self.next_item_id + 1, project.next_counter + 1));
                project.next_counter = project.next_counter.max(counter);
                project.item_count += 1;
                self.next_item_id = self.next_item_id.max(id);
                project
                    .by_key
                    .entry(occ.environment.clone())
                    .or_default()
                    .insert(occ.fingerprint.clone(), id);
                project.by_counter.insert(counter, id);
                let mut item = ItemState {
                    id,
                    project_id: occ.project_id,
                    counter,
                    environment: occ.environment.clone(),
                    hash: occ.fingerprint.clone(),
                    title: occ.title.clone(),
                    level: occ.level,
                    max_level: occ.level,
                    framework: occ.framework.clone(),
                    platform: occ.platform.clone(),
                    language: occ.language.clone(),
                    status: ItemStatus::Active,
                    resolved_in_version: None,
                    assigned_user_id: None,
                    total_occurrences: 1,
                    first_occurrence_id: occurrence_id,
                    first_occurrence_timestamp: occ.timestamp,
                    last_occurrence_id: occurrence_id,
                    last_occurrence_timestamp: occ.timestamp,
                    last_activated_timestamp: Some(occ.timestamp),
                    last_resolved_timestamp: None,
                    activating_occurrence_id: Some(occurrence_id),
                    code_versions: Vec::new(),
                };
                if let Some(v) = occ.code_version.as_deref() {
                    item.note_version(v);
                }
                self.items.insert(id, Arc::new(item));
                Stored {
                    item_id: id,
                    counter,
                    occurrence_id,
                    new_item: true,
                    reactivated: false,
                }
            }
        }
    }

    /// `PATCH /api/1/item/:id` (RD `api/items.md`). `resolved_in_version` is "Only used if
    /// status is set to resolved"; setting `active` on a resolved item reopens it.
    pub fn patch(
        &mut self,
        project_id: u64,
        item_id: u64,
        patch: &Patch,
        now_s: i64,
    ) -> Result<&ItemState, PatchError> {
        if let Some(t) = patch.title.as_deref() {
            let n = t.chars().count();
            if n == 0 || n > TITLE_CHARS_MAX {
                return Err(PatchError::Invalid(format!(
                    "title must be between 1 and {TITLE_CHARS_MAX} characters"
                )));
            }
        }
        if patch
            .resolved_in_version
            .as_deref()
            .is_some_and(|v| v.chars().count() > CODE_VERSION_CHARS_MAX)
        {
            return Err(PatchError::Invalid(format!(
                "resolved_in_version must be at most {CODE_VERSION_CHARS_MAX} characters"
            )));
        }
        let item = self
            .items
            .get_mut(&item_id)
            .filter(|i| i.project_id == project_id)
            .map(Arc::make_mut)
            .ok_or(PatchError::NotFound)?;
        if let Some(status) = patch.status {
            match status {
                ItemStatus::Resolved => {
                    item.last_resolved_timestamp = Some(now_s);
                    item.resolved_in_version =
                        patch.resolved_in_version.clone().filter(|v| !v.is_empty());
                }
                ItemStatus::Active => {
                    if item.status != ItemStatus::Active {
                        item.last_activated_timestamp = Some(now_s);
                    }
                    item.resolved_in_version = None;
                }
                ItemStatus::Muted => {}
            }
            item.status = status;
        }
        if let Some(level) = patch.level {
            item.level = level;
        }
        if let Some(t) = patch.title.as_ref() {
            item.title = t.clone();
        }
        if let Some(a) = patch.assigned_user_id {
            item.assigned_user_id = a;
        }
        Ok(item)
    }
}
