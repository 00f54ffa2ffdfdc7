//! Attribute layout benchmark: the same synthetic spans stored as one column per attribute
//! (what `DuckStore` does) and as a `MAP(VARCHAR, VARCHAR)` column, compared on insert rate,
//! bytes on disk per row and a Honeycomb-style breakdown query.
//!
//! `cargo run --release -p waggle-store --example layout -- [ROWS]` (default 2,000,000).
//! Results are recorded in BENCHMARKS.md.

use std::sync::Arc;
use std::time::Instant;

use duckdb::arrow::array::{
    Array, ArrayRef, Float64Builder, Int64Builder, MapBuilder, StringBuilder,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::Connection;

const ATTRS: usize = 10;
const BATCH: usize = 100_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const KEYS: [&str; ATTRS] = [
    "http.route",
    "http.method",
    "http.status_code",
    "http.user_agent",
    "handle",
    "uuid",
    "net.host.name",
    "http.scheme",
    "http.flavor",
    "app.result_length",
];

fn value(rng: &mut Rng, k: usize, row: u64) -> String {
    match k {
        0 => [
            "/api/activities/home",
            "/api/activities/notifications",
            "/api/activities/@<handle>",
            "/api/activities/search",
            "/api/message_groups",
            "/api/messages/@<handle>",
            "/api/activities",
            "/api/activities/<uuid>/reply",
        ][rng.below(8) as usize]
            .to_string(),
        1 => ["GET", "POST", "PUT", "DELETE"][rng.below(4) as usize].to_string(),
        2 => ["200", "200", "200", "200", "201", "404", "500"][rng.below(7) as usize].to_string(),
        3 => format!("Mozilla/5.0 agent-{}", rng.below(20)),
        4 => format!("user{}", rng.below(1000)),
        5 => format!("{:016x}-{:08x}", rng.next(), row),
        6 => format!("host-{}", rng.below(3)),
        7 => "http".to_string(),
        8 => "1.1".to_string(),
        _ => rng.below(50).to_string(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let dir = std::env::temp_dir().join(format!("waggle-layout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    println!("rows={rows} attributes={ATTRS} batch={BATCH}");
    println!(
        "{:<10} {:>12} {:>10} {:>14} {:>14}",
        "layout", "insert/s", "B/row", "query p50 ms", "query max ms"
    );
    for layout in ["columns", "map"] {
        let path = dir.join(format!("{layout}.duckdb"));
        let conn = Connection::open(&path)?;
        let cols: Vec<String> = KEYS.iter().map(|k| format!("\"{k}\" VARCHAR")).collect();
        match layout {
            "columns" => conn.execute_batch(&format!(
                "CREATE TABLE t (time_ns BIGINT, trace_lo BIGINT, duration_ms DOUBLE, {})",
                cols.join(", ")
            ))?,
            _ => conn.execute_batch(
                "CREATE TABLE t (time_ns BIGINT, trace_lo BIGINT, duration_ms DOUBLE, attrs MAP(VARCHAR, VARCHAR))",
            )?,
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let started = Instant::now();
        let mut done = 0usize;
        while done < rows {
            let n = BATCH.min(rows - done);
            let mut time = Int64Builder::with_capacity(n);
            let mut trace = Int64Builder::with_capacity(n);
            let mut dur = Float64Builder::with_capacity(n);
            let mut fields = vec![
                Field::new("time_ns", DataType::Int64, true),
                Field::new("trace_lo", DataType::Int64, true),
                Field::new("duration_ms", DataType::Float64, true),
            ];
            let mut strings: Vec<StringBuilder> =
                (0..ATTRS).map(|_| StringBuilder::new()).collect();
            let mut map = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
            for i in 0..n {
                let row = (done + i) as u64;
                time.append_value(1_700_000_000_000_000_000 + row as i64 * 1000);
                trace.append_value(rng.next() as i64);
                dur.append_value((rng.below(100_000) as f64) / 100.0);
                for (k, key) in KEYS.iter().enumerate() {
                    let v = value(&mut rng, k, row);
                    if layout == "columns" {
                        strings[k].append_value(v);
                    } else {
                        map.keys().append_value(key);
                        map.values().append_value(v);
                    }
                }
                if layout == "map" {
                    map.append(true)?;
                }
            }
            let mut arrays: Vec<ArrayRef> = vec![
                Arc::new(time.finish()),
                Arc::new(trace.finish()),
                Arc::new(dur.finish()),
            ];
            if layout == "columns" {
                for (k, mut b) in strings.into_iter().enumerate() {
                    fields.push(Field::new(KEYS[k], DataType::Utf8, true));
                    arrays.push(Arc::new(b.finish()));
                }
            } else {
                let m = map.finish();
                fields.push(Field::new("attrs", m.data_type().clone(), true));
                arrays.push(Arc::new(m));
            }
            let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
            conn.execute_batch("BEGIN")?;
            let mut app = conn.appender("t")?;
            app.append_record_batch(batch)?;
            app.flush()?;
            drop(app);
            conn.execute_batch("COMMIT")?;
            done += n;
        }
        let insert_rate = rows as f64 / started.elapsed().as_secs_f64();
        conn.execute_batch("CHECKPOINT")?;
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let (route, status) = if layout == "columns" {
            (
                "\"http.route\"".to_string(),
                "\"http.status_code\"".to_string(),
            )
        } else {
            (
                "attrs['http.route']".to_string(),
                "attrs['http.status_code']".to_string(),
            )
        };
        let sql = format!(
            "SELECT {route} AS r, count(*), quantile_cont(duration_ms, 0.99) FROM t WHERE {status} = '500' GROUP BY r ORDER BY 2 DESC"
        );
        let mut times = Vec::new();
        for _ in 0..7 {
            let q = Instant::now();
            let mut stmt = conn.prepare(&sql)?;
            let n = stmt.query_map([], |_| Ok(()))?.count();
            assert!(n > 0);
            times.push(q.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{:<10} {:>12.0} {:>10.1} {:>14.1} {:>14.1}",
            layout,
            insert_rate,
            bytes as f64 / rows as f64,
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
