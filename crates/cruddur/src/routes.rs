//! URL rules matched as Werkzeug 2.2 matches the seed's `@app.route`s (`SYSTEM.md` §2.2):
//! static segments beat `@<param>` segments, which beat plain `<param>` segments; a
//! `<string:…>` converter takes one non-empty segment and URL-decodes it; no trailing slash is
//! tolerated; a path that matches a rule with other methods is a 405 with their `Allow`.

/// What a matched rule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Home,
    Notifications,
    UserActivities,
    Search,
    CreateActivity,
    ShowActivity,
    CreateReply,
    MessageGroups,
    Messages,
    CreateMessage,
    RollbarTest,
}

/// One `@app.route`: the Flask rule text (the OTel span name and Rollbar `context`), the
/// methods the view declares, and whether it carries `@cross_origin()`.
#[derive(Debug)]
pub struct Rule {
    pub rule: &'static str,
    pub endpoint: Endpoint,
    pub post: bool,
    pub cross_origin: bool,
}

pub const RULES: &[Rule] = &[
    Rule {
        rule: "/api/activities/home",
        endpoint: Endpoint::Home,
        post: false,
        cross_origin: false,
    },
    Rule {
        rule: "/api/activities/notifications",
        endpoint: Endpoint::Notifications,
        post: false,
        cross_origin: false,
    },
    Rule {
        rule: "/api/activities/@<string:handle>",
        endpoint: Endpoint::UserActivities,
        post: false,
        cross_origin: false,
    },
    Rule {
        rule: "/api/activities/search",
        endpoint: Endpoint::Search,
        post: false,
        cross_origin: false,
    },
    Rule {
        rule: "/api/activities",
        endpoint: Endpoint::CreateActivity,
        post: true,
        cross_origin: true,
    },
    Rule {
        rule: "/api/activities/<string:activity_uuid>",
        endpoint: Endpoint::ShowActivity,
        post: false,
        cross_origin: false,
    },
    Rule {
        rule: "/api/activities/<string:activity_uuid>/reply",
        endpoint: Endpoint::CreateReply,
        post: true,
        cross_origin: true,
    },
    Rule {
        rule: "/api/message_groups",
        endpoint: Endpoint::MessageGroups,
        post: false,
        cross_origin: false,
    },
    Rule {
        rule: "/api/messages/@<string:handle>",
        endpoint: Endpoint::Messages,
        post: false,
        cross_origin: false,
    },
    Rule {
        rule: "/api/messages",
        endpoint: Endpoint::CreateMessage,
        post: true,
        cross_origin: true,
    },
    Rule {
        rule: "/rollbar/test",
        endpoint: Endpoint::RollbarTest,
        post: false,
        cross_origin: false,
    },
];

impl Rule {
    /// Methods the rule answers, in the order Werkzeug prints them in `Allow`.
    pub fn allow(&self) -> &'static str {
        if self.post {
            "POST, OPTIONS"
        } else {
            "GET, OPTIONS, HEAD"
        }
    }

    pub fn accepts(&self, method: &str) -> bool {
        match method {
            "OPTIONS" => true,
            "POST" => self.post,
            "GET" | "HEAD" => !self.post,
            _ => false,
        }
    }
}

/// A rule that matched a path, with its decoded parameter (every rule has at most one).
#[derive(Debug)]
pub struct Matched {
    pub rule: &'static Rule,
    pub param: Option<String>,
}

/// The routing outcome for a method and a path already percent-decoded (Werkzeug matches
/// the decoded path: `%40` is `@`, and `%2F` splits a segment).
#[derive(Debug)]
pub enum Routed {
    Found(Matched),
    /// The path matches, the method does not: `Allow` lists what does.
    MethodNotAllowed(String),
    NotFound,
}

