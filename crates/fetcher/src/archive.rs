//! Extracting archives into a sandbox, refusing anything that would land outside it.
//!
//! Every entry's path must be relative with no `..`; nothing is written through a symbolic
//! link (an existing link on the way, or at the entry's own place, fails the extraction); a
//! symbolic link's target must stay inside the sandbox; hard links must name an entry inside
//! it. Devices, FIFOs and other special entries are skipped. The first bad entry fails the
//! whole fetch (entries before it stay; the task does not start).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use crate::error::Why;

/// A recognized archive format (by file name, like Mesos).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `.tar`.
    Tar,
    /// `.tar.gz`, `.tgz`.
    TarGz,
    /// `.zip`.
    Zip,
    /// A lone `.gz`: gunzipped to the name without `.gz`.
    Gz,
}

impl Kind {
    /// The format of `path`, if it is an archive.
    pub fn of(path: &Path) -> Option<Kind> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(Kind::TarGz)
        } else if name.ends_with(".tar") {
            Some(Kind::Tar)
        } else if name.ends_with(".zip") {
            Some(Kind::Zip)
        } else if name.ends_with(".gz") && name.len() > 3 {
            Some(Kind::Gz)
        } else {
            None
        }
    }
}

/// Extracts `archive` into `root`; returns the paths created (relative to `root`).
pub fn extract(kind: Kind, archive: &Path, root: &Path) -> Result<Vec<PathBuf>, Why> {
    let open = || {
        File::open(archive).map_err(|e| Why::Io(format!("cannot open {}: {e}", archive.display())))
    };
    match kind {
        Kind::Tar => extract_tar(open()?, root),
        Kind::TarGz => extract_tar(flate2::read::GzDecoder::new(open()?), root),
        Kind::Zip => extract_zip(open()?, root),
        Kind::Gz => gunzip(open()?, archive, root),
    }
}

/// `path` as a clean relative path (`.` dropped); `None` for the archive root itself.
fn clean_relative(path: &Path) -> Result<Option<PathBuf>, Why> {
    let escapes = || Why::Escapes(path.display().to_string());
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(escapes())
            }
        }
    }
    Ok((!clean.as_os_str().is_empty()).then_some(clean))
}

/// Fails when a directory on the way to `relative` (or `relative` itself) is a symbolic link;
/// removes nothing.
fn check_no_links(root: &Path, relative: &Path, include_self: bool) -> Result<(), Why> {
    let mut prefix = PathBuf::new();
    let components: Vec<_> = relative.components().collect();
    let last = components.len();
    for (i, component) in components.into_iter().enumerate() {
        prefix.push(component);
        if i + 1 == last && !include_self {
            break;
        }
        if let Ok(meta) = std::fs::symlink_metadata(root.join(&prefix)) {
            if meta.file_type().is_symlink() {
                return Err(Why::Escapes(relative.display().to_string()));
            }
        }
    }
    Ok(())
}

/// A symbolic link at `entry` pointing at `target` must resolve inside the root.
fn check_link_target(entry: &Path, target: &Path) -> Result<(), Why> {
    let escapes = || Why::Escapes(format!("{} -> {}", entry.display(), target.display()));
    if target.is_absolute() {
        return Err(escapes());
    }
    let mut depth: usize = entry.parent().map_or(0, |p| p.components().count());
    for component in target.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => depth = depth.checked_sub(1).ok_or_else(escapes)?,
            Component::RootDir | Component::Prefix(_) => return Err(escapes()),
        }
    }
    Ok(())
}

fn create_dirs(root: &Path, relative: &Path, created: &mut Vec<PathBuf>) -> Result<(), Why> {
    let mut prefix = PathBuf::new();
    for component in relative.components() {
        prefix.push(component);
        let path = root.join(&prefix);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Why::Escapes(relative.display().to_string()))
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Why::BadArchive(format!(
                    "'{}' is both a file and a directory",
                    prefix.display()
                )))
            }
            Err(_) => {
                std::fs::create_dir(&path).map_err(|e| io_error(&path, &e))?;
                created.push(prefix.clone());
            }
        }
    }
    Ok(())
}

