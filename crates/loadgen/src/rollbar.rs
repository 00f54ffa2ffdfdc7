//! Rollbar occurrences as pyrollbar posts them: `POST /api/1/item/`, one item per request.
//!
//! Each body is `{"data": {…}}` shaped like `scripts/bench_rollbar.py`'s `item()` (a Flask
//! `trace` with 12 frames, `request`, `person`, `server`, `custom`, `notifier`); the access
//! token travels in the `X-Rollbar-Access-Token` header, as pyrollbar sends it. Occurrence
//! `i` belongs to item `k = i % items` (its exception class and frame filenames differ per
//! `k`), so the server groups the occurrences into `items` distinct items.
//!
//! `data.uuid` and `custom.trace_id` are 32 lowercase hex characters (a uuid4 without dashes)
//! and are recorded as [`IdEncoding::Hex32`] offsets, so every re-sent cycle carries fresh
//! ones: Rollbar answers a repeated `uuid` as a duplicate without storing it.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{json, Value};

use crate::cruddur::GenConfig;
use crate::rng::Rng;
use crate::workload::{
    HttpResponseKind, IdEncoding, PreparedRequest, Protocol, Transport, Workload,
};
use crate::LoadError;

/// The item endpoint (Rollbar API `POST /api/1/item/`).
pub const ROLLBAR_ITEM_PATH: &str = "/api/1/item/";
/// The header pyrollbar sends the project access token in.
pub const ROLLBAR_TOKEN_HEADER: &str = "x-rollbar-access-token";
/// Distinct items the default workload spreads its occurrences over.
pub const DEFAULT_ROLLBAR_ITEMS: usize = 10_000;
/// The access token the default workload sends (what `scripts/bench_rollbar.py` uses).
pub const DEFAULT_ROLLBAR_TOKEN: &str = "bench";
/// Frames in each occurrence's traceback (as in `scripts/bench_rollbar.py`).
const FRAMES: usize = 12;
/// Keeps the uuid stream apart from other generators seeded with the same value.
const SEED_SALT: u64 = 0x726f_6c6c_6261_7221; // "rollbar!"

/// Rollbar `POST /api/1/item/` occurrences, one per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbarItems {
    /// Distinct Rollbar items (exception classes) the occurrences spread over.
    pub items: usize,
    /// Sent as `X-Rollbar-Access-Token` (a header in `LoadConfig::headers` overrides it).
    pub access_token: String,
}

impl Default for RollbarItems {
    fn default() -> Self {
        Self {
            items: DEFAULT_ROLLBAR_ITEMS,
            access_token: DEFAULT_ROLLBAR_TOKEN.to_string(),
        }
    }
}

/// 32 lowercase hex characters from 16 random bytes.
fn hex32(rng: &mut Rng) -> String {
    hex::encode(rng.bytes::<16>())
}

/// The `data` object of occurrence `i`.
fn occurrence(i: usize, items: usize, uuid: &str, trace_id: &str, now_s: u64) -> Value {
    let k = i % items;
    let frames: Vec<Value> = (0..FRAMES)
        .map(|f| {
            json!({
                "filename": format!("/backend-flask/services/svc_{k}.py"),
                "lineno": 10 + f,
                "method": format!("run_{f}"),
                "code": "raise ValueError(msg)",
            })
        })
        .collect();
    json!({
        "environment": "production",
        "level": "error",
        "language": "python",
        "framework": "flask",
        "platform": "linux",
        "uuid": uuid,
        "timestamp": now_s,
        "code_version": "1.0.0",
        "body": {"trace": {
            "frames": frames,
            "exception": {
                "class": format!("Error{k}"),
                "message": format!("request {i} failed for user 42"),
            },
        }},
        "request": {
            "url": "http://localhost:4567/api/activities/home",
            "method": "GET",
            "headers": {"User-Agent": "bench"},
            "user_ip": "127.0.0.1",
        },
        "person": {"id": "42", "username": "andrewbrown"},
        "server": {"host": "bench", "root": "/backend-flask", "pid": 4242},
        "custom": {"trace_id": trace_id},
        "notifier": {"name": "pyrollbar", "version": "1.5.0"},
    })
}

/// The offset of `hex` right after `"key":"` in `body` (serde_json writes no spaces).
fn hex_offset(body: &[u8], key: &str, hex: &str) -> Result<usize, LoadError> {
    let needle = format!("\"{key}\":\"{hex}\"");
    body.windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .map(|at| at + key.len() + 4)
        .ok_or_else(|| LoadError::Encode(format!("{key} not found in a Rollbar body")))
}

