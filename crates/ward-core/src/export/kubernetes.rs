//! `ward export kubernetes --image IMAGE`: the config as manifests. With the
//! `deployments` layout each service is a Deployment (a StatefulSet when it has `data`, a
//! Job when it is a task, a CronJob when it has a schedule); with `pod`, every service is
//! a container of one Pod. What Kubernetes has no place for is a warning and a comment.

use serde_json::{Map, Value as Json, json};
use std::time::Duration;

use super::yaml::document;
use super::{Exported, Notes};
use crate::config::{
    Condition, Config, HealthCheck, Probe, Readiness, RestartPolicy, ServiceConfig, ServiceType,
};

/// How the services are laid out.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// An object per service.
    Deployments,
    /// One Pod, a container per unit.
    Pod,
}

/// The manifests of `config`, every container running `image`.
pub fn export(config: &Config, image: &str, layout: Layout) -> Exported {
    let mut out = Exported::default();
    let mut objects: Vec<(String, Json, Vec<String>)> = Vec::new();
    match layout {
        Layout::Deployments => {
            for svc in config.services.values() {
                let mut w = Notes::new(&svc.name, true);
                let (kind, object) = workload(config, svc, image, &mut w, &mut objects);
                objects.push((format!("{}-{}", dns(&svc.name), kind), object, w.comments));
                out.warnings.extend(w.lines);
            }
        }
        Layout::Pod => {
            let mut w = Notes::new("*", true);
            let mut containers = Vec::new();
            let mut grace = Duration::ZERO;
            for inst in config.instances() {
                let svc = &inst.service;
                let mut notes = Notes::new(&svc.name, true);
                if !svc.depends_on.is_empty() {
                    notes.not(
                        "depends_on",
                        "the containers of one Pod start together; the program must wait for what it needs itself",
                    );
                }
                if svc.kind == ServiceType::Oneshot {
                    notes.not(
                        "type",
                        "a task in a Pod is restarted with it (restartPolicy: Always)",
                    );
                }
                grace = grace.max(svc.stop_timeout);
                let mut c = container(svc, image, &mut notes);
                c["name"] = json!(dns(&inst.name));
                containers.push(c);
                out.warnings.extend(notes.lines);
                w.comments.extend(notes.comments);
            }
            let pod = json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "ward", "labels": {"app.kubernetes.io/managed-by": "ward-export"}},
                "spec": {
                    "containers": containers,
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": grace.as_secs().max(1),
                }
            });
            objects.push(("ward-pod".into(), pod, w.comments));
        }
    }
    for (name, object, comments) in objects {
        let mut text = String::from("# Written by `ward export kubernetes`.\n");
        for c in comments {
            text.push_str(&format!("# {c}\n"));
        }
        text.push_str(&document(&object));
        out.files.push((format!("{name}.yaml"), text));
    }
    out
}

/// A name Kubernetes accepts (DNS-1123 label): lowercase, `-` for anything else.
fn dns(name: &str) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    s.trim_matches('-').chars().take(63).collect()
}

/// A Job's spec (also a CronJob's job template): the pod, restarted as the task's
/// `restart` says, at most `start_limit.burst` times.
fn job_spec(svc: &ServiceConfig, mut pod: Json) -> Json {
    pod["restartPolicy"] = json!(job_restart(svc));
    json!({
        "backoffLimit": svc.start_limit.burst,
        "template": {"metadata": {"labels": labels(svc)}, "spec": pod},
    })
}

/// The Service in front of `name`'s pods, with `spec`.
fn service_object(name: &str, svc: &ServiceConfig, spec: Json) -> (String, Json, Vec<String>) {
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels(svc)},
        "spec": spec,
    });
    (format!("{name}-service"), service, Vec::new())
}

fn labels(svc: &ServiceConfig) -> Json {
    json!({"app.kubernetes.io/name": dns(&svc.name), "app.kubernetes.io/managed-by": "ward-export"})
}

