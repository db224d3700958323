//! One delivery attempt of one event to one webhook: the `platform.webhook_delivery` job.

use std::time::{Duration, Instant, SystemTime};

use chrono::{TimeDelta, Utc};
use reqwest::{StatusCode, header};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait, sea_query::Expr,
};
use serde::{Deserialize, Serialize};

use super::{
    entity::{
        delivery::{self, Outcome},
        webhook,
    },
    signature::{self, Secret},
};
use crate::{
    db::Db,
    jobs::{Job, JobContext, JobError, Jobs, Retries},
    notify::{Message, Notify, Urgency, WEBHOOK_DISABLED},
    outbound,
};

/// The waits after each failed attempt, as Standard Webhooks senders retry: about a day.
const SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];
/// How long a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(15);
/// A webhook whose deliveries have all failed for this long is disabled.
const FAILING_FOR: TimeDelta = TimeDelta::days(1);

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Deliver {
    pub webhook_id: i64,
    /// `webhook-id`: the same on every attempt.
    pub message_id: String,
    pub event_type: String,
    /// The exact body, fixed when the event happened.
    pub body: String,
}

impl Job for Deliver {
    const KIND: &'static str = "platform.webhook_delivery";

    fn retries() -> Retries {
        Retries {
            max_attempts: SCHEDULE.len() as u32 + 1,
            ..Retries::default()
        }
    }
}

pub(super) fn register(
    db: Db,
    jobs: &Jobs,
    notify: Notify,
    allow_private: bool,
) -> anyhow::Result<()> {
    let client = outbound::guarded_builder(allow_private)
        .timeout(TIMEOUT)
        // A receiver's redirect is not followed: the signed request is for this URL only.
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    jobs.register(move |job: Deliver, context| {
        deliver(db.clone(), client.clone(), notify.clone(), job, context)
    });
    Ok(())
}

/// What one attempt came to.
struct Attempt {
    status: Option<StatusCode>,
    error: Option<String>,
    retry_after: Option<Duration>,
    duration: Duration,
}

impl Attempt {
    fn delivered(&self) -> bool {
        self.status.is_some_and(|s| s.is_success())
    }

    /// A refusal no retry changes: a 4xx other than 408 and 429. (A URL the guard refuses is
    /// retried: the address a name resolves to can change.)
    fn is_final(&self) -> bool {
        match self.status {
            Some(s) => {
                s.is_client_error()
                    && s != StatusCode::REQUEST_TIMEOUT
                    && s != StatusCode::TOO_MANY_REQUESTS
            }
            None => false,
        }
    }
}

async fn deliver(
    db: Db,
    client: reqwest::Client,
    notify: Notify,
    job: Deliver,
    context: JobContext,
) -> Result<(), JobError> {
    let Some(hook) = webhook::Entity::find_by_id(job.webhook_id).one(&db).await? else {
        return Ok(()); // deleted since: nothing to deliver to
    };
    let now = context.clock.now();
    if hook.disabled_at.is_some() {
        record(
            &job,
            &context,
            &Attempt {
                status: None,
                error: Some("the webhook is disabled".into()),
                retry_after: None,
                duration: Duration::ZERO,
            },
            Outcome::Failed,
        );
        return Err(JobError::permanent("the webhook is disabled"));
    }
    // The wall clock, not the queue's: receivers check it against theirs to refuse replays.
    let attempt = send(&client, &hook, &job, Utc::now().timestamp()).await;
    let last = context.attempt as usize > SCHEDULE.len();
    let outcome = if attempt.delivered() {
        Outcome::Delivered
    } else if attempt.is_final() || last {
        Outcome::Failed
    } else {
        Outcome::Retrying
    };
    record(&job, &context, &attempt, outcome);
    note_health(&db, &notify, &hook, &attempt, now).await?;
    match outcome {
        Outcome::Delivered => Ok(()),
        Outcome::Failed => Err(JobError::permanent(describe(&attempt))),
        Outcome::Retrying => {
            let scheduled = SCHEDULE[(context.attempt as usize - 1).min(SCHEDULE.len() - 1)];
            let wait = attempt
                .retry_after
                .map_or(scheduled, |asked| asked.max(scheduled));
            Err(JobError::retry(describe(&attempt)).retry_after(Some(wait)))
        }
    }
}

