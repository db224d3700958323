//! `notifications` and `notification_preferences` (migrations
//! `m20261203_000003_create_notifications`, `m20261203_000005_notification_ntfy`).

pub mod notification {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notifications")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        pub kind: String,
        pub title: String,
        pub body: String,
        pub link: Option<String>,
        pub created_at: DateTime<Utc>,
        pub read_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod preferences {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification_preferences")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i64,
        /// An IANA zone name, such as `Europe/Paris`.
        pub time_zone: String,
        /// A JSON object: kind -> channels.
        pub channels: String,
        pub updated_at: DateTime<Utc>,
        /// The ntfy topic URL pushes go to, such as `https://ntfy.sh/my-topic`.
        pub ntfy_url: Option<String>,
        /// The access token for a protected topic; never shown (see the migration).
        pub ntfy_token: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
