//! The pure mapping between a `FunctionDeployment` and Docker objects (CONTRACT.md §6.3, §6.6,
//! §6.12): labels, env, resources, hardening, and the way back to a `FunctionStatus`.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, EndpointSpec, EndpointSpecModeEnum, HostConfig, Limit,
    Mount, MountTmpfsOptions, MountTypeEnum, NetworkAttachmentConfig, NetworkingConfig,
    ResourceObject, RestartPolicy, RestartPolicyNameEnum, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec, TaskSpecContainerSpecFile,
    TaskSpecContainerSpecPrivileges, TaskSpecContainerSpecSecrets, TaskSpecPlacement,
    TaskSpecResources, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};
use chrono::{DateTime, Utc};
use faas_provider::types::{FunctionDeployment, FunctionResources, FunctionStatus, StringMap};
use faas_provider::{FunctionName, ProviderError};

/// Marks every Docker object that is a function, valued with the function's name.
pub const FUNCTION_LABEL: &str = "com.openfaas.function";
/// faas-swarm's legacy marker, kept so OpenFaaS tooling recognises our services.
pub const LEGACY_FUNCTION_LABEL: &str = "function";
/// Annotations are stored as labels under this prefix (faas-swarm's convention).
pub const ANNOTATION_PREFIX: &str = "com.openfaas.annotations.";
/// Label that sets the initial (and post-update) replica count.
pub const SCALE_MIN_LABEL: &str = "com.openfaas.scale.min";
/// Added to the labels a status reports (the certifier looks for it).
pub const FAAS_FUNCTION_LABEL: &str = "faas_function";
/// The deployment as the client sent it (minus `registryAuth`), so get/list echo it verbatim.
pub const DEPLOYMENT_LABEL: &str = "com.ironfaas.deployment";
/// When the function was first deployed (RFC 3339); kept across updates.
pub const CREATED_AT_LABEL: &str = "com.ironfaas.created-at";
/// The function network a function was deployed on: a provider serves the functions of its
/// own network only, so providers with different networks share an engine.
pub const NETWORK_SCOPE_LABEL: &str = "com.ironfaas.function-network";
/// Where function containers find secrets (OpenFaaS's path).
pub const SECRETS_DIR: &str = "/var/openfaas/secrets";
/// Linux capabilities a function keeps: none. The watchdog forks its handler and serves an
/// unprivileged port, which needs no capability; see README "Hardening".
pub const CAPABILITIES_DROPPED: &str = "ALL";

const NANOS_PER_CPU: f64 = 1e9;

/// Docker resource values parsed from the deployment's `limits` and `requests`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub limit_memory: Option<i64>,
    pub limit_nano_cpus: Option<i64>,
    pub request_memory: Option<i64>,
    pub request_nano_cpus: Option<i64>,
}

/// A deployment whose values have been checked and parsed; built once, used by both backends.
#[derive(Clone, Debug)]
pub struct FunctionSpec {
    pub deployment: FunctionDeployment,
    /// Engine credentials from `registryAuth`, for pulls only (never stored).
    pub credentials: Option<bollard::auth::DockerCredentials>,
    pub resources: Resources,
    pub created_at: DateTime<Utc>,
}

