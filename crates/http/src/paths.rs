//! libprocess routing quirks that clients depend on (`reference/mesos-v1-api.md` §0 "Routing").
//!
//! [`normalize_path`] maps every alias to the one path the router knows:
//! 1. one trailing slash is stripped: `/master/frameworks/` → `/master/frameworks`;
//! 2. the process prefix is stripped: `/master/state` → `/state` (master), `/slave(1)/state` →
//!    `/state` (agent; the `%28`/`%29`-escaped form too); the bare prefix becomes `/`;
//! 3. a legacy `.json` suffix on the last segment is dropped: `/state.json` → `/state`,
//!    `/monitor/statistics.json` → `/monitor/statistics`;
//! 4. a path strictly under a fallback prefix that is not itself one falls back to the longest
//!    such prefix: `/api/v1/operator` → `/api/v1` (libprocess retries an unknown path without its
//!    last segment; we do it for a known list, because we cannot see the router's table).
//!
//! Axum matches routes *before* running layers added with `Router::layer`, so the rewrite must
//! wrap the whole router: `PathNormalizeLayer::new(PathRules::master()).layer(router)` (or in a
//! `tower::ServiceBuilder`), then serve that service. The URI the client sent is kept in the
//! request extensions as [`RequestedUri`].

use std::task::{Context, Poll};

use http::uri::PathAndQuery;
use http::{Request, Uri};
use tower::{Layer, Service};

/// The process prefix of the master's endpoints.
pub const MASTER_PREFIX: &str = "/master";
/// The process prefix of the agent's endpoints.
pub const AGENT_PREFIX: &str = "/slave(1)";
/// Paths that unknown sub-paths fall back to (every route under `/api/v1` must be listed).
pub const DEFAULT_FALLBACK_PREFIXES: &[&str] =
    &["/api/v1", "/api/v1/scheduler", "/api/v1/executor"];

/// The rules of one daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathRules {
    /// The libprocess process prefix, e.g. `/master` or `/slave(1)` (a trailing `/` is ignored).
    pub process_prefix: String,
    /// Routes that deeper unknown paths fall back to; see the module docs.
    pub fallback_prefixes: Vec<String>,
}

impl PathRules {
    /// Rules for `process_prefix` with [`DEFAULT_FALLBACK_PREFIXES`].
    pub fn new(process_prefix: &str) -> Self {
        PathRules {
            process_prefix: process_prefix.trim_end_matches('/').to_string(),
            fallback_prefixes: DEFAULT_FALLBACK_PREFIXES
                .iter()
                .map(|p| p.to_string())
                .collect(),
        }
    }

    /// The master's rules (`/master/...`).
    pub fn master() -> Self {
        PathRules::new(MASTER_PREFIX)
    }

    /// The agent's rules (`/slave(1)/...`).
    pub fn agent() -> Self {
        PathRules::new(AGENT_PREFIX)
    }

    /// Normalizes `path` (no query string); see [`normalize_path`].
    pub fn normalize(&self, path: &str) -> String {
        let path = strip_trailing_slash(path);
        let path = strip_process_prefix(path, &self.process_prefix);
        let path = path.strip_suffix(".json").unwrap_or(path);
        let path = if path.is_empty() { "/" } else { path };
        fall_back(path, &self.fallback_prefixes).to_string()
    }
}

/// Normalizes a request path for a process (e.g. `"/master/"` or `"/slave(1)"`) with the
/// default fallback prefixes. See the module docs for the rules.
pub fn normalize_path(path: &str, process_prefix: &str) -> String {
    PathRules::new(process_prefix).normalize(path)
}

fn strip_trailing_slash(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(stripped) if !stripped.is_empty() => stripped,
        _ => path,
    }
}

fn strip_process_prefix<'a>(path: &'a str, prefix: &str) -> &'a str {
    if prefix.is_empty() || prefix == "/" {
        return path;
    }
    let escaped = prefix.replace('(', "%28").replace(')', "%29");
    for candidate in [prefix, escaped.as_str()] {
        if let Some(rest) = strip_prefix_ignore_case(path, candidate) {
            if rest.is_empty() || rest.starts_with('/') {
                return rest;
            }
        }
    }
    path
}

/// Strips `prefix`, comparing percent-escapes case-insensitively (`%2f` = `%2F`).
fn strip_prefix_ignore_case<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    let head = path.get(..prefix.len())?;
    let same = if prefix.contains('%') {
        head.eq_ignore_ascii_case(prefix)
    } else {
        head == prefix
    };
    if same {
        path.get(prefix.len()..)
    } else {
        None
    }
}

fn fall_back<'a>(path: &'a str, prefixes: &'a [String]) -> &'a str {
    if prefixes.iter().any(|prefix| prefix == path) {
        return path;
    }
    prefixes
        .iter()
        .filter(|prefix| {
            path.strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        })
        .max_by_key(|prefix| prefix.len())
        .map_or(path, |prefix| prefix.as_str())
}

