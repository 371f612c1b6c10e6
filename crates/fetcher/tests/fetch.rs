//! The fetcher against a real HTTP server on 127.0.0.1 and real temporary directories.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use corral_fetcher::{CacheConfig, Fetcher, FetcherConfig, Owner, UriSpec, Why};

/// Files served by path, and how often each was requested.
#[derive(Clone, Default)]
struct Files {
    bodies: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Files {
    fn put(&self, path: &str, body: Vec<u8>) {
        self.bodies.lock().unwrap().insert(path.to_string(), body);
    }
    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

async fn serve(
    State(files): State<Files>,
    UrlPath(path): UrlPath<String>,
) -> (StatusCode, Vec<u8>) {
    *files.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    // Slow enough that concurrent fetchers overlap.
    tokio::time::sleep(Duration::from_millis(50)).await;
    match files.bodies.lock().unwrap().get(&path) {
        Some(body) => (StatusCode::OK, body.clone()),
        None => (StatusCode::NOT_FOUND, b"no such file".to_vec()),
    }
}

async fn server() -> (String, Files) {
    let files = Files::default();
    let app = Router::new()
        .route("/{*path}", get(serve))
        .with_state(files.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), files)
}

fn tar_gz(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    for (name, data, mode) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o640);
        writer.start_file(*name, options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn fetcher(cache: Option<CacheConfig>) -> Fetcher {
    Fetcher::new(FetcherConfig {
        cache,
        stall_timeout: Some(Duration::from_secs(10)),
    })
    .unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[tokio::test]
async fn extracts_tar_gz_keeping_modes() {
    let (base, files) = server().await;
    files.put(
        "app.tar.gz",
        tar_gz(&[
            ("app/run.sh", b"#!/bin/sh\necho hi\n", 0o755),
            ("app/data.txt", b"data", 0o644),
        ]),
    );
    let sandbox = tempfile::tempdir().unwrap();
    let uri = UriSpec::new(format!("{base}/app.tar.gz"));
    let fetched = fetcher(None)
        .fetch(&uri, sandbox.path(), None)
        .await
        .unwrap();
    assert_eq!(fetched.extracted, 3, "app/, run.sh, data.txt");
    let run = sandbox.path().join("app/run.sh");
    assert_eq!(mode(&run), 0o755);
    assert_eq!(
        std::fs::read(sandbox.path().join("app/data.txt")).unwrap(),
        b"data"
    );
    assert!(
        sandbox.path().join("app.tar.gz").is_file(),
        "the archive stays"
    );
    let out = std::process::Command::new(&run).output().unwrap();
    assert_eq!(out.stdout, b"hi\n");
}

#[tokio::test]
async fn extracts_zip() {
    let (base, files) = server().await;
    files.put(
        "pkg/bundle.zip",
        zip_of(&[("dir/a.txt", b"A"), ("b.txt", b"B")]),
    );
    let sandbox = tempfile::tempdir().unwrap();
    let uri = UriSpec::new(format!("{base}/pkg/bundle.zip"));
    fetcher(None)
        .fetch(&uri, sandbox.path(), None)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(sandbox.path().join("dir/a.txt")).unwrap(),
        b"A"
    );
    assert_eq!(std::fs::read(sandbox.path().join("b.txt")).unwrap(), b"B");
    assert_eq!(mode(&sandbox.path().join("b.txt")), 0o640);
}

#[tokio::test]
async fn executable_sets_the_mode_and_does_not_extract() {
    let (base, files) = server().await;
    files.put("tool", b"#!/bin/sh\nexit 0\n".to_vec());
    files.put("x.tar.gz", tar_gz(&[("inner", b"i", 0o644)]));
    let sandbox = tempfile::tempdir().unwrap();
    let f = fetcher(None);
    let mut uri = UriSpec::new(format!("{base}/tool"));
    uri.executable = true;
    f.fetch(&uri, sandbox.path(), None).await.unwrap();
    assert_eq!(mode(&sandbox.path().join("tool")), 0o755);
    let mut uri = UriSpec::new(format!("{base}/x.tar.gz"));
    uri.executable = true;
    let fetched = f.fetch(&uri, sandbox.path(), None).await.unwrap();
    assert_eq!(fetched.extracted, 0);
    assert!(!sandbox.path().join("inner").exists());
    // extract: false keeps an archive as it is too.
    let mut uri = UriSpec::new(format!("{base}/x.tar.gz"));
    uri.extract = false;
    f.fetch(&uri, sandbox.path(), None).await.unwrap();
    assert!(!sandbox.path().join("inner").exists());
}

#[tokio::test]
async fn output_file_names_the_copy_inside_the_sandbox() {
    let (base, files) = server().await;
    files.put("v1/config.json", b"{}".to_vec());
    let sandbox = tempfile::tempdir().unwrap();
    let f = fetcher(None);
    let mut uri = UriSpec::new(format!("{base}/v1/config.json"));
    uri.output_file = Some("conf/app.json".into());
    let fetched = f.fetch(&uri, sandbox.path(), None).await.unwrap();
    assert_eq!(fetched.path, sandbox.path().join("conf/app.json"));
    assert_eq!(std::fs::read(&fetched.path).unwrap(), b"{}");
    uri.output_file = Some("../escaped.json".into());
    let err = f.fetch(&uri, sandbox.path(), None).await.unwrap_err();
    assert!(matches!(err.why, Why::BadOutputFile(..)), "{err}");
    assert!(!sandbox
        .path()
        .parent()
        .unwrap()
        .join("escaped.json")
        .exists());
}

#[tokio::test]
async fn a_missing_file_names_the_uri_and_the_status() {
    let (base, _files) = server().await;
    let sandbox = tempfile::tempdir().unwrap();
    let uri = UriSpec::new(format!("{base}/nope.tar.gz"));
    let err = fetcher(None)
        .fetch(&uri, sandbox.path(), None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(
        text,
        format!("Failed to fetch '{base}/nope.tar.gz': HTTP 404 Not Found")
    );
    assert!(
        std::fs::read_dir(sandbox.path()).unwrap().next().is_none(),
        "no partial file"
    );
    // A closed port names the connection failure. The socket is bound but
    // never listens, so it refuses connections and no parallel test takes it.
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = closed.local_addr().unwrap().port();
    let uri = UriSpec::new(format!("http://127.0.0.1:{port}/x"));
    let err = fetcher(None)
        .fetch(&uri, sandbox.path(), None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}/x")),
        "{err}"
    );
}

#[tokio::test]
async fn local_paths_and_file_uris() {
    let source = tempfile::tempdir().unwrap();
    let path = source.path().join("local.txt");
    std::fs::write(&path, b"local").unwrap();
    let sandbox = tempfile::tempdir().unwrap();
    let f = fetcher(None);
    f.fetch(
        &UriSpec::new(path.display().to_string()),
        sandbox.path(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read(sandbox.path().join("local.txt")).unwrap(),
        b"local"
    );
    let mut uri = UriSpec::new(format!("file://{}", path.display()));
    uri.output_file = Some("copy.txt".into());
    f.fetch(&uri, sandbox.path(), None).await.unwrap();
    assert_eq!(
        std::fs::read(sandbox.path().join("copy.txt")).unwrap(),
        b"local"
    );
    let missing = source.path().join("missing.bin").display().to_string();
    let err = f
        .fetch(&UriSpec::new(missing.clone()), sandbox.path(), None)
        .await
        .unwrap_err();
    assert!(matches!(err.why, Why::NotFound(_)), "{err}");
    assert!(err
        .to_string()
        .starts_with(&format!("Failed to fetch '{missing}'")));
    let err = f
        .fetch(&UriSpec::new("ftp://host/x"), sandbox.path(), None)
        .await
        .unwrap_err();
    assert!(matches!(err.why, Why::UnsupportedScheme(_)), "{err}");
}

#[tokio::test]
async fn path_traversal_archives_are_rejected() {
    let (base, files) = server().await;
    // A raw entry name "../evil.txt" (the tar builder itself refuses to write one).
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    let mut header = tar::Header::new_gnu();
    let name = b"../evil.txt";
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_size(4);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append(&header, &b"evil"[..]).unwrap();
    files.put("evil.tgz", builder.into_inner().unwrap().finish().unwrap());
    let outer = tempfile::tempdir().unwrap();
    let sandbox = outer.path().join("sandbox");
    std::fs::create_dir(&sandbox).unwrap();
    let uri = UriSpec::new(format!("{base}/evil.tgz"));
    let err = fetcher(None).fetch(&uri, &sandbox, None).await.unwrap_err();
    assert!(matches!(err.why, Why::Escapes(_)), "{err}");
    assert!(err.to_string().contains("escapes the sandbox"), "{err}");
    assert!(!outer.path().join("evil.txt").exists());
    // A corrupt archive is a bad archive.
    files.put("broken.tar.gz", b"not gzip at all".to_vec());
    let uri = UriSpec::new(format!("{base}/broken.tar.gz"));
    let err = fetcher(None).fetch(&uri, &sandbox, None).await.unwrap_err();
    assert!(matches!(err.why, Why::BadArchive(_)), "{err}");
}

#[tokio::test]
async fn the_cache_serves_repeats_without_the_server() {
    let (base, files) = server().await;
    files.put("app.tar.gz", tar_gz(&[("run.sh", b"echo", 0o755)]));
    let cache_dir = tempfile::tempdir().unwrap();
    let f = fetcher(Some(CacheConfig {
        dir: cache_dir.path().to_path_buf(),
        max_bytes: 1 << 20,
    }));
    let mut uri = UriSpec::new(format!("{base}/app.tar.gz"));
    uri.cache = true;
    let first = tempfile::tempdir().unwrap();
    let fetched = f.fetch(&uri, first.path(), None).await.unwrap();
    assert!(!fetched.cache_hit);
    let second = tempfile::tempdir().unwrap();
    let fetched = f.fetch(&uri, second.path(), None).await.unwrap();
    assert!(fetched.cache_hit);
    assert_eq!(
        files.hits("app.tar.gz"),
        1,
        "the second fetch came from the cache"
    );
    assert_eq!(mode(&second.path().join("run.sh")), 0o755);
    // Without `cache` the server is asked again.
    uri.cache = false;
    f.fetch(&uri, second.path(), None).await.unwrap();
    assert_eq!(files.hits("app.tar.gz"), 2);
}

#[tokio::test]
async fn the_cache_evicts_least_recently_used_at_its_limit() {
    let (base, files) = server().await;
    files.put("a.bin", vec![1; 60]);
    files.put("b.bin", vec![2; 60]);
    files.put("huge.bin", vec![3; 500]);
    let cache_dir = tempfile::tempdir().unwrap();
    let f = fetcher(Some(CacheConfig {
        dir: cache_dir.path().to_path_buf(),
        max_bytes: 100,
    }));
    let sandbox = tempfile::tempdir().unwrap();
    let cached = |name: &str| {
        let mut uri = UriSpec::new(format!("{base}/{name}"));
        uri.cache = true;
        uri
    };
    f.fetch(&cached("a.bin"), sandbox.path(), None)
        .await
        .unwrap();
    f.fetch(&cached("b.bin"), sandbox.path(), None)
        .await
        .unwrap();
    // 120 bytes do not fit in 100: "a" (least recently used) went.
    assert!(
        f.fetch(&cached("b.bin"), sandbox.path(), None)
            .await
            .unwrap()
            .cache_hit
    );
    assert!(
        !f.fetch(&cached("a.bin"), sandbox.path(), None)
            .await
            .unwrap()
            .cache_hit
    );
    assert_eq!(files.hits("a.bin"), 2);
    assert_eq!(files.hits("b.bin"), 1);
    // Bigger than the whole cache: fetched, not kept, nothing else evicted for it.
    let fetched = f
        .fetch(&cached("huge.bin"), sandbox.path(), None)
        .await
        .unwrap();
    assert_eq!(std::fs::read(fetched.path).unwrap().len(), 500);
    assert!(
        !f.fetch(&cached("huge.bin"), sandbox.path(), None)
            .await
            .unwrap()
            .cache_hit
    );
    assert!(
        f.fetch(&cached("a.bin"), sandbox.path(), None)
            .await
            .unwrap()
            .cache_hit
    );
    let total: u64 = walk_sizes(cache_dir.path());
    assert!(total <= 100, "cache holds {total} bytes");
}

fn walk_sizes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            total += walk_sizes(&entry.path());
        } else {
            total += meta.len();
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_fetchers_of_one_uri_download_it_once() {
    let (base, files) = server().await;
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    files.put("big.bin", body.clone());
    let cache_dir = tempfile::tempdir().unwrap();
    let config = CacheConfig {
        dir: cache_dir.path().to_path_buf(),
        max_bytes: 10 << 20,
    };
    let mut tasks = Vec::new();
    let mut sandboxes = Vec::new();
    for _ in 0..8 {
        let sandbox = tempfile::tempdir().unwrap();
        let path = sandbox.path().to_path_buf();
        sandboxes.push(sandbox);
        // Separate fetchers, as separate executors would be.
        let f = fetcher(Some(config.clone()));
        let mut uri = UriSpec::new(format!("{base}/big.bin"));
        uri.cache = true;
        tasks.push(tokio::spawn(
            async move { f.fetch(&uri, &path, None).await },
        ));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(files.hits("big.bin"), 1);
    for sandbox in &sandboxes {
        assert_eq!(std::fs::read(sandbox.path().join("big.bin")).unwrap(), body);
    }
}

#[tokio::test]
async fn fetched_files_belong_to_the_owner() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: chown needs root");
        return;
    }
    let owner = Owner::lookup("nobody").unwrap();
    let (base, files) = server().await;
    files.put("o.tar.gz", tar_gz(&[("d/f.txt", b"x", 0o644)]));
    let sandbox = tempfile::tempdir().unwrap();
    let uri = UriSpec::new(format!("{base}/o.tar.gz"));
    fetcher(None)
        .fetch(&uri, sandbox.path(), Some(&owner))
        .await
        .unwrap();
    for path in ["o.tar.gz", "d", "d/f.txt"] {
        let meta = std::fs::metadata(sandbox.path().join(path)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (owner.uid, owner.gid), "{path}");
    }
}