impl FunctionSpec {
    /// Checks what Docker would otherwise reject late or silently: resources, annotation keys.
    pub fn new(
        mut deployment: FunctionDeployment,
        created_at: DateTime<Utc>,
    ) -> Result<Self, ProviderError> {
        let credentials =
            crate::engine::registry_credentials(&deployment.image, &deployment.registry_auth)?;
        // A credential must not end up in a label; it is only used for the pull.
        deployment.registry_auth.clear();
        let resources = parse_resources(&deployment)?;
        check_annotation_clash(&deployment)?;
        if let Some(v) = deployment.labels.get(SCALE_MIN_LABEL) {
            v.parse::<u64>().map_err(|_| {
                ProviderError::Invalid(format!(
                    "label {SCALE_MIN_LABEL}={v:?} is not a non-negative integer"
                ))
            })?;
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = deployment.secrets.iter().find(|s| !seen.insert(*s)) {
            return Err(ProviderError::Invalid(format!(
                "secret {dup} is listed twice"
            )));
        }
        Ok(Self {
            deployment,
            credentials,
            resources,
            created_at,
        })
    }

    pub fn name(&self) -> &FunctionName {
        &self.deployment.service
    }

    /// `com.openfaas.scale.min`, else 1: replicas after deploy and after every update.
    pub fn initial_replicas(&self) -> u64 {
        initial_replicas(&self.deployment)
    }

    /// Labels on the service (or spec container) and on every replica.
    pub fn labels(&self) -> HashMap<String, String> {
        let d = &self.deployment;
        let mut labels = HashMap::new();
        labels.insert(LEGACY_FUNCTION_LABEL.to_owned(), "true".to_owned());
        labels.extend(d.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        labels.extend(
            d.annotations
                .iter()
                .map(|(k, v)| (format!("{ANNOTATION_PREFIX}{k}"), v.clone())),
        );
        // Ours last, so a user label cannot forge them.
        labels.insert(FUNCTION_LABEL.to_owned(), d.service.to_string());
        labels
    }

    /// `labels()` plus what the reverse mapping needs: the deployment and its creation time.
    pub fn record_labels(&self) -> HashMap<String, String> {
        let mut labels = self.labels();
        labels.insert(
            DEPLOYMENT_LABEL.to_owned(),
            deployment_json(&self.deployment),
        );
        labels.insert(
            CREATED_AT_LABEL.to_owned(),
            self.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        );
        labels
    }

    /// `fprocess` first (when set), then `envVars`.
    pub fn env(&self) -> Vec<String> {
        let d = &self.deployment;
        let fprocess = (!d.env_process.is_empty()).then(|| format!("fprocess={}", d.env_process));
        fprocess
            .into_iter()
            .chain(d.env_vars.iter().map(|(k, v)| format!("{k}={v}")))
            .collect()
    }

    /// A tmpfs at `/tmp` when the root filesystem is read-only (the watchdog writes its lock
    /// file there).
    fn tmp_mount(&self) -> Option<Mount> {
        self.deployment.read_only_root_filesystem.then(|| Mount {
            target: Some("/tmp".into()),
            typ: Some(MountTypeEnum::TMPFS),
            tmpfs_options: Some(MountTmpfsOptions {
                mode: Some(0o1777),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    /// The Swarm service (CONTRACT.md §6.3, with start-first updates and rollback).
    pub fn service_spec(
        &self,
        network: &str,
        secrets: &[ResolvedSecret],
        replicas: u64,
    ) -> ServiceSpec {
        let d = &self.deployment;
        let mut labels = self.record_labels();
        labels.insert(NETWORK_SCOPE_LABEL.to_owned(), network.to_owned());
        let constraints = if d.constraints.is_empty() {
            vec!["node.platform.os == linux".to_owned()]
        } else {
            d.constraints.clone()
        };
        let container = TaskSpecContainerSpec {
            image: Some(d.image.clone()),
            labels: Some(self.labels()),
            env: Some(self.env()),
            read_only: Some(d.read_only_root_filesystem),
            mounts: Some(self.tmp_mount().into_iter().collect()),
            secrets: Some(
                secrets
                    .iter()
                    .map(|s| TaskSpecContainerSpecSecrets {
                        file: Some(TaskSpecContainerSpecFile {
                            name: Some(secret_path(&s.name)),
                            uid: Some("0".into()),
                            gid: Some("0".into()),
                            mode: Some(0o444),
                        }),
                        secret_id: Some(s.id.clone()),
                        secret_name: Some(s.docker_name.clone()),
                    })
                    .collect(),
            ),
            // Engines older than API 1.46 ignore this field (README "Hardening").
            privileges: Some(TaskSpecContainerSpecPrivileges {
                no_new_privileges: Some(true),
                ..Default::default()
            }),
            capability_drop: Some(vec![CAPABILITIES_DROPPED.to_owned()]),
            ..Default::default()
        };
        let r = &self.resources;
        let limits = (r.limit_memory.is_some() || r.limit_nano_cpus.is_some()).then(|| Limit {
            memory_bytes: r.limit_memory,
            nano_cpus: r.limit_nano_cpus,
            ..Default::default()
        });
        let reservations =
            (r.request_memory.is_some() || r.request_nano_cpus.is_some()).then(|| ResourceObject {
                memory_bytes: r.request_memory,
                nano_cpus: r.request_nano_cpus,
                ..Default::default()
            });
        ServiceSpec {
            name: Some(d.service.to_string()),
            labels: Some(labels),
            task_template: Some(TaskSpec {
                container_spec: Some(container),
                resources: Some(TaskSpecResources {
                    limits,
                    reservations,
                }),
                restart_policy: Some(TaskSpecRestartPolicy {
                    condition: Some(TaskSpecRestartPolicyConditionEnum::ANY),
                    delay: Some(5_000_000_000),
                    max_attempts: Some(5),
                    ..Default::default()
                }),
                placement: Some(TaskSpecPlacement {
                    constraints: Some(constraints),
                    ..Default::default()
                }),
                networks: Some(vec![NetworkAttachmentConfig {
                    target: Some(network.to_owned()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated {
                    replicas: Some(clamp_i64(replicas)),
                }),
                ..Default::default()
            }),
            update_config: Some(ServiceSpecUpdateConfig {
                parallelism: Some(1),
                order: Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST),
                failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
                ..Default::default()
            }),
            rollback_config: Some(ServiceSpecRollbackConfig {
                parallelism: Some(1),
                order: Some(ServiceSpecRollbackConfigOrderEnum::START_FIRST),
                failure_action: Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE),
                ..Default::default()
            }),
            // DNS round-robin over task addresses: works without IPVS and matches how the
            // gateway balances over `/system/endpoints`.
            endpoint_spec: Some(EndpointSpec {
                mode: Some(EndpointSpecModeEnum::DNSRR),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// One replica container of the containers backend; `labels` identify the replica.
    pub fn container_body(
        &self,
        network: &str,
        secret_files: &[(String, std::path::PathBuf)],
        labels: HashMap<String, String>,
    ) -> ContainerCreateBody {
        let d = &self.deployment;
        let r = &self.resources;
        let secret_mounts = secret_files.iter().map(|(name, host_path)| Mount {
            target: Some(secret_path(name)),
            source: Some(host_path.to_string_lossy().into_owned()),
            typ: Some(MountTypeEnum::BIND),
            read_only: Some(true),
            ..Default::default()
        });
        ContainerCreateBody {
            image: Some(d.image.clone()),
            env: Some(self.env()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some(network.to_owned()),
                readonly_rootfs: Some(d.read_only_root_filesystem),
                mounts: Some(self.tmp_mount().into_iter().chain(secret_mounts).collect()),
                cap_drop: Some(vec![CAPABILITIES_DROPPED.to_owned()]),
                security_opt: Some(vec!["no-new-privileges:true".to_owned()]),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: None,
                }),
                memory: r.limit_memory,
                nano_cpus: r.limit_nano_cpus,
                memory_reservation: r.request_memory,
                // Docker has no CPU reservation for plain containers; shares weight the
                // request relative to the default 1024 per CPU.
                cpu_shares: r
                    .request_nano_cpus
                    .map(|n| ((n as f64 / NANOS_PER_CPU) * 1024.0).round().max(2.0) as i64),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network.to_owned(),
                    EndpointSettings {
                        // Docker DNS answers the function's name with every replica.
                        aliases: Some(vec![d.service.to_string()]),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        }
    }
}

/// A Swarm secret the service references: the OpenFaaS name (the file name in the
/// function) and the Docker secret holding its current value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedSecret {
    pub name: String,
    pub docker_name: String,
    pub id: String,
}

pub fn secret_path(name: &str) -> String {
    format!("{SECRETS_DIR}/{name}")
}

pub fn initial_replicas(d: &FunctionDeployment) -> u64 {
    d.labels
        .get(SCALE_MIN_LABEL)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

pub fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn deployment_json(d: &FunctionDeployment) -> String {
    // Serializing a struct of strings and maps cannot fail.
    serde_json::to_string(d).unwrap_or_default()
}

fn check_annotation_clash(d: &FunctionDeployment) -> Result<(), ProviderError> {
    for key in d.annotations.keys() {
        let label = format!("{ANNOTATION_PREFIX}{key}");
        if d.labels.contains_key(&label) {
            return Err(ProviderError::Invalid(format!(
                "label {label} clashes with annotation {key}"
            )));
        }
    }
    Ok(())
}

fn parse_resources(d: &FunctionDeployment) -> Result<Resources, ProviderError> {
    let side = |r: &Option<FunctionResources>,
                field: &str|
     -> Result<(Option<i64>, Option<i64>), ProviderError> {
        let Some(r) = r else { return Ok((None, None)) };
        let memory = (!r.memory.trim().is_empty())
            .then(|| parse_memory(&r.memory))
            .transpose()
            .map_err(|e| ProviderError::Invalid(format!("{field}.memory: {e}")))?;
        let cpu = (!r.cpu.trim().is_empty())
            .then(|| parse_cpu(&r.cpu))
            .transpose()
            .map_err(|e| ProviderError::Invalid(format!("{field}.cpu: {e}")))?;
        Ok((memory, cpu))
    };
    let (limit_memory, limit_nano_cpus) = side(&d.limits, "limits")?;
    let (request_memory, request_nano_cpus) = side(&d.requests, "requests")?;
    Ok(Resources {
        limit_memory,
        limit_nano_cpus,
        request_memory,
        request_nano_cpus,
    })
}

/// Why a resource value does not parse; the caller prefixes the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("{0:?} is not a memory size (use e.g. 128Mi, 128M, 1g, 512 m or bytes)")]
    Memory(String),
    #[error("{0:?} is not a CPU amount (use e.g. 0.5, 1, 100m or nano-CPUs)")]
    Cpu(String),
}

/// Memory in Docker's units (`128m`, `1g`, `512 m`; binary, as Docker's `RAMInBytes`) and
/// Kubernetes' (`128Mi`, `1Gi`). A single-letter unit is binary as in Docker, so `128M` is
/// 128 MiB (Kubernetes would read 128×10^6). A bare number is bytes.
pub fn parse_memory(input: &str) -> Result<i64, ResourceError> {
    let err = || ResourceError::Memory(input.to_owned());
    let s = input.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number.parse().map_err(|_| err())?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let power = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return Err(err()),
    };
    let bytes = value * 1024f64.powi(power);
    if !bytes.is_finite() || bytes < 1.0 || bytes > i64::MAX as f64 {
        return Err(err());
    }
    Ok(bytes as i64)
}

/// CPU as Docker (`0.5`, `1.5`) or Kubernetes (`100m`, `2`) writes it, or as faas-swarm's
/// nano-CPU integers: an integer above 1000 cannot be a core count here, so it is nano-CPUs.
pub fn parse_cpu(input: &str) -> Result<i64, ResourceError> {
    let err = || ResourceError::Cpu(input.to_owned());
    let s = input.trim();
    let nanos = if let Some(milli) = s.strip_suffix('m') {
        milli.trim().parse::<f64>().map_err(|_| err())? * 1e6
    } else if let Ok(n) = s.parse::<u64>() {
        if n > 1000 {
            n as f64
        } else {
            n as f64 * NANOS_PER_CPU
        }
    } else {
        s.parse::<f64>().map_err(|_| err())? * NANOS_PER_CPU
    };
    if !nanos.is_finite() || nanos < 1.0 || nanos > i64::MAX as f64 {
        return Err(err());
    }
    Ok(nanos.round() as i64)
}

/// Why a Docker object cannot be read back as a function.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("label {DEPLOYMENT_LABEL} is missing")]
    Missing,
    #[error("label {DEPLOYMENT_LABEL} does not hold a deployment: {0}")]
    Corrupt(String),
}

/// The reverse mapping: what was deployed, from the labels `record_labels` wrote. Replica
/// counts are filled by the backend.
pub fn status_from_labels(
    labels: &HashMap<String, String>,
    namespace: &str,
) -> Result<FunctionStatus, RecordError> {
    let d = deployment_from_labels(labels)?;
    let created_at = labels
        .get(CREATED_AT_LABEL)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let mut returned_labels: StringMap = d.labels.clone();
    returned_labels.insert(FAAS_FUNCTION_LABEL.to_owned(), d.service.to_string());
    Ok(FunctionStatus {
        name: d.service.clone(),
        image: d.image,
        env_process: d.env_process,
        labels: returned_labels,
        annotations: d.annotations,
        namespace: namespace.to_owned(),
        env_vars: d.env_vars,
        constraints: d.constraints,
        secrets: d.secrets,
        limits: d.limits,
        requests: d.requests,
        read_only_root_filesystem: d.read_only_root_filesystem,
        created_at,
        ..Default::default()
    })
}

/// The deployment `record_labels` stored.
pub fn deployment_from_labels(
    labels: &HashMap<String, String>,
) -> Result<FunctionDeployment, RecordError> {
    let raw = labels.get(DEPLOYMENT_LABEL).ok_or(RecordError::Missing)?;
    serde_json::from_str(raw).map_err(|e| RecordError::Corrupt(e.to_string()))
}

/// The creation time a record carries, to keep it across updates.
pub fn created_at(labels: &HashMap<String, String>) -> Option<DateTime<Utc>> {
    labels
        .get(CREATED_AT_LABEL)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(json: &str) -> FunctionDeployment {
        serde_json::from_str(json).unwrap()
    }

    fn spec(json: &str) -> FunctionSpec {
        FunctionSpec::new(deployment(json), Utc::now()).unwrap()
    }

    #[test]
    fn memory_units() {
        let mi = 1024 * 1024;
        let cases = [
            ("128Mi", 128 * mi),
            ("128M", 128 * mi),
            ("128m", 128 * mi),
            ("128MB", 128 * mi),
            ("512 m", 512 * mi),
            ("1g", 1024 * mi),
            ("1Gi", 1024 * mi),
            ("0.5Gi", 512 * mi),
            ("64k", 64 * 1024),
            ("1048576", mi),
            (" 20m ", 20 * mi),
        ];
        for (input, want) in cases {
            assert_eq!(parse_memory(input), Ok(want), "{input}");
        }
        for bad in ["", "abc", "12x", "-5Mi", "Mi", "1.2.3m", "0"] {
            assert!(parse_memory(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn cpu_units() {
        let cases = [
            ("0.5", 500_000_000),
            ("1", 1_000_000_000),
            ("2", 2_000_000_000),
            ("100m", 100_000_000),
            ("1500m", 1_500_000_000),
            ("1.25", 1_250_000_000),
            ("1000000000", 1_000_000_000),
            ("250000000", 250_000_000),
        ];
        for (input, want) in cases {
            assert_eq!(parse_cpu(input), Ok(want), "{input}");
        }
        for bad in ["", "x", "m", "-1", "0", "1cpu"] {
            assert!(parse_cpu(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn bad_resources_name_the_field() {
        let cases = [
            (
                r#"{"service":"a","image":"i","limits":{"memory":"lots"}}"#,
                "limits.memory",
            ),
            (
                r#"{"service":"a","image":"i","limits":{"cpu":"fast"}}"#,
                "limits.cpu",
            ),
            (
                r#"{"service":"a","image":"i","requests":{"memory":"1x"}}"#,
                "requests.memory",
            ),
            (
                r#"{"service":"a","image":"i","requests":{"cpu":"?"}}"#,
                "requests.cpu",
            ),
            (
                r#"{"service":"a","image":"i","labels":{"com.openfaas.scale.min":"two"}}"#,
                "com.openfaas.scale.min",
            ),
            (
                r#"{"service":"a","image":"i","labels":{"com.openfaas.annotations.topic":"x"},"annotations":{"topic":"y"}}"#,
                "topic",
            ),
            (
                r#"{"service":"a","image":"i","secrets":["s","s"]}"#,
                "secret s",
            ),
        ];
        for (json, word) in cases {
            let err = FunctionSpec::new(deployment(json), Utc::now()).unwrap_err();
            assert!(matches!(err, ProviderError::Invalid(_)), "{json}");
            assert!(err.to_string().contains(word), "{err} should name {word}");
        }
    }

    #[test]
    fn labels_env_and_replicas() {
        let s = spec(
            r#"{"service":"figlet","image":"figlet:1","envProcess":"figlet","envVars":{"b":"2","a":"1"},"labels":{"com.openfaas.scale.min":"3","team":"x","com.openfaas.function":"forged"},"annotations":{"topic":"t"}}"#,
        );
        let labels = s.labels();
        let want: HashMap<String, String> = [
            ("com.openfaas.function", "figlet"),
            ("function", "true"),
            ("com.openfaas.scale.min", "3"),
            ("team", "x"),
            ("com.openfaas.annotations.topic", "t"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(labels, want);
        assert_eq!(s.env(), ["fprocess=figlet", "a=1", "b=2"]);
        assert_eq!(s.initial_replicas(), 3);
        assert_eq!(spec(r#"{"service":"a","image":"i"}"#).initial_replicas(), 1);
        assert_eq!(
            spec(r#"{"service":"a","image":"i","labels":{"com.openfaas.scale.min":"0"}}"#)
                .initial_replicas(),
            0
        );
        assert!(spec(r#"{"service":"a","image":"i"}"#).env().is_empty());
    }

    #[test]
    fn registry_auth_is_not_recorded() {
        let s = spec(r#"{"service":"a","image":"i","registryAuth":"dXNlcjpwdw=="}"#);
        assert!(!s.record_labels()[DEPLOYMENT_LABEL].contains("registryAuth"));
    }

    #[test]
    fn status_returns_exactly_what_was_deployed() {
        let json = r#"{"service":"figlet","image":"docker.io/functions/alpine:latest","envProcess":"cat","envVars":{"a":"1"},"constraints":["node.role == worker"],"secrets":["api-key"],"labels":{"com.openfaas.scale.min":"2","team":"x"},"annotations":{"topic":"y"},"limits":{"memory":"128Mi","cpu":"100m"},"requests":{"memory":"64M","cpu":"0.5"},"readOnlyRootFilesystem":true}"#;
        let created = DateTime::parse_from_rfc3339("2024-01-02T03:04:05.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        let s = FunctionSpec::new(deployment(json), created).unwrap();
        let status = status_from_labels(&s.record_labels(), "openfaas-fn").unwrap();
        let d = deployment(json);
        assert_eq!(status.name, d.service);
        assert_eq!(status.image, "docker.io/functions/alpine:latest");
        assert_eq!(status.env_process, "cat");
        assert_eq!(status.env_vars, d.env_vars);
        assert_eq!(status.constraints, d.constraints);
        assert_eq!(status.secrets, d.secrets);
        assert_eq!(status.annotations, d.annotations);
        assert_eq!(status.limits, d.limits);
        assert_eq!(status.requests, d.requests);
        assert!(status.read_only_root_filesystem);
        assert_eq!(status.namespace, "openfaas-fn");
        assert_eq!(status.created_at, Some(created));
        let mut want_labels = d.labels.clone();
        want_labels.insert("faas_function".into(), "figlet".into());
        assert_eq!(status.labels, want_labels);
        assert_eq!(created_at(&s.record_labels()), Some(created));
    }

    #[test]
    fn status_from_foreign_labels_fails() {
        assert_eq!(
            status_from_labels(&HashMap::new(), "ns").unwrap_err(),
            RecordError::Missing
        );
        let labels = HashMap::from([(DEPLOYMENT_LABEL.to_owned(), "{".to_owned())]);
        assert!(matches!(
            status_from_labels(&labels, "ns").unwrap_err(),
            RecordError::Corrupt(_)
        ));
    }

    #[test]
    fn service_spec_mapping() {
        let s = spec(
            r#"{"service":"figlet","image":"figlet:1","envProcess":"figlet","constraints":["node.role == manager"],"limits":{"memory":"128Mi","cpu":"0.5"},"requests":{"cpu":"100m"},"readOnlyRootFilesystem":true}"#,
        );
        let secrets = [ResolvedSecret {
            name: "api-key".into(),
            docker_name: "api-key.1a2b".into(),
            id: "sid".into(),
        }];
        let svc = s.service_spec("fnet", &secrets, 2);
        assert_eq!(svc.name.as_deref(), Some("figlet"));
        assert!(svc.labels.as_ref().unwrap().contains_key(DEPLOYMENT_LABEL));
        assert_eq!(svc.labels.as_ref().unwrap()[NETWORK_SCOPE_LABEL], "fnet");
        assert_eq!(svc.mode.unwrap().replicated.unwrap().replicas, Some(2));
        let update = svc.update_config.unwrap();
        assert_eq!(
            update.order,
            Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST)
        );
        let task = svc.task_template.unwrap();
        let c = task.container_spec.unwrap();
        assert_eq!(c.image.as_deref(), Some("figlet:1"));
        assert_eq!(c.env.unwrap(), ["fprocess=figlet"]);
        assert_eq!(c.read_only, Some(true));
        assert_eq!(c.mounts.unwrap()[0].target.as_deref(), Some("/tmp"));
        assert_eq!(c.capability_drop.unwrap(), ["ALL"]);
        assert_eq!(c.privileges.unwrap().no_new_privileges, Some(true));
        assert!(!c.labels.unwrap().contains_key(DEPLOYMENT_LABEL));
        let secret = &c.secrets.unwrap()[0];
        assert_eq!(secret.secret_id.as_deref(), Some("sid"));
        assert_eq!(secret.secret_name.as_deref(), Some("api-key.1a2b"));
        let file = secret.file.as_ref().unwrap();
        assert_eq!(file.name.as_deref(), Some("/var/openfaas/secrets/api-key"));
        assert_eq!(file.mode, Some(0o444));
        let res = task.resources.unwrap();
        assert_eq!(
            res.limits.as_ref().unwrap().memory_bytes,
            Some(128 * 1024 * 1024)
        );
        assert_eq!(res.limits.as_ref().unwrap().nano_cpus, Some(500_000_000));
        assert_eq!(
            res.reservations.as_ref().unwrap().nano_cpus,
            Some(100_000_000)
        );
        assert_eq!(res.reservations.as_ref().unwrap().memory_bytes, None);
        assert_eq!(
            task.placement.unwrap().constraints.unwrap(),
            ["node.role == manager"]
        );
        assert_eq!(
            task.restart_policy.unwrap().condition,
            Some(TaskSpecRestartPolicyConditionEnum::ANY)
        );
        assert_eq!(task.networks.unwrap()[0].target.as_deref(), Some("fnet"));

        let plain = spec(r#"{"service":"a","image":"i"}"#).service_spec("n", &[], 1);
        let task = plain.task_template.unwrap();
        assert_eq!(
            task.placement.unwrap().constraints.unwrap(),
            ["node.platform.os == linux"]
        );
        assert!(task.container_spec.unwrap().mounts.unwrap().is_empty());
        let res = task.resources.unwrap();
        assert!(res.limits.is_none() && res.reservations.is_none());
    }

    #[test]
    fn container_mapping_is_hardened() {
        let s = spec(
            r#"{"service":"figlet","image":"figlet:1","limits":{"memory":"64m","cpu":"1"},"requests":{"memory":"32Mi","cpu":"500m"},"readOnlyRootFilesystem":true}"#,
        );
        let files = [(
            "api-key".to_owned(),
            std::path::PathBuf::from("/data/secrets/api-key"),
        )];
        let body = s.container_body("fnet", &files, HashMap::from([("k".into(), "v".into())]));
        assert_eq!(body.image.as_deref(), Some("figlet:1"));
        let host = body.host_config.unwrap();
        assert_eq!(host.cap_drop.unwrap(), ["ALL"]);
        assert_eq!(host.security_opt.unwrap(), ["no-new-privileges:true"]);
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.memory, Some(64 * 1024 * 1024));
        assert_eq!(host.nano_cpus, Some(1_000_000_000));
        assert_eq!(host.memory_reservation, Some(32 * 1024 * 1024));
        assert_eq!(host.cpu_shares, Some(512));
        assert_eq!(host.network_mode.as_deref(), Some("fnet"));
        assert_eq!(
            host.restart_policy.unwrap().name,
            Some(RestartPolicyNameEnum::UNLESS_STOPPED)
        );
        let mounts = host.mounts.unwrap();
        assert_eq!(mounts[0].target.as_deref(), Some("/tmp"));
        assert_eq!(
            mounts[1].target.as_deref(),
            Some("/var/openfaas/secrets/api-key")
        );
        assert_eq!(mounts[1].source.as_deref(), Some("/data/secrets/api-key"));
        assert_eq!(mounts[1].read_only, Some(true));
        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(
            endpoints["fnet"].aliases.as_deref(),
            Some(&["figlet".to_owned()][..])
        );
    }
}
