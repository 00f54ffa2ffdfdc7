//! The X-Ray SDK's sampling-rule wildcard match: case-insensitive, `*` = any run, `?` = one
//! character, an empty pattern matches only the empty text.
//!
//! Semantics follow the Python SDK's `wildcard_match` (`aws_xray_sdk/core/utils/
//! search_pattern.py`, 2.15.0) including its quirk: a text character equal to the pattern
//! character is consumed literally *before* `*`/`?` are considered, so pattern `a*` does not
//! match text `a*b`. Iterative with one backtrack point: O(len(pattern) × len(text)), no
//! recursion, no panics.

/// Characters equal ignoring case (each side lower-cased as Python's `str.lower` does).
fn eq_ignore_case(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

/// Does `text` match `pattern`?
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    if pattern.is_empty() {
        return text.is_empty();
    }
    if pattern == "*" {
        return true;
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut i, mut j) = (0usize, 0usize);
    // Backtrack point: text index after the last `*` and the pattern index of that `*`.
    let mut star: Option<(usize, usize)> = None;
    while i < t.len() {
        match p.get(j) {
            Some(&c) if eq_ignore_case(t[i], c) => {
                i += 1;
                j += 1;
            }
            Some('?') => {
                i += 1;
                j += 1;
            }
            Some('*') => {
                star = Some((i, j));
                j += 1;
            }
            _ => match star {
                Some((si, sj)) => {
                    star = Some((si + 1, sj));
                    i = si + 1;
                    j = sj + 1;
                }
                None => return false,
            },
        }
    }
    while p.get(j) == Some(&'*') {
        j += 1;
    }
    j == p.len()
}
