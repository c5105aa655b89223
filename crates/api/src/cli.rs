//! The `chat-api` command line: `serve` (default), `migrate`, `createsuperuser`, `check-ledger`,
//! `throttle clear`.
//! Every subcommand loads and validates the settings first; `createsuperuser` and `check-ledger`
//! build the use cases the way the server does ([`Application::builder`]) and hold no logic of
//! their own. Failures print `error: …` (with their causes, never a secret) and exit with 2.

use std::{io::BufRead, process::ExitCode};

use anyhow::{Context, bail};
use application::AppError;
use clap::{Parser, Subcommand};

use crate::{Application, Settings, startup::open_storage, telemetry};

/// chat-api: chat turns sold for tokens.
#[derive(Debug, Parser)]
#[command(name = "chat-api", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending migrations and serve HTTP (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Create an administrator for the admin panel.
    Createsuperuser {
        /// Username; prompted for when absent.
        #[arg(long)]
        username: Option<String>,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Verify that no balance is negative, every balance equals its ledger sum, and every chat's
    /// recorded charge equals what its ledger entries took.
    CheckLedger,
    /// Manage the failed-login and sign-up throttles.
    Throttle {
        #[command(subcommand)]
        action: ThrottleAction,
    },
}

#[derive(Debug, Subcommand)]
enum ThrottleAction {
    /// Lift a username's failed-login locks: forget every failed login counted against it.
    Clear {
        /// The username (matched case-insensitively, like a login).
        #[arg(long)]
        username: String,
    },
}

/// Environment variable a script may use to pass the superuser password.
const SUPERUSER_PASSWORD_VAR: &str = "CHAT_API_SUPERUSER_PASSWORD";

/// Parses arguments, runs the command, and maps its outcome to an exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    // Reads FAILPOINTS when built with the `failpoints` feature (crash tests); a no-op otherwise.
    let _failpoints = fail::FailScenario::setup();
    execute(cli.command.unwrap_or(Command::Serve)).unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::from(2)
    })
}

fn execute(command: Command) -> anyhow::Result<ExitCode> {
    let settings = Settings::load()?;
    telemetry::init(&settings.log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match command {
            Command::Serve => serve(settings).await,
            Command::Migrate => {
                open_storage(&settings.database).await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::Createsuperuser {
                username,
                password_stdin,
            } => create_superuser(settings, username, password_stdin).await,
            Command::CheckLedger => check_ledger(settings).await,
            Command::Throttle {
                action: ThrottleAction::Clear { username },
            } => clear_login_lock(settings, &username).await,
        }
    })
}

async fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    let application = Application::build(settings).await?;
    application
        .run_until_stopped()
        .await
        .context("server failed")?;
    Ok(ExitCode::SUCCESS)
}

async fn create_superuser(
    settings: Settings,
    username: Option<String>,
    password_stdin: bool,
) -> anyhow::Result<ExitCode> {
    let username = match username {
        Some(username) => username,
        None => prompt_line("Username: ")?,
    };
    let password = if password_stdin {
        read_stdin_line()?
    } else if let Ok(password) = std::env::var(SUPERUSER_PASSWORD_VAR) {
        password
    } else {
        let password =
            rpassword::prompt_password("Password: ").context("cannot read the password")?;
        let again =
            rpassword::prompt_password("Password (again): ").context("cannot read the password")?;
        if password != again {
            bail!("the passwords do not match");
        }
        password
    };
    let services = Application::builder(settings).services().await?;
    match services
        .register
        .create_superuser(&username, &password)
        .await
    {
        Ok(user) => {
            println!(
                "Superuser {:?} created (id {}).",
                user.username.as_str(),
                user.id.0
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(AppError::Validation(errors)) => {
            let lines: Vec<String> = errors
                .fields()
                .iter()
                .flat_map(|(field, messages)| messages.iter().map(move |m| format!("{field}: {m}")))
                .collect();
            bail!(lines.join("\n"))
        }
        Err(other) => Err(other).context("cannot create the superuser"),
    }
}

async fn check_ledger(settings: Settings) -> anyhow::Result<ExitCode> {
    let services = Application::builder(settings).services().await?;
    let report = services
        .audit_ledger
        .execute()
        .await
        .context("cannot read the ledger")?;
    for found in &report.violations {
        println!(
            "VIOLATION user {} ({:?}): {}",
            found.user_id.0, found.username, found.violation
        );
    }
    println!(
        "checked {} users and {} chats, {} tokens in balances: {}; {} charges pending",
        report.accounts,
        report.chats,
        report.total_balance,
        if report.is_consistent() {
            "ledger consistent".to_owned()
        } else {
            format!("{} violations", report.violations.len())
        },
        report.pending_charges
    );
    Ok(if report.is_consistent() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn clear_login_lock(settings: Settings, username: &str) -> anyhow::Result<ExitCode> {
    let services = Application::builder(settings).services().await?;
    let forgotten = services
        .login_throttle
        .lift(username)
        .await
        .context("cannot clear the login throttle")?;
    println!("Forgot {forgotten} failed-login records of {username:?}; its login lock is lifted.");
    Ok(ExitCode::SUCCESS)
}

fn prompt_line(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    read_stdin_line()
}

fn read_stdin_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