/// The object of one service, and its kind in lowercase.
fn workload(
    config: &Config,
    svc: &ServiceConfig,
    image: &str,
    w: &mut Notes<'_>,
    extra: &mut Vec<(String, Json, Vec<String>)>,
) -> (&'static str, Json) {
    let name = dns(&svc.name);
    if name != svc.name {
        w.comments.push(format!(
            "named {name}: Kubernetes names are lowercase, with `-`"
        ));
    }
    let mut pod = json!({"containers": [container(svc, image, w)]});
    pod["terminationGracePeriodSeconds"] = json!(svc.stop_timeout.as_secs().max(1));
    let mut init = Vec::new();
    if let Some(argv) = &svc.lifecycle.pre_start {
        init.push(json!({"name": "pre-start", "image": image, "command": words(argv)}));
    }
    for dep in &svc.depends_on {
        let target = config.services.get(&dep.service);
        match target.and_then(|t| port_of(t)) {
            Some(port) => {
                let host = dns(&dep.service);
                init.push(json!({
                    "name": format!("wait-for-{host}"),
                    "image": "busybox:1.36",
                    "command": ["sh", "-c", format!("until nc -z {host} {port}; do sleep 1; done")],
                }));
                if dep.condition == Condition::Completed {
                    w.not("depends_on", &format!("`{}` to complete: an init container waits for its port, not for a Job", dep.service));
                }
            }
            None => w.not(
                "depends_on",
                &format!("`{}` has no port ward knows (port_base, a tcp or http probe) for an init container to wait for", dep.service),
            ),
        }
    }
    if !init.is_empty() {
        pod["initContainers"] = json!(init);
    }
    if let Some(schedule) = &svc.schedule {
        let fields = schedule.cron.text.split_whitespace().count();
        if fields == 6 {
            w.not(
                "schedule",
                "a CronJob's schedule has no seconds field: the seconds are dropped",
            );
        }
        let cron = if fields == 6 {
            schedule
                .cron
                .text
                .split_whitespace()
                .skip(1)
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            schedule.cron.text.clone()
        };
        let policy = match schedule.overlap {
            crate::schedule::Overlap::Skip => "Forbid",
            crate::schedule::Overlap::Kill => "Replace",
            crate::schedule::Overlap::Queue => {
                w.not("overlap", "a CronJob does not queue a run; Forbid skips it");
                "Forbid"
            }
        };
        let mut spec = json!({
            "schedule": cron,
            "concurrencyPolicy": policy,
            "jobTemplate": {"spec": job_spec(svc, pod)},
        });
        if let Some(tz) = &schedule.timezone {
            spec["timeZone"] = json!(tz);
        }
        if !schedule.catch_up {
            // A run missed by more than a minute is not made up.
            spec["startingDeadlineSeconds"] = json!(60);
        }
        return ("cronjob", object("batch/v1", "CronJob", &name, svc, spec));
    }
    if svc.kind == ServiceType::Oneshot {
        let spec = job_spec(svc, pod);
        return ("job", object("batch/v1", "Job", &name, svc, spec));
    }
    let template = json!({"metadata": {"labels": labels(svc)}, "spec": pod});
    if svc.restart != RestartPolicy::Always {
        w.not(
            "restart",
            "a Deployment's pods always restart (restartPolicy: Always)",
        );
    }
    let selector = json!({"matchLabels": labels(svc)});
    if !svc.data.is_empty() {
        let paths: Vec<String> = svc.data.iter().map(|p| p.display().to_string()).collect();
        w.not(
            "data",
            &format!("a StatefulSet keeps each pod's identity; mount volumes at {} (volumeClaimTemplates)", paths.join(", ")),
        );
        let spec = json!({"clusterIP": "None", "selector": labels(svc)});
        extra.push(service_object(&name, svc, spec));
        let spec = json!({
            "serviceName": name,
            "replicas": svc.instances,
            "selector": selector,
            "template": template,
        });
        return (
            "statefulset",
            object("apps/v1", "StatefulSet", &name, svc, spec),
        );
    }
    if let Some(port) = port_of(svc) {
        let spec = json!({"selector": labels(svc), "ports": [{"port": port, "targetPort": port}]});
        extra.push(service_object(&name, svc, spec));
    }
    let spec = json!({"replicas": svc.instances, "selector": selector, "template": template});
    (
        "deployment",
        object("apps/v1", "Deployment", &name, svc, spec),
    )
}

fn job_restart(svc: &ServiceConfig) -> &'static str {
    match svc.restart {
        RestartPolicy::Never => "Never",
        RestartPolicy::OnFailure | RestartPolicy::Always => "OnFailure",
    }
}

fn object(api: &str, kind: &str, name: &str, svc: &ServiceConfig, spec: Json) -> Json {
    json!({
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "labels": labels(svc)},
        "spec": spec,
    })
}

