//! `zk://[user:pass@]host:port[,host:port...]/path`, as Mesos's `--zk` and `--master` take it.

use std::fmt;

use crate::ElectionError;

/// A parsed ZooKeeper URL.
#[derive(Clone, PartialEq, Eq)]
pub struct ZkUrl {
    /// `host:port` of each server, in the order given.
    pub servers: Vec<String>,
    /// The znode path (absolute, no trailing `/`), e.g. `/mesos`.
    pub path: String,
    /// `user:pass` for digest authentication.
    pub auth: Option<String>,
}

impl fmt::Debug for ZkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the credentials.
        f.debug_struct("ZkUrl")
            .field("servers", &self.servers)
            .field("path", &self.path)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl fmt::Display for ZkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "zk://{}{}", self.servers.join(","), self.path)
    }
}

impl ZkUrl {
    /// Whether `text` is a ZooKeeper URL (`zk://`, or `zoo://` as pymesos also accepts).
    pub fn is_zk(text: &str) -> bool {
        let t = text.trim();
        t.starts_with("zk://") || t.starts_with("zoo://")
    }

    /// Parses `zk://[user:pass@]host[:port][,host[:port]...]/path` (port 2181 by default;
    /// `zoo://` too, as pymesos accepts it) with [`corral_store::ZkUrl`]'s parser. The path must
    /// not be the root: the contenders' nodes live under it.
    pub fn parse(text: &str) -> Result<ZkUrl, ElectionError> {
        let bad = |reason: &str| ElectionError::InvalidUrl {
            url: redact(text),
            reason: reason.to_string(),
        };
        let t = text.trim();
        let normalized = match t.strip_prefix("zoo://") {
            Some(rest) => format!("zk://{rest}"),
            None => t.to_string(),
        };
        let parsed = corral_store::ZkUrl::parse(&normalized).map_err(|e| {
            let reason = e.to_string();
            // The store's messages may quote the URL: never show the credentials.
            let reason = match normalized
                .split_once("://")
                .and_then(|(_, r)| r.rsplit_once('@'))
            {
                Some((creds, _)) if !creds.is_empty() => reason.replace(creds, "<redacted>"),
                _ => reason,
            };
            bad(&reason)
        })?;
        if parsed.chroot == "/" {
            return Err(bad("no path (e.g. zk://host:2181/mesos)"));
        }
        Ok(ZkUrl {
            servers: parsed.servers,
            path: parsed.chroot,
            auth: parsed.credentials,
        })
    }

    /// The connect string for the ZooKeeper client: `h1:p1,h2:p2`.
    pub fn connect_string(&self) -> String {
        self.servers.join(",")
    }
}

/// `text` without the credentials, for messages.
fn redact(text: &str) -> String {
    match (text.find("://"), text.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}<redacted>{}", &text[..scheme + 3], &text[at..])
        }
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_mesos_urls() {
        let u = ZkUrl::parse("zk://127.0.0.1:2181,h2:2182,h3/mesos").unwrap();
        assert_eq!(u.servers, ["127.0.0.1:2181", "h2:2182", "h3:2181"]);
        assert_eq!(u.path, "/mesos");
        assert_eq!(u.auth, None);
        assert_eq!(u.connect_string(), "127.0.0.1:2181,h2:2182,h3:2181");
        assert_eq!(u.to_string(), "zk://127.0.0.1:2181,h2:2182,h3:2181/mesos");
        let u = ZkUrl::parse("zk://u:p@h:1/a/b/").unwrap();
        assert_eq!(u.auth.as_deref(), Some("u:p"));
        assert_eq!(u.path, "/a/b");
        assert!(!format!("{u:?}").contains("u:p"));
        assert!(ZkUrl::parse("zoo://h:1/mesos").is_ok());
        assert!(ZkUrl::is_zk(" zk://h/x"));
        assert!(!ZkUrl::is_zk("http://h:5050"));
    }

    #[test]
    fn refuses_bad_urls() {
        for bad in [
            "",
            "http://h:1/mesos",
            "zk://h:1",
            "zk://h:1/",
            "zk:///mesos",
            "zk://h:x/mesos",
            "zk://h:0/mesos",
            "zk://h:1,,h2:1/mesos",
            "zk://h:1//mesos",
            "zk://h:1/a/../b",
            "zk://user@h:1/mesos",
        ] {
            assert!(ZkUrl::parse(bad).is_err(), "{bad}");
        }
        let error = ZkUrl::parse("zk://u:secret@h:x/m").unwrap_err().to_string();
        assert!(!error.contains("secret"), "{error}");
    }
}
