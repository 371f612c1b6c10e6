//! `zk://[user:password@]host:port[,host:port…][/path]`: the ZooKeeper URL of Mesos's `--zk`
//! flag, parsed by a pure function; `file:///path` names a file holding such a URL.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The port used for a server given without one.
pub const ZK_DEFAULT_PORT: u16 = 2181;

/// A parsed ZooKeeper URL.
#[derive(Clone, PartialEq, Eq)]
pub struct ZkUrl {
    /// `host:port` of each server, in the given order (a missing port becomes 2181).
    pub servers: Vec<String>,
    /// The znode under which everything lives: starts with `/`, no trailing `/` (except the
    /// root itself, `/`), no empty, `.` or `..` segments.
    pub chroot: String,
    /// `user:password` for ZooKeeper `digest` authentication, when the URL carries one.
    pub credentials: Option<String>,
}

/// Why a ZooKeeper URL was rejected.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ZkUrlError {
    /// Not `zk://…` (or `file://…` where files are accepted).
    #[error("'{0}' is not a ZooKeeper URL: expected zk://host:port[,host:port...]/path")]
    Scheme(String),
    /// No server, or an empty one between commas.
    #[error("ZooKeeper URL '{0}' has an empty server list or an empty server")]
    NoServers(String),
    /// A server is not `host[:port]` with a port in 1..=65535.
    #[error("bad ZooKeeper server '{0}': expected host:port with a port in 1..=65535")]
    BadServer(String),
    /// The path has an empty, `.` or `..` segment, or a control character.
    #[error("bad ZooKeeper path '{0}': expected /segment/segment without '.', '..', '//' or control characters")]
    BadPath(String),
    /// Credentials are not `user:password`.
    #[error("bad ZooKeeper credentials: expected user:password@ before the servers")]
    BadCredentials,
    /// A `file://` URL could not be read.
    #[error("cannot read ZooKeeper URL from '{path}': {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// `url` with any `user:password@` replaced, for error messages.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://<redacted>@{}", &rest[at + 1..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

fn check_server(server: &str) -> Result<String, ZkUrlError> {
    let bad = || ZkUrlError::BadServer(server.to_string());
    // [v6::addr]:port, host:port or host.
    let (host, port) = if let Some(rest) = server.strip_prefix('[') {
        let (addr, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(bad)?),
        };
        (format!("[{addr}]"), port)
    } else {
        match server.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (server.to_string(), None),
        }
    };
    let host_ok = host.len() > 2 && host.starts_with('[')
        || (!host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)));
    if !host_ok {
        return Err(bad());
    }
    let port = match port {
        None => ZK_DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(bad()),
        },
    };
    Ok(format!("{host}:{port}"))
}

fn check_path(path: &str) -> Result<String, ZkUrlError> {
    let bad = || ZkUrlError::BadPath(path.to_string());
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    if trimmed.is_empty() {
        return Ok("/".to_string());
    }
    // `/zookeeper` is ZooKeeper's own subtree.
    if !trimmed.starts_with('/')
        || trimmed.chars().any(|c| c.is_control())
        || trimmed == "/zookeeper"
        || trimmed.starts_with("/zookeeper/")
    {
        return Err(bad());
    }
    for segment in trimmed[1..].split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(bad());
        }
    }
    Ok(trimmed.to_string())
}

impl ZkUrl {
    /// Parses `zk://[user:password@]host:port[,host:port…][/path]`. Pure.
    pub fn parse(url: &str) -> Result<Self, ZkUrlError> {
        let url = url.trim();
        let rest = url
            .strip_prefix("zk://")
            .ok_or_else(|| ZkUrlError::Scheme(redact(url)))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let (credentials, hosts) = match authority.rsplit_once('@') {
            Some((creds, hosts)) => {
                let (user, password) = creds.split_once(':').ok_or(ZkUrlError::BadCredentials)?;
                if user.is_empty() || password.is_empty() {
                    return Err(ZkUrlError::BadCredentials);
                }
                (Some(creds.to_string()), hosts)
            }
            None => (None, authority),
        };
        if hosts.is_empty() {
            return Err(ZkUrlError::NoServers(redact(url)));
        }
        let servers = hosts
            .split(',')
            .map(|s| {
                if s.is_empty() {
                    Err(ZkUrlError::NoServers(redact(url)))
                } else {
                    check_server(s)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            servers,
            chroot: check_path(path)?,
            credentials,
        })
    }

    /// Like [`ZkUrl::parse`], and also accepts Mesos's `file:///path/to/file` form: the file
    /// holds the `zk://` URL (surrounding whitespace ignored).
    pub fn from_flag(value: &str) -> Result<Self, ZkUrlError> {
        match value.trim().strip_prefix("file://") {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ZkUrlError::File {
                    path: path.to_string(),
                    reason: e.to_string(),
                })?;
                Self::parse(&text)
            }
            None => Self::parse(value),
        }
    }

    /// `host:port,host:port`: the servers, for a client connected at the root.
    pub fn connect_string(&self) -> String {
        self.servers.join(",")
    }

    /// `host:port,host:port/chroot`: for a client that should see `chroot` as its root.
    pub fn connect_string_with_chroot(&self) -> String {
        if self.chroot == "/" {
            self.connect_string()
        } else {
            format!("{}{}", self.connect_string(), self.chroot)
        }
    }

    /// The absolute znode path of `relative` (`a/b`) under the chroot.
    pub fn node(&self, relative: &str) -> String {
        let relative = relative.trim_matches('/');
        match (self.chroot.as_str(), relative) {
            (root, "") => root.to_string(),
            ("/", rel) => format!("/{rel}"),
            (root, rel) => format!("{root}/{rel}"),
        }
    }
}

