//! CSV files: downloads (a link's clicks, the caller's links), written as they are read (a
//! header line, then rows in chunks, so an export of a million rows holds one chunk in
//! memory); and the quoting that keeps a spreadsheet from running a field as a formula,
//! undone when a file comes back as an import (`POST /api/v1/links/bulk` with `text/csv`).

use axum::{
    body::Body,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::{Stream, StreamExt, stream};

/// A `text/csv` download named `filename`: a header line of `columns`, then each chunk of
/// rows. A chunk that fails ends the download early; the client sees a broken transfer
/// rather than a file that looks whole.
pub fn download(
    filename: &str,
    columns: &[&str],
    chunks: impl Stream<Item = std::io::Result<String>> + Send + 'static,
) -> Response {
    // Fused: the compression layer polls the body once more after its end, which a bare
    // `unfold` answers with a panic (found by a test client that asks for gzip).
    let header = format!("{}\n", columns.join(","));
    let body = stream::once(async move { Ok(header) }).chain(chunks).fuse();
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// A time as the JSON API writes it: RFC 3339, UTC, `Z`.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Tags in one cell: separated by `|`, with `\|` for a `|` inside a tag and `\\` for a
/// backslash, so that every tag comes back whole from [`split_tags`].
pub fn join_tags(tags: &[String]) -> String {
    let escaped: Vec<String> = tags
        .iter()
        .map(|t| t.replace('\\', "\\\\").replace('|', "\\|"))
        .collect();
    escaped.join("|")
}

/// The tags in a cell written by [`join_tags`] (or by hand: `a|b`), trimmed, empty ones
/// left out.
pub fn split_tags(cell: &str) -> Vec<String> {
    let mut tags = Vec::new();
    let mut tag = String::new();
    let mut chars = cell.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => tag.extend(chars.next()),
            '|' => tags.push(std::mem::take(&mut tag)),
            c => tag.push(c),
        }
    }
    tags.push(tag);
    tags.into_iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Appends one line of `fields` to `out`.
pub fn row<S: AsRef<str>>(out: &mut String, fields: impl IntoIterator<Item = S>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, field.as_ref());
    }
    out.push('\n');
}

/// One field, quoted when it must be (RFC 4180). A field a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@`, a tab or a carriage return first: CSV injection) is
/// quoted and starts with `'`, which [`unformula`] takes off again on import.
fn push_field(out: &mut String, field: &str) {
    let formula = starts_like_a_formula(field);
    let quote = formula || field.contains([',', '"', '\n', '\r']);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for ch in field.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    if quote {
        out.push('"');
    }
}

fn starts_like_a_formula(field: &str) -> bool {
    field.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// A field as written before [`push_field`] defused it: `'=SUM(A1)` is `=SUM(A1)` again.
pub fn unformula(field: &str) -> &str {
    match field.strip_prefix('\'') {
        Some(rest) if starts_like_a_formula(rest) => rest,
        _ => field,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_with_bars_and_backslashes_come_back_whole() {
        let tags = vec!["a|b".to_owned(), "c\\d".to_owned(), "e".to_owned()];
        assert_eq!(join_tags(&tags), "a\\|b|c\\\\d|e");
        assert_eq!(split_tags(&join_tags(&tags)), tags);
        assert_eq!(split_tags(" x | y ||"), ["x", "y"]);
    }

    #[test]
    fn fields_are_quoted_and_formulas_defused_and_restored() {
        let mut out = String::new();
        row(&mut out, ["plain", "a,\"b\"", "=HYPERLINK(\"x\")"]);
        assert_eq!(out, "plain,\"a,\"\"b\"\"\",\"'=HYPERLINK(\"\"x\"\")\"\n");
        assert_eq!(unformula("'=HYPERLINK(\"x\")"), "=HYPERLINK(\"x\")");
        assert_eq!(unformula("'quoted on purpose"), "'quoted on purpose");
    }
}
