//! The `chat-api` command line: `serve` (default), `migrate`, `createsuperuser`, `check-ledger`.

use std::{io::BufRead, process::ExitCode, sync::Arc};

use adapters::{SystemClock, crypto::BcryptHasher};
use application::{AppError, Register};
use clap::{Parser, Subcommand};
use domain::{Pricing, ledger::audit};
use ports::LedgerRepository;

use crate::{
    Application, Settings,
    startup::{StartupError, open_storage},
    telemetry,
};

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
    /// Verify that no balance is negative and every balance equals its ledger sum.
    CheckLedger,
}

/// Environment variable a script may use to pass the superuser password.
const SUPERUSER_PASSWORD_VAR: &str = "CHAT_API_SUPERUSER_PASSWORD";

/// Parses arguments, runs the command, and maps its outcome to an exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    // Reads FAILPOINTS when built with the `failpoints` feature (crash tests); a no-op otherwise.
    let _failpoints = fail::FailScenario::setup();
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings).await,
            Command::Migrate => open_storage(&settings.database)
                .await
                .map(|_| ExitCode::SUCCESS)
                .map_err(|e| e.to_string()),
            Command::Createsuperuser {
                username,
                password_stdin,
            } => create_superuser(settings, username, password_stdin).await,
            Command::CheckLedger => check_ledger(settings).await,
        }
    });
    outcome.unwrap_or_else(|message| {
        eprintln!("error: {message}");
        ExitCode::from(2)
    })
}

async fn serve(settings: Settings) -> Result<ExitCode, String> {
    let application = Application::build(settings)
        .await
        .map_err(|e: StartupError| e.to_string())?;
    application
        .run_until_stopped()
        .await
        .map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

async fn create_superuser(
    settings: Settings,
    username: Option<String>,
    password_stdin: bool,
) -> Result<ExitCode, String> {
    let username = match username {
        Some(username) => username,
        None => prompt_line("Username: ")?,
    };
    let password = if password_stdin {
        read_stdin_line()?
    } else if let Ok(password) = std::env::var(SUPERUSER_PASSWORD_VAR) {
        password
    } else {
        let password = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Password (again): ").map_err(|e| e.to_string())?;
        if password != again {
            return Err("the passwords do not match".into());
        }
        password
    };
    let storage = Arc::new(
        open_storage(&settings.database)
            .await
            .map_err(|e| e.to_string())?,
    );
    let pricing = Pricing::new(
        settings.ledger.signup_grant,
        settings.ledger.price_per_message,
    )
    .map_err(|e| e.to_string())?;
    let cost = settings.auth.bcrypt_cost;
    let hasher = tokio::task::spawn_blocking(move || BcryptHasher::new(cost))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let register = Register::new(storage, Arc::new(hasher), Arc::new(SystemClock), pricing);
    match register.execute(&username, &password, true).await {
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
            Err(lines.join("\n"))
        }
        Err(other) => Err(other.to_string()),
    }
}

async fn check_ledger(settings: Settings) -> Result<ExitCode, String> {
    let storage = open_storage(&settings.database)
        .await
        .map_err(|e| e.to_string())?;
    let totals = storage.ledger_totals().await.map_err(|e| e.to_string())?;
    let mut violations = 0usize;
    for user in &totals {
        for violation in audit(user.balance, user.entries_sum) {
            violations += 1;
            println!(
                "VIOLATION user {} ({:?}): {violation}",
                user.user_id.0, user.username
            );
        }
    }
    let total_balance: i64 = totals.iter().map(|t| t.balance.get()).sum();
    println!(
        "checked {} users, {} tokens in balances: {}",
        totals.len(),
        total_balance,
        if violations == 0 {
            "ledger consistent".to_owned()
        } else {
            format!("{violations} violations")
        }
    );
    Ok(if violations == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn prompt_line(prompt: &str) -> Result<String, String> {
    eprint!("{prompt}");
    read_stdin_line()
}

fn read_stdin_line() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