fn io_error(path: &Path, error: &io::Error) -> Why {
    Why::Io(format!("cannot write {}: {error}", path.display()))
}

/// Makes room for a new entry at `path`: an existing file or link is replaced.
fn clear_place(path: &Path) -> Result<(), Why> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_dir() => std::fs::remove_file(path).map_err(|e| io_error(path, &e)),
        _ => Ok(()),
    }
}

fn extract_tar(reader: impl Read, root: &Path) -> Result<Vec<PathBuf>, Why> {
    use tar::EntryType;
    let bad = |e: io::Error| Why::BadArchive(e.to_string());
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(false);
    archive.set_overwrite(true);
    let mut created = Vec::new();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let raw = entry.path().map_err(bad)?.into_owned();
        let Some(relative) = clean_relative(&raw)? else {
            continue;
        };
        let kind = entry.header().entry_type();
        let path = root.join(&relative);
        if let Some(parent) = relative.parent() {
            create_dirs(root, parent, &mut created)?;
        }
        match kind {
            EntryType::Directory => {
                create_dirs(root, &relative, &mut created)?;
                continue;
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                check_no_links(root, &relative, false)?;
                clear_place(&path)?;
                entry.unpack(&path).map_err(|e| io_error(&path, &e))?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(bad)?
                    .ok_or_else(|| {
                        Why::BadArchive(format!("link '{}' has no target", raw.display()))
                    })?
                    .into_owned();
                check_link_target(&relative, &target)?;
                check_no_links(root, &relative, false)?;
                clear_place(&path)?;
                std::os::unix::fs::symlink(&target, &path).map_err(|e| io_error(&path, &e))?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(bad)?
                    .ok_or_else(|| {
                        Why::BadArchive(format!("link '{}' has no target", raw.display()))
                    })?
                    .into_owned();
                let Some(target) = clean_relative(&target)? else {
                    return Err(Why::Escapes(raw.display().to_string()));
                };
                check_no_links(root, &target, true)?;
                check_no_links(root, &relative, false)?;
                clear_place(&path)?;
                std::fs::hard_link(root.join(&target), &path).map_err(|e| io_error(&path, &e))?;
            }
            other => {
                tracing::warn!(entry = %raw.display(), kind = ?other, "skipping a special archive entry");
                continue;
            }
        }
        created.push(relative);
    }
    Ok(created)
}

/// `S_IFMT` and `S_IFLNK` of a zip entry's unix mode.
const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;

fn extract_zip(file: File, root: &Path) -> Result<Vec<PathBuf>, Why> {
    use std::os::unix::fs::PermissionsExt;
    let bad = |e: zip::result::ZipError| Why::BadArchive(e.to_string());
    let mut archive = zip::ZipArchive::new(file).map_err(bad)?;
    let mut created = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(bad)?;
        let name = entry.name().to_string();
        // `enclosed_name` is None for absolute names and names leaving the root.
        let enclosed = entry
            .enclosed_name()
            .ok_or_else(|| Why::Escapes(name.clone()))?;
        let Some(relative) = clean_relative(&enclosed)? else {
            continue;
        };
        let path = root.join(&relative);
        if entry.is_dir() {
            create_dirs(root, &relative, &mut created)?;
            continue;
        }
        if let Some(parent) = relative.parent() {
            create_dirs(root, parent, &mut created)?;
        }
        check_no_links(root, &relative, false)?;
        clear_place(&path)?;
        let mode = entry.unix_mode();
        if mode.is_some_and(|m| m & S_IFMT == S_IFLNK) {
            let mut target = String::new();
            entry
                .read_to_string(&mut target)
                .map_err(|e| Why::BadArchive(e.to_string()))?;
            check_link_target(&relative, Path::new(&target))?;
            std::os::unix::fs::symlink(&target, &path).map_err(|e| io_error(&path, &e))?;
        } else {
            let mut out = File::create(&path).map_err(|e| io_error(&path, &e))?;
            io::copy(&mut entry, &mut out).map_err(|e| Why::BadArchive(format!("{name}: {e}")))?;
            if let Some(mode) = mode {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o777))
                    .map_err(|e| io_error(&path, &e))?;
            }
        }
        created.push(relative);
    }
    Ok(created)
}

