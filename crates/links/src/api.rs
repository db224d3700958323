//! What the links API accepts and answers, and the parsing from one to the other.

use chrono::{DateTime, Utc};
use platform::{error::Validator, http::json::nullable};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    domains::Domains,
    entities::{link, rule},
    model::Safety,
    model::{RedirectStatus, RuleKind, Slug, Target, parse_tag},
};

/// A short link as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Link {
    pub id: i64,
    pub slug: String,
    /// The host name the link is served on, one of `GET /api/v1/domains`; `null` for the
    /// default domain.
    #[schema(example = "go.example.com")]
    pub domain: Option<String>,
    /// The link to share.
    #[schema(example = "https://s.example/abc1234")]
    pub short_url: String,
    pub target_url: String,
    pub title: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = u16, example = 302)]
    pub redirect_status: u16,
    /// Whether the visitor's query string is appended to the target.
    pub forward_query: bool,
    /// Whether visitors must enter a password first.
    pub has_password: bool,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub max_clicks: Option<i64>,
    pub click_count: i64,
    /// Redirect rules, evaluated in order; the first match wins, else `target_url`.
    pub rules: Vec<Rule>,
    pub safety: Safety,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Link {
    pub fn new(
        model: link::Model,
        click_count: i64,
        tags: Vec<String>,
        rules: Vec<rule::Model>,
        domains: &Domains,
    ) -> Self {
        Self {
            short_url: domains.short_url(&model.domain, &model.slug),
            domain: Domains::shown(&model.domain),
            id: model.id,
            slug: model.slug,
            target_url: model.target_url,
            title: model.title,
            tags,
            redirect_status: model.redirect_status as u16,
            forward_query: model.forward_query,
            has_password: model.password_hash.is_some(),
            valid_from: model.valid_from,
            valid_until: model.valid_until,
            max_clicks: model.max_clicks,
            click_count,
            rules: rules.into_iter().map(Rule::from).collect(),
            safety: model.safety,
            created_at: model.created_at,
            updated_at: model.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Rule {
    pub kind: RuleKind,
    #[schema(example = "ios")]
    pub value: String,
    pub target_url: String,
}

impl From<rule::Model> for Rule {
    fn from(m: rule::Model) -> Self {
        Self {
            kind: m.kind,
            value: m.value,
            target_url: m.target_url,
        }
    }
}

/// A link to create. Only `target_url` is required.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    #[schema(example = "https://example.com/a/long/path?with=query")]
    pub target_url: String,
    /// A custom slug; a random one when absent.
    pub slug: Option<String>,
    /// One of `GET /api/v1/domains`; the default domain when absent.
    pub domain: Option<String>,
    /// Fetched from the target page in the background when absent.
    pub title: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[schema(value_type = Option<u16>, example = 302)]
    pub redirect_status: Option<u16>,
    #[serde(default)]
    pub forward_query: bool,
    /// Visitors must enter it before being redirected.
    pub password: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub max_clicks: Option<i64>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Answer with your existing link to the same target (with this slug, if one is given)
    /// instead of making another: 200 rather than 201. Its other fields are left as they
    /// are. As Shlink's `findIfExists` and Kutt's `reuse`.
    #[serde(default)]
    pub find_if_exists: bool,
}

/// Changes to a link. Absent fields stay as they are; `null` clears a clearable field.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkChanges {
    pub target_url: Option<String>,
    pub slug: Option<String>,
    /// Moves the link to another domain; `null` for the default one.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub domain: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub title: Option<Option<String>>,
    /// Replaces the link's tags.
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<u16>)]
    pub redirect_status: Option<u16>,
    pub forward_query: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub password: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_from: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_until: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub max_clicks: Option<Option<i64>>,
    /// Replaces the link's rules.
    pub rules: Option<Vec<Rule>>,
}

/// A rule, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRule {
    pub kind: RuleKind,
    pub value: String,
    pub target: Target,
}

