//! Reading an unpacked image archive: `docker save` (`manifest.json`) or an OCI image layout
//! (`index.json` + `blobs/`).

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::config::ImageConfig;
use super::layer::{entry_components, resolve_in_root};
use super::ImageError;

/// What an archive holds: its config and its layers, base first.
#[derive(Debug, Clone)]
pub(crate) struct ArchiveImage {
    pub config: ImageConfig,
    /// (cache id, path of the layer tar inside the unpacked archive).
    pub layers: Vec<(String, PathBuf)>,
}

#[derive(Deserialize)]
struct DockerManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct OciIndex {
    #[serde(default)]
    manifests: Vec<OciDescriptor>,
}

#[derive(Deserialize)]
struct OciDescriptor {
    digest: String,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
}

#[derive(Deserialize)]
struct OciManifest {
    config: OciDescriptor,
    #[serde(default)]
    layers: Vec<OciDescriptor>,
}

fn bad(archive: &Path, reason: impl Into<String>) -> ImageError {
    ImageError::BadArchive {
        archive: archive.to_path_buf(),
        reason: reason.into(),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(archive: &Path, path: &Path) -> Result<T, ImageError> {
    let bytes = fs::read(path).map_err(ImageError::io(path))?;
    serde_json::from_slice(&bytes).map_err(|e| bad(archive, format!("{}: {e}", path.display())))
}

/// `dir/<name>` for a name taken from the archive's metadata, refusing escapes. Symbolic
/// links (legacy `docker save` links shared layers: `<id>/layer.tar -> ../<other>/layer.tar`)
/// are resolved inside `dir`, the last one too.
fn member(dir: &Path, name: &str) -> Result<PathBuf, ImageError> {
    let mut parts = entry_components(Path::new(name))?;
    if parts.is_empty() {
        return Err(ImageError::PathEscape {
            entry: name.to_owned(),
        });
    }
    // Resolving "<name>/_" follows every component of <name>; its parent is the file.
    parts.push("_".into());
    let resolved = resolve_in_root(dir, &parts)?;
    match resolved.parent() {
        Some(path) if path.starts_with(dir) => Ok(path.to_path_buf()),
        _ => Err(ImageError::PathEscape {
            entry: name.to_owned(),
        }),
    }
}

/// A cache id: ASCII letters, digits, `-`, `_` and `.` only.
fn layer_id(archive: &Path, raw: &str) -> Result<String, ImageError> {
    let id: String = raw.replace(':', "-");
    if id.is_empty()
        || id.len() > 200
        || id.starts_with('.')
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(bad(archive, format!("invalid layer id {raw:?}")));
    }
    Ok(id)
}

/// The id of a `docker save` layer path: `<id>/layer.tar` (legacy) or
/// `blobs/sha256/<hex>` (Docker 25+).
fn docker_layer_id(archive: &Path, path: &str) -> Result<String, ImageError> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let raw = match parts.as_slice() {
        [.., id, "layer.tar"] => (*id).to_owned(),
        ["blobs", alg, hex] => format!("{alg}-{hex}"),
        [.., file] => file.trim_end_matches(".tar").to_owned(),
        [] => String::new(),
    };
    layer_id(archive, &raw)
}

/// `blobs/<alg>/<hex>` of an OCI digest.
fn blob(dir: &Path, archive: &Path, digest: &str) -> Result<(String, PathBuf), ImageError> {
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| bad(archive, format!("invalid digest {digest:?}")))?;
    let id = layer_id(archive, &format!("{alg}-{hex}"))?;
    Ok((id, member(dir, &format!("blobs/{alg}/{hex}"))?))
}

/// Reads the image of the unpacked archive `dir` (from `archive`); `name` picks among several
/// images of a `docker save` archive by their RepoTags.
pub(crate) fn read(dir: &Path, archive: &Path, name: &str) -> Result<ArchiveImage, ImageError> {
    let manifest = member(dir, "manifest.json")?;
    if manifest.is_file() {
        let entries: Vec<DockerManifestEntry> = read_json(archive, &manifest)?;
        let wanted = [name.to_owned(), format!("{name}:latest")];
        let entry = match entries.len() {
            0 => return Err(bad(archive, "manifest.json lists no image")),
            1 => &entries[0],
            _ => entries
                .iter()
                .find(|e| e.repo_tags.iter().flatten().any(|t| wanted.contains(t)))
                .ok_or_else(|| bad(archive, format!("no image tagged {name:?}")))?,
        };
        let config = ImageConfig::from_json(
            &fs::read(member(dir, &entry.config)?)
                .map_err(ImageError::io(member(dir, &entry.config)?))?,
        )
        .map_err(|e| bad(archive, format!("config {}: {e}", entry.config)))?;
        let layers = entry
            .layers
            .iter()
            .map(|l| Ok((docker_layer_id(archive, l)?, member(dir, l)?)))
            .collect::<Result<_, ImageError>>()?;
        return Ok(ArchiveImage { config, layers });
    }
    let index = member(dir, "index.json")?;
    if index.is_file() {
        let mut index: OciIndex = read_json(archive, &index)?;
        // Follow nested indexes (multi-platform images); take the first manifest.
        for _ in 0..4 {
            let first = index
                .manifests
                .first()
                .ok_or_else(|| bad(archive, "index.json lists no manifest"))?;
            let (_, path) = blob(dir, archive, &first.digest)?;
            let is_index = first
                .media_type
                .as_deref()
                .is_some_and(|m| m.contains("index") || m.contains("manifest.list"));
            if is_index {
                index = read_json(archive, &path)?;
                continue;
            }
            let manifest: OciManifest = read_json(archive, &path)?;
            let (_, config_path) = blob(dir, archive, &manifest.config.digest)?;
            let config = ImageConfig::from_json(
                &fs::read(&config_path).map_err(ImageError::io(&config_path))?,
            )
            .map_err(|e| bad(archive, format!("config: {e}")))?;
            let layers = manifest
                .layers
                .iter()
                .map(|l| blob(dir, archive, &l.digest))
                .collect::<Result<_, _>>()?;
            return Ok(ArchiveImage { config, layers });
        }
        return Err(bad(archive, "too many nested indexes"));
    }
    Err(bad(
        archive,
        "neither manifest.json (docker save) nor index.json (OCI layout) found",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_ids() {
        let a = Path::new("a.tar");
        assert_eq!(docker_layer_id(a, "abc123/layer.tar").unwrap(), "abc123");
        assert_eq!(
            docker_layer_id(a, "blobs/sha256/ff00").unwrap(),
            "sha256-ff00"
        );
        assert!(docker_layer_id(a, "x y/layer.tar").is_err());
        assert!(docker_layer_id(a, "").is_err());
        assert!(member(Path::new("/d"), "../etc/passwd").is_err());
        assert!(member(Path::new("/d"), "").is_err());
        // Links are followed inside the archive only.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/layer.tar"), "x").unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        std::os::unix::fs::symlink("../a/layer.tar", dir.path().join("b/layer.tar")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("evil.tar")).unwrap();
        assert_eq!(
            member(dir.path(), "b/layer.tar").unwrap(),
            dir.path().join("a/layer.tar")
        );
        assert_eq!(
            member(dir.path(), "evil.tar").unwrap(),
            dir.path().join("etc/passwd")
        );
    }
}