/// The port a service listens on, as far as ward knows: `port_base`, or its probe's.
fn port_of(svc: &ServiceConfig) -> Option<u16> {
    if let Some(p) = svc.port_base {
        return Some(p);
    }
    let addr = match &svc.health.as_ref()?.probe {
        Probe::Tcp(addr) => addr.as_str(),
        Probe::Http(h) => h.addr.as_str(),
        Probe::Command(_) => return None,
    };
    addr.rsplit_once(':')?.1.parse().ok()
}

/// One container of the service.
fn container(svc: &ServiceConfig, image: &str, w: &mut Notes<'_>) -> Json {
    let argv = words(&svc.command);
    let mut c = Map::new();
    c.insert("name".into(), json!(dns(&svc.name)));
    c.insert("image".into(), json!(image));
    c.insert("command".into(), json!([argv[0]]));
    if argv.len() > 1 {
        c.insert("args".into(), json!(argv[1..]));
    }
    c.insert("workingDir".into(), json!(svc.cwd.display().to_string()));
    // The pod's name stands for the unit: replicas share one spec, and have no index.
    let mut env = vec![
        json!({"name": "WARD_SERVICE", "value": svc.name}),
        json!({"name": "WARD_UNIT", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}),
    ];
    let uses_instance = svc
        .command
        .iter()
        .chain(svc.env.values())
        .any(|a| a.contains("${WARD_INSTANCE}"));
    if uses_instance {
        w.not(
            "command",
            "${WARD_INSTANCE}: the replicas of a Deployment share one spec and have no index; WARD_UNIT holds the pod's name",
        );
    }
    if let Some(p) = svc.port_base {
        env.push(json!({"name": "PORT", "value": p.to_string()}));
        c.insert("ports".into(), json!([{"containerPort": p}]));
    }
    for (k, v) in &svc.env {
        env.push(json!({"name": k, "value": words(std::slice::from_ref(v))[0]}));
    }
    c.insert("env".into(), json!(env));
    let mut limits = Map::new();
    if let Some(m) = svc.memory_max {
        limits.insert("memory".into(), json!(m.to_string()));
    }
    if let Some(cpu) = svc.cpu_max {
        limits.insert(
            "cpu".into(),
            json!(format!("{}m", (cpu * 1000.0).round() as u64)),
        );
    }
    if !limits.is_empty() {
        c.insert("resources".into(), json!({"limits": limits}));
    }
    if let Some(h) = &svc.health {
        c.insert("livenessProbe".into(), probe(h));
        if svc.ready == Readiness::Healthy {
            c.insert("readinessProbe".into(), probe(h));
        }
    }
    match svc.ready {
        Readiness::Notify => w.not("ready", "\"notify\": Kubernetes has no sd_notify; give the service a health check for a readinessProbe"),
        Readiness::Running => w.not("ready", "\"running\" has no probe; a readinessProbe needs a health check"),
        Readiness::Started | Readiness::Healthy => {}
    }
    let mut lifecycle = Map::new();
    if let Some(argv) = &svc.lifecycle.post_start {
        lifecycle.insert(
            "postStart".into(),
            json!({"exec": {"command": words(argv)}}),
        );
    }
    if let Some(argv) = &svc.lifecycle.pre_stop {
        lifecycle.insert("preStop".into(), json!({"exec": {"command": words(argv)}}));
    }
    if !lifecycle.is_empty() {
        c.insert("lifecycle".into(), json!(lifecycle));
    }
    let mut security = Map::new();
    if svc.no_new_privs {
        security.insert("allowPrivilegeEscalation".into(), json!(false));
    }
    if let Some(caps) = svc.capabilities {
        let add: Vec<String> = caps
            .to_names()
            .iter()
            .map(|n| n.trim_start_matches("CAP_").to_string())
            .collect();
        security.insert("capabilities".into(), json!({"add": add, "drop": ["ALL"]}));
    }
    match (&svc.run_as.user, &svc.run_as.group) {
        (Some(u), g) if let Ok(uid) = u.parse::<u32>() => {
            security.insert("runAsUser".into(), json!(uid));
            if let Some(g) = g.as_ref().and_then(|g| g.parse::<u32>().ok()) {
                security.insert("runAsGroup".into(), json!(g));
            }
        }
        (Some(u), _) => w.not(
            "user",
            &format!(
                "`{u}`: Kubernetes takes a numeric runAsUser; the image decides what name it is"
            ),
        ),
        (None, _) => {}
    }
    c.insert("securityContext".into(), json!(security));
    // What a container has no place for.
    if svc.stop_signal != crate::Signal::TERM {
        w.not(
            "stop_signal",
            "Kubernetes 1.30 stops a container with SIGTERM; make the image's STOPSIGNAL the one",
        );
    }
    for (key, set, why) in [
        (
            "env_file",
            !svc.env_file.is_empty(),
            "put the file in a ConfigMap or Secret and use envFrom",
        ),
        (
            "secret_env",
            !svc.secret_env.is_empty(),
            "put secret values in a Secret and use valueFrom.secretKeyRef",
        ),
        (
            "inherit_env",
            !svc.inherit_env.is_empty(),
            "a container inherits nothing from ward; set the values in env",
        ),
        (
            "pids_max",
            svc.pids_max.is_some(),
            "the kubelet's podPidsLimit is per node, not per container",
        ),
        (
            "rlimits",
            svc.rlimits != Default::default(),
            "Kubernetes sets no rlimits per container",
        ),
        (
            "watchdog",
            svc.watchdog.is_some(),
            "a livenessProbe is Kubernetes' watchdog",
        ),
        (
            "recovery",
            !svc.recovery.is_empty() || svc.confidence_floor.is_some(),
            "Kubernetes restarts every crash alike, with its own backoff",
        ),
        (
            "repair",
            svc.repair.is_some(),
            "no repair step before a restart",
        ),
        (
            "on_failure",
            svc.on_failure.is_some(),
            "no command when a pod gives up",
        ),
        (
            "post_stop",
            svc.lifecycle.post_stop.is_some(),
            "Kubernetes has no hook after a container ends",
        ),
        (
            "pidfile",
            svc.pidfile.is_some(),
            "a container's main process is PID 1 of its namespace",
        ),
        (
            "private_tmp",
            svc.private_tmp,
            "every container has its own file system",
        ),
        (
            "umask",
            svc.umask != 0o022,
            "set it in the image's entrypoint",
        ),
    ] {
        if set {
            w.not(key, why);
        }
    }
    Json::Object(c)
}

