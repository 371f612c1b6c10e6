//! Volume paths, validation, mounts, and the directory and sandbox I/O on real files.

use std::path::Path;

use corral_resources::parse_resources;
use serde_json::json;

use super::*;

pub(crate) fn volume_resource(role: &str, id: &str, container_path: &str) -> v1::Resource {
    serde_json::from_value(json!({
        "name": "disk", "type": "SCALAR", "scalar": {"value": 64.0},
        "reservations": [{"type": "DYNAMIC", "role": role, "principal": "ops"}],
        "disk": {"persistence": {"id": id}, "volume": {"mode": "RW", "container_path": container_path}}
    }))
    .unwrap()
}

fn volume(work: &Path, role: &str, id: &str) -> VolumeRef {
    volume_of(work, &volume_resource(role, id, "data"))
        .unwrap()
        .unwrap()
}

#[test]
fn roles_are_escaped_reversibly() {
    for role in ["web", "eng/web/db", "100%", "a%2Fb", "x/%25/y"] {
        let escaped = escape_role(role);
        assert!(!escaped.contains('/'), "{escaped}");
        assert_eq!(unescape_role(&escaped).as_deref(), Some(role));
    }
    assert_eq!(escape_role("eng/web"), "eng%2Fweb");
    assert_eq!(unescape_role("a/b"), None);
    assert_eq!(unescape_role("a%2"), None);
    assert_eq!(unescape_role("a%41"), None);
}

#[test]
fn volume_paths() {
    let work = Path::new("/w");
    let v = volume(work, "eng/web", "v1");
    assert_eq!(
        v.path.as_deref(),
        Some(Path::new("/w/volumes/roles/eng%2Fweb/v1"))
    );
    assert_eq!((v.role.as_str(), v.id.as_str()), ("eng/web", "v1"));

    // A PATH disk source keeps its volumes under its root (relative to the work directory).
    let mut on_path = volume_resource("web", "v2", "data");
    on_path.disk.as_mut().unwrap().source =
        serde_json::from_value(json!({"type": "PATH", "path": {"root": "/mnt/disk1"}})).unwrap();
    let v = volume_of(work, &on_path).unwrap().unwrap();
    assert_eq!(
        v.path.as_deref(),
        Some(Path::new("/mnt/disk1/volumes/roles/web/v2"))
    );
    // MOUNT disks are kept but get no directory from the agent.
    on_path.disk.as_mut().unwrap().source =
        serde_json::from_value(json!({"type": "MOUNT", "mount": {"root": "/mnt/m"}})).unwrap();
    assert_eq!(volume_of(work, &on_path).unwrap().unwrap().path, None);

    // Plain reserved disk is not a volume.
    let reserved: v1::Resource = serde_json::from_value(json!({
        "name": "disk", "type": "SCALAR", "scalar": {"value": 64.0},
        "reservations": [{"type": "DYNAMIC", "role": "web"}]
    }))
    .unwrap();
    assert_eq!(volume_of(work, &reserved).unwrap(), None);
}

#[test]
fn checkpointed_sets_are_validated() {
    let work = Path::new("/w");
    let reserved = parse_resources("cpus(web):1").unwrap().to_proto();
    let set = [reserved[0].clone(), volume_resource("web", "v1", "data")];
    let volumes = checkpointed_volumes(work, &set).unwrap();
    assert_eq!(volumes.len(), 1);

    let mut unreserved = volume_resource("web", "v1", "data");
    unreserved.reservations.clear();
    let error = checkpointed_volumes(work, &[unreserved]).unwrap_err();
    assert!(error.contains("not reserved"), "{error}");

    for bad in ["..", "a/b", ""] {
        let error = checkpointed_volumes(work, &[volume_resource("web", bad, "data")]);
        assert!(error.is_err(), "persistence id {bad:?}");
    }

    let mut twin = volume_resource("web", "v1", "data");
    twin.scalar = Some(v1::value::Scalar { value: 128.0 });
    let error = checkpointed_volumes(work, &[volume_resource("web", "v1", "data"), twin]);
    assert!(error.unwrap_err().contains("listed twice"));

    let mut garbage = volume_resource("web", "v1", "data");
    garbage.scalar = None;
    assert!(checkpointed_volumes(work, &[garbage]).is_err());
}

#[test]
fn mounts_check_the_volume_and_its_container_path() {
    let work = Path::new("/w");
    let known = vec![volume(work, "web", "v1")];
    let cpus = parse_resources("cpus:1").unwrap().to_proto();

    let task = [cpus[0].clone(), volume_resource("web", "v1", "./state/db")];
    let mounts = mounts_for(&task, &known, false).unwrap();
    assert_eq!(mounts.len(), 1);
    assert_eq!(mounts[0].container_path, Path::new("state/db"));
    assert!(!mounts[0].read_only);

    let unknown = mounts_for(&[volume_resource("web", "v9", "data")], &known, false);
    assert!(matches!(unknown, Err(MountError::Unknown(m)) if m.contains("'v9'")));
    let other_role = mounts_for(&[volume_resource("db", "v1", "data")], &known, false);
    assert!(matches!(other_role, Err(MountError::Unknown(_))));

    let absolute = mounts_for(&[volume_resource("web", "v1", "/data")], &known, false);
    assert!(
        matches!(&absolute, Err(MountError::Invalid(m)) if m.contains("relative to the sandbox")),
        "{absolute:?}"
    );
    for bad in ["../data", "a/../../b", "", "."] {
        let result = mounts_for(&[volume_resource("web", "v1", bad)], &known, false);
        assert!(matches!(result, Err(MountError::Invalid(_))), "{bad:?}");
    }

    let mut read_only = volume_resource("web", "v1", "data");
    read_only
        .disk
        .as_mut()
        .unwrap()
        .volume
        .as_mut()
        .unwrap()
        .mode = v1::volume::Mode::Ro as i32;
    assert!(mounts_for(&[read_only], &known, false).unwrap()[0].read_only);
}

