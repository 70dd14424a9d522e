//! The command line: every subcommand, flag and its help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The exit-code table, printed at the end of `--help`.
const AFTER_HELP: &str = "\
Exit codes: the remote command's code passes through (exec); 124 a timeout; 125 an error of
agentcore-rs or of the service (one line on stderr, with the service's request id); 130
interrupted; 141 stdout closed by its reader. Configuration:
~/.config/agentcore-rs/config.toml (region, endpoint, output, runtime, profile). See
docs/CLI.md.";

/// A command-line tool for Amazon Bedrock AgentCore Runtime: run commands and shells in
/// sessions, invoke agents, manage runtimes, move files, follow processes, preview web apps,
/// race and bench agents. Works against AWS and against agentcore-local with no account.
#[derive(Parser, Debug)]
#[command(
    name = "agentcore-rs",
    version,
    about,
    after_help = AFTER_HELP,
    max_term_width = 100
)]
pub struct Cli {
    /// Global options.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// AWS profile for credentials and region [env: AWS_PROFILE].
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region [env: AWS_REGION].
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Endpoint of both planes, e.g. http://127.0.0.1:8080 for agentcore-local (plain http
    /// only on loopback) [env: AGENTCORE_ENDPOINT_URL].
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Output format of commands that print data (default: table, or `output` in the
    /// config file).
    #[arg(long, short = 'o', global = true, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

/// How data is printed.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// One JSON document (the service's member names).
    Json,
    /// Aligned columns with a header.
    Table,
    /// Tab-separated values without a header, for scripts.
    Text,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a command in a session and stream its output; or, with --it, an interactive shell.
    Exec(ExecArgs),
    /// Invoke the agent of a runtime and stream its reply.
    Invoke(InvokeArgs),
    /// Create, read, update, delete, list and wait for agent runtimes.
    #[command(subcommand)]
    Runtimes(RuntimesCommand),
    /// Create, read, update, delete and list a runtime's endpoints.
    #[command(subcommand)]
    Endpoints(EndpointsCommand),
    /// Stop sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// A runtime's state, versions and endpoints at a glance.
    Status(StatusArgs),
    /// Copy files and directories between this machine and a session (`SESSION:PATH`).
    Cp(CpArgs),
    /// List the processes of a session (started with `exec --detach`).
    Ps(SessionArgs),
    /// Print the output of a process of a session; -f follows it until it exits.
    Logs(LogsArgs),
    /// Send a signal to a process of a session.
    Kill(KillArgs),
    /// Serve a port of a session on this machine (the local preview proxy) until Ctrl-C.
    Preview(PreviewArgs),
    /// Race agents on one task: the first whose check passes wins (spec file).
    Race(ExperimentArgs),
    /// Bench a matrix of agent configurations: CSV, JSON, SVG and a Harbor job (spec file).
    Bench(ExperimentArgs),
    /// Watch an agent at work: its reply and log as they come; leave it a note; attach.
    Watch(WatchArgs),
    /// Run a local AgentCore Runtime (agentcore-local, the same flags) with a runtime named
    /// `default`, until Ctrl-C.
    #[cfg(feature = "local")]
    Local(LocalArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff); with --dir, write the pages of every command there
    /// (agentcore-rs.1, agentcore-rs-exec.1, ...).
    Man {
        /// Write every page into this directory instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

/// Which runtime and session.
#[derive(Args, Debug, Clone, Default)]
pub struct Target {
    /// Runtime: a name, id or ARN [env: AGENTCORE_RUNTIME; else `runtime` in the config file;
    /// else, on a local endpoint, the runtime named `default`].
    #[arg(long, short = 'r', value_name = "NAME|ARN")]
    pub runtime: Option<String>,
    /// Endpoint (qualifier) of the runtime to call [default: DEFAULT].
    #[arg(long, value_name = "NAME")]
    pub qualifier: Option<String>,
}

/// `exec`.
#[derive(Args, Debug)]
pub struct ExecArgs {
    #[command(flatten)]
    pub target: Target,
    /// Session to run in (the same id reaches the same session and its storage); a new one
    /// when absent.
    #[arg(long, short = 's', value_name = "ID")]
    pub session_id: Option<String>,
    /// Give up after this many seconds (1..=3600); the exit code is then 124.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,
    /// Print one JSON object {exitCode, status, stdout, stderr} instead of streaming (the
    /// same as --output json); still exits with the command's code.
    #[arg(long)]
    pub json: bool,
    /// An interactive shell: raw terminal, resize, Ctrl+] detaches (the shell keeps running)
    /// and prints the command that re-attaches.
    #[arg(long = "it", short = 'i', conflicts_with_all = ["json", "detach"])]
    pub it: bool,
    /// Re-attach this shell (with --it and --session-id).
    #[arg(long, value_name = "ID", requires = "it")]
    pub shell_id: Option<String>,
    /// OAuth bearer token for the shell's WebSocket (a runtime with a JWT authorizer).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "AGENTCORE_BEARER_TOKEN",
        hide_env_values = true,
        requires = "it"
    )]
    pub bearer_token: Option<Secret>,
    /// Start the command as a detached process of the session and print its id (see ps,
    /// logs, kill).
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// The id of the detached process (with --detach) [default: generated].
    #[arg(long, value_name = "ID", requires = "detach")]
    pub process_id: Option<String>,
    /// Working directory of the detached process.
    #[arg(long, value_name = "DIR", requires = "detach")]
    pub cwd: Option<String>,
    /// Environment variable of the detached process, NAME=VALUE. Repeatable.
    #[arg(long, value_name = "NAME=VALUE", requires = "detach")]
    pub env: Vec<String>,
    /// The command, joined with spaces and run by `bash -c` (as AWS's `agentcore exec` does):
    /// quote a pipeline as one argument.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `invoke`.
#[derive(Args, Debug)]
pub struct InvokeArgs {
    #[command(flatten)]
    pub target: Target,
    /// Session to invoke (a new one when absent).
    #[arg(long, short = 's', value_name = "ID")]
    pub session_id: Option<String>,
    /// Extra request header, NAME=VALUE (e.g. X-Amzn-Bedrock-AgentCore-Runtime-Custom-*).
    /// Repeatable.
    #[arg(long = "header", short = 'H', value_name = "NAME=VALUE")]
    pub headers: Vec<String>,
    /// OAuth bearer token instead of SigV4 (a runtime with a JWT authorizer).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "AGENTCORE_BEARER_TOKEN",
        hide_env_values = true
    )]
    pub bearer_token: Option<Secret>,
    /// Content-Type of the payload [default: application/json].
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
    /// Accept header, e.g. text/event-stream.
    #[arg(long, value_name = "TYPE")]
    pub accept: Option<String>,
    /// Print the reply's bytes exactly as they come (server-sent events included).
    #[arg(long)]
    pub raw: bool,
    /// Talk to the agent over its WebSocket: the payload is one message (with `-`, each line
    /// of stdin is one); replies are printed as they come.
    #[arg(long)]
    pub ws: bool,
    /// With --ws: close once no message came for this many seconds after the input ended.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, requires = "ws")]
    pub idle_timeout: f64,
    /// The payload, or `-` to read it from stdin.
    #[arg(value_name = "PAYLOAD|-")]
    pub payload: String,
}

