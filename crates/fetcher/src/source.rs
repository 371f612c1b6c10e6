//! Where a URI's bytes come from, and downloading them to a file (temp file + rename, so a
//! destination is either absent or complete).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::error::Why;

/// A parsed URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `http://` or `https://`.
    Http(reqwest::Url),
    /// `file://` or an absolute path.
    File(PathBuf),
}

impl Source {
    /// Parses `value`: an absolute path, `file://`, `http://` or `https://`.
    pub fn parse(value: &str) -> Result<Source, Why> {
        let value = value.trim();
        if value.starts_with('/') {
            return Ok(Source::File(PathBuf::from(value)));
        }
        let url = reqwest::Url::parse(value).map_err(|e| {
            Why::InvalidUri(format!(
                "{e} (expected an absolute path or an http, https or file URI)"
            ))
        })?;
        match url.scheme() {
            "http" | "https" => Ok(Source::Http(url)),
            "file" => url.to_file_path().map(Source::File).map_err(|()| {
                Why::InvalidUri("a file URI must name an absolute local path".into())
            }),
            other => Err(Why::UnsupportedScheme(other.to_string())),
        }
    }

    /// The last path segment: the default name of the copy.
    pub fn basename(&self) -> Result<String, Why> {
        let name = match self {
            Source::Http(url) => url
                .path_segments()
                .and_then(|mut segments| segments.next_back())
                .map(str::to_string),
            Source::File(path) => path.file_name().map(|n| n.to_string_lossy().into_owned()),
        };
        match name {
            Some(name) if !name.is_empty() && name != "." && name != ".." => Ok(name),
            _ => Err(Why::NoFileName),
        }
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary name next to `destination` (same file system, so rename is atomic).
pub fn temp_path(destination: &Path) -> PathBuf {
    let name = destination
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    destination.with_file_name(format!(".{name}.fetch-{}-{n}", std::process::id()))
}

/// Downloads `source` to `destination` (via a temporary file and a rename); returns the size.
pub async fn download(
    client: &reqwest::Client,
    stall: Duration,
    source: &Source,
    destination: &Path,
) -> Result<u64, Why> {
    let temp = temp_path(destination);
    let result = match source {
        Source::Http(url) => http_get(client, stall, url, &temp).await,
        Source::File(path) => copy_local(path, &temp).await,
    };
    let size = match result {
        Ok(size) => size,
        Err(why) => {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(why);
        }
    };
    if let Err(e) = tokio::fs::rename(&temp, destination).await {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(Why::Io(format!(
            "cannot move the download to {}: {e}",
            destination.display()
        )));
    }
    Ok(size)
}

async fn http_get(
    client: &reqwest::Client,
    stall: Duration,
    url: &reqwest::Url,
    temp: &Path,
) -> Result<u64, Why> {
    let request = client.get(url.clone()).send();
    let mut response = tokio::time::timeout(stall, request)
        .await
        .map_err(|_| Why::Stalled(stall))?
        .map_err(|e| Why::Http(describe(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(Why::HttpStatus(status.to_string()));
    }
    let mut file = tokio::fs::File::create(temp)
        .await
        .map_err(|e| Why::Io(format!("cannot create {}: {e}", temp.display())))?;
    let mut size = 0u64;
    loop {
        let chunk = tokio::time::timeout(stall, response.chunk())
            .await
            .map_err(|_| Why::Stalled(stall))?
            .map_err(|e| Why::Http(describe(&e)))?;
        let Some(chunk) = chunk else { break };
        size += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(|e| Why::Io(format!("cannot write {}: {e}", temp.display())))?;
    }
    file.sync_all()
        .await
        .map_err(|e| Why::Io(format!("cannot write {}: {e}", temp.display())))?;
    Ok(size)
}

/// reqwest's error with its causes (`error sending request: connection refused`).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn copy_local(path: &Path, temp: &Path) -> Result<u64, Why> {
    let meta = tokio::fs::metadata(path).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Why::NotFound(path.display().to_string())
        } else {
            Why::Io(format!("cannot read {}: {e}", path.display()))
        }
    })?;
    if meta.is_dir() {
        return Err(Why::Io(format!("{} is a directory", path.display())));
    }
    tokio::fs::copy(path, temp)
        .await
        .map_err(|e| Why::Io(format!("cannot copy {}: {e}", path.display())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_supported_forms() {
        assert_eq!(
            Source::parse("/opt/app.tgz").unwrap(),
            Source::File("/opt/app.tgz".into())
        );
        assert_eq!(
            Source::parse("file:///opt/app.tgz").unwrap(),
            Source::File("/opt/app.tgz".into())
        );
        let http = Source::parse("http://h:8/a/b.zip?x=1").unwrap();
        assert_eq!(http.basename().unwrap(), "b.zip");
        assert!(matches!(
            Source::parse("hdfs://nn/x"),
            Err(Why::UnsupportedScheme(s)) if s == "hdfs"
        ));
        assert!(matches!(
            Source::parse("relative/x"),
            Err(Why::InvalidUri(_))
        ));
        assert_eq!(
            Source::parse("http://h/").unwrap().basename(),
            Err(Why::NoFileName)
        );
    }
}
