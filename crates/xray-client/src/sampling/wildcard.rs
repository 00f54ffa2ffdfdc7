//! The SDKs' glob: `*` matches any run of characters, `?` any one character, case-insensitive.

/// Whether `text` matches `pattern`, case-insensitively. An empty pattern matches only empty
/// text. Greedy matching that backtracks only to the last `*`, so the cost is at most
/// `len(pattern) × len(text)` (linear for the usual patterns), never exponential.
pub fn matches(pattern: &str, text: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let lower = |s: &str| -> Vec<char> {
        s.chars()
            .map(|c| c.to_lowercase().next().unwrap_or(c))
            .collect()
    };
    let (p, t) = (lower(pattern), lower(text));
    let (mut i, mut j) = (0usize, 0usize);
    // Position of the last `*` in the pattern and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while i < t.len() {
        if j < p.len() && (p[j] == '?' || (p[j] != '*' && p[j] == t[i])) {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == '*' {
            star = Some((j, i));
            j += 1;
        } else if let Some((sj, si)) = star {
            star = Some((sj, si + 1));
            i = si + 1;
            j = sj + 1;
        } else {
            return false;
        }
    }
    p[j..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        for (p, t, want) in [
            ("*", "", true),
            ("*", "anything", true),
            ("", "", true),
            ("", "a", false),
            ("a", "", false),
            ("/api/*", "/api/activities/home", true),
            ("/API/*", "/api/x", true),
            ("/api/?", "/api/x", true),
            ("/api/?", "/api/xy", false),
            ("*.example.com", "api.EXAMPLE.com", true),
            ("*.example.com", "example.com", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("a*b", "abab", true),
            ("**", "x", true),
            ("GET", "get", true),
            ("GET", "GETX", false),
            ("*?", "", false),
            ("É*", "été", true),
        ] {
            assert_eq!(matches(p, t), want, "{p:?} vs {t:?}");
        }
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let text = "a".repeat(5000);
        let pattern = format!("{}b", "a*".repeat(100));
        let start = std::time::Instant::now();
        assert!(!matches(&pattern, &text));
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }
}
