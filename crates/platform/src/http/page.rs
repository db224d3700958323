//! Small HTML pages for people who land on the server in a browser (a short link gone or
//! mistyped): a title and a sentence, no scripts, no styles from elsewhere.

use axum::{
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

/// Text made safe to put in HTML, between tags or in a double-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page saying `title` and `message` (HTML), with `status`. The texts are ours, not the
/// visitor's; anything else in them must go through [`escape`].
pub fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width\"><title>{title}</title></head><body style=\"font-family:\
         system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem\"><h1>{title}</h1>\
         <p>{message}</p></body></html>"
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, super::security::PAGE_CSP),
        ],
        Html(body),
    )
        .into_response()
}

/// Whether the client asked for HTML by name (and not with `q=0`, "not at all"), as
/// browsers do when they follow a link. API clients (`*/*`, `application/json`) get
/// problem documents.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let refused = |param: &str| {
                let q = param.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok());
                q == Some(0.0)
            };
            parts.next() == Some("text/html") && !parts.any(refused)
        })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn escaped_text_cannot_open_a_tag_or_leave_an_attribute() {
        assert_eq!(
            escape(r#"https://x.example/?a=1&b=2"><script>'"#),
            "https://x.example/?a=1&amp;b=2&quot;&gt;&lt;script&gt;&#39;"
        );
    }

    #[test]
    fn only_a_named_text_html_asks_for_a_page() {
        let accepts = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static(value));
            wants_html(&headers)
        };
        assert!(accepts(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(accepts("application/json, text/html;q=0.1"));
        assert!(!accepts("*/*"));
        assert!(!accepts("application/json"));
        assert!(!accepts("text/*"));
        assert!(!accepts("text/html;q=0, application/json"));
        assert!(!wants_html(&HeaderMap::new()));
    }
}