impl Workload for RollbarItems {
    fn name(&self) -> &'static str {
        Protocol::RollbarItem.name()
    }
    fn item_kind(&self) -> &'static str {
        "occurrences"
    }
    fn transport(&self) -> Transport {
        Transport::HttpPost {
            path: ROLLBAR_ITEM_PATH.to_string(),
            content_type: "application/json",
            content_encoding: None,
            headers: vec![(ROLLBAR_TOKEN_HEADER.into(), self.access_token.clone())],
            // Rollbar answers 200 `{"err": 0, …}` for a stored (or duplicate) occurrence,
            // 429 when rate limited or overloaded, 503 when storage failed.
            response: HttpResponseKind::StatusOnly,
        }
    }
    fn prepare(&self, gen: &GenConfig) -> Result<Vec<PreparedRequest>, LoadError> {
        gen.validate()?;
        if self.items == 0 {
            return Err(LoadError::InvalidConfig(
                "rollbar items must be at least 1".into(),
            ));
        }
        if self.access_token.is_empty() {
            return Err(LoadError::InvalidConfig(
                "rollbar access token must not be empty".into(),
            ));
        }
        let now_ns = gen.now_unix_nano.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
                .unwrap_or(0)
        });
        let now_s = now_ns / 1_000_000_000;
        let mut rng = Rng::new(gen.seed ^ SEED_SALT);
        let mut out = Vec::with_capacity(gen.requests);
        for i in 0..gen.requests {
            let uuid = hex32(&mut rng);
            let trace_id = hex32(&mut rng);
            let body = json!({ "data": occurrence(i, self.items, &uuid, &trace_id, now_s) });
            let raw = serde_json::to_vec(&body).map_err(|e| LoadError::Encode(e.to_string()))?;
            let offsets = vec![
                (hex_offset(&raw, "uuid", &uuid)?, IdEncoding::Hex32),
                (hex_offset(&raw, "trace_id", &trace_id)?, IdEncoding::Hex32),
            ];
            out.push(PreparedRequest {
                body: Bytes::from(raw),
                items: 1,
                trace_id_offsets: offsets,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn gen(requests: usize) -> GenConfig {
        GenConfig {
            seed: 7,
            requests,
            now_unix_nano: Some(1_677_974_400_000_000_000),
            ..GenConfig::default()
        }
    }

    fn parse(b: &[u8]) -> Value {
        serde_json::from_slice(b).unwrap()
    }

    fn is_hex32(v: &Value) -> bool {
        v.as_str().is_some_and(|s| {
            s.len() == 32 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        })
    }

    #[test]
    fn bodies_have_the_pyrollbar_shape() {
        let w = RollbarItems::default();
        let reqs = w.prepare(&gen(5)).unwrap();
        assert_eq!(reqs.len(), 5);
        for (i, r) in reqs.iter().enumerate() {
            assert_eq!(r.items, 1);
            assert_eq!(r.trace_id_offsets.len(), 2);
            let v = parse(&r.body);
            assert!(v.get("access_token").is_none());
            let d = &v["data"];
            assert_eq!(d["environment"], "production");
            assert_eq!(d["level"], "error");
            assert_eq!(d["language"], "python");
            assert_eq!(d["framework"], "flask");
            assert_eq!(d["platform"], "linux");
            assert_eq!(d["code_version"], "1.0.0");
            assert_eq!(d["timestamp"], 1_677_974_400u64);
            assert!(is_hex32(&d["uuid"]), "{}", d["uuid"]);
            assert!(is_hex32(&d["custom"]["trace_id"]));
            let frames = d["body"]["trace"]["frames"].as_array().unwrap();
            assert_eq!(frames.len(), 12);
            assert_eq!(
                frames[3]["filename"],
                format!("/backend-flask/services/svc_{i}.py")
            );
            assert_eq!(frames[3]["lineno"], 13);
            assert_eq!(frames[3]["method"], "run_3");
            assert_eq!(frames[3]["code"], "raise ValueError(msg)");
            let exc = &d["body"]["trace"]["exception"];
            assert_eq!(exc["class"], format!("Error{i}"));
            assert_eq!(exc["message"], format!("request {i} failed for user 42"));
            assert_eq!(
                d["request"]["url"],
                "http://localhost:4567/api/activities/home"
            );
            assert_eq!(d["request"]["method"], "GET");
            assert_eq!(d["request"]["headers"]["User-Agent"], "bench");
            assert_eq!(d["request"]["user_ip"], "127.0.0.1");
            assert_eq!(d["person"]["id"], "42");
            assert_eq!(d["person"]["username"], "andrewbrown");
            assert_eq!(d["server"]["host"], "bench");
            assert_eq!(d["server"]["root"], "/backend-flask");
            assert_eq!(d["server"]["pid"], 4242);
            assert_eq!(d["notifier"]["name"], "pyrollbar");
            assert_eq!(d["notifier"]["version"], "1.5.0");
        }
    }

    #[test]
    fn occurrences_spread_over_items() {
        let w = RollbarItems {
            items: 7,
            access_token: "t".into(),
        };
        let reqs = w.prepare(&gen(50)).unwrap();
        let classes: HashSet<String> = reqs
            .iter()
            .map(|r| {
                parse(&r.body)["data"]["body"]["trace"]["exception"]["class"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(classes.len(), 7);
        assert!(classes.contains("Error0") && classes.contains("Error6"));
    }

    #[test]
    fn cycles_get_fresh_ids_and_stay_valid_json() {
        let reqs = RollbarItems::default().prepare(&gen(3)).unwrap();
        for r in &reqs {
            let a = parse(&r.body_for_cycle(0));
            let b = parse(&r.body_for_cycle(1));
            let c = parse(&r.body_for_cycle(2));
            for v in [&a, &b, &c] {
                assert!(is_hex32(&v["data"]["uuid"]));
                assert!(is_hex32(&v["data"]["custom"]["trace_id"]));
            }
            assert_ne!(a["data"]["uuid"], b["data"]["uuid"]);
            assert_ne!(b["data"]["uuid"], c["data"]["uuid"]);
            assert_ne!(
                a["data"]["custom"]["trace_id"],
                b["data"]["custom"]["trace_id"]
            );
            // Only the ids change.
            let mut b2 = b.clone();
            b2["data"]["uuid"] = a["data"]["uuid"].clone();
            b2["data"]["custom"]["trace_id"] = a["data"]["custom"]["trace_id"].clone();
            assert_eq!(a, b2);
        }
    }

    #[test]
    fn uuids_are_unique_within_and_across_cycles() {
        let reqs = RollbarItems::default().prepare(&gen(1000)).unwrap();
        let mut seen = HashSet::new();
        for cycle in 0..3 {
            for r in &reqs {
                let v = parse(&r.body_for_cycle(cycle));
                let uuid = v["data"]["uuid"].as_str().unwrap().to_string();
                assert!(seen.insert(uuid), "repeated uuid in cycle {cycle}");
            }
        }
        assert_eq!(seen.len(), 3000);
    }

    #[test]
    fn deterministic_per_seed_and_validated() {
        let w = RollbarItems::default();
        let a = w.prepare(&gen(4)).unwrap();
        let b = w.prepare(&gen(4)).unwrap();
        assert!(a.iter().zip(&b).all(|(x, y)| x.body == y.body));
        let c = w.prepare(&GenConfig { seed: 8, ..gen(4) }).unwrap();
        assert_ne!(a[0].body, c[0].body);

        assert!(w.prepare(&gen(0)).is_err());
        let none = RollbarItems {
            items: 0,
            ..RollbarItems::default()
        };
        assert!(none.prepare(&gen(4)).is_err());
        let empty = RollbarItems {
            access_token: String::new(),
            ..RollbarItems::default()
        };
        assert!(empty.prepare(&gen(4)).is_err());
    }

    #[test]
    fn transport_and_protocol() {
        let w = RollbarItems::default();
        assert_eq!(w.name(), "rollbar-item");
        assert_eq!(w.item_kind(), "occurrences");
        assert_eq!(
            w.transport(),
            Transport::HttpPost {
                path: "/api/1/item/".into(),
                content_type: "application/json",
                content_encoding: None,
                headers: vec![("x-rollbar-access-token".into(), "bench".into())],
                response: HttpResponseKind::StatusOnly,
            }
        );
        for s in ["rollbar-item", "rollbar"] {
            assert_eq!(s.parse::<Protocol>().unwrap(), Protocol::RollbarItem);
        }
        assert_eq!(Protocol::RollbarItem.name(), "rollbar-item");
        assert_eq!(
            serde_json::to_value(Protocol::RollbarItem).unwrap(),
            "rollbar-item"
        );
        let boxed = Protocol::RollbarItem.workload("ignored", Default::default());
        assert_eq!(boxed.name(), "rollbar-item");
        let reqs = boxed.prepare(&gen(2)).unwrap();
        assert_eq!(
            parse(&reqs[1].body)["data"]["body"]["trace"]["exception"]["class"],
            "Error1"
        );
    }
}
