//! Image provisioning against hand-made `docker save` and OCI archives: layer order,
//! whiteouts, path escapes, config defaults, the layer cache, and (as root) real processes
//! running inside the provisioned rootfs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use corral_containerizer::image::{
    ImageError, ImageIsolator, ImageIsolatorConfig, ImageReference, ImageStore, RootfsPlan,
    TaskRootfs, TASK_ROOTFS_ENV,
};
use corral_containerizer::{
    Command, ContainerId, ContainerImage, Containerizer, ImageTarget, Isolator, LaunchSpec,
    PosixLauncher,
};

/// One entry of a hand-made layer.
enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8], u32),
    Link(&'a str, &'a str),
    /// A raw name, written without the tar crate's path checks.
    Raw(&'a str, &'a [u8]),
}

fn layer(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        match e {
            E::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            E::File(p, data, mode) => {
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Link(p, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                h.set_mode(0o777);
                b.append_link(&mut h, p, target).unwrap();
            }
            E::Raw(name, data) => {
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                let bytes = name.as_bytes();
                h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn add(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    b.append_data(&mut h, name, data).unwrap();
}

/// Writes `<registry>/<name>.tar` in `docker save` format.
fn docker_archive(registry: &Path, name: &str, layers: &[(&str, Vec<u8>)], config: &str) {
    let mut b = tar::Builder::new(Vec::new());
    add(&mut b, "cfg.json", config.as_bytes());
    for (id, data) in layers {
        add(&mut b, &format!("{id}/layer.tar"), data);
    }
    let manifest = serde_json::json!([{
        "Config": "cfg.json",
        "RepoTags": [format!("{name}:latest")],
        "Layers": layers.iter().map(|(id, _)| format!("{id}/layer.tar")).collect::<Vec<_>>(),
    }]);
    add(&mut b, "manifest.json", manifest.to_string().as_bytes());
    let path = registry.join(format!("{name}.tar"));
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, b.into_inner().unwrap()).unwrap();
}

/// Writes `<registry>/<name>.tar` as an OCI image layout with gzip'd layers.
fn oci_archive(registry: &Path, name: &str, layers: &[(&str, Vec<u8>)], config: &str) {
    let mut b = tar::Builder::new(Vec::new());
    add(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add(&mut b, "blobs/sha256/c0", config.as_bytes());
    let mut descriptors = Vec::new();
    for (id, data) in layers {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        add(&mut b, &format!("blobs/sha256/{id}"), &gz.finish().unwrap());
        descriptors.push(serde_json::json!({"digest": format!("sha256:{id}")}));
    }
    let manifest = serde_json::json!({"config": {"digest": "sha256:c0"}, "layers": descriptors});
    add(&mut b, "blobs/sha256/m0", manifest.to_string().as_bytes());
    let index = serde_json::json!({"manifests": [{"digest": "sha256:m0",
        "mediaType": "application/vnd.oci.image.manifest.v1+json"}]});
    add(&mut b, "index.json", index.to_string().as_bytes());
    fs::write(
        registry.join(format!("{name}.tar")),
        b.into_inner().unwrap(),
    )
    .unwrap();
}

const CONFIG: &str = r#"{"config":{"Env":["PATH=/bin","GREETING=from-image"],
    "Entrypoint":null,"Cmd":["/bin/sh"],"WorkingDir":"/work","User":""}}"#;

fn base_and_top() -> Vec<(&'static str, Vec<u8>)> {
    let base = layer(&[
        E::Dir("etc/"),
        E::File("etc/a", b"a", 0o644),
        E::File("etc/b", b"b", 0o600),
        E::Dir("opq/"),
        E::File("opq/old", b"old", 0o644),
        E::Dir("keep/"),
        E::File("keep/x", b"x", 0o755),
        E::Link("lib", "usr/lib"),
    ]);
    let top = layer(&[
        E::File("etc/.wh.a", b"", 0o644),
        E::Dir("opq/"),
        E::File("opq/.wh..wh..opq", b"", 0o644),
        E::File("opq/new", b"new", 0o644),
        E::File("marker", b"top layer\n", 0o644),
        E::File("keep/.wh.missing", b"", 0o644),
    ]);
    vec![("base1", base), ("top2", top)]
}

fn pull(registry: &Path, store: &Path, name: &str) -> Result<PathBuf, ImageError> {
    let store = ImageStore::new(registry, store);
    let image = store.pull(&ImageReference::parse(name)?)?;
    let rootfs = store.store_dir().join("test-rootfs");
    let _ = fs::remove_dir_all(&rootfs);
    corral_containerizer::image::provision(&image.layers, &rootfs)?;
    Ok(rootfs)
}

fn check_whiteouts(rootfs: &Path) {
    assert!(!rootfs.join("etc/a").exists(), "whiteout .wh.a deletes a");
    assert_eq!(fs::read(rootfs.join("etc/b")).unwrap(), b"b");
    assert!(!rootfs.join("opq/old").exists(), "opaque dir hides old");
    assert_eq!(fs::read(rootfs.join("opq/new")).unwrap(), b"new");
    assert_eq!(fs::read(rootfs.join("keep/x")).unwrap(), b"x");
    assert_eq!(fs::read(rootfs.join("marker")).unwrap(), b"top layer\n");
    assert_eq!(
        fs::read_link(rootfs.join("lib")).unwrap(),
        Path::new("usr/lib")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(rootfs.join("etc/b"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // No whiteout file makes it into the rootfs.
    for dir in ["etc", "opq", "keep"] {
        for entry in fs::read_dir(rootfs.join(dir)).unwrap() {
            let name = entry.unwrap().file_name();
            assert!(!name.to_string_lossy().starts_with(".wh."), "{name:?}");
        }
    }
}

#[test]
fn docker_save_layers_apply_in_order_with_whiteouts() {
    let registry = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    docker_archive(
        registry.path(),
        "corral-test/layers",
        &base_and_top(),
        CONFIG,
    );
    let rootfs = pull(registry.path(), store.path(), "corral-test/layers").unwrap();
    check_whiteouts(&rootfs);
    // Layers are cached by id; the staging area is cleaned up.
    let layers = store.path().join("layers");
    assert!(layers.join("base1/rootfs/etc/a").is_file());
    assert!(layers.join("top2/rootfs/etc/.wh.a").is_file());
    assert_eq!(
        fs::read_dir(store.path().join("staging")).unwrap().count(),
        0
    );
    // A cached layer is not unpacked again: plant a file and see it survive a second pull.
    fs::write(layers.join("base1/rootfs/cached"), "yes").unwrap();
    let rootfs = pull(registry.path(), store.path(), "corral-test/layers:latest").unwrap();
    assert!(rootfs.join("cached").is_file());
}

#[test]
fn oci_layouts_with_gzip_layers_work_too() {
    let registry = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    oci_archive(registry.path(), "oci", &base_and_top(), CONFIG);
    let rootfs = pull(registry.path(), store.path(), "oci").unwrap();
    check_whiteouts(&rootfs);
    assert!(store.path().join("layers/sha256-base1/rootfs").is_dir());
}

#[test]
fn path_escapes_are_rejected_and_links_stay_inside() {
    let registry = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let outside = registry.path().join("outside");
    docker_archive(
        registry.path(),
        "evil",
        &[("l1", layer(&[E::Raw("../outside", b"pwned")]))],
        CONFIG,
    );
    let err = pull(registry.path(), store.path(), "evil").unwrap_err();
    assert!(matches!(err, ImageError::PathEscape { .. }), "{err}");
    assert!(!outside.exists());

    // A link to the host's root: writing through it lands inside the rootfs.
    let host_target = registry.path().join("host-dir");
    fs::create_dir(&host_target).unwrap();
    let abs = host_target.to_str().unwrap().to_owned();
    let evil = layer(&[
        E::Link("escape", &abs),
        E::File("escape/planted", b"x", 0o644),
        E::Link("up", "../../../../.."),
        E::File("up/also", b"y", 0o644),
    ]);
    docker_archive(registry.path(), "links", &[("l2", evil)], CONFIG);
    let rootfs = pull(registry.path(), store.path(), "links").unwrap();
    assert!(!host_target.join("planted").exists());
    let inside = rootfs.join(abs.trim_start_matches('/')).join("planted");
    assert!(inside.is_file(), "{}", inside.display());
    assert!(rootfs.join("also").is_file());

    // Missing images and broken archives are errors, not panics.
    assert!(matches!(
        pull(registry.path(), store.path(), "nope").unwrap_err(),
        ImageError::NotFound { .. }
    ));
    fs::write(registry.path().join("broken.tar"), b"not a tar at all").unwrap();
    assert!(pull(registry.path(), store.path(), "broken").is_err());
}

fn isolator(registry: &Path, work: &Path) -> ImageIsolator {
    ImageIsolator::new(ImageIsolatorConfig {
        registry: registry.to_path_buf(),
        store_dir: work.join("store"),
        provisioner_dir: work.join("provisioner"),
    })
    .unwrap()
}

#[tokio::test]
async fn the_isolator_hands_the_task_rootfs_and_config_to_the_executor() {
    let registry = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    docker_archive(registry.path(), "cfg", &base_and_top(), CONFIG);
    let isolator = isolator(registry.path(), work.path());
    let mut spec = LaunchSpec::new(
        ContainerId::new("c1").unwrap(),
        Command::Shell("true".into()),
        work.path(),
    );
    spec.image = Some(ContainerImage {
        name: "cfg".into(),
        target: ImageTarget::CommandTask,
    });
    let info = isolator.prepare(&spec).await.unwrap();
    let (name, file) = &info.env[0];
    assert_eq!(name, TASK_ROOTFS_ENV);
    let task = TaskRootfs::read(Path::new(file)).unwrap();
    check_whiteouts(&task.rootfs);
    assert_eq!(task.config.working_dir(), PathBuf::from("/work"));
    assert_eq!(task.config.cmd, Some(vec!["/bin/sh".to_string()]));
    assert!(task
        .config
        .env_pairs()
        .contains(&("GREETING".into(), "from-image".into())));
    isolator.cleanup(&spec.container_id).await.unwrap();
    assert!(!task.rootfs.exists());

    // A bad name is refused before anything is pulled; an unknown image is an error.
    spec.image = Some(ContainerImage {
        name: "../x".into(),
        target: ImageTarget::CommandTask,
    });
    assert!(spec.validate().is_err());
    spec.image = Some(ContainerImage {
        name: "missing".into(),
        target: ImageTarget::CommandTask,
    });
    assert!(isolator.prepare(&spec).await.is_err());
}

#[tokio::test]
async fn images_need_the_docker_runtime_isolator() {
    let sandbox = tempfile::tempdir().unwrap();
    let containerizer = Containerizer::new(Arc::new(PosixLauncher::new()), Vec::new());
    let mut spec = LaunchSpec::new(
        ContainerId::new("noimg").unwrap(),
        Command::Shell("true".into()),
        sandbox.path(),
    );
    spec.image = Some(ContainerImage {
        name: "busybox".into(),
        target: ImageTarget::Container,
    });
    let err = containerizer.launch(&spec).await.unwrap_err();
    assert!(err.to_string().contains("docker/runtime"), "{err}");
}

/// The test image: static busybox, a few applet links and a marker file.
fn busybox_image(registry: &Path) -> Option<()> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())?;
    let out = std::process::Command::new("file").arg(busybox).output();
    if let Ok(out) = out {
        if String::from_utf8_lossy(&out.stdout).contains("dynamically linked") {
            eprintln!(
                "skipping: {} is not static (install busybox-static)",
                busybox.display()
            );
            return None;
        }
    }
    let binary = fs::read(busybox).ok()?;
    let mut entries = vec![
        E::Dir("bin/"),
        E::File("bin/busybox", &binary, 0o755),
        E::File("marker", b"corral-image-marker\n", 0o644),
        E::File("gone", b"deleted by the top layer\n", 0o644),
    ];
    for applet in ["sh", "cat", "ls", "echo", "pwd", "id"] {
        entries.push(E::Link(
            Box::leak(format!("bin/{applet}").into_boxed_str()),
            "busybox",
        ));
    }
    let base = layer(&entries);
    let top = layer(&[E::File(".wh.gone", b"", 0o644)]);
    docker_archive(
        registry,
        "corral-test/marker",
        &[("bb1", base), ("bb2", top)],
        r#"{"config":{"Env":["PATH=/bin","FROM_IMAGE=yes"],"Cmd":["/bin/sh"]}}"#,
    );
    Some(())
}

fn root_or_skip() -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        eprintln!("skipping: entering a rootfs needs root");
        false
    }
}

#[tokio::test]
async fn a_container_runs_inside_its_image_rootfs() {
    if !root_or_skip() {
        return;
    }
    let registry = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let sandbox = tempfile::tempdir().unwrap();
    if busybox_image(registry.path()).is_none() {
        eprintln!("skipping: no static busybox");
        return;
    }
    let isolator = isolator(registry.path(), work.path());
    let containerizer = Containerizer::new(
        Arc::new(PosixLauncher::new()),
        vec![Box::new(isolator.clone())],
    );
    fs::write(sandbox.path().join("from-host"), "sandbox file\n").unwrap();
    let mut spec = LaunchSpec::new(
        ContainerId::new("img1").unwrap(),
        Command::Shell(
            "cat /marker; echo ls:; ls /; echo env:$FROM_IMAGE:$MESOS_SANDBOX; pwd; \
             cat /mnt/mesos/sandbox/from-host; test -e /gone || echo gone-is-gone; \
             echo written > /mnt/mesos/sandbox/from-container"
                .into(),
        ),
        sandbox.path(),
    );
    spec.image = Some(ContainerImage {
        name: "corral-test/marker".into(),
        target: ImageTarget::Container,
    });
    containerizer.launch(&spec).await.unwrap();
    let end = tokio::time::timeout(
        Duration::from_secs(20),
        containerizer.wait(&spec.container_id),
    )
    .await
    .unwrap()
    .unwrap();
    let stdout = fs::read_to_string(sandbox.path().join("stdout")).unwrap();
    let stderr = fs::read_to_string(sandbox.path().join("stderr")).unwrap();
    assert!(
        end.status.success(),
        "{end:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("corral-image-marker"), "{stdout}");
    let listing: Vec<&str> = stdout
        .split("ls:\n")
        .nth(1)
        .unwrap()
        .split("env:")
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    for host_only in ["usr", "var", "home", "root", "etc", "sys"] {
        assert!(
            !listing.contains(&host_only),
            "host dir {host_only} visible: {listing:?}"
        );
    }
    assert!(
        listing.contains(&"marker") && listing.contains(&"bin"),
        "{listing:?}"
    );
    assert!(stdout.contains("env:yes:/mnt/mesos/sandbox"), "{stdout}");
    assert!(stdout.contains("\n/mnt/mesos/sandbox\n"), "{stdout}");
    assert!(stdout.contains("sandbox file"), "{stdout}");
    assert!(stdout.contains("gone-is-gone"), "{stdout}");
    assert_eq!(
        fs::read_to_string(sandbox.path().join("from-container")).unwrap(),
        "written\n"
    );
    let rootfs = isolator.container_dir(&spec.container_id);
    assert!(rootfs.exists());
    containerizer
        .destroy(&spec.container_id, Duration::ZERO)
        .await
        .unwrap();
    assert!(!rootfs.exists(), "cleanup removes the rootfs");
}

#[tokio::test]
async fn a_std_command_enters_the_rootfs_as_the_executor_does() {
    if !root_or_skip() {
        return;
    }
    let registry = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let sandbox = tempfile::tempdir().unwrap();
    if busybox_image(registry.path()).is_none() {
        return;
    }
    let store = ImageStore::new(registry.path(), work.path().join("store"));
    let image = store
        .pull(&ImageReference::parse("corral-test/marker").unwrap())
        .unwrap();
    let rootfs = work.path().join("rootfs");
    corral_containerizer::image::provision(&image.layers, &rootfs).unwrap();
    let plan = RootfsPlan::prepare(&rootfs, sandbox.path(), &image.config.working_dir()).unwrap();
    let mut command = std::process::Command::new("/bin/sh");
    command
        .args(["-c", "cat /marker; id -u; pwd; ls /"])
        .env_clear()
        .env("PATH", "/bin")
        .current_dir(sandbox.path());
    plan.install(&mut command, Some("nobody")).unwrap();
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap().uid;
    assert!(
        stdout.starts_with(&format!(
            "corral-image-marker\n{nobody}\n/mnt/mesos/sandbox\n"
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("usr"), "{stdout}");
}
