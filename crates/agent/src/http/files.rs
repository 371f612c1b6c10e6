//! `/files/{browse,read,download,debug}`: executor sandboxes, by real path or by the virtual
//! path `/frameworks/<fid>/executors/<eid>/runs/<latest|cid>[/...]`.
//!
//! Only files inside an executor run directory under the work directory are served: the path
//! is canonicalized (resolving `..` and symlinks) and must lie under
//! `<work_dir>/slaves/<aid>/frameworks/<fid>/executors/<eid>/runs/<cid>`. Anything else is a 404
//! that does not say whether the file exists.

use std::collections::HashMap;
use std::fs::Metadata;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use corral_http::{json_response, ApiError};
use http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use http::HeaderValue;
use serde_json::{json, Value as Json};

use super::HttpState;
use crate::core::{Executor, Snapshot};
use crate::error::CallError;

/// Largest `/files/read` answer.
pub const MAX_READ_BYTES: u64 = 1024 * 1024;
const DOWNLOAD_CHUNK: usize = 64 * 1024;

type Params = Query<HashMap<String, String>>;

fn not_found(path: &str) -> CallError {
    CallError::NotFound(format!("File '{path}' not found"))
}

fn path_param(params: &HashMap<String, String>) -> Result<String, CallError> {
    match params.get("path") {
        Some(path) if !path.is_empty() => Ok(path.clone()),
        _ => Err(CallError::Invalid("Expecting 'path' to be present".into())),
    }
}

/// The real directory behind a virtual `/frameworks/...` prefix, and the rest of the path.
fn virtual_base(snapshot: &Snapshot, work_dir: &Path, parts: &[&str]) -> Option<PathBuf> {
    let ["frameworks", fid, "executors", eid, "runs", run, ..] = parts else {
        return None;
    };
    let executor = find_executor(snapshot, fid, eid);
    let runs = match executor {
        Some(executor) => executor.directory.parent()?.to_path_buf(),
        None => work_dir
            .join("slaves")
            .join(snapshot.agent_id.as_deref()?)
            .join("frameworks")
            .join(fid)
            .join("executors")
            .join(eid)
            .join("runs"),
    };
    let base = match (*run, executor) {
        ("latest", Some(executor)) => executor.directory.clone(),
        (run, _) => runs.join(run),
    };
    Some(parts[6..].iter().fold(base, |path, part| path.join(part)))
}

/// The newest executor run with these ids (live ones first).
fn find_executor<'a>(snapshot: &'a Snapshot, fid: &str, eid: &str) -> Option<&'a Executor> {
    let frameworks = snapshot
        .frameworks
        .iter()
        .chain(snapshot.completed_frameworks.iter().rev());
    for framework in frameworks.filter(|f| f.id() == fid) {
        if let Some(executor) = framework.executors.get(eid) {
            return Some(executor);
        }
        if let Some(executor) = framework
            .completed_executors
            .iter()
            .rev()
            .find(|e| e.id() == eid)
        {
            return Some(executor);
        }
    }
    None
}

/// Resolves a requested path to a canonical path inside an executor sandbox; see the module
/// docs. `work_dir` must be canonical.
pub fn resolve(
    snapshot: &Snapshot,
    work_dir: &Path,
    requested: &str,
) -> Result<PathBuf, CallError> {
    let trimmed = requested.trim_end_matches('/');
    if !requested.starts_with('/') || requested.contains('\0') {
        return Err(not_found(requested));
    }
    let parts: Vec<&str> = trimmed.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(not_found(requested));
    }
    let candidate = if parts.first() == Some(&"frameworks") {
        virtual_base(snapshot, work_dir, &parts).ok_or_else(|| not_found(requested))?
    } else {
        PathBuf::from(trimmed)
    };
    let canonical = std::fs::canonicalize(&candidate).map_err(|_| not_found(requested))?;
    if inside_a_sandbox(&canonical, work_dir) {
        Ok(canonical)
    } else {
        tracing::warn!(
            path = requested,
            "refusing to serve a path outside the sandboxes"
        );
        Err(not_found(requested))
    }
}

/// Whether `path` (canonical) is a run directory or inside one.
fn inside_a_sandbox(path: &Path, work_dir: &Path) -> bool {
    let Ok(rest) = path.strip_prefix(work_dir.join("slaves")) else {
        return false;
    };
    let parts: Vec<Component<'_>> = rest.components().collect();
    if parts.len() < 7 || !parts.iter().all(|c| matches!(c, Component::Normal(_))) {
        return false;
    }
    let named = |index: usize, name: &str| parts[index].as_os_str() == name;
    named(1, "frameworks") && named(3, "executors") && named(5, "runs")
}

