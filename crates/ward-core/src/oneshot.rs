//! `ward run`: the decisions of a one-off command, apart from its processes. Its exit code
//! is the command's, as `timeout(1)` reports it: 124 when the time ran out, 128+N for a
//! death by signal N.

use crate::{ExitStatus, config::Rlimits};

/// The exit code of `timeout(1)` when the time ran out.
pub const TIMED_OUT: i32 = 124;

/// The exit code `ward run` passes on.
pub fn exit_code(status: ExitStatus, timed_out: bool) -> i32 {
    if timed_out {
        return TIMED_OUT;
    }
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal.number(),
        (None, None) => 1,
    }
}

/// `--limit NAME=VALUE`, added to `limits`.
pub fn add_limit(limits: &mut Rlimits, spec: &str) -> Result<(), String> {
    let Some((name, value)) = spec.split_once('=') else {
        return Err(format!(
            "--limit {spec}: write NAME=VALUE, such as nofile=1024"
        ));
    };
    let value = match value.trim() {
        "unlimited" | "infinity" => u64::MAX,
        v => v
            .parse()
            .map_err(|_| format!("--limit {spec}: `{v}` is not a number (or `unlimited`)"))?,
    };
    let slot = match name.trim() {
        "nofile" => &mut limits.nofile,
        "core" => &mut limits.core,
        "cpu" => &mut limits.cpu,
        "fsize" => &mut limits.fsize,
        "nproc" => &mut limits.nproc,
        "memlock" => &mut limits.memlock,
        "as" => &mut limits.r#as,
        "stack" => &mut limits.stack,
        other => {
            return Err(format!(
                "--limit {spec}: unknown limit `{other}`; the limits are nofile, core, cpu, \
                 fsize, nproc, memlock, as and stack"
            ));
        }
    };
    *slot = Some(value);
    Ok(())
}

/// `--env KEY=VALUE`.
pub fn env_pair(spec: &str) -> Result<(String, String), String> {
    match spec.split_once('=') {
        Some((k, v)) if crate::expand::is_name(k) => Ok((k.to_string(), v.to_string())),
        _ => Err(format!(
            "--env {spec}: write KEY=VALUE, KEY being letters, digits and `_`, not starting with a digit"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Signal;

    #[test]
    fn exit_codes_are_what_timeout_reports() {
        assert_eq!(exit_code(ExitStatus::Exited(3), false), 3);
        assert_eq!(exit_code(ExitStatus::Exited(0), true), 124);
        assert_eq!(
            exit_code(
                ExitStatus::Signaled {
                    signal: Signal::KILL,
                    core_dumped: false
                },
                false
            ),
            137
        );
    }

    #[test]
    fn limits_and_env_are_checked() {
        let mut l = Rlimits::default();
        add_limit(&mut l, "nofile=1024").unwrap();
        add_limit(&mut l, "core=unlimited").unwrap();
        assert_eq!((l.nofile, l.core), (Some(1024), Some(u64::MAX)));
        assert!(
            add_limit(&mut l, "heap=1")
                .unwrap_err()
                .contains("unknown limit `heap`")
        );
        assert!(
            add_limit(&mut l, "nofile")
                .unwrap_err()
                .contains("NAME=VALUE")
        );
        assert!(
            add_limit(&mut l, "nofile=x")
                .unwrap_err()
                .contains("not a number")
        );
        assert_eq!(env_pair("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert!(env_pair("1A=x").is_err());
    }
}
