//! RFC 5545 §3.1 content lines: unfolding, folding, parameters, TEXT escaping,
//! and the BEGIN/END component tree. Purely syntactic; knows nothing of VTODO.
//!
//! Every logical line keeps its raw (unfolded) text next to the parsed form,
//! so anything the mapping layer does not understand can be written back
//! exactly as it came in.

use super::vtodo::ParseError;

/// One unfolded line and the 1-based number of the physical line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalLine {
    pub line: usize,
    pub text: String,
}

/// Unfolds `text` into logical lines.
///
/// Accepts CRLF and bare LF line ends, continuation lines starting with a
/// space or a tab, a leading byte order mark, and blank lines (which are skipped).
pub fn unfold(text: &str) -> Vec<LogicalLine> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<LogicalLine> = Vec::new();
    for (idx, phys) in text.split('\n').enumerate() {
        let phys = phys.strip_suffix('\r').unwrap_or(phys);
        if let Some(rest) = phys.strip_prefix([' ', '\t'])
            && let Some(last) = out.last_mut()
        {
            last.text.push_str(rest);
            continue;
        }
        if phys.trim().is_empty() {
            continue;
        }
        out.push(LogicalLine {
            line: idx + 1,
            text: phys.trim_start().to_string(),
        });
    }
    out
}

/// Octets allowed on one physical line, CRLF not counted (RFC 5545 §3.1).
const FOLD_OCTETS: usize = 75;

/// Appends `line` to `out` folded at 75 octets, never inside a UTF-8
/// character, each physical line ended by CRLF. Continuation lines start with
/// one space, which counts toward their 75 octets.
pub fn fold_into(out: &mut String, line: &str) {
    let mut rest = line;
    let mut limit = FOLD_OCTETS;
    loop {
        if rest.len() <= limit {
            out.push_str(rest);
            out.push_str("\r\n");
            return;
        }
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        limit = FOLD_OCTETS - 1;
    }
}

/// Writes a block of raw content lines (one line, or several separated by
/// line breaks, as in [`super::Object::other_components`]), each folded.
pub fn write_raw_block(out: &mut String, block: &str) {
    for line in block.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if !line.trim().is_empty() {
            fold_into(out, line);
        }
    }
}

/// Escapes a TEXT value (RFC 5545 §3.3.11): `\` `;` `,` and line breaks.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            c => out.push(c),
        }
    }
    out
}

/// Unescapes a TEXT value. Lenient: `\N` is a line break like `\n`, `\:` is
/// a colon, and any other backslash is kept as it stands (so a stray
/// `C:\Users` survives).
pub fn unescape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(c @ ('\\' | ';' | ',' | ':')) => out.push(c),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Splits a TEXT list (as in CATEGORIES) on unescaped commas, unescapes each
/// item, trims it, and drops empty items.
pub fn split_text_list(value: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            items.push(&value[start..i]);
            start = i + 1;
        }
    }
    items.push(&value[start..]);
    items
        .into_iter()
        .map(|item| unescape_text(item).trim().to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

/// One property parameter; `values` are unquoted and RFC 6868-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub values: Vec<String>,
}

/// A parsed content line: `name *(";" param) ":" value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentLine {
    /// The property name as written (compare with [`ContentLine::is`]).
    pub name: String,
    pub params: Vec<Param>,
    /// The value, still escaped.
    pub value: String,
    /// The whole unfolded line, verbatim.
    pub raw: String,
    /// 1-based physical line the logical line starts on.
    pub line: usize,
}

impl ContentLine {
    /// Parses one unfolded line. Parameter values may be quoted and then
    /// contain `:`, `;` and `,`; property and parameter names are kept as
    /// written and compared case-insensitively.
    pub fn parse(raw: &str, line: usize) -> Result<ContentLine, ParseError> {
        let bytes = raw.as_bytes();
        let len = bytes.len();
        let missing_colon = || ParseError::new(line, "not a content line (no ':' after the name)");
        let mut i = 0;
        while i < len && bytes[i] != b';' && bytes[i] != b':' {
            i += 1;
        }
        if i == len {
            return Err(missing_colon());
        }
        let name = raw[..i].trim();
        if name.is_empty() {
            return Err(ParseError::new(
                line,
                "content line without a property name",
            ));
        }
        let mut params = Vec::new();
        while bytes[i] == b';' {
            i += 1;
            let start = i;
            while i < len && !matches!(bytes[i], b'=' | b';' | b':') {
                i += 1;
            }
            if i == len {
                return Err(missing_colon());
            }
            let pname = raw[start..i].trim().to_string();
            let mut values = Vec::new();
            if bytes[i] == b'=' {
                i += 1;
                loop {
                    let mut value = String::new();
                    if i < len && bytes[i] == b'"' {
                        let Some(close) = raw[i + 1..].find('"') else {
                            return Err(ParseError::new(
                                line,
                                format!("unterminated quoted value of parameter {pname}"),
                            ));
                        };
                        value.push_str(&raw[i + 1..i + 1 + close]);
                        i += close + 2;
                    }
                    // Unquoted value, or (leniently) junk after a closing quote.
                    let start = i;
                    while i < len && !matches!(bytes[i], b',' | b';' | b':') {
                        i += 1;
                    }
                    value.push_str(&raw[start..i]);
                    values.push(decode_param_value(&value));
                    if i < len && bytes[i] == b',' {
                        i += 1;
                        continue;
                    }
                    break;
                }
            }
            if i == len {
                return Err(missing_colon());
            }
            params.push(Param {
                name: pname,
                values,
            });
        }
        Ok(ContentLine {
            name: name.to_string(),
            params,
            value: raw[i + 1..].to_string(),
            raw: raw.to_string(),
            line,
        })
    }

