//! What every handler and app can reach: [`AppState`]. It sits below the services it holds
//! (auth, mail, the queue) and above nothing, so any of them may name it.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::{
    auth::AuthState, background::Background, clock::Clock, config::Config, db::Db,
    http::ClientAddresses, jobs::Jobs, mail::Mailer, notify::Notify, shared::Shared,
    webhooks::Webhooks,
};

/// The database pool, the configuration, what authentication needs (signing keys, failure
/// counters), the job queue and its clock, and what instances share.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub auth: Arc<AuthState>,
    /// Outgoing mail (SMTP, or the log in development).
    pub mailer: Arc<Mailer>,
    /// Calls to third parties (OAuth providers); one client, so one connection pool.
    pub http: reqwest::Client,
    /// What instances share through Redis, when configured: counters and broadcasts.
    pub shared: Shared,
    /// The durable queue: work to run later or elsewhere (see [`crate::jobs`]).
    pub jobs: Jobs,
    /// Notifications: apps declare their kinds and tell users things here.
    pub notify: Notify,
    /// Signed webhooks: apps declare their event types and emit events here.
    pub webhooks: Webhooks,
    /// Where the caller's address is read from (see [`crate::http::ClientIp`]).
    pub client_addresses: ClientAddresses,
    /// The time scheduled work goes by; tests move it.
    pub clock: Clock,
    /// Cancelled when the server begins to stop. A graceful stop waits for requests in
    /// flight, so a response that could go on for ever (an event stream) must end here.
    pub shutdown: CancellationToken,
}

impl AppState {
    pub async fn new(
        config: Config,
        db: Db,
        clock: Clock,
        background: &Background,
    ) -> crate::AppResult<Self> {
        let shared = Shared::connect(&config).await?;
        let auth = AuthState::new(&config, &shared).await?;
        let mailer = Arc::new(Mailer::new(&config)?);
        let jobs = Jobs::new(db.clone(), clock.clone(), config.queue_settings());
        let config = Arc::new(config);
        let client_addresses = ClientAddresses::from_config(&config)?;
        crate::mail::register(&jobs, mailer.clone());
        crate::auth::email_flows::register(&jobs, &db, config.clone(), mailer.clone());
        let notify = Notify::new(
            &config,
            &db,
            &jobs,
            mailer.clone(),
            shared.clone(),
            background,
        )?;
        let webhooks = Webhooks::new(&db, &jobs, &notify, config.allow_private_outbound)?;
        Ok(Self {
            db,
            auth: Arc::new(auth),
            mailer,
            http: crate::outbound::client()
                .map_err(|e| anyhow::anyhow!("cannot build the outbound HTTP client: {e}"))?,
            shared,
            jobs,
            notify,
            webhooks,
            client_addresses,
            clock,
            config,
            shutdown: CancellationToken::new(),
        })
    }
}

impl axum::extract::FromRef<AppState> for ClientAddresses {
    fn from_ref(state: &AppState) -> Self {
        state.client_addresses.clone()
    }
}

/// Parses every setting that the services above parse as they start (signing keys, OAuth
/// providers, the mail sender and relay, the client-address header), with the same code
/// and without starting anything: `capstone check-config` refuses what the server would.
/// [`crate::config`] checks the rest as it loads, and knows none of these services.
pub fn check_settings(config: &Config) -> anyhow::Result<()> {
    ClientAddresses::from_config(config)?;
    crate::auth::parse_settings(config)?;
    Mailer::new(config)?;
    Ok(())
}
