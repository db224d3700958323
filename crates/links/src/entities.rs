//! The links app's tables as SeaORM entities. Column meanings are documented in the
//! migration (`migrations/m20261125_000001_create_links.rs`).

pub mod link {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "links")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub owner_id: i64,
        pub slug: String,
        /// The host name the link is served on; `''` for the default domain.
        pub domain: String,
        pub target_url: String,
        pub title: Option<String>,
        pub redirect_status: i16,
        pub forward_query: bool,
        pub password_hash: Option<String>,
        pub valid_from: Option<DateTime<Utc>>,
        pub valid_until: Option<DateTime<Utc>>,
        pub max_clicks: Option<i64>,
        pub safety: crate::model::Safety,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::rule::Entity")]
        Rule,
        #[sea_orm(has_many = "super::click::Entity")]
        Click,
        #[sea_orm(has_one = "super::click_count::Entity")]
        ClickCount,
    }

    impl Related<super::click_count::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::ClickCount.def()
        }
    }

    impl Related<super::rule::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Rule.def()
        }
    }

    /// Links ↔ tags, many-to-many through `link_tags`.
    impl Related<super::tag::Entity> for Entity {
        fn to() -> RelationDef {
            super::link_tag::Relation::Tag.def()
        }
        fn via() -> Option<RelationDef> {
            Some(super::link_tag::Relation::Link.def().rev())
        }
    }

    impl ActiveModelBehavior for ActiveModel {}

    impl platform::auth::Owned for Entity {
        fn owner_column() -> Column {
            Column::OwnerId
        }
    }
}

/// A link's click counter, apart from `links` so that the click writer rewrites a few
/// narrow pages rather than the links' own (see the migration that made it). No row: no
/// clicks yet.
pub mod click_count {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "link_click_counts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub link_id: i64,
        pub clicks: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::link::Entity",
            from = "Column::LinkId",
            to = "super::link::Column::Id",
            on_delete = "Cascade"
        )]
        Link,
    }

    impl Related<super::link::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Link.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}

    /// A link's clicks, from its row here if it has one (no row: no clicks yet).
    pub fn of(row: Option<&Model>) -> i64 {
        row.map_or(0, |r| r.clicks)
    }
}

pub mod tag {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tags")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub owner_id: i64,
        pub name: String,
        pub created_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl Related<super::link::Entity> for Entity {
        fn to() -> RelationDef {
            super::link_tag::Relation::Link.def()
        }
        fn via() -> Option<RelationDef> {
            Some(super::link_tag::Relation::Tag.def().rev())
        }
    }

    impl ActiveModelBehavior for ActiveModel {}

    impl platform::auth::Owned for Entity {
        fn owner_column() -> Column {
            Column::OwnerId
        }
    }
}

pub mod link_tag {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "link_tags")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub link_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub tag_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::link::Entity",
            from = "Column::LinkId",
            to = "super::link::Column::Id",
            on_delete = "Cascade"
        )]
        Link,
        #[sea_orm(
            belongs_to = "super::tag::Entity",
            from = "Column::TagId",
            to = "super::tag::Column::Id",
            on_delete = "Cascade"
        )]
        Tag,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod rule {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "link_rules")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub link_id: i64,
        pub position: i16,
        pub kind: crate::model::RuleKind,
        pub value: String,
        pub target_url: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::link::Entity",
            from = "Column::LinkId",
            to = "super::link::Column::Id",
            on_delete = "Cascade"
        )]
        Link,
    }

    impl Related<super::link::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Link.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod click {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clicks")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub link_id: i64,
        pub clicked_at: DateTime<Utc>,
        pub referrer: Option<String>,
        pub referrer_host: Option<String>,
        pub country: Option<String>,
        pub browser: String,
        pub os: String,
        pub device: String,
        pub language: Option<String>,
        pub is_bot: bool,
        pub visitor_hash: String,
        pub utm_source: Option<String>,
        pub utm_medium: Option<String>,
        pub utm_campaign: Option<String>,
        pub utm_term: Option<String>,
        pub utm_content: Option<String>,
    }

    /// A relation for joins only: `clicks` has no foreign key in the database (a check per
    /// row costs the click writer too much); the trigger `links_forget_clicks` deletes a
    /// link's clicks with it (migration `m20261130_000002`).
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::link::Entity",
            from = "Column::LinkId",
            to = "super::link::Column::Id"
        )]
        Link,
    }

    impl Related<super::link::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Link.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// A visit that reached no link (see the migration `m20261201_000005`).
pub mod orphan_visit {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "orphan_visits")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub visited_at: DateTime<Utc>,
        pub kind: crate::model::OrphanKind,
        pub domain: String,
        pub slug: Option<String>,
        pub referrer: Option<String>,
        pub referrer_host: Option<String>,
        pub country: Option<String>,
        pub browser: String,
        pub os: String,
        pub device: String,
        pub language: Option<String>,
        pub is_bot: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