/// `runtimes`.
#[derive(Subcommand, Debug)]
pub enum RuntimesCommand {
    /// Create a runtime from a settings file (JSON or TOML, the service's member names) and
    /// flags.
    Create(RuntimeSettings),
    /// A runtime's settings (every member).
    Get {
        /// Name, id or ARN.
        runtime: String,
        /// A specific version.
        #[arg(long, value_name = "N")]
        version: Option<String>,
    },
    /// Every runtime.
    List,
    /// Update a runtime: its current settings, then the file's members, then the flags.
    Update {
        /// Name, id or ARN.
        runtime: String,
        #[command(flatten)]
        settings: RuntimeSettings,
    },
    /// Delete a runtime (or one version).
    Delete {
        /// Name, id or ARN.
        runtime: String,
        /// Delete this version only.
        #[arg(long, value_name = "N")]
        version: Option<String>,
    },
    /// A runtime's versions.
    Versions {
        /// Name, id or ARN.
        runtime: String,
    },
    /// Wait until a runtime is READY (fails at once on *_FAILED).
    Wait {
        /// Name, id or ARN.
        runtime: String,
        /// Give up after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 900)]
        timeout: u64,
    },
}

/// What create and update take: a file of settings and flags over it.
#[derive(Args, Debug, Clone)]
pub struct RuntimeSettings {
    /// Settings file: JSON or TOML (by extension; `-` reads JSON from stdin) with the
    /// members of CreateAgentRuntime / UpdateAgentRuntime (camelCase). Unknown members are
    /// sent as they are.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// agentRuntimeName (create).
    #[arg(long)]
    pub name: Option<String>,
    /// The container image (agentRuntimeArtifact.containerConfiguration.containerUri).
    #[arg(long, value_name = "URI")]
    pub container_uri: Option<String>,
    /// roleArn.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// Adds session storage at this mount path (/mnt/NAME).
    #[arg(long, value_name = "PATH")]
    pub session_storage: Option<String>,
    /// Adds an environment variable, NAME=VALUE. Repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// description.
    #[arg(long)]
    pub description: Option<String>,
    /// Wait until the runtime is READY.
    #[arg(long)]
    pub wait: bool,
}