impl FromStr for ZkUrl {
    type Err = ZkUrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Prints the URL with the password hidden.
impl fmt::Display for ZkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "zk://")?;
        if let Some(creds) = &self.credentials {
            let user = creds.split(':').next().unwrap_or_default();
            write!(f, "{user}:***@")?;
        }
        write!(f, "{}{}", self.connect_string(), self.chroot)
    }
}

impl fmt::Debug for ZkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ZkUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_mesos_urls() {
        let url = ZkUrl::parse("zk://10.0.0.1:2181,10.0.0.2:2182,zk3/mesos").unwrap();
        assert_eq!(
            url.servers,
            vec!["10.0.0.1:2181", "10.0.0.2:2182", "zk3:2181"]
        );
        assert_eq!(url.chroot, "/mesos");
        assert_eq!(url.credentials, None);
        assert_eq!(url.connect_string(), "10.0.0.1:2181,10.0.0.2:2182,zk3:2181");
        assert_eq!(
            url.connect_string_with_chroot(),
            "10.0.0.1:2181,10.0.0.2:2182,zk3:2181/mesos"
        );
        assert_eq!(url.node("registry/a"), "/mesos/registry/a");
        assert_eq!(url.node(""), "/mesos");
        assert_eq!(
            url.to_string(),
            "zk://10.0.0.1:2181,10.0.0.2:2182,zk3:2181/mesos"
        );
        assert_eq!("zk://h:1/a/b/".parse::<ZkUrl>().unwrap().chroot, "/a/b");
    }

    #[test]
    fn root_path_and_missing_path() {
        for s in ["zk://h:1", "zk://h:1/"] {
            let url = ZkUrl::parse(s).unwrap();
            assert_eq!(url.chroot, "/");
            assert_eq!(url.node("registry"), "/registry");
            assert_eq!(url.connect_string_with_chroot(), "h:1");
        }
    }

    #[test]
    fn credentials_are_parsed_and_hidden() {
        let url = ZkUrl::parse("zk://alice:s3cret@h:1,[::1]:2/p").unwrap();
        assert_eq!(url.credentials.as_deref(), Some("alice:s3cret"));
        assert_eq!(url.servers, vec!["h:1", "[::1]:2"]);
        assert_eq!(url.to_string(), "zk://alice:***@h:1,[::1]:2/p");
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn rejects_bad_urls() {
        type Check = fn(&ZkUrlError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("http://h:1/p", |e| matches!(e, ZkUrlError::Scheme(_))),
            ("h:1/p", |e| matches!(e, ZkUrlError::Scheme(_))),
            ("zk:///p", |e| matches!(e, ZkUrlError::NoServers(_))),
            ("zk://h:1,,h:2/p", |e| matches!(e, ZkUrlError::NoServers(_))),
            ("zk://h:0/p", |e| matches!(e, ZkUrlError::BadServer(_))),
            ("zk://h:65536/p", |e| matches!(e, ZkUrlError::BadServer(_))),
            ("zk://h:x/p", |e| matches!(e, ZkUrlError::BadServer(_))),
            ("zk://h h:1/p", |e| matches!(e, ZkUrlError::BadServer(_))),
            ("zk://[::1/p", |e| matches!(e, ZkUrlError::BadServer(_))),
            ("zk://h:1//p", |e| matches!(e, ZkUrlError::BadPath(_))),
            ("zk://h:1/a/../b", |e| matches!(e, ZkUrlError::BadPath(_))),
            ("zk://h:1/a/./b", |e| matches!(e, ZkUrlError::BadPath(_))),
            ("zk://h:1/zookeeper", |e| {
                matches!(e, ZkUrlError::BadPath(_))
            }),
            ("zk://h:1/a\u{1}b", |e| matches!(e, ZkUrlError::BadPath(_))),
            ("zk://alice@h:1/p", |e| {
                matches!(e, ZkUrlError::BadCredentials)
            }),
            ("zk://:pw@h:1/p", |e| {
                matches!(e, ZkUrlError::BadCredentials)
            }),
        ];
        for input in [
            "http://bob:pw1@h:1/p",
            "zk://bob:pw1@/p",
            "zk://bob:pw1@h:1,/p",
        ] {
            let message = ZkUrl::parse(input).unwrap_err().to_string();
            assert!(!message.contains("pw1"), "{message}");
        }
        for (input, expected) in cases {
            let err = ZkUrl::parse(input).unwrap_err();
            assert!(expected(&err), "{input}: {err:?}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn from_flag_reads_file_urls() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("zk");
        std::fs::write(&file, "zk://h:1/mesos\n").unwrap();
        let url = ZkUrl::from_flag(&format!("file://{}", file.display())).unwrap();
        assert_eq!(url.chroot, "/mesos");
        assert_eq!(ZkUrl::from_flag("zk://h:2/x").unwrap().servers, vec!["h:2"]);
        assert!(matches!(
            ZkUrl::from_flag("file:///no/such/file"),
            Err(ZkUrlError::File { .. })
        ));
    }
}