pub(super) async fn browse(
    State(state): State<HttpState>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let requested = path_param(&params)?;
    let snapshot = state.actor.snapshot().await?;
    let work_dir = state.info.work_dir.clone();
    let listing = tokio::task::spawn_blocking(move || -> Result<Json, CallError> {
        let real = resolve(&snapshot, &work_dir, &requested)?;
        let shown = requested.trim_end_matches('/');
        let meta = std::fs::metadata(&real).map_err(|_| not_found(&requested))?;
        if !meta.is_dir() {
            return Ok(json!([file_info(shown, &meta)]));
        }
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&real)
            .map_err(|_| not_found(&requested))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Symlinks are listed, not followed.
            if let Ok(meta) = entry.path().symlink_metadata() {
                entries.push((name.clone(), file_info(&format!("{shown}/{name}"), &meta)));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Json::Array(
            entries.into_iter().map(|(_, info)| info).collect(),
        ))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(json_response(&listing))
}

pub(super) async fn read(
    State(state): State<HttpState>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let requested = path_param(&params)?;
    let offset = number(&params, "offset")?.unwrap_or(0);
    let length = number(&params, "length")?;
    if offset < -1 {
        return Err(ApiError::BadRequest("Negative offset provided".into()));
    }
    if length.is_some_and(|l| l < -1) {
        return Err(ApiError::BadRequest("Negative length provided".into()));
    }
    let length = match length {
        None | Some(-1) => MAX_READ_BYTES,
        Some(l) => u64::try_from(l).unwrap_or(0).min(MAX_READ_BYTES),
    };
    let snapshot = state.actor.snapshot().await?;
    let work_dir = state.info.work_dir.clone();
    let answer = tokio::task::spawn_blocking(move || -> Result<Json, CallError> {
        let real = resolve(&snapshot, &work_dir, &requested)?;
        let (mut file, size) = open_regular(&real, &requested)?;
        let Ok(offset) = u64::try_from(offset) else {
            return Ok(json!({ "data": "", "offset": size }));
        };
        if offset >= size || length == 0 {
            return Ok(json!({ "data": "", "offset": offset }));
        }
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| CallError::Unavailable(e.to_string()))?;
        let mut data = Vec::new();
        file.take(length)
            .read_to_end(&mut data)
            .map_err(|e| CallError::Unavailable(format!("Failed to read file: {e}")))?;
        Ok(json!({ "data": text(&data), "offset": offset }))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(json_response(&answer))
}

pub(super) async fn download(
    State(state): State<HttpState>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let requested = path_param(&params)?;
    let snapshot = state.actor.snapshot().await?;
    let work_dir = state.info.work_dir.clone();
    let (real, file) = tokio::task::spawn_blocking(move || -> Result<_, CallError> {
        let real = resolve(&snapshot, &work_dir, &requested)?;
        let (file, _) = open_regular(&real, &requested)?;
        Ok((real, file))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let file = tokio::fs::File::from_std(file);
    let stream = futures::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buffer = vec![0u8; DOWNLOAD_CHUNK];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(buffer)), file))
            }
            Err(error) => Some((Err(error), file)),
        }
    });
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().replace(['"', '\\'], "_"))
        .unwrap_or_default();
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

pub(super) async fn debug(State(state): State<HttpState>) -> Result<Response, ApiError> {
    let snapshot = state.actor.snapshot().await?;
    let mut out = serde_json::Map::new();
    let frameworks = snapshot
        .frameworks
        .iter()
        .chain(snapshot.completed_frameworks.iter());
    for framework in frameworks {
        let executors = framework
            .completed_executors
            .iter()
            .chain(framework.executors.values());
        for executor in executors {
            let real = executor.directory.display().to_string();
            let latest = format!(
                "/frameworks/{}/executors/{}/runs/latest",
                framework.id(),
                executor.id()
            );
            out.insert(latest, json!(real));
            out.insert(real.clone(), json!(real));
        }
    }
    Ok(json_response(&out))
}

/// Opens a regular file without blocking on FIFOs (which a task could plant in its sandbox)
/// and returns it with its size; directories and special files are refused.
fn open_regular(path: &Path, requested: &str) -> Result<(std::fs::File, u64), CallError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(|_| not_found(requested))?;
    let meta = file.metadata().map_err(|_| not_found(requested))?;
    if meta.is_dir() {
        return Err(CallError::Invalid(format!("'{requested}' is a directory")));
    }
    if !meta.is_file() {
        return Err(CallError::Invalid(format!(
            "'{requested}' is not a regular file"
        )));
    }
    Ok((file, meta.len()))
}

fn number(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    params
        .get(name)
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                ApiError::BadRequest(format!("Failed to parse {name}: '{v}' is not a number"))
            })
        })
        .transpose()
}