#[test]
fn totals_apply_the_checkpointed_resources() {
    let total = parse_resources("cpus:4;disk:1000").unwrap();
    let set = [
        volume_resource("web", "v1", "data"),
        parse_resources("cpus(web):1").unwrap().to_proto()[0].clone(),
    ];
    // `cpus(web)` from the flag syntax is a static reservation; make it dynamic.
    let mut set = set.to_vec();
    set[1].reservations[0].r#type = Some(v1::resource::reservation_info::Type::Dynamic as i32);
    let checkpointed = Resources::from_proto(&set).unwrap();
    let applied = apply_checkpointed(&total, &checkpointed);
    assert_eq!(applied.unreserved().disk().as_f64(), 936.0);
    assert_eq!(applied.unreserved().cpus().as_f64(), 3.0);
    assert_eq!(applied.reserved("web").disk().as_f64(), 64.0);
    assert_eq!(applied.reserved("web").persistent_volumes().len(), 1);
    assert_eq!(applied.disk().as_f64(), 1000.0);
}

#[test]
fn volume_directories_are_created_and_destroyed() {
    let dir = tempfile::tempdir().unwrap();
    let v = volume(dir.path(), "eng/web", "v1");
    let path = v.path.clone().unwrap();
    assert!(create_volume(&path).unwrap());
    assert!(!create_volume(&path).unwrap());
    std::fs::write(path.join("data.txt"), "kept").unwrap();

    let trashed = destroy_volume(&path).unwrap().unwrap();
    assert!(!path.exists());
    assert!(trashed.starts_with(dir.path().join("volumes/trash")));
    assert_eq!(destroy_volume(&path).unwrap(), None, "already gone");
    purge_trash(&volume_root(dir.path())).unwrap();
    assert!(!trashed.exists());
}

#[test]
fn a_volume_is_a_link_in_the_sandbox_and_outlives_it() {
    let dir = tempfile::tempdir().unwrap();
    let v = volume(dir.path(), "web", "v1");
    let target = v.path.clone().unwrap();
    let sandbox = dir.path().join("sandbox");
    let mount = VolumeMount {
        volume: v.clone(),
        container_path: "state/db".into(),
        read_only: false,
    };
    // The volume's directory must exist.
    assert!(mount_volume(&sandbox, &mount, None).is_err());
    create_volume(&target).unwrap();
    mount_volume(&sandbox, &mount, None).unwrap();
    mount_volume(&sandbox, &mount, None).unwrap(); // idempotent
    let link = sandbox.join("state/db");
    assert_eq!(std::fs::read_link(&link).unwrap(), target);
    std::fs::write(link.join("f"), "data").unwrap();

    // Removing the sandbox removes the link, not the data.
    std::fs::remove_dir_all(&sandbox).unwrap();
    assert_eq!(std::fs::read_to_string(target.join("f")).unwrap(), "data");

    // Something in the way, or a link on the way, is refused.
    std::fs::create_dir_all(sandbox.join("state/db")).unwrap();
    let error = mount_volume(&sandbox, &mount, None).unwrap_err();
    assert!(error.to_string().contains("already exists"), "{error}");
    std::fs::remove_dir_all(&sandbox).unwrap();
    std::fs::create_dir_all(&sandbox).unwrap();
    std::os::unix::fs::symlink("/tmp", sandbox.join("state")).unwrap();
    let error = mount_volume(&sandbox, &mount, None).unwrap_err();
    assert!(error.to_string().contains("not a directory"), "{error}");
}

#[test]
fn recovery_finishes_interrupted_work() {
    let dir = tempfile::tempdir().unwrap();
    let root = volume_root(dir.path());
    let kept = volume(dir.path(), "web", "kept");
    let doomed = volume(dir.path(), "web", "doomed");
    let recreated = volume(dir.path(), "web", "again");
    for v in [&doomed, &recreated] {
        create_volume(v.path.as_ref().unwrap()).unwrap();
    }
    std::fs::create_dir_all(root.join("trash/leftover")).unwrap();

    recover_volumes(
        &root,
        &[kept.clone(), recreated.clone()],
        &[doomed.clone(), recreated.clone()],
    )
    .unwrap();
    assert!(
        kept.path.as_ref().unwrap().is_dir(),
        "missing volume created"
    );
    assert!(
        !doomed.path.as_ref().unwrap().exists(),
        "destroyed volume deleted"
    );
    assert!(
        recreated.path.as_ref().unwrap().is_dir(),
        "re-created volume kept"
    );
    assert!(!root.join("trash").exists());
}
