//! Image-based containers and GPUs on the agent's side: which image a launch uses
//! ([`container_image`]), how many GPUs it gets ([`container_gpus`]), and the isolators of
//! `--image_providers`/`--docker_registry`/`--docker_store_dir` (`docker/runtime`,
//! `filesystem/linux`) and `gpu/nvidia` ([`build`]).
//!
//! A command task with `ContainerInfo{type: MESOS, mesos.image: DOCKER}` runs in a rootfs
//! provisioned from the image while its command executor stays on the host (as in Mesos); an
//! executor whose own `ExecutorInfo.container` has an image runs in the rootfs itself. Images
//! on the tasks of a task group (nested containers) and APPC images are refused with a clear
//! message.

use std::path::PathBuf;

use corral_api::v1;
use corral_containerizer::gpu::{GpuAllocator, GpuIsolator, NvidiaDevices};
use corral_containerizer::image::{ImageIsolator, ImageIsolatorConfig, TASK_USER_ENV};
use corral_containerizer::{ContainerImage, ImageTarget, Isolator, IsolatorKind, LaunchSpec};

use crate::convert::sum_resources;
use crate::core::state::ExecutorKind;
use crate::error::AgentError;
use crate::flags::AgentFlags;

/// The image of one container launch, if any; `Err` is the message tasks fail with.
pub fn container_image(
    kind: ExecutorKind,
    info: &v1::ExecutorInfo,
    tasks: &[v1::TaskInfo],
) -> Result<Option<ContainerImage>, String> {
    if kind == ExecutorKind::Command {
        let task = tasks.first().and_then(|t| t.container.as_ref());
        return Ok(image_of(task)?.map(|name| ContainerImage {
            name,
            target: ImageTarget::CommandTask,
        }));
    }
    if tasks
        .iter()
        .any(|t| image_of(t.container.as_ref()).is_ok_and(|i| i.is_some()))
    {
        return Err("Container images on the tasks of a task group are not supported".into());
    }
    Ok(
        image_of(info.container.as_ref())?.map(|name| ContainerImage {
            name,
            target: ImageTarget::Container,
        }),
    )
}

/// The Docker image name of a `MESOS` container, if it has an image.
fn image_of(container: Option<&v1::ContainerInfo>) -> Result<Option<String>, String> {
    let Some(container) = container else {
        return Ok(None);
    };
    if container.r#type == v1::container_info::Type::Docker as i32 {
        // The Docker containerizer's business.
        return Ok(None);
    }
    let Some(image) = container.mesos.as_ref().and_then(|m| m.image.as_ref()) else {
        return Ok(None);
    };
    if image.r#type != v1::image::Type::Docker as i32 {
        return Err(
            "Only DOCKER images are supported by the Mesos containerizer (not APPC)".into(),
        );
    }
    match image.docker.as_ref() {
        Some(docker) if !docker.name.is_empty() => Ok(Some(docker.name.clone())),
        _ => Err("A DOCKER image needs 'docker.name'".into()),
    }
}

/// The command executor of an image task must be root to enter the rootfs: it runs as the
/// agent's user and the task runs as the executor's would-be user, passed in
/// [`TASK_USER_ENV`] (the sandbox stays owned by that user).
pub fn run_executor_as_root_for_image(spec: &mut LaunchSpec) {
    let task_image = spec
        .image
        .as_ref()
        .is_some_and(|i| i.target == ImageTarget::CommandTask);
    if task_image {
        if let Some(user) = spec.user.take() {
            spec.env.retain(|(name, _)| name != TASK_USER_ENV);
            spec.env.push((TASK_USER_ENV.into(), user));
        }
    }
}

/// GPUs of a launch: the executor's `gpus` plus its tasks' (whole GPUs).
// Scalars are small non-negative counts; `as` saturates.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub fn container_gpus(info: &v1::ExecutorInfo, tasks: &[v1::TaskInfo]) -> u32 {
    let scalar = |list: &[v1::Resource]| sum_resources([list]).scalar("gpus").as_f64();
    let total: f64 =
        scalar(&info.resources) + tasks.iter().map(|t| scalar(&t.resources)).sum::<f64>();
    if total.is_finite() && total > 0.0 {
        total.ceil() as u32
    } else {
        0
    }
}

/// The image providers of `--image_providers` (upper-cased, as Mesos accepts any case).
fn providers(flags: &AgentFlags) -> Vec<String> {
    flags
        .image_providers
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(|p| p.trim().to_ascii_uppercase())
        .filter(|p| !p.is_empty())
        .collect()
}

fn flag_error(flag: &'static str, reason: impl Into<String>) -> AgentError {
    AgentError::Flag {
        flag,
        reason: reason.into(),
    }
}

