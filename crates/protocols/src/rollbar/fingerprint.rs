//! Rollbar's default grouping (RD `guides/grouping-algorithm.md`): the fingerprint that puts
//! occurrences into one item, and the title an item shows.
//!
//! - A custom `data.fingerprint` wins: used as-is up to 40 characters, else its SHA1.
//! - Exceptions: the filenames and method names of **all** frames ("We use all of the stack
//!   frames, not just the frame from the top of the stack"), then the exception class, SHA1'd.
//!   Line numbers and the message are not used; `server.root` is replaced by a constant; dates
//!   and SHAs are stripped from paths; integers of two or more digits from method names.
//! - `trace_chain`: the docs do not say which trace; we use the innermost cause (the last
//!   trace — pyrollbar sends the raised exception first, then `__cause__`/`__context__`), so a
//!   root cause re-wrapped in different places still forms one item. **[inference]**
//! - Messages: "strip out things that look like data" — timestamps, numbers with decimal
//!   points, integers of two or more digits, hexadecimals of four or more digits — then SHA1.
//!   Issue 9 asks for more, so that a message differing only in a number groups with the
//!   first: a standalone number of any length goes (RD keeps single digits; digit runs inside
//!   a word still follow RD's two-digit rule), and so do UUIDs and the contents of quoted
//!   strings (`'…'`, `"…"`, up to [`QUOTED_BYTES_MAX`], opened and closed at word
//!   boundaries so apostrophes are not quotes). A hex run must contain a decimal digit (or a
//!   `0x` prefix) to count as data, so words such as "added" or "facade" survive (our choice).
//! - Crash reports: the raw report normalised like a message.
//!
//! Every hash is over a kind-tagged input, so a message can never collide with a trace.

use super::item::{Data, Trace};
use super::{FINGERPRINT_CHARS_MAX, TITLE_CHARS_MAX};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

/// Replaces `server.root` at the start of a filename (RD: "we strip the root off of each
/// filename and replace it with a constant string").
pub const ROOT_PLACEHOLDER: &str = "{root}";

/// Longest quoted string stripped from a message, quotes included (our choice: bounds the
/// search for the closing quote, so normalising is linear; a longer quotation is more likely
/// prose than a value).
pub const QUOTED_BYTES_MAX: usize = 256;

/// An item's grouping key within a project and environment (`hash` in the items API).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(pub String);

