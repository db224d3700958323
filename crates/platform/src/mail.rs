//! Outgoing mail: plain-text messages through SMTP, or into the log when no SMTP server is
//! configured (development).
//!
//! A handler that mails someone does not wait for the SMTP conversation (seconds, with a slow
//! relay) and must not fail because of it: it enqueues the message as a job of the durable
//! queue, which sends it and tries again after a relay's temporary refusal or an outage (for
//! hours, see [`RETRIES`]). A restart loses nothing. A message that carries a live token
//! (verification, password reset) is not queued as text: its job makes the token when it
//! sends (`auth::email_flows`), so that no token waits in the database in clear, where we
//! keep every other token only as its hash.

use std::{sync::Arc, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::{
    config::{Config, redact_url},
    jobs::{Job, JobError, Jobs, Retries},
};

/// The longest one SMTP operation (connect, a command) may take before the send fails.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How a mail job is tried again after a failure that may pass (a 4xx reply: greylisting,
/// a full queue; or no answer at all: the relay restarting): an SMTP outage of a few hours
/// delays the mail.
pub const RETRIES: Retries = Retries {
    max_attempts: 20,
    base_delay: Duration::from_secs(10),
    max_delay: Duration::from_secs(3600),
};

/// One plain-text message. Queued as it is (the `platform.mail` job) only when it holds no
/// secret: see the module's docs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the recipient {0:?} is not a mail address")]
    Recipient(String),
    #[error("cannot build the message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

impl Job for Mail {
    const KIND: &'static str = "platform.mail";

    fn retries() -> Retries {
        RETRIES
    }
}

/// Registers the `platform.mail` job: `jobs.enqueue(&tx, &mail)` sends `mail` once the
/// change commits.
pub fn register(jobs: &Jobs, mailer: Arc<Mailer>) {
    jobs.register(move |mail: Mail, _| {
        let mailer = mailer.clone();
        async move { Ok(mailer.send(&mail).await?) }
    });
}

impl From<MailError> for JobError {
    /// Sent again later only if that may work.
    fn from(err: MailError) -> Self {
        if err.may_pass() {
            metrics::counter!("mail_retried_total").increment(1);
            JobError::retry(err)
        } else {
            metrics::counter!("mail_failed_total").increment(1);
            JobError::permanent(err)
        }
    }
}

impl MailError {
    /// Whether sending again later may work: not for a bad address or message, nor for a
    /// 5xx reply (the relay refuses this message for good).
    pub fn may_pass(&self) -> bool {
        matches!(self, MailError::Smtp(err) if !err.is_permanent())
    }
}

/// Sends [`Mail`] from the configured sender. Made once at start; share it in an `Arc`.
pub struct Mailer {
    from: Mailbox,
    /// `None`: write messages to the log instead.
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
}

impl Mailer {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let from = mailbox(&config.mail_from).map_err(|e| anyhow::anyhow!("mail_from {e}"))?;
        let smtp = match &config.smtp_url {
            Some(url) => {
                let transport = smtp_transport(url.expose_secret())
                    .map_err(|e| anyhow::anyhow!("smtp_url {e}"))?;
                tracing::info!(smtp = %redact_url(url.expose_secret()), "mail goes out through SMTP");
                Some(transport)
            }
            None => {
                tracing::warn!(
                    "no smtp_url configured: mail is written to the log instead of being sent \
                     (set CAPSTONE_SMTP_URL)"
                );
                None
            }
        };
        Ok(Self { from, smtp })
    }

    /// A mailer that only logs, for tests and tools that never send.
    pub fn log_only(from: Mailbox) -> Self {
        Self { from, smtp: None }
    }

    /// Sends `mail` and waits for the SMTP server to accept it. Without SMTP, the message
    /// is built all the same (so a bad address fails here as it would in production) and
    /// logged at INFO, body included: that is how a developer gets the link.
    pub async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|_| MailError::Recipient(mail.to.clone()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .message_id(Some(format!(
                "<{}@{}>",
                uuid::Uuid::new_v4().simple(),
                self.from.email.domain()
            )))
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())?;
        let Some(smtp) = &self.smtp else {
            tracing::info!(
                to = %mail.to,
                subject = %mail.subject,
                body = %mail.body,
                "mail not sent (no smtp_url configured); logged instead"
            );
            return Ok(());
        };
        smtp.send(message).await?;
        metrics::counter!("mail_sent_total").increment(1);
        Ok(())
    }
}

/// The SMTP transport for a lettre connection URL, or why the URL is not one. The reason
/// never repeats the URL, which may hold a password.
pub fn smtp_transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| {
        format!(
            "is not an SMTP URL ({e}); use smtps://user:pass@host:465, \
             smtp://user:pass@host:587?tls=required or smtp://host:25"
        )
    })?;
    Ok(builder.timeout(Some(SMTP_TIMEOUT)).build())
}

/// A sender or recipient: `Name <address>` or a bare address.
pub fn mailbox(raw: &str) -> Result<Mailbox, String> {
    raw.parse()
        .map_err(|e| format!("is not a mailbox ({e}); e.g. Capstone <no-reply@example.com>"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn smtp_urls_in_lettres_forms_are_accepted() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://user:pass@mail.example.com:587?tls=required",
            "smtp://mail.example.com?tls=opportunistic",
            "smtps://user:pass@mail.example.com",
            "smtps://user:pass@mail.example.com:465/client.example.com",
        ] {
            assert!(smtp_transport(url).is_ok(), "{url}");
        }
        for url in [
            "mail.example.com",
            "http://mail.example.com",
            "smtp://user:hunter2@mail.example.com?tls=sometimes",
            "smtp://",
        ] {
            let err = smtp_transport(url).expect_err(url);
            assert!(!err.contains("hunter2"), "the password leaked: {err}");
        }
    }

    #[test]
    fn the_smtp_password_is_never_shown() {
        let config = Config {
            smtp_url: Some(SecretString::from(
                "smtp://app:hunter2@mail.example.com:587",
            )),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
        let shown = serde_json::to_string(&config).unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("smtp://app:***@mail.example.com:587"),
            "{shown}"
        );
    }

    #[test]
    fn the_default_sender_is_a_mailbox() {
        let from = mailbox(&Config::default().mail_from).unwrap();
        assert_eq!(from.email.to_string(), "no-reply@localhost");
        assert!(mailbox("not an address").is_err());
    }

    #[tokio::test]
    async fn without_smtp_a_message_is_built_and_logged() {
        let mailer = Mailer::log_only(mailbox("Capstone <no-reply@example.com>").unwrap());
        let mail = |to: &str| Mail {
            to: to.into(),
            subject: "Hello".into(),
            body: "Line one\nLine two\n".into(),
        };
        assert!(mailer.send(&mail("ann@example.com")).await.is_ok());
        assert!(matches!(
            mailer.send(&mail("not an address")).await,
            Err(MailError::Recipient(_))
        ));
    }
}