/// Every field of a link to create, parsed.
#[derive(Debug, Clone)]
pub struct ValidLink {
    pub target: Target,
    pub slug: Option<Slug>,
    /// `''` for the default domain.
    pub domain: String,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub redirect_status: RedirectStatus,
    pub forward_query: bool,
    pub password: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub max_clicks: Option<i64>,
    pub rules: Vec<ValidRule>,
    pub find_if_exists: bool,
}

/// The fields of a [`LinkChanges`], parsed: `None` leaves a field as it is.
#[derive(Debug, Clone)]
pub struct ValidChanges {
    pub target: Option<Target>,
    pub slug: Option<Slug>,
    /// `''` for the default domain.
    pub domain: Option<String>,
    /// `Some(None)` clears it.
    pub title: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub redirect_status: Option<RedirectStatus>,
    pub forward_query: Option<bool>,
    /// `Some(None)` removes it.
    pub password: Option<Option<String>>,
    /// `Some(None)` removes the limit.
    pub max_clicks: Option<Option<i64>>,
    /// The validity after the change: an end not given stays as it was.
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub rules: Option<Vec<ValidRule>>,
}

pub const MAX_TAGS: usize = 20;
pub const MAX_RULES: usize = 20;

/// The checks shared by create, bulk create and update; `at` prefixes field names
/// (`items[3].`) so that a bulk error says which item.
pub struct Check<'a> {
    pub v: &'a mut Validator,
    pub at: &'a str,
    pub domains: &'a Domains,
}

impl Check<'_> {
    fn field(&self, name: &str) -> String {
        format!("{}{name}", self.at)
    }

    pub fn target(&mut self, raw: &str) -> Option<Target> {
        let field = self.field("target_url");
        self.v.check(&field, Target::parse(raw))
    }

    pub fn slug(&mut self, raw: &str) -> Option<Slug> {
        let field = self.field("slug");
        self.v.check(&field, Slug::parse(raw))
    }

    /// `''` for the default domain.
    pub fn domain(&mut self, raw: Option<&str>) -> Option<String> {
        let field = self.field("domain");
        match raw {
            None => Some(String::new()),
            Some(raw) => self.v.check(&field, self.domains.parse(raw)),
        }
    }

    pub fn title(&mut self, raw: &str) -> Option<String> {
        let title = raw.trim();
        if title.chars().count() > 300 {
            let field = self.field("title");
            self.v.error(&field, "must be at most 300 characters");
            return None;
        }
        Some(title.to_owned())
    }

    pub fn tags(&mut self, raw: &[String]) -> Vec<String> {
        if raw.len() > MAX_TAGS {
            let field = self.field("tags");
            self.v.error(&field, format!("at most {MAX_TAGS} tags"));
        }
        let mut tags: Vec<String> = Vec::new();
        for (i, tag) in raw.iter().enumerate() {
            let field = self.field(&format!("tags[{i}]"));
            if let Some(tag) = self.v.check(&field, parse_tag(tag))
                && !tags.contains(&tag)
            {
                tags.push(tag);
            }
        }
        tags
    }

    pub fn redirect_status(&mut self, raw: u16) -> Option<RedirectStatus> {
        let field = self.field("redirect_status");
        self.v.check(&field, RedirectStatus::try_from(raw))
    }

    pub fn password(&mut self, raw: &str) -> Option<String> {
        if !(4..=128).contains(&raw.chars().count()) {
            let field = self.field("password");
            self.v.error(&field, "must be 4 to 128 characters");
            return None;
        }
        Some(raw.to_owned())
    }

    pub fn max_clicks(&mut self, raw: i64) -> Option<i64> {
        if raw < 1 {
            let field = self.field("max_clicks");
            self.v.error(&field, "must be at least 1");
            return None;
        }
        Some(raw)
    }

    pub fn validity(&mut self, from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) {
        if let (Some(from), Some(until)) = (from, until)
            && until <= from
        {
            let field = self.field("valid_until");
            self.v.error(&field, "must be after valid_from");
        }
    }

    pub fn rules(&mut self, raw: &[Rule]) -> Vec<ValidRule> {
        if raw.len() > MAX_RULES {
            let field = self.field("rules");
            self.v.error(&field, format!("at most {MAX_RULES} rules"));
        }
        let mut rules = Vec::new();
        for (i, rule) in raw.iter().enumerate() {
            let value = self.v.check(
                &self.field(&format!("rules[{i}].value")),
                rule.kind.parse_value(&rule.value),
            );
            let target = self.v.check(
                &self.field(&format!("rules[{i}].target_url")),
                Target::parse(&rule.target_url),
            );
            if let (Some(value), Some(target)) = (value, target) {
                rules.push(ValidRule {
                    kind: rule.kind,
                    value,
                    target,
                });
            }
        }
        rules
    }
}

