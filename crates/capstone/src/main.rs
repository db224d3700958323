//! `capstone`: the command line.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use platform::{Config, db, observability::logging};
use sea_orm_migration::MigratorTrait;

use capstone::Migrator;

#[derive(Parser)]
#[command(version, about = "Links, jobs and tasks on one platform.")]
struct Cli {
    /// A TOML configuration file; settings in the environment override it.
    #[arg(
        long,
        env = "CAPSTONE_CONFIG",
        global = true,
        default_value = "capstone.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations and serve the API (the default).
    Serve,
    /// Apply pending migrations, report what was applied, and exit.
    Migrate,
    /// Validate the configuration, print it with secrets hidden, and check the database.
    CheckConfig,
    /// Manage accounts on the configured database (for example, make the first admin).
    #[command(subcommand)]
    Users(UsersCommand),
}

#[derive(Subcommand)]
enum UsersCommand {
    /// List every account: id, email, role, whether it is disabled.
    List,
    /// Give an account a role: `capstone users set-role ann@example.com admin`.
    SetRole {
        email: String,
        #[arg(value_parser = ["admin", "member"])]
        role: String,
    },
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    let config = match Config::load(cli.config.exists().then_some(cli.config.as_path())) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("capstone: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    logging::init(config.log_format, &config.log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate(config).await,
            Command::CheckConfig => check_config(config).await,
            Command::Users(command) => users(config, command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "capstone stopped");
            eprintln!("capstone: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let database = config.database_url_redacted();
    let running = capstone::start(config).await?;
    let base = format!("http://{}", running.addr);
    tracing::info!(%base, %database, "capstone listening");
    println!("Capstone is listening on {base}");
    println!("  API docs:  {base}/docs   (OpenAPI: {base}/openapi.json)");
    println!("  Health:    {base}/healthz, {base}/readyz, metrics at {base}/metrics");
    platform::server::shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    running.shutdown();
    running.stopped().await?;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let db = db::connect(&config).await?;
    let applied = capstone::migrate(&db).await?;
    if applied.is_empty() {
        println!("Database {} is up to date.", config.database_url_redacted());
    } else {
        println!(
            "Applied {} migration(s) to {}:",
            applied.len(),
            config.database_url_redacted()
        );
        for name in applied {
            println!("  {name}");
        }
    }
    Ok(())
}

async fn check_config(config: Config) -> anyhow::Result<()> {
    // Serialising masks every secret (see `platform::config`).
    println!("{}", toml_lines(&config));
    platform::state::check_settings(&config)?;
    capstone::check_app_settings(&config)?;
    let db = db::connect(&config).await?;
    let pending = Migrator::get_pending_migrations(&db).await?.len();
    println!("Configuration is valid; the database answers ({pending} migration(s) pending).");
    Ok(())
}

async fn users(config: Config, command: UsersCommand) -> anyhow::Result<()> {
    use platform::auth::{admin, user};
    use sea_orm_migration::sea_orm::{EntityTrait, QueryOrder};

    let db = db::connect(&config).await?;
    capstone::migrate(&db).await?;
    match command {
        UsersCommand::List => {
            let users = user::Entity::find()
                .order_by_asc(user::Column::Id)
                .all(&db)
                .await?;
            println!("{:>6}  {:<40}  {:<7}  status", "id", "email", "role");
            for u in users {
                let role = if u.role == user::Role::Admin {
                    "admin"
                } else {
                    "member"
                };
                let status = if u.disabled_at.is_some() {
                    "disabled"
                } else {
                    "active"
                };
                println!("{:>6}  {:<40}  {:<7}  {status}", u.id, u.email, role);
            }
        }
        UsersCommand::SetRole { email, role } => {
            let role = if role == "admin" {
                user::Role::Admin
            } else {
                user::Role::Member
            };
            match admin::set_role(&db, &email, role).await {
                Ok(u) => println!("{} is now {role:?}.", u.email),
                Err(platform::AppError::NotFound) => anyhow::bail!("no account with email {email}"),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// The configuration as `key = value` lines.
fn toml_lines(config: &Config) -> String {
    let value = serde_json::to_value(config).expect("config serialises");
    value
        .as_object()
        .map(|fields| {
            fields
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// glibc's malloc gives each thread that allocates its own arena, up to eight per core,
/// and memory freed into one arena is not reused by the others. The server has more
/// threads than cores (tokio's workers, and a thread per SQLite connection), so under
/// load the arenas each keep their own free memory: about 50 MB more peak RSS in the
/// links benchmark. Two arenas are plenty on the machines we run on.
///
/// And allocations of 1 MiB and more (the click writer's per-batch buffers) are mapped
/// and unmapped on their own: by default glibc raises that threshold after the first such
/// buffer is freed, up to 32 MiB, and from then on serves them from the arenas, which
/// keep the memory once freed.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