/// Signs and sends the event; never fails, the attempt says what happened.
async fn send(
    client: &reqwest::Client,
    hook: &webhook::Model,
    job: &Deliver,
    timestamp: i64,
) -> Attempt {
    let started = Instant::now();
    let secrets = signing_secrets(hook, Utc::now());
    let response = client
        .post(&hook.url)
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::USER_AGENT,
            concat!("Capstone-Webhooks/", env!("CARGO_PKG_VERSION")),
        )
        .header("webhook-id", &job.message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signature::header(&secrets, &job.message_id, timestamp, &job.body),
        )
        .body(job.body.clone())
        .send()
        .await;
    let duration = started.elapsed();
    match response {
        Ok(response) => {
            let status = response.status();
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| outbound::parse_retry_after(v, SystemTime::now()));
            Attempt {
                status: Some(status),
                error: (!status.is_success()).then(|| format!("the receiver answered {status}")),
                retry_after,
                duration,
            }
        }
        Err(err) => Attempt {
            status: None,
            error: Some(match outbound::blocked(&err) {
                Some(blocked) => blocked.to_string(),
                None if err.is_timeout() => format!("no answer within {}s", TIMEOUT.as_secs()),
                None => "the receiver could not be reached".to_owned(),
            }),
            retry_after: None,
            duration,
        },
    }
}

/// The current secret, and the previous one while a rotation's overlap lasts.
fn signing_secrets(hook: &webhook::Model, now: chrono::DateTime<Utc>) -> Vec<Secret> {
    let mut secrets: Vec<Secret> = Secret::from_stored(&hook.secret).into_iter().collect();
    if let (Some(previous), Some(until)) = (&hook.previous_secret, hook.previous_secret_until)
        && until > now
    {
        secrets.extend(Secret::from_stored(previous));
    }
    secrets
}

fn describe(attempt: &Attempt) -> String {
    attempt.error.clone().unwrap_or_else(|| "failed".into())
}

/// Logs the attempt (`GET /api/v1/webhooks/{id}/deliveries`) in the transaction that
/// records the job's outcome.
fn record(job: &Deliver, context: &JobContext, attempt: &Attempt, outcome: Outcome) {
    let row = delivery::ActiveModel {
        webhook_id: Set(job.webhook_id),
        message_id: Set(job.message_id.clone()),
        event_type: Set(job.event_type.clone()),
        attempt: Set(context.attempt as i32),
        attempted_at: Set(context.clock.now()),
        duration_ms: Set(attempt.duration.as_millis().min(i32::MAX as u128) as i32),
        response_status: Set(attempt.status.map(|s| s.as_u16() as i16)),
        error: Set(attempt.error.clone()),
        outcome: Set(outcome),
        ..Default::default()
    };
    context.insert_with_outcome(row);
}

/// A success clears `failing_since`; a failure sets it, and past a day of failures the
/// webhook is disabled.
async fn note_health(
    db: &Db,
    notify: &Notify,
    hook: &webhook::Model,
    attempt: &Attempt,
    now: chrono::DateTime<Utc>,
) -> Result<(), JobError> {
    let update = webhook::Entity::update_many().filter(webhook::Column::Id.eq(hook.id));
    if attempt.delivered() {
        if hook.failing_since.is_some() {
            update
                .col_expr(
                    webhook::Column::FailingSince,
                    Expr::value(Option::<chrono::DateTime<Utc>>::None),
                )
                .exec(db)
                .await?;
        }
        return Ok(());
    }
    match hook.failing_since {
        None => {
            update
                .col_expr(webhook::Column::FailingSince, Expr::value(now))
                .exec(db)
                .await?;
        }
        Some(since) if now - since >= FAILING_FOR => {
            let reason = format!(
                "every delivery failed for a day, the last: {}",
                describe(attempt)
            );
            // Turned off and its owner told in one transaction: told once, by whichever
            // delivery turned it off.
            let tx = db.begin().await?;
            let turned_off = update
                .col_expr(webhook::Column::DisabledAt, Expr::value(now))
                .col_expr(webhook::Column::DisabledReason, Expr::value(reason.clone()))
                .filter(webhook::Column::DisabledAt.is_null())
                .exec(&tx)
                .await?;
            let mut told = None;
            if turned_off.rows_affected == 1 {
                let message = Message {
                    kind: WEBHOOK_DISABLED,
                    title: "A webhook of yours was turned off".into(),
                    body: format!(
                        "Deliveries to {} have failed for a day, so it gets no more events \
                         until you turn it back on ({reason}).",
                        hook.url
                    ),
                    link: Some(format!("/api/v1/webhooks/{}", hook.id)),
                    // Sent once already: by the transaction that turned the webhook off.
                    key: None,
                    urgency: Urgency::Normal,
                };
                told = notify.send(&tx, hook.owner_id, message).await?;
            }
            tx.commit().await?;
            notify.committed(hook.owner_id, told).await;
            tracing::warn!(
                webhook = hook.id,
                owner = hook.owner_id,
                "webhook disabled after a day of failures"
            );
        }
        Some(_) => {}
    }
    Ok(())
}