/// Checks the image and GPU flags against `--isolation` the way Mesos does, and builds the
/// `docker/runtime` and `gpu/nvidia` isolators they ask for.
pub fn build(flags: &AgentFlags) -> Result<Vec<Box<dyn Isolator>>, AgentError> {
    let kinds = flags.isolation.kinds();
    let providers = providers(flags);
    let mut isolators: Vec<Box<dyn Isolator>> = Vec::new();
    for provider in &providers {
        if provider != "DOCKER" {
            return Err(flag_error(
                "image_providers",
                format!("'{provider}' is not supported (only 'docker')"),
            ));
        }
    }
    let docker = !providers.is_empty();
    let runtime = kinds.contains(&IsolatorKind::DockerRuntime);
    if docker && !runtime {
        return Err(flag_error(
            "image_providers",
            "'docker' needs the 'docker/runtime' isolator in --isolation",
        ));
    }
    if runtime && !docker {
        return Err(flag_error(
            "isolation",
            "'docker/runtime' needs --image_providers=docker",
        ));
    }
    if docker && !kinds.contains(&IsolatorKind::FilesystemLinux) {
        return Err(flag_error(
            "image_providers",
            "container images need the 'filesystem/linux' isolator in --isolation",
        ));
    }
    if let Some(backend) = flags.image_provisioner_backend.as_deref() {
        if backend != "copy" {
            return Err(flag_error(
                "image_provisioner_backend",
                format!("'{backend}' is not supported (only 'copy')"),
            ));
        }
    }
    if docker {
        if !nix::unistd::geteuid().is_root() {
            return Err(flag_error(
                "image_providers",
                "container images need the agent to run as root",
            ));
        }
        let registry = PathBuf::from(&flags.docker_registry);
        if flags.docker_registry.contains("://") || !registry.is_absolute() {
            return Err(flag_error(
                "docker_registry",
                format!(
                    "'{}': only a local directory of image archives is supported \
                     (<name>.tar from `docker save`)",
                    flags.docker_registry
                ),
            ));
        }
        let isolator = ImageIsolator::new(ImageIsolatorConfig {
            registry,
            store_dir: flags.docker_store_dir.clone(),
            provisioner_dir: flags.work_dir.join("provisioner"),
        })
        .map_err(|e| flag_error("docker_registry", e.to_string()))?;
        isolators.push(Box::new(isolator));
    }
    if kinds.contains(&IsolatorKind::GpuNvidia) {
        isolators.push(Box::new(gpu_isolator(flags)?));
    }
    Ok(isolators)
}

/// The GPUs of this host (or of `--nvidia_gpu_devices`).
pub fn gpu_devices(flags: &AgentFlags) -> Result<NvidiaDevices, AgentError> {
    gpu_devices_in(flags, std::path::Path::new("/dev"))
}

/// [`gpu_devices`] under another device tree root.
pub fn gpu_devices_in(
    flags: &AgentFlags,
    dev_root: &std::path::Path,
) -> Result<NvidiaDevices, AgentError> {
    let wanted = match flags.nvidia_gpu_devices.as_deref() {
        None => None,
        Some(text) => Some(
            corral_containerizer::gpu::parse_gpu_list(text)
                .map_err(|e| flag_error("nvidia_gpu_devices", e.to_string()))?,
        ),
    };
    NvidiaDevices::detect(dev_root, wanted.as_deref())
        .map_err(|e| flag_error("nvidia_gpu_devices", e.to_string()))
}

fn gpu_isolator(flags: &AgentFlags) -> Result<GpuIsolator, AgentError> {
    let devices = gpu_devices(flags)?;
    GpuIsolator::from_host(GpuAllocator::new(devices), &flags.cgroups_root)
        .map_err(|e| flag_error("isolation", format!("gpu/nvidia: {e}")))
}

/// `--resources` with `gpus:<n>` added for the GPUs found, when `gpu/nvidia` is enabled and
/// `--resources` names no `gpus` (Mesos's auto-detection).
pub fn resources_with_gpus(
    flags: &AgentFlags,
    resources: Option<&str>,
) -> Result<Option<String>, AgentError> {
    resources_with_gpus_in(flags, resources, std::path::Path::new("/dev"))
}

