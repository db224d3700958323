//! Notifications: the one way every app tells a user something.
//!
//! An app declares its kinds with the channels they go to by default
//! ([`Notify::declare`]); a user's preferences (`/api/v1/me/preferences`) change that per
//! kind. [`Notify::send`], in the transaction of the change that warrants it, writes the
//! in-app notification (the inbox at `/api/v1/me/notifications`, with a live stream) and
//! queues the email and the ntfy push ([`ntfy`]) as jobs — an SMTP or ntfy outage delays a
//! message, never loses it. After the commit, [`Notify::committed`] pushes the new
//! notifications to the user's open streams on every instance (through Redis when
//! configured).
//!
//! A caller that may send the same logical notification twice (a job run again after its
//! instance died) gives it a key ([`Message::key`]): each channel's job is then queued under
//! `{key}:{channel}:{user}`, so the second send queues nothing.

pub mod entity;
pub mod ntfy;
pub mod routes;

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
};

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use utoipa::ToSchema;

use crate::{
    background::Background,
    clock::Clock,
    config::Config,
    db::Db,
    error::AppResult,
    jobs::{Enqueue, Job, JobError, Jobs, Retries},
    mail::{Mail, Mailer},
    shared::{Broadcast, Shared},
};
use entity::{notification, preferences};

/// Where a notification can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The inbox, and its live stream.
    InApp,
    Email,
    /// A push to the user's ntfy topic, once they have set one (`/api/v1/me/preferences`).
    Ntfy,
}

impl Channel {
    /// The name in the API, and in job keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::InApp => "in_app",
            Channel::Email => "email",
            Channel::Ntfy => "ntfy",
        }
    }
}

/// How much a message should interrupt: ntfy's priority (its other channels ignore it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Urgency {
    /// ntfy priority 2: no sound or vibration.
    Low,
    /// ntfy priority 3, its default.
    #[default]
    Normal,
    /// ntfy priority 4: a long vibration and a pop-over. (Not 5, which ntfy keeps for what
    /// must wake someone.)
    Urgent,
}

impl Urgency {
    fn ntfy_priority(self) -> u8 {
        match self {
            Urgency::Low => 2,
            Urgency::Normal => 3,
            Urgency::Urgent => 4,
        }
    }
}

/// What to tell a user.
#[derive(Debug, Clone)]
pub struct Message {
    /// A declared kind, such as `webhook.disabled`.
    pub kind: &'static str,
    pub title: String,
    pub body: String,
    /// Where to look, for the inbox, the mail and the push (a path such as
    /// `/api/v1/webhooks/3` is made absolute with `public_url` for the push).
    pub link: Option<String>,
    /// Names this logical notification, when it may be sent twice: each channel's job is
    /// queued under `{key}:{channel}:{user}`, once. `None`: every send queues anew.
    pub key: Option<String>,
    pub urgency: Urgency,
}

/// The platform's own kind: a webhook turned off after a day of failures.
pub const WEBHOOK_DISABLED: &str = "webhook.disabled";

const CHANNEL: &str = "platform:notifications";

#[derive(Clone)]
pub struct Notify {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: Jobs,
    clock: Clock,
    shared: Shared,
    /// Where a relative link leads, for a push: `public_url`.
    public_url: String,
    kinds: RwLock<BTreeMap<&'static str, Vec<Channel>>>,
    /// (user, notification id) of new notifications, for this instance's streams.
    local: broadcast::Sender<(i64, i64)>,
}

/// Sends one notification by mail: the `platform.notification_email` job.
#[derive(Debug, Serialize, Deserialize)]
struct Email {
    user_id: i64,
    subject: String,
    body: String,
}

impl Job for Email {
    const KIND: &'static str = "platform.notification_email";

    fn retries() -> Retries {
        crate::mail::RETRIES
    }
}

impl Notify {
    /// Registers the mail and push jobs on `jobs`. Pushes reach private and loopback
    /// addresses only with `allow_private_outbound`.
    pub fn new(
        config: &Config,
        db: &Db,
        jobs: &Jobs,
        mailer: Arc<Mailer>,
        shared: Shared,
        background: &Background,
    ) -> anyhow::Result<Self> {
        let (local, _) = broadcast::channel(256);
        let to_streams = local.clone();
        shared.subscribe(CHANNEL, background, move |event| {
            if let Broadcast::Message(text) = event
                && let Some((user, id)) = text.split_once(':')
                && let (Ok(user), Ok(id)) = (user.parse(), id.parse())
            {
                let _ = to_streams.send((user, id));
            }
        });
        let for_mail = db.clone();
        jobs.register(move |email: Email, _| send_email(for_mail.clone(), mailer.clone(), email));
        let client = ntfy::client(config.allow_private_outbound)?;
        let for_push = db.clone();
        jobs.register(move |push: ntfy::Push, _| {
            ntfy::send(for_push.clone(), client.clone(), push)
        });
        let notify = Self {
            inner: Arc::new(Inner {
                jobs: jobs.clone(),
                clock: jobs.clock().clone(),
                shared,
                public_url: config.public_url().trim_end_matches('/').to_owned(),
                kinds: RwLock::default(),
                local,
            }),
        };
        notify.declare(WEBHOOK_DISABLED, &[Channel::InApp, Channel::Email]);
        Ok(notify)
    }