impl Fingerprint {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn sha1_hex(input: &[u8]) -> String {
    hex::encode(Sha1::digest(input))
}

/// The occurrence's fingerprint. Works on any `Data`, valid or not (never panics).
pub fn fingerprint(data: &Data) -> Fingerprint {
    if let Some(custom) = data.fingerprint.as_deref().filter(|f| !f.is_empty()) {
        return Fingerprint(if custom.chars().count() <= FINGERPRINT_CHARS_MAX {
            custom.to_owned()
        } else {
            sha1_hex(custom.as_bytes())
        });
    }
    let root = data
        .server
        .as_ref()
        .and_then(|s| s.root.as_deref())
        .map(|r| r.trim_end_matches('/'))
        .filter(|r| !r.is_empty());
    let body = data.body.as_ref();
    let trace = body.and_then(|b| {
        b.trace
            .as_ref()
            .or_else(|| b.trace_chain.as_ref().and_then(|c| c.last()))
    });
    if let Some(t) = trace {
        return Fingerprint(sha1_hex(&trace_input(t, root)));
    }
    if let Some(m) = body.and_then(|b| b.message.as_ref()) {
        let text = m.body.as_deref().unwrap_or_default();
        let mut input = b"message\n".to_vec();
        input.extend_from_slice(normalize_message(text).as_bytes());
        return Fingerprint(sha1_hex(&input));
    }
    if let Some(c) = body.and_then(|b| b.crash_report.as_ref()) {
        let mut input = b"crash_report\n".to_vec();
        input.extend_from_slice(normalize_message(c.raw.as_deref().unwrap_or_default()).as_bytes());
        return Fingerprint(sha1_hex(&input));
    }
    Fingerprint(sha1_hex(b"empty\n"))
}

/// The grouping input of one trace: `filename \0 method \n` per frame, then the class.
fn trace_input(t: &Trace, root: Option<&str>) -> Vec<u8> {
    let mut input = b"trace\n".to_vec();
    for f in t.frames.iter().flatten() {
        let file = f.filename.as_deref().unwrap_or_default();
        input.extend_from_slice(normalize_path(file, root).as_bytes());
        input.push(0);
        input.extend_from_slice(
            strip_long_integers(f.method.as_deref().unwrap_or_default()).as_bytes(),
        );
        input.push(b'\n');
    }
    let class = t
        .exception
        .as_ref()
        .and_then(|e| e.class.as_deref())
        .unwrap_or_default();
    input.extend_from_slice(class.as_bytes());
    input
}

/// `server.root` → [`ROOT_PLACEHOLDER`] (only at a path boundary), then dates and SHAs out of
/// each path segment.
pub fn normalize_path(file: &str, root: Option<&str>) -> String {
    let rest = root.and_then(|r| {
        file.strip_prefix(r)
            .filter(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('\\'))
    });
    let mut out = String::with_capacity(file.len());
    let tail = match rest {
        Some(rest) => {
            out.push_str(ROOT_PLACEHOLDER);
            rest
        }
        None => file,
    };
    out.push_str(&strip_path_data(tail));
    out
}

/// Removes dates (`2024-01-02`, `2024_01_02`) and SHA-like runs (7+ hex characters with a digit,
/// e.g. a git SHA or a bundler's content hash) from a path.
fn strip_path_data(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let at_start = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if at_start {
            if let Some(n) = match_date(b, i) {
                i += n;
                continue;
            }
            let mut j = i;
            while j < b.len() && b[j].is_ascii_hexdigit() {
                j += 1;
            }
            let end_ok = j == b.len() || !b[j].is_ascii_alphanumeric();
            if end_ok && j - i >= 7 && b[i..j].iter().any(u8::is_ascii_digit) {
                i = j;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes runs of two or more decimal digits (RD: "integers 2 characters or longer are
/// stripped from method names").
fn strip_long_integers(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j - i < 2 {
                out.extend_from_slice(&b[i..j]);
            }
            i = j;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn digits(b: &[u8], i: usize, min: usize, max: usize) -> Option<usize> {
    let mut n = 0;
    while i + n < b.len() && n < max && b[i + n].is_ascii_digit() {
        n += 1;
    }
    (n >= min).then_some(n)
}

fn ends_word(b: &[u8], end: usize) -> bool {
    end == b.len() || !b[end].is_ascii_alphanumeric()
}

/// `YYYY-MM-DD` (also `/`, `_` or `.` separated, or `DD-MM-YYYY`) ending a word: length.
fn match_date(b: &[u8], i: usize) -> Option<usize> {
    match_date_raw(b, i).filter(|n| ends_word(b, i + n))
}

/// [`match_date`] without the word-end check.
fn match_date_raw(b: &[u8], i: usize) -> Option<usize> {
    let a = digits(b, i, 1, 4)?;
    let sep = *b.get(i + a)?;
    if !matches!(sep, b'-' | b'/' | b'_' | b'.') {
        return None;
    }
    let m = digits(b, i + a + 1, 1, 2)?;
    if *b.get(i + a + 1 + m)? != sep {
        return None;
    }
    let d = digits(b, i + a + m + 2, 1, 4)?;
    // One side must be a four-digit year, or "1.2.3" versions would count as dates.
    if a != 4 && d != 4 {
        return None;
    }
    Some(a + m + 2 + d)
}

/// `HH:MM[:SS[.frac]]` with an optional zone: length matched.
fn match_time(b: &[u8], i: usize) -> Option<usize> {
    let h = digits(b, i, 1, 2)?;
    if *b.get(i + h)? != b':' {
        return None;
    }
    let m = digits(b, i + h + 1, 2, 2)?;
    let mut end = i + h + 1 + m;
    if b.get(end) == Some(&b':') {
        if let Some(s) = digits(b, end + 1, 2, 2) {
            end += 1 + s;
            if b.get(end) == Some(&b'.') {
                if let Some(f) = digits(b, end + 1, 1, 9) {
                    end += 1 + f;
                }
            }
        }
    }
    if b.get(end) == Some(&b'Z') {
        end += 1;
    } else if matches!(b.get(end), Some(b'+') | Some(b'-')) {
        if let Some(z) = digits(b, end + 1, 2, 4) {
            end += 1 + z;
            if z == 2 && b.get(end) == Some(&b':') {
                if let Some(z2) = digits(b, end + 1, 2, 2) {
                    end += 1 + z2;
                }
            }
        }
    }
    (end == b.len() || !b[end].is_ascii_alphanumeric()).then_some(end - i)
}

/// A full timestamp: date, optional `T`/space and time.
fn match_timestamp(b: &[u8], i: usize) -> Option<usize> {
    if let Some(d) = match_date_raw(b, i) {
        let j = i + d;
        if matches!(b.get(j), Some(b'T') | Some(b' ')) {
            if let Some(t) = match_time(b, j + 1) {
                return Some(d + 1 + t);
            }
        }
        return ends_word(b, j).then_some(d);
    }
    match_time(b, i)
}

/// `8-4-4-4-12` hex digits.
fn match_uuid(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    for (k, len) in [8usize, 4, 4, 4, 12].into_iter().enumerate() {
        if k > 0 {
            if b.get(j) != Some(&b'-') {
                return None;
            }
            j += 1;
        }
        for _ in 0..len {
            if !b.get(j)?.is_ascii_hexdigit() {
                return None;
            }
            j += 1;
        }
    }
    (j == b.len() || !b[j].is_ascii_alphanumeric()).then_some(j - i)
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The length of a quoted string starting at `i` (quotes included): `'` or `"` not preceded by
/// a word character, closed by the same quote not followed by one, on the same line, within
/// [`QUOTED_BYTES_MAX`].
fn match_quoted(b: &[u8], i: usize) -> Option<usize> {
    let q = *b.get(i)?;
    if q != b'\'' && q != b'"' {
        return None;
    }
    if i > 0 && is_word(b[i - 1]) {
        return None;
    }
    let end = b.len().min(i + QUOTED_BYTES_MAX);
    let mut j = i + 1;
    while j < end {
        let c = b[j];
        if c == b'\n' {
            return None;
        }
        if c == q && j > i + 1 && !b.get(j + 1).is_some_and(|n| is_word(*n)) {
            return Some(j + 1 - i);
        }
        j += 1;
    }
    None
}

/// A message with "things that look like data" stripped (module docs), whitespace collapsed.
pub fn normalize_message(text: &str) -> String {
    let b = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if let Some(n) = match_quoted(b, i) {
            out.push(b[i]);
            out.push(b[i]);
            i += n;
            continue;
        }
        if !is_word(b[i]) {
            out.push(b[i]);
            i += 1;
            continue;
        }
        // At a word start.
        if let Some(n) = match_uuid(b, i).or_else(|| match_timestamp(b, i)) {
            i += n;
            continue;
        }
        let mut j = i;
        while j < b.len() && is_word(b[j]) {
            j += 1;
        }
        let word = &b[i..j];
        let decimal_follows = word.iter().all(u8::is_ascii_digit)
            && b.get(j) == Some(&b'.')
            && b.get(j + 1).is_some_and(u8::is_ascii_digit);
        let plain_hex = word.len() >= 4
            && word.iter().all(u8::is_ascii_hexdigit)
            && word.iter().any(u8::is_ascii_digit);
        let prefixed_hex = word.len() > 2
            && (word.starts_with(b"0x") || word.starts_with(b"0X"))
            && word[2..].iter().all(u8::is_ascii_hexdigit);
        let hex_data = !decimal_follows && (plain_hex || prefixed_hex);
        let number = !decimal_follows && word.iter().all(u8::is_ascii_digit);
        if hex_data || number {
            i = j;
            continue;
        }
        // Digits inside the word (and decimals continuing past it): runs of ≥ 2 digits and
        // `d+.d+` go, single digits stay.
        let mut k = i;
        while k < j {
            if b[k].is_ascii_digit() {
                let mut e = k;
                while e < b.len() && b[e].is_ascii_digit() {
                    e += 1;
                }
                let mut decimal = false;
                while e + 1 < b.len() && b[e] == b'.' && b[e + 1].is_ascii_digit() {
                    decimal = true;
                    e += 1;
                    while e < b.len() && b[e].is_ascii_digit() {
                        e += 1;
                    }
                }
                if !decimal && e - k < 2 {
                    out.extend_from_slice(&b[k..e]);
                }
                k = e;
                if k > j {
                    break;
                }
            } else {
                out.push(b[k]);
                k += 1;
            }
        }
        i = k.max(j);
    }
    let s = String::from_utf8_lossy(&out);
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Truncates to [`TITLE_CHARS_MAX`] characters.
pub fn truncate_title(s: &str) -> String {
    s.chars().take(TITLE_CHARS_MAX).collect()
}

/// The item title Rollbar shows: `data.title` if sent; else `Class: message` (or `Class`) of the
/// reported exception (the first trace of a chain: the one that was raised); else the first line
/// of the message or crash report. At most 255 characters (RD).
pub fn title(data: &Data) -> String {
    if let Some(t) = data
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return truncate_title(t);
    }
    let body = data.body.as_ref();
    let trace = body.and_then(|b| {
        b.trace
            .as_ref()
            .or_else(|| b.trace_chain.as_ref().and_then(|c| c.first()))
    });
    let text = if let Some(t) = trace {
        let exc = t.exception.as_ref();
        let class = exc.and_then(|e| e.class.as_deref()).unwrap_or_default();
        let msg = exc
            .and_then(|e| e.message.as_deref())
            .map(|m| m.lines().next().unwrap_or_default().trim())
            .unwrap_or_default();
        match (class.is_empty(), msg.is_empty()) {
            (false, false) => format!("{class}: {msg}"),
            (false, true) => class.to_owned(),
            (true, _) => msg.to_owned(),
        }
    } else if let Some(m) = body.and_then(|b| b.message.as_ref()) {
        first_line(m.body.as_deref().unwrap_or_default())
    } else if let Some(c) = body.and_then(|b| b.crash_report.as_ref()) {
        first_line(c.raw.as_deref().unwrap_or_default())
    } else {
        String::new()
    };
    truncate_title(&text)
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_owned()
}
