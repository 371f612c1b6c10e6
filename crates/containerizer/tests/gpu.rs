//! `gpu/nvidia` against the real cgroup v1 `devices` controller (root only). No GPU is
//! needed: the "GPUs" of a fake device tree are character nodes with the numbers of
//! `/dev/null` (1:3) and `/dev/zero` (1:5), so a container given the first must be able to
//! open `/dev/null` and must be refused `/dev/zero`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use corral_containerizer::gpu::{GpuAllocator, GpuIsolator, NvidiaDevices};
use corral_containerizer::{Command, ContainerId, Containerizer, LaunchSpec, PosixLauncher};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};

/// The v1 `devices` hierarchy's mount, if this host has one and we are root.
fn devices_mount() -> Option<PathBuf> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: needs root");
        return None;
    }
    let mounts = fs::read_to_string("/proc/self/mounts").ok()?;
    let found = mounts.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.len() > 3 && fields[2] == "cgroup" && fields[3].split(',').any(|o| o == "devices"))
            .then(|| PathBuf::from(fields[1]))
    });
    if found.is_none() {
        eprintln!("skipping: no cgroup v1 devices controller (v2 is not supported by gpu/nvidia)");
    }
    found
}

fn node(dir: &Path, name: &str, major: u64, minor: u64) {
    mknod(
        &dir.join(name),
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        makedev(major, minor),
    )
    .unwrap();
}

#[tokio::test]
async fn a_container_can_only_open_its_own_gpus() {
    let Some(mount) = devices_mount() else {
        return;
    };
    let dev = tempfile::tempdir().unwrap();
    node(dev.path(), "nvidia0", 1, 3); // "GPU" with the numbers of /dev/null
    node(dev.path(), "nvidia1", 1, 5); // "GPU" with the numbers of /dev/zero
    let devices = NvidiaDevices::detect(dev.path(), None).unwrap();
    assert_eq!(devices.gpus().len(), 2);
    let allocator = GpuAllocator::new(devices);
    let root = mount.join(format!("corral-gpu-test-{}", std::process::id()));
    fs::create_dir_all(&root).unwrap();
    let isolator = GpuIsolator::new(allocator.clone(), Some(root.clone()));
    let containerizer =
        Containerizer::new(Arc::new(PosixLauncher::new()), vec![Box::new(isolator)]);
    let sandbox = tempfile::tempdir().unwrap();
    let mut spec = LaunchSpec::new(
        ContainerId::new("gpu1").unwrap(),
        Command::Shell(
            "echo x > /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null 2>&1 \
             && echo zero-open || echo zero-denied"
                .into(),
        ),
        sandbox.path(),
    );
    spec.inherit_env = true;
    spec.gpus = 1;
    containerizer.launch(&spec).await.unwrap();
    // The minor of the first node is 3 (1:3), the lowest: it is the one given.
    assert_eq!(allocator.allocated(&spec.container_id), vec![3]);
    let cgroup = root.join("gpu1");
    let list = fs::read_to_string(cgroup.join("devices.list")).unwrap();
    let end = tokio::time::timeout(
        Duration::from_secs(20),
        containerizer.wait(&spec.container_id),
    )
    .await
    .unwrap()
    .unwrap();
    let stdout = fs::read_to_string(sandbox.path().join("stdout")).unwrap();
    containerizer
        .destroy(&spec.container_id, Duration::ZERO)
        .await
        .unwrap();
    let _ = fs::remove_dir(&root);
    assert!(end.status.success(), "{end:?} {stdout}");
    assert!(
        stdout.contains("null-ok"),
        "{stdout}\ndevices.list:\n{list}"
    );
    assert!(
        stdout.contains("zero-denied"),
        "{stdout}\ndevices.list:\n{list}"
    );
    assert!(!cgroup.exists(), "cleanup removes the devices cgroup");
    assert_eq!(allocator.free(), 2, "cleanup frees the GPU");
}