    /// Adds a kind of notification and the channels it goes to unless a user says otherwise.
    pub fn declare(&self, kind: &'static str, channels: &[Channel]) {
        self.inner
            .kinds
            .write()
            .expect("kinds lock")
            .insert(kind, channels.to_vec());
    }

    /// Every declared kind with its default channels.
    pub fn kinds(&self) -> BTreeMap<&'static str, Vec<Channel>> {
        self.inner.kinds.read().expect("kinds lock").clone()
    }

    /// In the transaction of the change: tells `user` `message` on the channels their
    /// preferences (or the kind's defaults) choose. Returns the inbox notification's id.
    pub async fn send(
        &self,
        tx: &impl ConnectionTrait,
        user: i64,
        message: Message,
    ) -> AppResult<Option<i64>> {
        let defaults = self.kinds().get(message.kind).cloned().unwrap_or_default();
        let settings = preferences::Entity::find_by_id(user).one(tx).await?;
        let chosen = settings
            .as_ref()
            .and_then(|p| channels_of(p).remove(message.kind))
            .unwrap_or(defaults);
        let options = |channel: Channel| Enqueue {
            key: message
                .key
                .as_ref()
                .map(|key| format!("{key}:{}:{user}", channel.as_str())),
            ..Default::default()
        };
        let mut id = None;
        if chosen.contains(&Channel::InApp) {
            let row = notification::ActiveModel {
                user_id: Set(user),
                kind: Set(message.kind.to_owned()),
                title: Set(message.title.clone()),
                body: Set(message.body.clone()),
                link: Set(message.link.clone()),
                created_at: Set(self.inner.clock.now()),
                ..Default::default()
            }
            .insert(tx)
            .await?;
            id = Some(row.id);
        }
        if chosen.contains(&Channel::Email) {
            let body = match &message.link {
                Some(link) => format!("{}\n\n{link}\n", message.body),
                None => format!("{}\n", message.body),
            };
            let email = Email {
                user_id: user,
                subject: message.title.clone(),
                body,
            };
            let options = options(Channel::Email);
            self.inner.jobs.enqueue_with(tx, &email, options).await?;
        }
        // Only for a user with a topic: the job would find none and do nothing.
        if chosen.contains(&Channel::Ntfy) && settings.is_some_and(|p| p.ntfy_url.is_some()) {
            let push = ntfy::Push::new(
                user,
                &message.title,
                &message.body,
                message.link.as_deref().and_then(|l| self.absolute(l)),
                message.urgency.ntfy_priority(),
                message.kind,
            );
            let options = options(Channel::Ntfy);
            self.inner.jobs.enqueue_with(tx, &push, options).await?;
        }
        Ok(id)
    }

    /// `link` as an absolute http(s) URL: a path is on this server (`public_url`).
    fn absolute(&self, link: &str) -> Option<String> {
        if link.starts_with('/') && !link.starts_with("//") {
            return Some(format!("{}{link}", self.inner.public_url));
        }
        reqwest::Url::parse(link)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .map(String::from)
    }

    /// After the commit: the mail may go, and the user's open streams hear of it.
    pub async fn committed(&self, user: i64, id: Option<i64>) {
        self.inner.jobs.wake();
        let Some(id) = id else { return };
        if self.inner.shared.is_configured() {
            self.inner
                .shared
                .publish(CHANNEL, &format!("{user}:{id}"))
                .await;
        } else {
            let _ = self.inner.local.send((user, id));
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<(i64, i64)> {
        self.inner.local.subscribe()
    }
}

/// A user's channel choices, by kind.
fn channels_of(preferences: &preferences::Model) -> BTreeMap<String, Vec<Channel>> {
    serde_json::from_str(&preferences.channels).unwrap_or_default()
}

async fn send_email(db: Db, mailer: Arc<Mailer>, email: Email) -> Result<(), JobError> {
    let Some(user) = crate::auth::user::Entity::find_by_id(email.user_id)
        .one(&db)
        .await?
    else {
        return Ok(()); // the account is gone
    };
    let mail = Mail {
        to: user.email,
        subject: email.subject,
        body: email.body,
    };
    Ok(mailer.send(&mail).await?)
}
