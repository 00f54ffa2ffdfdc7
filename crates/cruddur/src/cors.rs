//! CORS as flask-cors 3.0.10 answers the seed's settings (`SYSTEM.md` §2.4), with one
//! decision of ours (crate README): preflights on the GET routes echo requested headers that
//! are in the allowed list — `content-type`, `if-modified-since` (the seed's intent, which
//! flask-cors never honoured because it read the comma string as one pattern) and the W3C trace
//! headers `traceparent`, `tracestate` (so a traced browser frontend is not blocked).

/// Headers a GET-route preflight may allow.
pub const ALLOWED_REQUEST_HEADERS: &[&str] = &[
    "content-type",
    "if-modified-since",
    "traceparent",
    "tracestate",
];
pub const EXPOSE_HEADERS: &str = "location,link";
pub const APP_METHODS: &str = "OPTIONS,GET,HEAD,POST";
/// flask-cors's default method list, used by `@cross_origin()` with no arguments.
pub const DEFAULT_METHODS: &str = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT";

/// Which CORS configuration answers a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// `CORS(app, resources="/api/*", origins=[FRONTEND_URL, BACKEND_URL], …)`.
    App,
    /// `@cross_origin()` on the POST views: any origin.
    CrossOrigin,
    /// Outside `/api`: nothing.
    None,
}

/// The request facts CORS reads.
#[derive(Debug, Default)]
pub struct Request<'a> {
    pub origin: Option<&'a str>,
    pub request_headers: Option<&'a str>,
    pub preflight: bool,
    /// `Access-Control-Request-Method`: flask-cors answers a preflight only when it is
    /// present and one of the policy's methods.
    pub request_method: Option<&'a str>,
}

/// Response headers to add, in order.
pub fn headers(policy: Policy, origins: &[String], req: &Request) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let Some(origin) = req.origin else { return out };
    match policy {
        Policy::None => {}
        Policy::App => {
            if !origins.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
                return out;
            }
            out.push(("access-control-allow-origin", origin.to_string()));
            out.push(("access-control-expose-headers", EXPOSE_HEADERS.to_string()));
            if preflight(req, APP_METHODS, ",") {
                if let Some(h) = allowed_request_headers(req.request_headers) {
                    out.push(("access-control-allow-headers", h));
                }
                out.push(("access-control-allow-methods", APP_METHODS.to_string()));
            }
            out.push(("vary", "Origin".to_string()));
        }
        Policy::CrossOrigin => {
            out.push(("access-control-allow-origin", origin.to_string()));
            if preflight(req, DEFAULT_METHODS, ", ") {
                if let Some(h) = sorted_headers(req.request_headers, |_| true) {
                    out.push(("access-control-allow-headers", h));
                }
                out.push(("access-control-allow-methods", DEFAULT_METHODS.to_string()));
            }
            out.push(("vary", "Origin".to_string()));
        }
    }
    out
}

fn preflight(req: &Request, methods: &str, sep: &str) -> bool {
    req.preflight
        && req.request_method.is_some_and(|m| {
            methods
                .split(sep)
                .any(|x| x.trim().eq_ignore_ascii_case(m.trim()))
        })
}

/// The requested headers that pass `keep`, sorted and joined with `", "` as flask-cors does.
fn sorted_headers(requested: Option<&str>, keep: impl Fn(&str) -> bool) -> Option<String> {
    let mut kept: Vec<&str> = requested?
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty() && keep(h))
        .collect();
    kept.sort_unstable();
    (!kept.is_empty()).then(|| kept.join(", "))
}

/// The requested headers that are in [`ALLOWED_REQUEST_HEADERS`].
fn allowed_request_headers(requested: Option<&str>) -> Option<String> {
    sorted_headers(requested, |h| {
        ALLOWED_REQUEST_HEADERS
            .iter()
            .any(|a| a.eq_ignore_ascii_case(h))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_policy_echoes_only_listed_origins() {
        let origins = vec!["https://front".to_string()];
        let r = Request {
            origin: Some("https://FRONT"),
            ..Default::default()
        };
        let h = headers(Policy::App, &origins, &r);
        assert_eq!(
            h[0],
            ("access-control-allow-origin", "https://FRONT".into())
        );
        assert_eq!(h.len(), 3);
        let r = Request {
            origin: Some("https://front/"),
            ..Default::default()
        };
        assert!(headers(Policy::App, &origins, &r).is_empty());
        let r = Request {
            origin: Some("https://front"),
            request_headers: Some("traceparent, x-evil"),
            preflight: true,
            request_method: Some("GET"),
        };
        let h = headers(Policy::App, &origins, &r);
        assert!(h.contains(&("access-control-allow-headers", "traceparent".into())));
        assert!(h.contains(&("access-control-allow-methods", APP_METHODS.into())));
    }

    #[test]
    fn cross_origin_echoes_anything() {
        let r = Request {
            origin: Some("https://x"),
            request_headers: Some("x-a"),
            preflight: true,
            request_method: Some("POST"),
        };
        let h = headers(Policy::CrossOrigin, &[], &r);
        assert!(h.contains(&("access-control-allow-headers", "x-a".into())));
        assert!(h.contains(&("access-control-allow-methods", DEFAULT_METHODS.into())));
        assert!(!h.iter().any(|(k, _)| *k == "access-control-expose-headers"));
    }
}
