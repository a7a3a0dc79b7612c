//! The command line, as clap reads it.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// A process supervisor that knows each process for certain and explains every death.
#[derive(Debug, Parser)]
#[command(name = "ward", version, propagate_version = true)]
pub struct Cli {
    /// The config file [default: ./ward.toml].
    #[arg(short = 'c', long = "config", global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// How long to wait for the daemon's answer (`0`: without limit) [default: 30s; for
    /// stop and restart 30s plus the longest stop_timeout involved, for down 30s plus the
    /// longest chain of stop_timeouts, for backup 5m].
    #[arg(long, global = true, value_name = "DURATION", value_parser = crate::client::Timeout::parse)]
    pub timeout: Option<crate::client::Timeout>,

    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the daemon and every autostart service.
    Up {
        /// Detach: return once the daemon answers on its socket.
        #[arg(short = 'd', long = "detach")]
        detach: bool,
        /// Run as a container's init: SIGTERM, SIGINT and SIGQUIT stop everything in
        /// order, a second SIGTERM or SIGINT kills what is left, and the exit code follows
        /// `exit_code`. Implied when ward is PID 1.
        #[arg(long)]
        init: bool,
    },
    /// Check the config file and start nothing.
    Check,
    /// A probe for an orchestrator: exit 0 if ward is ready (every service meant to run
    /// is ready, every task completed) or live (the daemon answers), 1 if not.
    #[command(group(clap::ArgGroup::new("probe").required(true).args(["ready", "live"])))]
    Health {
        /// Every service meant to run is ready.
        #[arg(long)]
        ready: bool,
        /// The daemon answers.
        #[arg(long)]
        live: bool,
    },
    /// Show services: state, pid, uptime, restarts, last exit.
    Status {
        /// Services to show [default: all].
        names: Vec<String>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Start services (a stopped or failed service is started afresh).
    Start(Targets),
    /// Stop services; they stay stopped until started again.
    Stop(Targets),
    /// Stop, then start services.
    Restart(Targets),
    /// Send a signal to the main process of services.
    Signal {
        /// The service.
        name: String,
        /// A name such as HUP, USR1, SIGTERM, or a number.
        signal: String,
    },
    /// Show service output.
    Logs {
        /// Services whose logs to show.
        names: Vec<String>,
        /// Keep printing new lines as they are written.
        #[arg(short = 'f', long)]
        follow: bool,
        /// How many lines to show from the end of each log.
        #[arg(short = 'n', long = "lines", default_value_t = 20)]
        lines: usize,
        /// Reopen every log file (after an external tool rotated them) and exit.
        #[arg(long)]
        reopen: bool,
        /// Write the lines' bytes as they are, also to a terminal (where control
        /// characters are otherwise shown escaped, as `\e[31m`, and names coloured).
        #[arg(long)]
        raw: bool,
        /// Every line of this time before now (such as `1h`), rotated files included.
        #[arg(long, value_name = "DURATION")]
        since: Option<String>,
        /// Only lines older than this time before now (such as `10m`).
        #[arg(long, value_name = "DURATION")]
        until: Option<String>,
        /// Only lines that hold this text.
        #[arg(long, value_name = "TEXT")]
        grep: Option<String>,
        /// Only what the services wrote on standard error.
        #[arg(long)]
        stderr: bool,
    },
    /// A shell's completions for ward, on stdout: `ward completions bash >
    /// /etc/bash_completion.d/ward`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// ward's manual page, in roff, on stdout: `ward man | man -l -`.
    Man,
    /// Another supervisor's config as a ward.toml, on stdout or into a file: every
    /// setting mapped, every one without an equivalent named on stderr and in a comment.
    Import {
        #[command(subcommand)]
        from: ImportSource,
    },
    /// The config as another engine's files: every setting that carries over carried
    /// over, every other named on stderr and in a comment.
    Export {
        #[command(subcommand)]
        to: ExportTarget,
    },
    /// A live view of every unit: state, health, CPU, memory, restarts, last crash;
    /// keys to start, stop and restart one, and to read its log and its why.
    Top,
    /// Re-read the config and apply only what changed.
    Reload {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Stop every service, then the daemon.
    Down,
    /// Why a service's last run ended: class, severity, evidence, what ward does next.
    Why {
        /// The unit (`web`, or `web.2` for an instance).
        name: String,
        /// An earlier run, from the journal: 1 is the last run that ended, 2 the one
        /// before it, and so on.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        run: Option<u32>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// What happened to a service: runs, exits, crashes, recoveries, actions.
    History {
        /// The service (a service with instances shows all of them); without one, every
        /// unit, in the order things happened (a stack's start order, say).
        name: Option<String>,
        /// Only what happened in this time before now, such as `1h` or `30m`.
        #[arg(long)]
        since: Option<String>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Run one command as ward runs a service (argv, a clean environment, a session of its
    /// own, its limits), its output streamed, its exit code passed on: 124 when
    /// `--timeout` ran out (the whole process tree then gets SIGTERM, and SIGKILL after
    /// `--kill-after`), 128+N for a death by signal N. With or without a daemon.
    Run {
        /// After the timeout's SIGTERM, how long before SIGKILL.
        #[arg(long, default_value = "5s", value_name = "DURATION")]
        kill_after: String,
        /// A limit, `NAME=VALUE`: nofile, core, cpu (seconds), fsize (bytes); repeatable.
        #[arg(long = "limit", value_name = "NAME=VALUE")]
        limits: Vec<String>,
        /// The memory limit of a cgroup of the run's own, such as 512M or 1G.
        #[arg(long, value_name = "SIZE")]
        memory_max: Option<String>,
        /// Run it as this user (a name or a uid), in the user's groups; its capabilities
        /// go, as they do for a service with `user`.
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        /// An environment variable, `KEY=VALUE`; repeatable. The command gets these, PATH,
        /// and HOME, LANG and TZ when set, nothing else.
        #[arg(long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// The command and its arguments, after `--`.
        #[arg(required = true, last = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// The audit trail: who asked the daemon for what, refused connections, and every
    /// process it started; `ward audit verify` checks that no record was changed.
    Audit {
        /// `verify`: check the whole chain, and its end against the journal.
        #[command(subcommand)]
        check: Option<AuditCommand>,
        /// Only what happened in this time before now, such as `1h` or `30m`.
        #[arg(long)]
        since: Option<String>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Everything the journal holds, for all services, in time order; with `-f`, what
    /// happens from now on, as it happens.
    Events {
        /// Only what happened in this time before now [default: 1h; with `-f`, nothing
        /// of the past unless given].
        #[arg(long)]
        since: Option<String>,
        /// Follow the daemon's live events until it stops (`GET /v1/events`).
        #[arg(short = 'f', long)]
        follow: bool,
        /// With `-f`: only the events of this service or unit; repeatable.
        #[arg(long = "service", value_name = "NAME")]
        services: Vec<String>,
        /// With `-f`: only events of this kind (start, exit, crash, health, recovery,
        /// state, action, daemon); repeatable, or comma-separated.
        #[arg(long = "kind", value_name = "KIND")]
        kinds: Vec<String>,
        /// Print JSON for scripts (with `-f`, one event per line).
        #[arg(long)]
        json: bool,
    },
    /// Back the journal up now (verified; the newest `journal_backups` are kept).
    Backup,
    /// Put a journal backup in place of the journal (the daemon must be stopped).
    Restore {
        /// The backup file.
        file: PathBuf,
    },
    /// Check the state dir, daemon, socket, journal, backups and PID files.
    Doctor {
        /// Fix what can be fixed: stale PID file and socket, a damaged journal.
        #[arg(long)]
        repair: bool,
    },
    /// Inspect and clean PID files (ward's own and other programs').
    #[command(subcommand)]
    Pid(PidCommand),
}

/// `ward audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check that no record was edited, removed or reordered; exit 1 naming the first
    /// place where one was.
    Verify,
}

/// `ward pid …`: works on files, without a daemon or a config.
#[derive(Debug, Subcommand)]
pub enum PidCommand {
    /// Say for each file whether it names the process it was written for.
    Check {
        /// PID files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Remove the stale PID files (`*.pid`) of a directory, saying why for each.
    Clean {
        /// The directory.
        dir: PathBuf,
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// Which services a start, stop or restart is for.
#[derive(Debug, Args)]
pub struct Targets {
    /// Service names (a service with instances names all of them).
    pub names: Vec<String>,
    /// Every service.
    #[arg(long, conflicts_with = "names")]
    pub all: bool,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// What `ward export` writes.
#[derive(Debug, clap::Subcommand)]
pub enum ExportTarget {
    /// Kubernetes manifests: a Deployment per service (a StatefulSet with `data`, a Job
    /// for a task, a CronJob for a schedule), or one Pod.
    Kubernetes {
        /// The image every container runs: it must hold the services' programs.
        #[arg(long)]
        image: String,
        /// `deployments`: an object per service; `pod`: one Pod, a container per unit.
        #[arg(long, value_enum, default_value = "deployments")]
        layout: KubeLayout,
        /// Write the files into this directory instead of printing them.
        #[arg(short = 'o', long = "output", value_name = "DIR")]
        output: Option<std::path::PathBuf>,
    },
    /// One systemd unit per unit (and a timer per scheduled task), or with `--self` the
    /// unit that runs ward itself.
    Systemd {
        /// Write the files into this directory instead of printing them.
        #[arg(short = 'o', long = "output", value_name = "DIR")]
        output: Option<std::path::PathBuf>,
        /// User units, for `systemctl --user`.
        #[arg(long)]
        user: bool,
        /// The unit that runs ward on this config (`ward.service`), instead of the
        /// services' units.
        #[arg(long = "self")]
        itself: bool,
    },
}

/// What `ward import` reads.
#[derive(Debug, clap::Subcommand)]
pub enum ImportSource {
    /// supervisord's config, with the files its [include] names.
    Supervisord {
        /// supervisord.conf.
        file: std::path::PathBuf,
        /// Write the config here instead of printing it (an existing file is left alone).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// pm2's ecosystem file (`.json`, or `.config.js` read without running JavaScript).
    Pm2 {
        /// ecosystem.config.js or .json.
        file: std::path::PathBuf,
        /// Write the config here instead of printing it (an existing file is left alone).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// A Procfile (foreman, honcho, Heroku).
    Procfile {
        /// The Procfile.
        file: std::path::PathBuf,
        /// A dotenv file every process gets, as `foreman start --env` gives it.
        #[arg(long = "env", value_name = "FILE")]
        env: Option<String>,
        /// Write the config here instead of printing it (an existing file is left alone).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
}

/// `ward export kubernetes --layout`.
#[derive(Copy, Clone, Debug, clap::ValueEnum)]
pub enum KubeLayout {
    /// An object per service.
    Deployments,
    /// One Pod, a container per unit.
    Pod,
}