fn gunzip(file: File, archive: &Path, root: &Path) -> Result<Vec<PathBuf>, Why> {
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name[..name.len().saturating_sub(3)].to_string();
    let relative = PathBuf::from(&stem);
    let path = root.join(&relative);
    check_no_links(root, &relative, false)?;
    clear_place(&path)?;
    let mut decoder = flate2::read::GzDecoder::new(file);
    let mut out = File::create(&path).map_err(|e| io_error(&path, &e))?;
    io::copy(&mut decoder, &mut out).map_err(|e| Why::BadArchive(e.to_string()))?;
    Ok(vec![relative])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name() {
        assert_eq!(Kind::of(Path::new("/s/a.tar.gz")), Some(Kind::TarGz));
        assert_eq!(Kind::of(Path::new("a.TGZ")), Some(Kind::TarGz));
        assert_eq!(Kind::of(Path::new("a.tar")), Some(Kind::Tar));
        assert_eq!(Kind::of(Path::new("a.zip")), Some(Kind::Zip));
        assert_eq!(Kind::of(Path::new("a.gz")), Some(Kind::Gz));
        assert_eq!(Kind::of(Path::new("a.sh")), None);
    }

    #[test]
    fn link_targets_must_stay_inside() {
        assert!(check_link_target(Path::new("a/l"), Path::new("../b")).is_ok());
        assert!(check_link_target(Path::new("a/l"), Path::new("../../b")).is_err());
        assert!(check_link_target(Path::new("l"), Path::new("/etc")).is_err());
        assert!(check_link_target(Path::new("l"), Path::new("x/../..")).is_err());
    }

    #[test]
    fn entry_paths_must_be_relative() {
        assert!(clean_relative(Path::new("../x")).is_err());
        assert!(clean_relative(Path::new("/x")).is_err());
        assert_eq!(clean_relative(Path::new("./")).unwrap(), None);
        assert_eq!(
            clean_relative(Path::new("./a/b")).unwrap(),
            Some(PathBuf::from("a/b"))
        );
    }

    fn tar_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        builder.into_inner().unwrap()
    }

    fn header(kind: tar::EntryType, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(0o644);
        header
    }

    fn extract_bytes(bytes: &[u8], name: &str, root: &Path) -> Result<Vec<PathBuf>, Why> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        extract(Kind::of(&path).unwrap(), &path, root)
    }

    #[test]
    fn symlink_tricks_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        // A link pointing out of the sandbox.
        let bytes = tar_with(|b| {
            let mut h = header(tar::EntryType::Symlink, 0);
            b.append_link(&mut h, "evil", outside.path()).unwrap();
        });
        assert!(matches!(
            extract_bytes(&bytes, "a.tar", root.path()),
            Err(Why::Escapes(_))
        ));
        // An inside link, then a file written through it.
        let bytes = tar_with(|b| {
            let mut h = header(tar::EntryType::Symlink, 0);
            b.append_link(&mut h, "dir", ".").unwrap();
            let mut h = header(tar::EntryType::Regular, 2);
            b.append_data(&mut h, "dir/x", &b"hi"[..]).unwrap();
        });
        assert!(matches!(
            extract_bytes(&bytes, "b.tar", root.path()),
            Err(Why::Escapes(_))
        ));
        // A hard link to a file outside.
        let bytes = tar_with(|b| {
            let mut h = header(tar::EntryType::Link, 0);
            b.append_link(&mut h, "hard", "/etc/passwd").unwrap();
        });
        assert!(matches!(
            extract_bytes(&bytes, "c.tar", root.path()),
            Err(Why::Escapes(_))
        ));
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    }

    #[test]
    fn zip_entries_leaving_the_root_are_refused() {
        use std::io::Write;
        let root = tempfile::tempdir().unwrap();
        let mut writer = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        writer.start_file("../escape.txt", options).unwrap();
        writer.write_all(b"x").unwrap();
        let bytes = writer.finish().unwrap().into_inner();
        assert!(matches!(
            extract_bytes(&bytes, "z.zip", root.path()),
            Err(Why::Escapes(_))
        ));
        assert!(!root.path().parent().unwrap().join("escape.txt").exists());
    }
}
