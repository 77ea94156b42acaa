//! `onsite-sync-server`: `serve` the API, or `user add` from the command line.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use onsite_domain::Role;
use onsite_sync_server::api::check_new_user;
use onsite_sync_server::auth::hash_password;
use onsite_sync_server::demo::{self, DEMO_LOGINS, DEMO_PASSWORD};
use onsite_sync_server::sqlite::SqliteStorage;
use onsite_sync_server::storage::{AccountChange, NewUser, Storage};

#[derive(Debug, Parser)]
#[command(name = "onsite-sync-server", version, about = "The Onsite sync server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the sync API.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ONSITE_LISTEN", default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
        /// Database: sqlite://PATH (default: onsite-server.db in the working directory).
        #[arg(long, env = "ONSITE_DB", default_value = "sqlite://onsite-server.db")]
        db: String,
        /// Seed realistic demo data into an empty database and print the demo logins.
        #[arg(long, env = "ONSITE_DEMO")]
        demo: bool,
        /// Digits of a record number's monthly sequence: 2 (01–99, the manuals') to 6.
        #[arg(long, env = "ONSITE_NUMBER_WIDTH", default_value_t = onsite_domain::numbering::DEFAULT_WIDTH, value_parser = parse_width)]
        number_width: u8,
    },
    /// After restoring the database from a backup: laptops then sync again from scratch
    /// and send again what they had sent since the backup was taken; every session ends.
    /// (A server finds most restores by itself, from the high-water file beside the
    /// database.)
    Restored {
        #[arg(long, env = "ONSITE_DB", default_value = "sqlite://onsite-server.db")]
        db: String,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        name: String,
        #[arg(long)]
        department: Option<String>,
        #[arg(long, env = "ONSITE_DB", default_value = "sqlite://onsite-server.db")]
        db: String,
    },
    /// Disable a user: they can no longer sign in and every session of theirs ends.
    Disable(Account),
    /// Let a disabled user sign in again.
    Enable(Account),
    /// Set a new password, read from standard input; every session of the user ends.
    Password(Account),
    /// End every session of a user: each of their devices signs in again.
    SignOut(Account),
}

/// The user a command acts on.
#[derive(Debug, clap::Args)]
struct Account {
    #[arg(long)]
    username: String,
    #[arg(long, env = "ONSITE_DB", default_value = "sqlite://onsite-server.db")]
    db: String,
}

fn parse_role(s: &str) -> Result<Role, String> {
    match s {
        "admin" => Ok(Role::Admin),
        "dispatcher" => Ok(Role::Dispatcher),
        "engineer" => Ok(Role::Engineer),
        _ => Err(format!(
            "{s:?} is not a role: use admin, dispatcher or engineer"
        )),
    }
}

fn open(db: &str, number_width: u8) -> Result<Arc<dyn Storage>> {
    if let Some(path) = db.strip_prefix("sqlite://") {
        let storage =
            SqliteStorage::open(&PathBuf::from(path)).with_context(|| format!("opening {db}"))?;
        storage.set_number_width(number_width);
        // Never a reason not to start: what waits is numbered at the next start.
        match storage.number_waiting_service_records(chrono::Utc::now()) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "{n} field service record(s) that waited for a wider sequence are numbered"
            ),
            Err(e) => tracing::warn!(
                error = %e,
                "the field service records waiting for a number stay waiting"
            ),
        }
        return Ok(Arc::new(storage));
    }
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        bail!("PostgreSQL storage is not built yet: use --db sqlite://PATH");
    }
    bail!("--db {db:?}: use sqlite://PATH")
}

/// Errors are printed as one clear line (with their causes), never as a backtrace.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve {
            listen,
            db,
            demo,
            number_width,
        } => serve(listen, &db, demo, number_width),
        Command::Restored { db } => {
            let Some(path) = db.strip_prefix("sqlite://") else {
                bail!("--db {db:?}: use sqlite://PATH");
            };
            let storage = SqliteStorage::open(&PathBuf::from(path))
                .with_context(|| format!("opening {db}"))?;
            let epoch = storage.start_new_epoch()?;
            println!(
                "{db} starts epoch {epoch}: laptops will sync again and send again what it lacks. Every session ended: everyone signs in again. Account changes made since the backup (disabled users, new passwords) are undone: make them again"
            );
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    username,
                    role,
                    name,
                    department,
                    db,
                },
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']);
            check_new_user(&username, password, &name, role, department.as_deref())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let storage = open(&db, onsite_domain::numbering::DEFAULT_WIDTH)?;
            let password_hash = hash_password(password).map_err(|e| anyhow::anyhow!("{e}"))?;
            let user = storage.create_user(
                NewUser {
                    username,
                    name,
                    role,
                    department,
                    password_hash,
                },
                chrono::Utc::now(),
            )?;
            println!(
                "added {} ({:?}) with id {}",
                user.username, user.role, user.id
            );
            Ok(())
        }
        Command::User { command } => manage(command),
    }
}

/// Disable, enable, re-password or sign out a user. A running server refuses the ended
/// sessions within a minute (it keeps sessions it found for up to 60 s); the admin API's
/// calls end them at once.
fn manage(command: UserCommand) -> Result<()> {
    let (account, change, done) = match command {
        UserCommand::Add { .. } => bail!("user add is handled above"),
        UserCommand::Disable(a) => (a, AccountChange::Disable, "disabled"),
        UserCommand::Enable(a) => (a, AccountChange::Enable, "enabled"),
        UserCommand::SignOut(a) => (a, AccountChange::EndSessions, "signed out"),
        UserCommand::Password(a) => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']);
            onsite_domain::records::check_password(password, &a.username)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let hash = hash_password(password).map_err(|e| anyhow::anyhow!("{e}"))?;
            (a, AccountChange::SetPassword(hash), "has a new password")
        }
    };
    let storage = open(&account.db, onsite_domain::numbering::DEFAULT_WIDTH)?;
    let (user, ended) = storage.manage_account(&account.username, &change, chrono::Utc::now())?;
    println!("{} {done}; {ended} session(s) ended", user.username);
    Ok(())
}

fn parse_width(s: &str) -> std::result::Result<u8, String> {
    let width: u8 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of digits"))?;
    onsite_domain::numbering::check_width(width).map_err(|e| e.to_string())
}

fn serve(listen: SocketAddr, db: &str, with_demo: bool, number_width: u8) -> Result<()> {
    let storage = open(db, number_width)?;
    if with_demo {
        if demo::is_empty(storage.as_ref()).map_err(|e| anyhow::anyhow!("{e}"))? {
            demo::seed(storage.as_ref(), chrono::Utc::now()).map_err(|e| anyhow::anyhow!("{e}"))?;
            tracing::info!("seeded demo data");
        } else {
            tracing::info!("the database has data already: demo data not added");
        }
        println!("demo logins (password {DEMO_PASSWORD}):");
        for l in &DEMO_LOGINS {
            println!("  {:<10} {:?}  {}", l.username, l.role, l.name);
        }
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        tracing::info!("onsite-sync-server ready, listening on http://{addr}");
        axum::serve(
            listener,
            onsite_sync_server::router(storage).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
    })
}