    /// Whether the property is called `name` (case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The first value of parameter `name` (case-insensitive), if present.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .and_then(|p| p.values.first())
            .map(String::as_str)
    }
}

/// The property name of a raw line (the text before the first `;` or `:`).
pub fn raw_name(raw: &str) -> &str {
    let end = raw.find([';', ':']).unwrap_or(raw.len());
    raw[..end].trim()
}

/// RFC 6868: `^n` is a line break, `^'` a double quote, `^^` a caret.
fn decode_param_value(value: &str) -> String {
    if !value.contains('^') {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '^' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\'') => out.push('"'),
            Some('^') => out.push('^'),
            Some(other) => {
                out.push('^');
                out.push(other);
            }
            None => out.push('^'),
        }
    }
    out
}

/// Formats a parameter value: RFC 6868-encoded, quoted when it holds `:`, `;` or `,`.
pub fn format_param_value(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '^' => encoded.push_str("^^"),
            '"' => encoded.push_str("^'"),
            '\n' => encoded.push_str("^n"),
            '\r' => {}
            c => encoded.push(c),
        }
    }
    if encoded.contains([':', ';', ',']) {
        format!("\"{encoded}\"")
    } else {
        encoded
    }
}

/// A BEGIN/END block: its parsed properties, its sub-components, and all its
/// raw lines (BEGIN to END inclusive, sub-components included) in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Upper-cased component name (`VTODO`).
    pub name: String,
    pub begin_line: usize,
    pub properties: Vec<ContentLine>,
    pub components: Vec<Component>,
    pub lines: Vec<String>,
}

impl Component {
    /// The raw lines joined by CRLF (no trailing line break).
    pub fn raw(&self) -> String {
        self.lines.join("\r\n")
    }

    /// The first property called `name`.
    pub fn property(&self, name: &str) -> Option<&ContentLine> {
        self.properties.iter().find(|p| p.is(name))
    }

    /// Calls `f` on every property of this component and its descendants.
    pub fn visit_properties<'a>(&'a self, f: &mut impl FnMut(&'a ContentLine)) {
        self.properties.iter().for_each(&mut *f);
        for child in &self.components {
            child.visit_properties(f);
        }
    }
}