fn probe(h: &HealthCheck) -> Json {
    let mut p = match &h.probe {
        Probe::Command(argv) => json!({"exec": {"command": words(argv)}}),
        Probe::Tcp(addr) => {
            let (host, port) = addr.rsplit_once(':').unwrap_or(("", addr));
            let mut t = json!({"port": port.parse::<u16>().unwrap_or(0)});
            if !matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "") {
                t["host"] = json!(host);
            }
            json!({"tcpSocket": t})
        }
        Probe::Http(http) => {
            let port = http
                .addr
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok());
            let mut g = json!({"path": http.path, "port": port.unwrap_or(80)});
            if !http.headers.is_empty() {
                g["httpHeaders"] = json!(
                    http.headers
                        .iter()
                        .map(|(k, v)| json!({"name": k, "value": v}))
                        .collect::<Vec<_>>()
                );
            }
            json!({"httpGet": g})
        }
    };
    p["periodSeconds"] = json!(h.interval.as_secs().max(1));
    p["timeoutSeconds"] = json!(h.timeout.as_secs().max(1));
    p["failureThreshold"] = json!(h.retries.max(1));
    if !h.start_period.is_zero() {
        p["initialDelaySeconds"] = json!(h.start_period.as_secs());
    }
    p
}

/// Words in Kubernetes' syntax: `${NAME}` as `$(NAME)`, which the kubelet expands from
/// the container's env, and a `$(` of text escaped as `$$(`.
fn words(argv: &[String]) -> Vec<String> {
    argv.iter()
        .map(|a| {
            let mut out = String::new();
            for part in crate::expand::parts(a) {
                match part {
                    crate::expand::Part::Text(t) => out.push_str(&t.replace("$(", "$$(")),
                    crate::expand::Part::Var(n) => out.push_str(&format!("$({n})")),
                }
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_become_kubernetes_references() {
        assert_eq!(
            words(&["--port=${PORT}".into(), "$(date)".into(), "$${X}".into()]),
            ["--port=$(PORT)", "$$(date)", "${X}"]
        );
    }
}