/// The bytes as text; an incomplete UTF-8 sequence at the end is left for the next read,
/// other invalid bytes become U+FFFD.
fn text(data: &[u8]) -> String {
    let end = match std::str::from_utf8(data) {
        Ok(_) => data.len(),
        Err(error) if error.error_len().is_none() && error.valid_up_to() > 0 => error.valid_up_to(),
        Err(_) => data.len(),
    };
    String::from_utf8_lossy(&data[..end]).into_owned()
}

/// Mesos's FileInfo JSON.
fn file_info(path: &str, meta: &Metadata) -> Json {
    json!({
        "path": path,
        "nlink": meta.nlink(),
        "size": meta.len(),
        "mtime": meta.mtime(),
        "mode": mode_string(meta.mode()),
        "uid": user_name(meta.uid()),
        "gid": group_name(meta.gid()),
    })
}

/// `ls -l` style mode, e.g. `-rw-r--r--` or `drwxr-x---`.
fn mode_string(mode: u32) -> String {
    let kind = match mode & 0o170_000 {
        0o040_000 => 'd',
        0o120_000 => 'l',
        0o010_000 => 'p',
        0o140_000 => 's',
        0o020_000 => 'c',
        0o060_000 => 'b',
        _ => '-',
    };
    let mut out = String::with_capacity(10);
    out.push(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 0o7;
        out.push(if bits & 4 != 0 { 'r' } else { '-' });
        out.push(if bits & 2 != 0 { 'w' } else { '-' });
        out.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    out
}

fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

fn group_name(gid: u32) -> String {
    nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
        .ok()
        .flatten()
        .map_or_else(|| gid.to_string(), |g| g.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox(root: &Path) -> PathBuf {
        let run = root.join("slaves/A/frameworks/F/executors/E/runs/C");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("stdout"), "hello").unwrap();
        std::os::unix::fs::symlink("C", run.parent().unwrap().join("latest")).unwrap();
        run
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            agent_id: Some("A".into()),
            ..Default::default()
        }
    }

    #[test]
    fn real_and_virtual_paths_resolve_inside_sandboxes() {
        let dir = tempfile::tempdir().unwrap();
        let work = std::fs::canonicalize(dir.path()).unwrap();
        let run = sandbox(&work);
        let real = format!("{}/stdout", run.display());
        assert_eq!(
            resolve(&snapshot(), &work, &real).unwrap(),
            run.join("stdout")
        );
        let virtual_path = "/frameworks/F/executors/E/runs/latest/stdout";
        assert_eq!(
            resolve(&snapshot(), &work, virtual_path).unwrap(),
            run.join("stdout")
        );
        assert_eq!(
            resolve(&snapshot(), &work, "/frameworks/F/executors/E/runs/C/").unwrap(),
            run
        );
    }

    #[test]
    fn escapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let work = std::fs::canonicalize(dir.path()).unwrap();
        let run = sandbox(&work);
        std::fs::write(work.join("secret"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", run.join("passwd")).unwrap();
        std::os::unix::fs::symlink(work.join("secret"), run.join("secret")).unwrap();
        let cases = [
            "/etc/passwd".to_string(),
            format!("{}/secret", work.display()),
            format!("{}/../../../../../../secret", run.display()),
            format!("{}/passwd", run.display()),
            format!("{}/secret", run.display()),
            "/frameworks/F/executors/E/runs/latest/../../../../../../../secret".to_string(),
            "/frameworks/F/executors/E/runs/latest/passwd".to_string(),
            "/frameworks/F/executors/E/runs/..".to_string(),
            format!("{}/slaves/A/frameworks/F", work.display()),
            "relative/path".to_string(),
            "/frameworks/F".to_string(),
        ];
        for case in cases {
            let error = resolve(&snapshot(), &work, &case).unwrap_err();
            assert!(matches!(error, CallError::NotFound(_)), "{case}: {error:?}");
        }
    }

    #[test]
    fn fifos_and_directories_are_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(matches!(
            open_regular(&fifo, "fifo"),
            Err(CallError::Invalid(_))
        ));
        assert!(matches!(
            open_regular(dir.path(), "d"),
            Err(CallError::Invalid(_))
        ));
        std::fs::write(dir.path().join("f"), "abc").unwrap();
        assert_eq!(open_regular(&dir.path().join("f"), "f").unwrap().1, 3);
    }

    #[test]
    fn modes_and_text() {
        assert_eq!(mode_string(0o100_644), "-rw-r--r--");
        assert_eq!(mode_string(0o040_750), "drwxr-x---");
        assert_eq!(text("héllo".as_bytes()), "héllo");
        let bytes = "é".as_bytes();
        assert_eq!(text(&[b'a', bytes[0]]), "a");
        assert_eq!(text(&[b'a', 0xff, b'b']), "a\u{fffd}b");
    }
}
