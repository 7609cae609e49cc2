//! The `paylink` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Overrides};

#[derive(Parser, Debug)]
#[command(name = "paylink", version, about = "Self-hosted payment links")]
pub struct Cli {
    /// Optional TOML configuration file (also PAYLINK_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// sqlite://path or postgres://… (also PAYLINK_DATABASE_URL).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Where the default SQLite database lives (also PAYLINK_DATA_DIR).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Listen address, default 127.0.0.1:8080 (also PAYLINK_BIND).
    #[arg(long, global = true)]
    pub bind: Option<std::net::SocketAddr>,
    /// Base of link URLs, default http://{bind} (also PAYLINK_PUBLIC_URL).
    #[arg(long, global = true)]
    pub public_url: Option<String>,
    /// Delay added to every simulated processor call, to model a real processor
    /// (also PAYLINK_SIMULATED_PROCESSOR_LATENCY_MS).
    #[arg(long, global = true)]
    pub simulated_processor_latency_ms: Option<u64>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// API, hosted pages, dashboard and background worker in one process.
    Serve {
        /// Serve HTTP only; run `paylink worker` elsewhere.
        #[arg(long)]
        no_worker: bool,
    },
    /// The background worker alone.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Manage merchants.
    Merchant {
        #[command(subcommand)]
        command: MerchantCommand,
    },
    /// Manage API keys (for operators: a merchant locked out of its keys gets a new one).
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Manage people who sign in.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a member to a merchant; prints {"user_id", "merchant_id", "role"}.
    Create {
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        email: String,
        /// owner, admin, developer, support or viewer.
        #[arg(long)]
        role: String,
        /// Their name (default: the e-mail's local part).
        #[arg(long)]
        name: Option<String>,
        /// Read the password from standard input (required).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print a one-time link (valid an hour) that sets the user's password.
    ResetPassword {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create a secret key; prints {"merchant_id", "key_id", "livemode", "secret_key"}.
    Create {
        #[arg(long)]
        merchant: String,
        /// A live-mode key (default: test mode).
        #[arg(long)]
        live: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum MerchantCommand {
    /// Create a merchant; prints {"merchant_id", "secret_key"} (and "user_id" with
    /// --password-stdin: the owner who signs in with --email and that password).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// Read the owner's password from standard input: also creates the owner user.
        #[arg(long)]
        password_stdin: bool,
    },
}

impl Cli {
    pub fn load_config(&self) -> anyhow::Result<Config> {
        let overrides = Overrides {
            database_url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
            bind: self.bind,
            public_url: self.public_url.clone(),
            simulated_processor_latency_ms: self.simulated_processor_latency_ms,
        };
        Config::load(self.config.clone(), &overrides)
    }
}

/// Cancels `token` on Ctrl-C or SIGTERM. SIGTERM is listened for from the moment this
/// returns (a signal sent just after, say by a script that read the start-up lines, is
/// never missed), not from whenever the task first runs.
pub fn shutdown_on_signals(token: CancellationToken) {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        match term {
            Some(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            None => {
                let _ = ctrl_c.await;
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        token.cancel();
    });
}

pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command {
        Command::Openapi => {
            println!("{}", crate::openapi::json());
            Ok(())
        }
        Command::Migrate => {
            let store = crate::open_store(&config).await?;
            store.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::Merchant {
            command:
                MerchantCommand::Create {
                    name,
                    email,
                    password_stdin,
                },
        } => {
            use crate::accounts::provision;
            let password = if password_stdin {
                let pw = provision::password_from_stdin()?;
                provision::check_password(&pw, &email, &name)?;
                Some(pw)
            } else {
                None
            };
            let store = crate::open_store(&config).await?;
            let created = crate::demo::create_merchant(store.as_ref(), &name, &email, None).await?;
            let mut out = serde_json::json!({"merchant_id": created.merchant.id, "secret_key": created.secret_key});
            if let Some(pw) = password {
                let owner = provision::create_user(
                    store.as_ref(),
                    &created.merchant.id,
                    &email,
                    &name,
                    paylink_domain::access::Role::Owner,
                    &pw,
                )
                .await?;
                if let Some(o) = out.as_object_mut() {
                    o.insert("user_id".into(), serde_json::json!(owner.id));
                }
            }
            println!("{out}");
            store.close().await;
            Ok(())
        }
        Command::Key {
            command: KeyCommand::Create { merchant, live },
        } => {
            let id = paylink_domain::id::MerchantId::parse(&merchant)
                .ok_or_else(|| anyhow::anyhow!("`{merchant}` is not a merchant id (acct_…)"))?;
            let store = crate::open_store(&config).await?;
            let result = create_key(store.as_ref(), &id, live).await;
            store.close().await;
            println!("{}", result?);
            Ok(())
        }
        Command::User { command } => {
            use crate::accounts::provision;
            let store = crate::open_store(&config).await?;
            let result = match command {
                UserCommand::Create {
                    merchant,
                    email,
                    role,
                    name,
                    password_stdin,
                } => {
                    let id = paylink_domain::id::MerchantId::parse(&merchant).ok_or_else(|| {
                        anyhow::anyhow!("`{merchant}` is not a merchant id (acct_…)")
                    })?;
                    let role = paylink_domain::access::Role::parse(&role).ok_or_else(|| {
                        anyhow::anyhow!(
                            "`{role}` is not a role: owner, admin, developer, support or viewer"
                        )
                    })?;
                    anyhow::ensure!(
                        password_stdin,
                        "give the password on standard input with --password-stdin"
                    );
                    let name =
                        name.unwrap_or_else(|| email.split('@').next().unwrap_or("").to_owned());
                    let pw = provision::password_from_stdin()?;
                    provision::check_password(&pw, &email, &name)?;
                    provision::create_user(store.as_ref(), &id, &email, &name, role, &pw)
                        .await
                        .map(|u| {
                            serde_json::json!({"user_id": u.id, "merchant_id": id, "role": role})
                                .to_string()
                        })
                }
                UserCommand::ResetPassword { email } => {
                    provision::reset_link(store.as_ref(), &config.public_url(), &email).await
                }
            };
            store.close().await;
            println!("{}", result?);
            Ok(())
        }
        Command::Worker => {
            crate::instance::check_public_url(&config, None)?;
            let store = crate::open_store(&config).await?;
            let token = CancellationToken::new();
            shutdown_on_signals(token.clone());
            let worker = crate::worker::WorkerConfig::from_config(store.clone(), &config)?;
            crate::worker::run(store.clone(), worker, token).await;
            store.close().await;
            Ok(())
        }
        Command::Serve { no_worker } => {
            crate::instance::check_public_url(&config, Some(config.bind))?;
            let _only_server = crate::instance::lock_sqlite(&config)?;
            let store = crate::open_store(&config).await?;
            // Signals are listened for before anything is announced.
            let token = CancellationToken::new();
            shutdown_on_signals(token.clone());
            // One state for the server and its worker: the worker settles stuck payments
            // with the processor the server charged through.
            let state = crate::state::AppState::new(store.clone(), config.clone())?;
            let worker_config = crate::worker::WorkerConfig::for_state(state.clone(), &config)?;
            let listener = TcpListener::bind(config.bind).await?;
            let addr = listener.local_addr()?;
            let public_url = match &config.public_url {
                Some(_) => config.public_url(),
                None => format!("http://{addr}"),
            };
            println!(
                "Paylink is listening on http://{addr} (database: {})",
                paylink_store::ProcessStore::backend(store.as_ref())
            );
            // A demo on an empty SQLite database unless refused; on PostgreSQL only asked.
            let sqlite = paylink_store::ProcessStore::backend(store.as_ref()) == "sqlite";
            if !config.no_demo && (sqlite || config.demo) {
                if let Some((demo, link)) =
                    crate::demo::seed_if_empty(store.as_ref(), &public_url).await?
                {
                    println!(
                        "Created the demo merchant {} ({}).",
                        demo.merchant.name, demo.merchant.id
                    );
                    println!("Its test secret key, shown only now: {}", demo.secret_key);
                    println!("A sample payment link: {link}");
                    println!(
                        "To sign in to the dashboard ({}/dashboard), make yourself its owner:\n  \
                         paylink user create --merchant {} --email you@example.com --role owner --password-stdin",
                        state.public_url, demo.merchant.id
                    );
                }
            }
            let worker = (!no_worker).then(|| {
                tokio::spawn(crate::worker::run(
                    store.clone(),
                    worker_config,
                    token.clone(),
                ))
            });
            let result = crate::serve_state(state, listener, token.clone()).await;
            token.cancel();
            if let Some(w) = worker {
                let _ = w.await;
            }
            store.close().await;
            result
        }
    }
}

async fn create_key(
    store: &dyn paylink_store::Store,
    id: &paylink_domain::id::MerchantId,
    live: bool,
) -> anyhow::Result<serde_json::Value> {
    let merchant = store.get_merchant(id).await.map_err(|e| match e {
        paylink_store::StoreError::NotFound => anyhow::anyhow!("no merchant {id}"),
        e => e.into(),
    })?;
    let (secret, record) = crate::auth::new_key(
        &merchant.id,
        paylink_store::KeyKind::Secret,
        live,
        "Created with paylink key create".into(),
        Vec::new(),
    );
    store.insert_api_key(&record).await?;
    crate::accounts::provision::operator_audit(
        store,
        &merchant.id,
        "api_keys.create",
        record.id.as_str(),
    )
    .await?;
    Ok(serde_json::json!({
        "merchant_id": merchant.id,
        "key_id": record.id,
        "livemode": live,
        "secret_key": secret,
    }))
}