/// `endpoints`.
#[derive(Subcommand, Debug)]
pub enum EndpointsCommand {
    /// Create an endpoint from a settings file and flags.
    Create {
        /// Name, id or ARN of the runtime.
        runtime: String,
        #[command(flatten)]
        settings: EndpointSettings,
    },
    /// An endpoint.
    Get {
        /// Name, id or ARN of the runtime.
        runtime: String,
        /// Endpoint name.
        name: String,
    },
    /// A runtime's endpoints.
    List {
        /// Name, id or ARN of the runtime.
        runtime: String,
    },
    /// Update an endpoint from a settings file and flags.
    Update {
        /// Name, id or ARN of the runtime.
        runtime: String,
        #[command(flatten)]
        settings: EndpointSettings,
    },
    /// Delete an endpoint.
    Delete {
        /// Name, id or ARN of the runtime.
        runtime: String,
        /// Endpoint name.
        name: String,
    },
}

/// What endpoint create and update take.
#[derive(Args, Debug, Clone)]
pub struct EndpointSettings {
    /// Endpoint name (or `name` in the file).
    pub name: Option<String>,
    /// Settings file: JSON or TOML with the members of CreateAgentRuntimeEndpoint /
    /// UpdateAgentRuntimeEndpoint (camelCase).
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// agentRuntimeVersion: the version it serves.
    #[arg(long = "target-version", value_name = "N")]
    pub version: Option<String>,
    /// description.
    #[arg(long)]
    pub description: Option<String>,
}

/// `sessions`.
#[derive(Subcommand, Debug)]
pub enum SessionsCommand {
    /// Stop a session now (its storage is kept).
    Stop {
        #[command(flatten)]
        target: Target,
        /// The session.
        #[arg(value_name = "SESSION_ID")]
        session_id: String,
    },
    /// Stop every session a session ledger lists as not stopped (after a crash).
    StopAll {
        /// The ledger (JSON Lines, written by race, bench and the SDK's experiments).
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
    },
}

/// `status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: Target,
}

/// Commands on one session.
#[derive(Args, Debug)]
pub struct SessionArgs {
    #[command(flatten)]
    pub target: Target,
    /// The session.
    #[arg(long, short = 's', value_name = "ID")]
    pub session_id: String,
}

/// `cp`.
#[derive(Args, Debug)]
#[command(
    after_help = "A path in a session is SESSION_ID:PATH, or :PATH for the session of \
--session-id; a path that starts with /, ./ or ../ is always local. Directories are copied \
whole (as tar, with modes and symlinks)."
)]
pub struct CpArgs {
    #[command(flatten)]
    pub target: Target,
    /// The session of `:PATH` arguments.
    #[arg(long, short = 's', value_name = "ID")]
    pub session_id: Option<String>,
    /// Source: a local path or SESSION_ID:PATH.
    pub source: String,
    /// Destination: a local path or SESSION_ID:PATH.
    pub destination: String,
}

