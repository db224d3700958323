//! `Notify::send` against a real database (SQLite, or PostgreSQL with
//! `CAPSTONE_TEST_DATABASE_URL`) and a fake ntfy server: the jobs each channel queues, under
//! the message's key, and what is pushed.

use std::sync::Arc;

use platform::{
    Config,
    background::Background,
    clock::Clock,
    db::{self, Db},
    jobs::{Jobs, QueueSettings, entity},
    mail::{Mailer, mailbox},
    notify::{Message, Notify, Urgency, WEBHOOK_DISABLED, entity::preferences},
    shared::Shared,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, QueryOrder};
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use testkit::{FakeNtfy, TestDatabase};

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        platform::migrations::migrations()
    }
}

const PUBLIC_URL: &str = "https://capstone.example";

/// A migrated database with one user (id 1) whose `webhook.disabled` notifications go to
/// the inbox, mail and ntfy at `topic_url`; and a started `Notify` on it (and the queue's
/// own recurring clean-up).
async fn setup(topic_url: &str) -> (TestDatabase, Db, Notify, Background) {
    let database = TestDatabase::fresh().await;
    let config = Config {
        database_url: database.url.clone().into(),
        database_max_connections: 4,
        allow_private_outbound: true,
        public_url: Some(PUBLIC_URL.into()),
        ..Config::default()
    };
    let db = db::connect(&config).await.expect("database");
    Migrator::up(&db, None).await.expect("migrations");
    let insert_user =
        "INSERT INTO users (id, email, display_name) VALUES (1, 'ann@example.com', 'Ann')";
    db.execute_unprepared(insert_user).await.unwrap();
    preferences::ActiveModel {
        user_id: Set(1),
        time_zone: Set("UTC".into()),
        channels: Set(r#"{"webhook.disabled":["email","in_app","ntfy"]}"#.into()),
        updated_at: Set(chrono::Utc::now()),
        ntfy_url: Set(Some(topic_url.into())),
        ntfy_token: Set(None),
    }
    .insert(&db)
    .await
    .unwrap();
    let background = Background::new();
    let jobs = Jobs::new(db.clone(), Clock::default(), QueueSettings::default());
    let mailer = Arc::new(Mailer::log_only(mailbox("no-reply@example.com").unwrap()));
    let shared = Shared::connect(&config).await.unwrap();
    let notify = Notify::new(&config, &db, &jobs, mailer, shared, &background).unwrap();
    jobs.start(&background);
    (database, db, notify, background)
}

fn message(key: Option<&str>) -> Message {
    Message {
        kind: WEBHOOK_DISABLED,
        title: "Un webhook a été arrêté".into(),
        body: "Deliveries have failed for a day.".into(),
        link: Some("/api/v1/webhooks/7".into()),
        key: key.map(str::to_owned),
        urgency: Urgency::Urgent,
    }
}

/// Sends `message` to user 1 in a transaction of its own, as a caller does: one that will
/// write (on SQLite a transaction that reads first would fail if the queue wrote meanwhile).
async fn send(db: &Db, notify: &Notify, message: Message) {
    let tx = db::begin_write(db).await.unwrap();
    let id = notify.send(&tx, 1, message).await.unwrap();
    tx.commit().await.unwrap();
    notify.committed(1, id).await;
}

#[tokio::test]
async fn a_keyed_message_sent_twice_queues_each_channel_once() {
    let ntfy = FakeNtfy::start().await;
    let (_database, db, notify, _background) = setup(&ntfy.topic_url("ann-x1")).await;
    send(&db, &notify, message(Some("webhook.disabled:7"))).await;
    send(&db, &notify, message(Some("webhook.disabled:7"))).await;

    let jobs: Vec<_> = entity::Entity::find()
        .order_by_asc(entity::Column::Id)
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind.starts_with("platform.notification_"))
        .collect();
    let keyed: Vec<(&str, Option<&str>)> = jobs
        .iter()
        .map(|j| (j.kind.as_str(), j.idempotency_key.as_deref()))
        .collect();
    assert_eq!(
        keyed,
        [
            (
                "platform.notification_email",
                Some("webhook.disabled:7:email:1")
            ),
            (
                "platform.notification_ntfy",
                Some("webhook.disabled:7:ntfy:1")
            ),
        ]
    );
    // The push's payload holds the message, not where it goes nor the token.
    let push = &jobs[1].payload;
    assert!(!push.contains("ann-x1"), "{push}");
    assert!(!push.contains(&ntfy.addr.to_string()), "{push}");

    let published = ntfy.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(ntfy.published().len(), 1, "pushed once");
    let push = &published[0];
    assert_eq!(push.topic, "ann-x1");
    assert_eq!(push.title.as_deref(), Some("Un webhook a été arrêté"));
    assert_eq!(push.message, "Deliveries have failed for a day.");
    assert_eq!(push.priority, 4, "urgent");
    assert_eq!(push.tags, ["webhook.disabled"]);
    // A link on this server is made absolute for the phone.
    assert_eq!(
        push.click.as_deref(),
        Some("https://capstone.example/api/v1/webhooks/7")
    );

    // Without a key, each send is its own.
    send(&db, &notify, message(None)).await;
    send(&db, &notify, message(None)).await;
    ntfy.wait_for(3).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(ntfy.accepted().len(), 3);
}
