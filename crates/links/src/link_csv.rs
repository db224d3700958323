//! A link as a CSV row, both ways: what `GET /api/v1/links?format=csv` writes and what
//! `POST /api/v1/links/bulk` reads back, in one place, so that a column added to one is seen
//! next to the other. (The quoting and download plumbing are `csv_files`'.)

use chrono::{DateTime, Utc};
use platform::{AppError, AppResult, error::FieldError};

use crate::{
    api::{Link, NewLink},
    csv_files,
};

/// The export's columns, in order. An import reads those a new link takes (`slug`, `domain`,
/// `target_url`, `title`, `tags`, `redirect_status`, `forward_query`, `valid_from`,
/// `valid_until`, `max_clicks`, and a `password` an export never holds) and ignores those
/// that describe a link as it is (`id`, `short_url`, `has_password`, `click_count`,
/// `created_at`), so an exported file imports as it is.
pub const EXPORTED: [&str; 15] = [
    "id",
    "slug",
    "domain",
    "short_url",
    "target_url",
    "title",
    "tags",
    "redirect_status",
    "forward_query",
    "has_password",
    "valid_from",
    "valid_until",
    "max_clicks",
    "click_count",
    "created_at",
];

/// `link` as a row of the export, in the order of [`EXPORTED`].
pub fn row(out: &mut String, link: Link) {
    let time = |t: Option<DateTime<Utc>>| t.map(csv_files::time).unwrap_or_default();
    csv_files::row(
        out,
        [
            link.id.to_string(),
            link.slug,
            link.domain.unwrap_or_default(),
            link.short_url,
            link.target_url,
            link.title.unwrap_or_default(),
            csv_files::join_tags(&link.tags),
            link.redirect_status.to_string(),
            link.forward_query.to_string(),
            link.has_password.to_string(),
            time(link.valid_from),
            time(link.valid_until),
            link.max_clicks.map(|n| n.to_string()).unwrap_or_default(),
            link.click_count.to_string(),
            csv_files::time(link.created_at),
        ],
    );
}

/// The links of a CSV file with a header row (up to one past `most`: the caller refuses
/// more), each as a `NewLink` or the errors of the
/// cells that could not be one (a `max_clicks` that is not a number; the rest is checked
/// as for JSON). A file that is not CSV, or has no `target_url` column, is a 422 on `items`.
pub fn read(body: &[u8], most: usize) -> AppResult<Vec<Result<NewLink, Vec<FieldError>>>> {
    let unreadable =
        |err: csv::Error| AppError::validation("items", format!("is not a CSV file: {err}"));
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(body);
    let header = reader.headers().map_err(unreadable)?.clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let Some(target_url) = column("target_url") else {
        return Err(AppError::validation(
            "items",
            "needs a header row with a target_url column",
        ));
    };
    let columns = CsvColumns {
        target_url,
        slug: column("slug"),
        domain: column("domain"),
        title: column("title"),
        tags: column("tags"),
        redirect_status: column("redirect_status"),
        forward_query: column("forward_query"),
        valid_from: column("valid_from"),
        valid_until: column("valid_until"),
        max_clicks: column("max_clicks"),
        password: column("password"),
    };
    let mut items = Vec::new();
    for record in reader.records() {
        if items.len() > most {
            break; // Too many either way; the caller says so.
        }
        items.push(columns.link(&record.map_err(unreadable)?));
    }
    Ok(items)
}

/// Where each column the import reads is in the file.
struct CsvColumns {
    target_url: usize,
    slug: Option<usize>,
    domain: Option<usize>,
    title: Option<usize>,
    tags: Option<usize>,
    redirect_status: Option<usize>,
    forward_query: Option<usize>,
    valid_from: Option<usize>,
    valid_until: Option<usize>,
    max_clicks: Option<usize>,
    password: Option<usize>,
}

impl CsvColumns {
    fn link(&self, record: &csv::StringRecord) -> Result<NewLink, Vec<FieldError>> {
        // A cell's text, as it was before the export defused it; `None` when empty.
        let cell = |column: Option<usize>| {
            column
                .and_then(|i| record.get(i))
                .map(|text| csv_files::unformula(text.trim()))
                .filter(|text| !text.is_empty())
        };
        let mut errors = Vec::new();
        let mut number = |field: &str, column, message: &str| {
            let value = cell(column)?;
            let number = value.parse::<i64>().ok();
            if number.is_none() {
                errors.push(FieldError::new(field, message));
            }
            number
        };
        let redirect_status = number(
            "redirect_status",
            self.redirect_status,
            "must be 301, 302, 307 or 308",
        );
        let max_clicks = number("max_clicks", self.max_clicks, "must be a whole number");
        let forward_query = match cell(self.forward_query) {
            None => Some(false),
            Some(v) => v.parse::<bool>().ok(),
        };
        if forward_query.is_none() {
            errors.push(FieldError::new("forward_query", "must be true or false"));
        }
        let mut time = |field: &str, column| {
            let value = cell(column)?;
            let time = DateTime::parse_from_rfc3339(value).ok().map(|t| t.to_utc());
            if time.is_none() {
                errors.push(FieldError::new(
                    field,
                    "must be an RFC 3339 time such as 2030-01-01T00:00:00Z",
                ));
            }
            time
        };
        let valid_from = time("valid_from", self.valid_from);
        let valid_until = time("valid_until", self.valid_until);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(NewLink {
            target_url: cell(Some(self.target_url)).unwrap_or_default().to_owned(),
            slug: cell(self.slug).map(str::to_owned),
            domain: cell(self.domain).map(str::to_owned),
            title: cell(self.title).map(str::to_owned),
            tags: cell(self.tags)
                .map(csv_files::split_tags)
                .unwrap_or_default(),
            redirect_status: redirect_status.map(|code| u16::try_from(code).unwrap_or(0)),
            forward_query: forward_query.unwrap_or_default(),
            password: cell(self.password).map(str::to_owned),
            valid_from,
            valid_until,
            max_clicks,
            rules: Vec::new(),
            find_if_exists: false,
        })
    }
}