/// `logs`.
#[derive(Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    pub session: SessionArgs,
    /// Keep printing until the process exits.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// The process id.
    pub process: String,
}

/// `kill`.
#[derive(Args, Debug)]
pub struct KillArgs {
    #[command(flatten)]
    pub session: SessionArgs,
    /// Signal: TERM, KILL, INT, HUP or a number.
    #[arg(long, short = 'S', default_value = "TERM")]
    pub signal: String,
    /// The process id.
    pub process: String,
}

/// `preview`.
#[derive(Args, Debug)]
pub struct PreviewArgs {
    #[command(flatten)]
    pub target: Target,
    /// The session whose port to serve.
    #[arg(long, short = 's', value_name = "ID")]
    pub session_id: String,
    /// The port in the session (one of the runtime's allowedPorts).
    #[arg(long, short = 'p')]
    pub port: u16,
    /// Local address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// Require a token (printed once in the URL) from the browser.
    #[arg(long)]
    pub token: bool,
    /// The session endpoint URL, when known; otherwise an invocation of the agent (with
    /// --payload) fetches it.
    #[arg(long, value_name = "URL")]
    pub session_endpoint: Option<String>,
    /// Payload of the invocation that fetches the session endpoint.
    #[arg(long, default_value = "{}")]
    pub payload: String,
    /// Stop after this many seconds instead of at Ctrl-C.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
}

/// `race` and `bench`.
#[derive(Args, Debug)]
pub struct ExperimentArgs {
    /// Runtime of contenders that name none: a name, id or ARN (else the spec's `runtime`,
    /// AGENTCORE_RUNTIME, the config file, or a local endpoint's `default`).
    #[arg(long, short = 'r', value_name = "NAME|ARN")]
    pub runtime: Option<String>,
    /// Directory of the reports (overrides the spec's `output`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The spec file (TOML): see docs/CLI.md.
    pub spec: PathBuf,
}

/// `watch`.
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Runtime (else the spec's `runtime`, AGENTCORE_RUNTIME, the config file, or a local
    /// endpoint's `default`).
    #[arg(long, short = 'r', value_name = "NAME|ARN")]
    pub runtime: Option<String>,
    /// Watch this session (a new one when absent).
    #[arg(long, short = 's', value_name = "ID")]
    pub session_id: Option<String>,
    /// Leave the agent this note before it starts (the note file of the spec).
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Attach a shell to the agent's session in this terminal (Ctrl+] detaches; the agent
    /// goes on).
    #[arg(long)]
    pub attach: bool,
    /// The spec file (TOML): see docs/CLI.md.
    pub spec: PathBuf,
}

/// `local`: agentcore-local's own command line.
#[cfg(feature = "local")]
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LocalArgs {
    /// Something other than serving.
    #[command(subcommand)]
    pub command: Option<agentcore_local::cli::Command>,
    /// How to serve.
    #[command(flatten)]
    pub serve: agentcore_local::cli::ServeArgs,
    /// Do not create the runtime named `default` (with session storage at /mnt/workspace).
    #[arg(long)]
    pub no_default_runtime: bool,
}

/// A secret from the command line (`--bearer-token`): `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, to send.
    pub fn expose(&self) -> String {
        self.0.clone()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    #[test]
    fn a_bearer_token_never_shows_in_debug() {
        use clap::Parser;
        for args in [
            [
                "agentcore-rs",
                "exec",
                "--it",
                "--bearer-token",
                "sk-SECRET-1",
            ]
            .as_slice(),
            [
                "agentcore-rs",
                "invoke",
                "--bearer-token",
                "sk-SECRET-1",
                "{}",
            ]
            .as_slice(),
        ] {
            let cli = super::Cli::try_parse_from(args).unwrap();
            let shown = format!("{cli:?}");
            assert!(!shown.contains("sk-SECRET-1"), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
    }
}