/// [`resources_with_gpus`] with the GPUs of another device tree root.
pub fn resources_with_gpus_in(
    flags: &AgentFlags,
    resources: Option<&str>,
    dev_root: &std::path::Path,
) -> Result<Option<String>, AgentError> {
    if !flags.isolation.kinds().contains(&IsolatorKind::GpuNvidia) {
        return Ok(resources.map(str::to_owned));
    }
    let count = gpu_devices_in(flags, dev_root)?.gpus().len();
    Ok(Some(corral_containerizer::gpu::add_gpus_resource(
        resources, count,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_container(kind: i32, image_type: v1::image::Type, name: &str) -> v1::ContainerInfo {
        v1::ContainerInfo {
            r#type: kind,
            mesos: Some(v1::container_info::MesosInfo {
                image: Some(v1::Image {
                    r#type: image_type as i32,
                    docker: Some(v1::image::Docker {
                        name: name.into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }
    }

    fn task(container: Option<v1::ContainerInfo>, gpus: f64) -> v1::TaskInfo {
        v1::TaskInfo {
            container,
            resources: vec![v1::Resource {
                name: "gpus".into(),
                r#type: v1::value::Type::Scalar as i32,
                scalar: Some(v1::value::Scalar { value: gpus }),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn images_of_launches() {
        let mesos = v1::container_info::Type::Mesos as i32;
        let info = v1::ExecutorInfo::default();
        let t = task(
            Some(image_container(
                mesos,
                v1::image::Type::Docker,
                "corral-test/marker",
            )),
            0.0,
        );
        assert_eq!(
            container_image(ExecutorKind::Command, &info, std::slice::from_ref(&t)).unwrap(),
            Some(ContainerImage {
                name: "corral-test/marker".into(),
                target: ImageTarget::CommandTask
            })
        );
        assert!(container_image(ExecutorKind::Default, &info, &[t]).is_err());
        let appc = task(
            Some(image_container(mesos, v1::image::Type::Appc, "x")),
            0.0,
        );
        assert!(container_image(ExecutorKind::Command, &info, &[appc]).is_err());
        let docker = v1::container_info::Type::Docker as i32;
        let d = task(
            Some(image_container(docker, v1::image::Type::Docker, "x")),
            0.0,
        );
        assert_eq!(
            container_image(ExecutorKind::Command, &info, &[d]).unwrap(),
            None
        );
        let plain = task(None, 0.0);
        assert_eq!(
            container_image(ExecutorKind::Command, &info, std::slice::from_ref(&plain)).unwrap(),
            None
        );
        let own = v1::ExecutorInfo {
            container: Some(image_container(mesos, v1::image::Type::Docker, "exec-img")),
            ..Default::default()
        };
        assert_eq!(
            container_image(ExecutorKind::Custom, &own, &[plain]).unwrap(),
            Some(ContainerImage {
                name: "exec-img".into(),
                target: ImageTarget::Container
            })
        );
    }

    #[test]
    fn gpus_of_launches() {
        let info = v1::ExecutorInfo::default();
        assert_eq!(
            container_gpus(&info, &[task(None, 2.0), task(None, 1.0)]),
            3
        );
        assert_eq!(container_gpus(&info, &[task(None, 0.0)]), 0);
    }

    #[test]
    fn image_flags_are_checked_like_mesos() {
        let parse = |extra: &[&str]| {
            let mut args = vec![
                "agent",
                "--master=m:5050",
                "--work_dir=/tmp/corral-img-flags",
            ];
            args.extend_from_slice(extra);
            AgentFlags::try_parse_from(args).unwrap()
        };
        assert!(build(&parse(&[])).unwrap().is_empty());
        let err = |extra: &[&str]| {
            build(&parse(extra))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err(&["--image_providers=docker"]).contains("docker/runtime"));
        assert!(err(&["--isolation=docker/runtime"]).contains("image_providers"));
        assert!(
            err(&["--image_providers=docker", "--isolation=docker/runtime"])
                .contains("filesystem/linux")
        );
        assert!(err(&["--image_providers=appc"]).contains("not supported"));
        assert!(err(&[
            "--image_providers=docker",
            "--isolation=filesystem/linux,docker/runtime",
            "--image_provisioner_backend=overlay"
        ])
        .contains("copy"));
        let e = err(&[
            "--image_providers=docker",
            "--isolation=filesystem/linux,docker/runtime",
            "--docker_registry=https://registry-1.docker.io",
        ]);
        assert!(e.contains("local directory") || e.contains("root"), "{e}");
    }

    #[test]
    fn detected_gpus_join_the_agent_resources() {
        let dev = tempfile::tempdir().unwrap();
        for name in ["nvidia0", "nvidia1", "nvidiactl", "null"] {
            std::fs::write(dev.path().join(name), "").unwrap();
        }
        let flags = |extra: &[&str]| {
            let mut args = vec!["agent", "--master=m:5050"];
            args.extend_from_slice(extra);
            AgentFlags::try_parse_from(args).unwrap()
        };
        let gpu = flags(&["--isolation=gpu/nvidia"]);
        let text = resources_with_gpus_in(&gpu, Some("cpus:2;mem:512"), dev.path())
            .unwrap()
            .unwrap();
        assert_eq!(text, "cpus:2;mem:512;gpus:2");
        let parsed = corral_resources::parse_resources(&text).unwrap();
        assert_eq!(parsed.scalar("gpus").as_f64(), 2.0);
        // Only the listed GPUs; an unknown one is a flag error.
        let one = flags(&["--isolation=gpu/nvidia", "--nvidia_gpu_devices=1"]);
        assert_eq!(
            resources_with_gpus_in(&one, None, dev.path())
                .unwrap()
                .as_deref(),
            Some("gpus:1")
        );
        let bad = flags(&["--isolation=gpu/nvidia", "--nvidia_gpu_devices=4"]);
        assert!(resources_with_gpus_in(&bad, None, dev.path()).is_err());
        // Without gpu/nvidia the resources are left alone.
        let plain = flags(&[]);
        assert_eq!(
            resources_with_gpus_in(&plain, Some("cpus:1"), dev.path())
                .unwrap()
                .as_deref(),
            Some("cpus:1")
        );
    }
}