/// Per-segment precedence: static 2, `@<p>` 1, `<p>` 0 (Werkzeug's rule weights).
fn match_rule(rule: &'static Rule, path: &str) -> Option<(Vec<u8>, Matched)> {
    let mut rs = rule.rule.split('/');
    let mut ps = path.split('/');
    let mut weights = Vec::new();
    let mut param = None;
    loop {
        match (rs.next(), ps.next()) {
            (None, None) => break,
            (Some(r), Some(p)) => {
                if r.starts_with("@<") {
                    let v = p.strip_prefix('@').filter(|v| !v.is_empty())?;
                    param = Some(v.to_string());
                    weights.push(1);
                } else if r.starts_with('<') {
                    if p.is_empty() {
                        return None;
                    }
                    param = Some(p.to_string());
                    weights.push(0);
                } else if r == p {
                    weights.push(2);
                } else {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some((weights, Matched { rule, param }))
}

pub fn route(method: &str, path: &str) -> Routed {
    let mut best: Option<(Vec<u8>, Matched)> = None;
    let mut allow: Vec<&'static str> = Vec::new();
    for rule in RULES {
        let Some((w, m)) = match_rule(rule, path) else {
            continue;
        };
        if !rule.accepts(method) {
            allow.push(rule.allow());
            continue;
        }
        if best.as_ref().is_none_or(|(bw, _)| w > *bw) {
            best = Some((w, m));
        }
    }
    match best {
        Some((_, m)) => Routed::Found(m),
        None if !allow.is_empty() => Routed::MethodNotAllowed(union_allow(&allow)),
        None => Routed::NotFound,
    }
}

/// Flask's automatic OPTIONS `Allow`: the methods of every rule matching the path.
pub fn allowed_methods(path: &str) -> String {
    let lists: Vec<&str> = RULES
        .iter()
        .filter(|r| match_rule(r, path).is_some())
        .map(Rule::allow)
        .collect();
    union_allow(&lists)
}

fn union_allow(lists: &[&str]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for l in lists {
        for m in l.split(", ") {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out.join(", ")
}

/// Werkzeug's `<string:…>` converter value: `%XX` decoded, invalid UTF-8 replaced.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(method: &str, path: &str) -> Option<(Endpoint, Option<String>)> {
        match route(method, path) {
            Routed::Found(m) => Some((m.rule.endpoint, m.param)),
            _ => None,
        }
    }

    #[test]
    fn werkzeug_precedence() {
        assert_eq!(
            endpoint("GET", "/api/activities/home"),
            Some((Endpoint::Home, None))
        );
        assert_eq!(
            endpoint("GET", "/api/activities/@worf"),
            Some((Endpoint::UserActivities, Some("worf".into())))
        );
        assert_eq!(
            endpoint("GET", "/api/activities/@"),
            Some((Endpoint::ShowActivity, Some("@".into())))
        );
        assert_eq!(
            endpoint("GET", &percent_decode("/api/activities/a%20b")),
            Some((Endpoint::ShowActivity, Some("a b".into())))
        );
        assert_eq!(
            endpoint("GET", &percent_decode("/api/activities/%40worf")),
            Some((Endpoint::UserActivities, Some("worf".into())))
        );
        assert!(matches!(
            route("GET", &percent_decode("/api/activities/a%2Fb")),
            Routed::NotFound
        ));
        assert!(matches!(
            route("GET", "/api/activities/home/"),
            Routed::NotFound
        ));
        assert!(matches!(
            route("GET", "/api/messages/bob"),
            Routed::NotFound
        ));
        match route("GET", "/api/activities") {
            Routed::MethodNotAllowed(a) => assert_eq!(a, "POST, OPTIONS"),
            other => panic!("{other:?}"),
        }
        match route("POST", "/api/activities/home") {
            Routed::MethodNotAllowed(a) => assert_eq!(a, "GET, OPTIONS, HEAD"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            endpoint("POST", "/api/activities/x/reply"),
            Some((Endpoint::CreateReply, Some("x".into())))
        );
    }

    #[test]
    fn percent_decoding_is_total() {
        assert_eq!(percent_decode("%40a%2"), "@a%2");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