/// Parses `text` into its top-level components, checking that BEGIN and END
/// balance. A property outside any component is an error.
pub fn parse_components(text: &str) -> Result<Vec<Component>, ParseError> {
    let mut top = Vec::new();
    let mut stack: Vec<Component> = Vec::new();
    for ll in unfold(text) {
        let cl = ContentLine::parse(&ll.text, ll.line)?;
        if cl.is("BEGIN") {
            let name = cl.value.trim().to_ascii_uppercase();
            if name.is_empty() {
                return Err(ParseError::new(ll.line, "BEGIN without a component name"));
            }
            stack.push(Component {
                name,
                begin_line: ll.line,
                properties: Vec::new(),
                components: Vec::new(),
                lines: vec![ll.text],
            });
        } else if cl.is("END") {
            let name = cl.value.trim().to_ascii_uppercase();
            let Some(mut done) = stack.pop() else {
                return Err(ParseError::new(
                    ll.line,
                    format!("END:{name} without a matching BEGIN"),
                ));
            };
            if done.name != name {
                return Err(ParseError::new(
                    ll.line,
                    format!(
                        "END:{name} does not match BEGIN:{} on line {}",
                        done.name, done.begin_line
                    ),
                ));
            }
            done.lines.push(ll.text);
            match stack.last_mut() {
                Some(parent) => {
                    parent.lines.extend(done.lines.iter().cloned());
                    parent.components.push(done);
                }
                None => top.push(done),
            }
        } else {
            match stack.last_mut() {
                Some(current) => {
                    current.lines.push(ll.text);
                    current.properties.push(cl);
                }
                None => {
                    return Err(ParseError::new(
                        ll.line,
                        format!("expected BEGIN:VCALENDAR, found {}", cl.name),
                    ));
                }
            }
        }
    }
    if let Some(open) = stack.last() {
        return Err(ParseError::new(
            open.begin_line,
            format!(
                "BEGIN:{} is never closed (missing END:{})",
                open.name, open.name
            ),
        ));
    }
    Ok(top)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfold_crlf_lf_space_and_tab() {
        let text =
            "\u{feff}BEGIN:VTODO\r\nSUMMARY:Hello\r\n  wor\r\n\tld\nDESCRIPTION:x\n\nEND:VTODO";
        let lines = unfold(text);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "BEGIN:VTODO",
                "SUMMARY:Hello world",
                "DESCRIPTION:x",
                "END:VTODO"
            ]
        );
        assert_eq!(
            lines.iter().map(|l| l.line).collect::<Vec<_>>(),
            [1, 2, 5, 7]
        );
    }

    #[test]
    fn fold_respects_75_octets_and_utf8() {
        let line = format!("SUMMARY:{}", "日本語ü".repeat(40));
        let mut out = String::new();
        fold_into(&mut out, &line);
        assert!(out.ends_with("\r\n"));
        for phys in out.trim_end_matches("\r\n").split("\r\n") {
            assert!(phys.len() <= 75, "{} octets: {phys}", phys.len());
        }
        let back = unfold(&out);
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].text, line);
    }

    #[test]
    fn fold_exact_limit_is_not_folded() {
        let line = "X".repeat(75);
        let mut out = String::new();
        fold_into(&mut out, &line);
        assert_eq!(out, format!("{line}\r\n"));
        let mut out = String::new();
        fold_into(&mut out, &"X".repeat(76));
        assert_eq!(out, format!("{}\r\n X\r\n", "X".repeat(75)));
    }

    #[test]
    fn text_escaping_round_trip() {
        let text = "a\\b;c,d\ne\r\nf";
        let escaped = escape_text(text);
        assert_eq!(escaped, "a\\\\b\\;c\\,d\\ne\\nf");
        assert_eq!(unescape_text(&escaped), "a\\b;c,d\ne\nf");
        assert_eq!(
            unescape_text("One\\NTwo\\:three C:\\Users"),
            "One\nTwo:three C:\\Users"
        );
    }

    #[test]
    fn split_list_on_unescaped_commas() {
        assert_eq!(
            split_text_list("Work,Home\\, Garden, Errands,,"),
            ["Work", "Home, Garden", "Errands"]
        );
        assert_eq!(split_text_list("a\\\\,b"), ["a\\", "b"]);
    }

    #[test]
    fn parameters_quoted_and_multi_valued() {
        let raw = r#"DESCRIPTION;ALTREP="http://x;y:z";x-Foo=a,"b,c";LANGUAGE=de:Text: with colon"#;
        let cl = ContentLine::parse(raw, 3).unwrap();
        assert!(cl.is("description"));
        assert_eq!(cl.param("altrep"), Some("http://x;y:z"));
        assert_eq!(cl.params[1].values, ["a", "b,c"]);
        assert_eq!(cl.param("LANGUAGE"), Some("de"));
        assert_eq!(cl.value, "Text: with colon");
        assert_eq!(cl.raw, raw);
    }

    #[test]
    fn rfc6868_parameter_values() {
        let cl = ContentLine::parse("X-P;X-T=a^'b^'^nc^^:v", 1).unwrap();
        assert_eq!(cl.param("X-T"), Some("a\"b\"\nc^"));
        assert_eq!(format_param_value("a\"b:c"), "\"a^'b:c\"");
        assert_eq!(format_param_value("Europe/London"), "Europe/London");
    }

    #[test]
    fn content_line_errors() {
        assert_eq!(ContentLine::parse("no colon here", 4).unwrap_err().line, 4);
        assert!(ContentLine::parse("X;P=\"open:v", 1).is_err());
        assert!(ContentLine::parse(":value", 1).is_err());
    }

    #[test]
    fn component_tree_and_balance() {
        let comps = parse_components("BEGIN:A\nP:1\nBEGIN:b\nQ:2\nEND:B\nR:3\nEND:a\n").unwrap();
        assert_eq!(comps.len(), 1);
        assert_eq!(comps[0].name, "A");
        assert_eq!(comps[0].components[0].lines, ["BEGIN:b", "Q:2", "END:B"]);
        assert_eq!(comps[0].lines.len(), 7);
        let err = parse_components("BEGIN:A\nBEGIN:B\nEND:A\n").unwrap_err();
        assert_eq!(err.line, 3);
        let err = parse_components("BEGIN:A\nBEGIN:B\nEND:B\n").unwrap_err();
        assert_eq!(err.line, 1);
        let err = parse_components("END:A\n").unwrap_err();
        assert_eq!(err.line, 1);
    }
}
