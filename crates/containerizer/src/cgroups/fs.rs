//! Reading and writing cgroup control files, and creating, joining and removing cgroups.
//!
//! Control files are never created: on a real hierarchy the kernel provides them, and test
//! fixtures write them beforehand, so a missing file means a missing feature.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC};

use crate::error::IsolatorError;
use crate::launcher::PreExec;

pub(crate) fn io_error(path: &Path, source: io::Error) -> IsolatorError {
    IsolatorError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn is_not_found(e: &io::Error) -> bool {
    // ENODEV: a control file of a cgroup that is being removed.
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENODEV)
}

/// Reads a control file; `None` if it does not exist.
pub(crate) fn read_opt(path: &Path) -> Result<Option<String>, IsolatorError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(io_error(path, e)),
    }
}

/// Writes `value` to an existing control file in one `write`.
pub(crate) fn write(path: &Path, value: &str) -> Result<(), IsolatorError> {
    let mut file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    file.write_all(value.as_bytes())
        .map_err(|e| io_error(path, e))
}

/// Writes `value` if the control file exists; returns whether it did.
pub(crate) fn write_if_exists(path: &Path, value: &str) -> Result<bool, IsolatorError> {
    if path.exists() {
        write(path, value).map(|()| true)
    } else {
        Ok(false)
    }
}

/// A single unsigned number; `max` (v2) and numbers ≥ 2^62 (v1's "unlimited", a page-aligned
/// `i64::MAX`) read as `None`.
pub(crate) fn parse_limit(text: &str) -> Option<u64> {
    let value = text.trim();
    if value == "max" {
        return None;
    }
    value.parse::<u64>().ok().filter(|&v| v < (1 << 62))
}

/// Reads a single-number file: `Ok(None)` if missing, unlimited or unparseable.
pub(crate) fn read_u64(path: &Path) -> Result<Option<u64>, IsolatorError> {
    Ok(read_opt(path)?.and_then(|text| parse_limit(&text)))
}

/// Pids in `cgroup.procs` of `dir`; empty if the cgroup does not exist.
pub(crate) fn procs(dir: &Path) -> Result<Vec<u32>, IsolatorError> {
    Ok(read_opt(&dir.join("cgroup.procs"))?
        .map(|text| parse_pids(&text))
        .unwrap_or_default())
}

/// Pids in `cgroup.procs` of `dir` and of its descendants (a task running as root can create
/// child cgroups in a v1 hierarchy).
pub(crate) fn procs_recursive(dir: &Path) -> Result<Vec<u32>, IsolatorError> {
    let mut out = procs(dir)?;
    for child in child_cgroups(dir)? {
        out.extend(procs_recursive(&dir.join(child))?);
    }
    Ok(out)
}

pub(crate) fn parse_pids(text: &str) -> Vec<u32> {
    text.split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect()
}

/// Opens `cgroup.procs` of `dir` for the child to join the cgroup by writing `0` to it.
pub(crate) fn join_action(dir: &Path) -> Result<PreExec, IsolatorError> {
    let path = dir.join("cgroup.procs");
    // std opens with O_CLOEXEC, so the descriptor does not outlive the exec.
    let file = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| io_error(&path, e))?;
    Ok(PreExec::WriteFd {
        fd: Arc::new(OwnedFd::from(file)),
        bytes: b"0".to_vec(),
    })
}

/// Creates a cgroup (and missing parents); fine if it exists.
pub(crate) fn create_cgroup(dir: &Path) -> Result<(), IsolatorError> {
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))
}

/// Removes an empty cgroup; `Ok` if it is already gone. A real cgroup directory is removed
/// with `rmdir` although it lists control files; a plain directory (a test fixture) is
/// emptied of its files first.
pub(crate) fn remove_cgroup(dir: &Path) -> io::Result<()> {
    match fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) && !is_cgroupfs(dir) => {
            for entry in fs::read_dir(dir)? {
                let entry = entry?;
                if entry.file_type()?.is_file() {
                    fs::remove_file(entry.path())?;
                }
            }
            fs::remove_dir(dir)
        }
        Err(e) => Err(e),
    }
}

/// Removes a cgroup and any child cgroups a task created in it, deepest first.
pub(crate) fn remove_cgroup_tree(dir: &Path) -> io::Result<()> {
    let children = match child_cgroups(dir) {
        Ok(children) => children,
        Err(IsolatorError::Io { source, .. }) => return Err(source),
        Err(other) => return Err(io::Error::other(other.to_string())),
    };
    for child in children {
        remove_cgroup_tree(&dir.join(child))?;
    }
    remove_cgroup(dir)
}

fn is_cgroupfs(dir: &Path) -> bool {
    statfs(dir).is_ok_and(|s| {
        let magic = s.filesystem_type();
        magic == CGROUP_SUPER_MAGIC || magic == CGROUP2_SUPER_MAGIC
    })
}

/// Immediate subdirectories of `root` (child cgroups); empty if `root` does not exist.
pub(crate) fn child_cgroups(root: &Path) -> Result<Vec<String>, IsolatorError> {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if is_not_found(&e) => return Ok(Vec::new()),
        Err(e) => return Err(io_error(root, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(root, e))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            if let Some(name) = entry.file_name().to_str() {
                out.push(name.to_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_pids() {
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("9223372036854771712\n"), None);
        assert_eq!(parse_limit("33554432\n"), Some(33_554_432));
        assert_eq!(parse_limit("-1"), None);
        assert_eq!(parse_pids("12\n34\nx\n"), vec![12, 34]);
    }

    #[test]
    fn files_in_a_fixture() {
        let dir = tempfile::tempdir().unwrap();
        let cg = dir.path().join("corral/c1");
        create_cgroup(&cg).unwrap();
        create_cgroup(&cg).unwrap();
        assert!(write(&cg.join("memory.max"), "1").is_err(), "never creates");
        assert!(!write_if_exists(&cg.join("memory.max"), "1").unwrap());
        fs::write(cg.join("memory.max"), "max\n").unwrap();
        assert!(write_if_exists(&cg.join("memory.max"), "42").unwrap());
        assert_eq!(read_u64(&cg.join("memory.max")).unwrap(), Some(42));
        assert_eq!(read_u64(&cg.join("nope")).unwrap(), None);
        assert!(procs(&cg).unwrap().is_empty());
        fs::write(cg.join("cgroup.procs"), "7\n8\n").unwrap();
        assert_eq!(procs(&cg).unwrap(), vec![7, 8]);
        assert!(
            matches!(join_action(&cg).unwrap(), PreExec::WriteFd { ref bytes, .. } if bytes == b"0")
        );
        assert_eq!(
            child_cgroups(&dir.path().join("corral")).unwrap(),
            vec!["c1"]
        );
        remove_cgroup(&cg).unwrap();
        remove_cgroup(&cg).unwrap();
        assert!(!cg.exists());
        assert!(child_cgroups(&cg).unwrap().is_empty());
    }
}