impl NewLink {
    /// Parses every field, recording every problem; `None` if any field is invalid.
    pub fn validate(&self, check: &mut Check) -> Option<ValidLink> {
        let before = check.v.len();
        let target = check.target(&self.target_url);
        let slug = self.slug.as_deref().map(|s| check.slug(s));
        let domain = check.domain(self.domain.as_deref());
        let title = self
            .title
            .as_deref()
            .and_then(|t| check.title(t))
            .filter(|t| !t.is_empty());
        let tags = check.tags(&self.tags);
        let redirect_status = match self.redirect_status {
            Some(code) => check.redirect_status(code),
            None => Some(RedirectStatus::DEFAULT),
        };
        let password = self.password.as_deref().map(|p| check.password(p));
        let max_clicks = self.max_clicks.map(|m| check.max_clicks(m));
        check.validity(self.valid_from, self.valid_until);
        let rules = check.rules(&self.rules);
        if check.v.len() > before {
            return None;
        }
        Some(ValidLink {
            target: target?,
            slug: slug.flatten(),
            domain: domain?,
            title,
            tags,
            redirect_status: redirect_status?,
            forward_query: self.forward_query,
            password: password.flatten(),
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            max_clicks: max_clicks.flatten(),
            rules,
            find_if_exists: self.find_if_exists,
        })
    }
}

impl LinkChanges {
    /// Parses every field given, recording every problem; `None` if any is invalid. A new
    /// end of the validity is checked against the other end of `current`'s.
    pub fn validate(&self, check: &mut Check, current: &link::Model) -> Option<ValidChanges> {
        let before = check.v.len();
        let target = self.target_url.as_deref().map(|t| check.target(t));
        let slug = self.slug.as_deref().map(|s| check.slug(s));
        let domain = self.domain.as_ref().map(|d| check.domain(d.as_deref()));
        let title = self
            .title
            .clone()
            .map(|t| t.and_then(|t| check.title(&t)).filter(|t| !t.is_empty()));
        let tags = self.tags.as_deref().map(|t| check.tags(t));
        let redirect_status = self.redirect_status.map(|s| check.redirect_status(s));
        let password = self
            .password
            .clone()
            .map(|p| p.and_then(|p| check.password(&p)));
        let max_clicks = self.max_clicks.map(|m| m.and_then(|m| check.max_clicks(m)));
        let valid_from = self.valid_from.unwrap_or(current.valid_from);
        let valid_until = self.valid_until.unwrap_or(current.valid_until);
        check.validity(valid_from, valid_until);
        let rules = self.rules.as_deref().map(|r| check.rules(r));
        if check.v.len() > before {
            return None;
        }
        Some(ValidChanges {
            target: target.flatten(),
            slug: slug.flatten(),
            domain: domain.flatten(),
            title,
            tags,
            redirect_status: redirect_status.flatten(),
            forward_query: self.forward_query,
            password,
            max_clicks,
            valid_from,
            valid_until,
            rules,
        })
    }
}