/// The request URI as the client sent it, before [`PathNormalizeLayer`] rewrote it
/// (a request extension; e.g. for building a 307 `Location` with the original path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedUri(pub Uri);

/// A tower layer rewriting the request path with [`PathRules`] before routing.
#[derive(Clone, Debug)]
pub struct PathNormalizeLayer {
    rules: std::sync::Arc<PathRules>,
}

impl PathNormalizeLayer {
    /// A layer applying `rules`.
    pub fn new(rules: PathRules) -> Self {
        PathNormalizeLayer {
            rules: std::sync::Arc::new(rules),
        }
    }
}

impl<S> Layer<S> for PathNormalizeLayer {
    type Service = PathNormalize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PathNormalize {
            inner,
            rules: self.rules.clone(),
        }
    }
}

/// The service made by [`PathNormalizeLayer`].
#[derive(Clone, Debug)]
pub struct PathNormalize<S> {
    inner: S,
    rules: std::sync::Arc<PathRules>,
}

impl<S, B> Service<Request<B>> for PathNormalize<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let original = request.uri().clone();
        if let Some(uri) = rewrite(&original, &self.rules) {
            *request.uri_mut() = uri;
        }
        request.extensions_mut().insert(RequestedUri(original));
        self.inner.call(request)
    }
}

/// The rewritten URI, or `None` when the path is already normal (or cannot be rebuilt).
fn rewrite(uri: &Uri, rules: &PathRules) -> Option<Uri> {
    let path = uri.path();
    let normalized = rules.normalize(path);
    if normalized == path {
        return None;
    }
    let path_and_query = match uri.query() {
        Some(query) => format!("{normalized}?{query}"),
        None => normalized,
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(path_and_query).ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_rules() {
        let n = |p| normalize_path(p, "/master/");
        assert_eq!(n("/master/frameworks/"), "/frameworks");
        assert_eq!(n("/frameworks/"), "/frameworks");
        assert_eq!(n("/master/state"), "/state");
        assert_eq!(n("/state"), "/state");
        assert_eq!(n("/state.json"), "/state");
        assert_eq!(n("/master/state.json"), "/state");
        assert_eq!(n("/master/api/v1/scheduler"), "/api/v1/scheduler");
        assert_eq!(n("/api/v1/operator"), "/api/v1");
        assert_eq!(n("/master/api/v1/operator/"), "/api/v1");
        assert_eq!(n("/api/v1"), "/api/v1");
        assert_eq!(n("/api/v1/scheduler/extra"), "/api/v1/scheduler");
        assert_eq!(n("/master"), "/");
        assert_eq!(n("/master/"), "/");
        assert_eq!(n("/"), "/");
        assert_eq!(n("/mastery/state"), "/mastery/state");
        assert_eq!(n("/redirect/x"), "/redirect/x");
        assert_eq!(n("/files/browse.json"), "/files/browse");
        assert_eq!(n("/api/v1x"), "/api/v1x");
    }

    #[test]
    fn agent_rules() {
        let n = |p| normalize_path(p, AGENT_PREFIX);
        assert_eq!(n("/slave(1)/state"), "/state");
        assert_eq!(n("/slave%281%29/state"), "/state");
        assert_eq!(n("/slave(1)/api/v1/executor"), "/api/v1/executor");
        assert_eq!(n("/monitor/statistics.json"), "/monitor/statistics");
        assert_eq!(
            n("/slave(1)/monitor/statistics.json"),
            "/monitor/statistics"
        );
        assert_eq!(n("/slave(2)/state"), "/slave(2)/state");
        assert_eq!(n("/master/state"), "/master/state");
    }

    #[test]
    fn custom_fallbacks() {
        let rules = PathRules {
            process_prefix: "/master".into(),
            fallback_prefixes: vec!["/api/v1".into(), "/api/v1/agent".into()],
        };
        assert_eq!(rules.normalize("/api/v1/agent"), "/api/v1/agent");
        assert_eq!(rules.normalize("/api/v1/agent/x/y"), "/api/v1/agent");
        assert_eq!(rules.normalize("/api/v1/scheduler"), "/api/v1");
    }

    #[test]
    fn rewrite_keeps_the_query() {
        let uri: Uri = "/master/tasks/?order=asc&limit=-1".parse().unwrap();
        let rewritten = rewrite(&uri, &PathRules::master()).unwrap();
        assert_eq!(rewritten, "/tasks?order=asc&limit=-1");
        let uri: Uri = "http://h:5050/master/state.json?jsonp=cb".parse().unwrap();
        let rewritten = rewrite(&uri, &PathRules::master()).unwrap();
        assert_eq!(rewritten, "http://h:5050/state?jsonp=cb");
        assert!(rewrite(&"/state".parse().unwrap(), &PathRules::master()).is_none());
    }
}
