//! `GET /v2/images` query parameters → `domain::ImageQuery`, with Glance's rules and messages
//! (`images.py` RequestDeserializer.index/_get_filters/_get_sorting_params, the controller's
//! os_hidden/protected checks, and `db/sqlalchemy/api.py` _make_conditions_from_filters), plus
//! the `first`/`next` links of the reply. Pure functions: no request, no database.

use percent_encoding::percent_decode_str;

use crate::config::Limits;
use crate::domain::{
    CmpOp, ImageColumn, ImageQuery, MemberStatusFilter, SortDir, SortKey, Timestamp, ValueMatch,
    Visibility, VisibilityFilter,
};
use crate::error::ApiError;

/// Query pairs in request order, decoded like Python's `parse_qsl(keep_blank_values=True)`.
pub fn parse_query_string(query: &str) -> Vec<(String, String)> {
    let decode = |text: &str| {
        let spaced = text.replace('+', " ");
        percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) => (decode(key), decode(value)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// webob's answer to a query string whose percent-escapes are not UTF-8, as Glance 33 gives it
/// for `GET /v2/images?name=%ff` (tests/fixtures/real-glance-33/hostile-answers.tsv).
pub fn ensure_utf8_query(query: &str) -> Result<(), ApiError> {
    crate::api::common::ensure_decodable(query)
}

/// The query's pairs with webob MultiDict semantics: `pop` takes the first occurrence,
/// `last` reads the last one.
struct Params(Vec<(String, String)>);

impl Params {
    fn pop(&mut self, key: &str) -> Option<String> {
        let index = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(index).1)
    }

    fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    fn last(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Distinct keys in first-seen order, each with its last value (Python's `dict(params)`).
    fn as_dict(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (key, value) in &self.0 {
            match out.iter_mut().find(|(k, _)| k == key) {
                Some(entry) => entry.1.clone_from(value),
                None => out.push((key.clone(), value.clone())),
            }
        }
        out
    }
}

const SORT_KEYS: &str =
    "name, status, container_format, disk_format, size, id, created_at, updated_at";

/// Parse the list parameters of `GET /v2/images`.
pub fn image_query(pairs: &[(String, String)], limits: &Limits) -> Result<ImageQuery, ApiError> {
    let mut params = Params(pairs.to_vec());
    let limit = params.pop("limit");
    let marker = params.pop("marker");
    let member_status = params
        .pop("member_status")
        .unwrap_or_else(|| "accepted".into());
    let mut tags = Vec::new();
    while let Some(tag) = params.pop("tag") {
        // As every other filter: PostgreSQL cannot compare with NUL, so no backend may.
        if tag.contains('\0') {
            return Err(crate::api::common::nul_refused());
        }
        tags.push(tag.trim().to_string());
    }

    let mut query = ImageQuery::default();
    if let Some(visibility) = params.last("visibility").filter(|v| !v.is_empty()) {
        query.filters.visibility = Some(match visibility {
            "all" => VisibilityFilter::All,
            other => VisibilityFilter::Only(Visibility::parse(other).ok_or_else(|| {
                ApiError::bad_request(format!("Invalid visibility value: {other}"))
            })?),
        });
    }
    if params.last("changes-since").is_some_and(|v| !v.is_empty()) {
        return Err(ApiError::bad_request(
            "The \"changes-since\" filter is no longer available on v2.",
        ));
    }
    query.member_status = MemberStatusFilter::parse(&member_status)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid status: {member_status}")))?;
    query.limit = Some(parse_limit(limit.as_deref(), limits)?);
    query.marker = marker;
    query.sort = sorting(&mut params)?;

    let os_hidden = params.last("os_hidden").unwrap_or("false").to_lowercase();
    query.filters.os_hidden = Some(parse_bool_filter("os_hidden", &os_hidden)?);
    if let Some(protected) = params.last("protected") {
        query.filters.protected = Some(parse_bool_filter("protected", protected)?);
    }
    query.filters.tags = tags;

    const HANDLED: &[&str] = &[
        "visibility",
        "changes-since",
        "os_hidden",
        "protected",
        "deleted",
    ];
    for (key, value) in params.as_dict() {
        if key.contains('\0') || value.contains('\0') {
            return Err(crate::api::common::nul_refused());
        }
        if !HANDLED.contains(&key.as_str()) {
            add_filter(&mut query, &key, &value)?;
        }
    }
    let f = &query.filters;
    let filter_count = f.tags.len() + f.properties.len() + f.columns.len();
    if filter_count > MAX_FILTERS {
        // Each filter is one SQL condition: hundreds would pass the database's limits.
        return Err(ApiError::bad_request(format!(
            "Too many filters: {filter_count} given, at most {MAX_FILTERS} are supported."
        )));
    }
    Ok(query)
}

/// At most this many tag, property and column filters in one list request.
pub const MAX_FILTERS: usize = 100;

fn parse_bool_filter(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "Invalid value '{value}' for '{name}' filter. Valid values are 'true' or 'false'."
        ))),
    }
}

/// Python's `int()` on a query value: surrounding blanks and a sign allowed.
fn python_int(text: &str) -> Option<i128> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    // Saturate absurdly long numbers instead of overflowing; only the sign and caps matter.
    let magnitude = digits.parse::<i128>().unwrap_or(i128::MAX);
    Some(if trimmed.starts_with('-') {
        -magnitude
    } else {
        magnitude
    })
}

fn parse_limit(limit: Option<&str>, limits: &Limits) -> Result<u32, ApiError> {
    let Some(text) = limit else {
        return Ok(limits.limit_param_default.min(limits.api_limit_max));
    };
    let value =
        python_int(text).ok_or_else(|| ApiError::bad_request("limit param must be an integer"))?;
    if value < 0 {
        return Err(ApiError::bad_request("limit param must be positive"));
    }
    Ok(u32::try_from(value)
        .unwrap_or(u32::MAX)
        .min(limits.api_limit_max))
}

fn sort_key(text: &str) -> Result<SortKey, ApiError> {
    SortKey::parse(text).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Invalid sort key: {text}. It must be one of the following: {SORT_KEYS}."
        ))
    })
}

fn sort_dir(text: &str) -> Result<SortDir, ApiError> {
    SortDir::parse(text)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid sort direction: {text}")))
}

/// Sort keys with Glance's tie-breakers (`created_at`, `id`) already appended, in the
/// direction the database layer gives them, so no backend has to guess.
fn sorting(params: &mut Params) -> Result<Vec<(SortKey, SortDir)>, ApiError> {
    let mut keys = Vec::new();
    let mut dirs = Vec::new();
    if let Some(sort) = params.pop("sort") {
        if params.contains("sort_key") || params.contains("sort_dir") {
            return Err(ApiError::bad_request(
                "Old and new sorting syntax cannot be combined",
            ));
        }
        for item in sort.trim().split(',') {
            let (key, dir) = item.split_once(':').unwrap_or((item, ""));
            let dir = if dir.is_empty() { "desc" } else { dir };
            keys.push(sort_key(key.trim())?);
            dirs.push(sort_dir(dir.trim())?);
        }
    } else {
        while let Some(key) = params.pop("sort_key") {
            keys.push(sort_key(key.trim())?);
        }
        while let Some(dir) = params.pop("sort_dir") {
            dirs.push(sort_dir(dir.trim())?);
        }
        if dirs.len() > 1 && dirs.len() != keys.len() {
            return Err(ApiError::bad_request(
                "Number of sort dirs does not match the number of sort keys",
            ));
        }
    }
    if keys.is_empty() {
        keys.push(SortKey::CreatedAt);
    }
    let default_dir = match dirs.as_slice() {
        [only] => *only,
        _ => SortDir::Desc,
    };
    if dirs.len() <= 1 {
        dirs = vec![default_dir; keys.len()];
    }
    let mut sort: Vec<(SortKey, SortDir)> = keys.into_iter().zip(dirs).collect();
    for tie_breaker in [SortKey::CreatedAt, SortKey::Id] {
        if !sort.iter().any(|(k, _)| *k == tie_breaker) {
            sort.push((tie_breaker, default_dir));
        }
    }
    Ok(sort)
}

fn unknown_operator(op: &str) -> ApiError {
    ApiError::bad_request(format!("Unable to filter by unknown operator '{op}'."))
}

fn add_filter(query: &mut ImageQuery, key: &str, value: &str) -> Result<(), ApiError> {
    let filters = &mut query.filters;
    if let Some(column) = key
        .strip_suffix("_min")
        .or_else(|| key.strip_suffix("_max"))
    {
        let bound = python_int(value).ok_or_else(|| {
            ApiError::bad_request("Unable to filter on a range with a non-numeric value.")
        })?;
        if column != "size" {
            return Err(ApiError::bad_request(format!(
                "Unable to filter on a range of '{column}': only size_min and size_max are \
                 supported."
            )));
        }
        let bound = i64::try_from(bound).unwrap_or(if bound < 0 { i64::MIN } else { i64::MAX });
        if key.ends_with("_min") {
            filters.size_min = Some(bound);
        } else {
            filters.size_max = Some(bound);
        }
        return Ok(());
    }
    match key {
        "created_at" | "updated_at" => {
            let (op, text) = split_filter_op(value);
            let at = parse_isotime(text).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Invalid value '{text}' for parameter '{key}': Unable to parse date string \
                     '{text}'"
                ))
            })?;
            let op = CmpOp::parse(op).ok_or_else(|| unknown_operator(op))?;
            let target = if key == "created_at" {
                &mut filters.created_at
            } else {
                &mut filters.updated_at
            };
            target.push((op, at));
        }
        "name" | "id" | "status" | "container_format" | "disk_format" => {
            let (op, text) = split_filter_op(value);
            let matcher = match op {
                "eq" => ValueMatch::Eq(text.to_string()),
                "in" => ValueMatch::In(split_quoted_list(text)?),
                other => return Err(unknown_operator(other)),
            };
            let slot = match key {
                "name" => &mut filters.name,
                "id" => &mut filters.id,
                "status" => &mut filters.status,
                "container_format" => &mut filters.container_format,
                _ => &mut filters.disk_format,
            };
            *slot = Some(matcher);
        }
        _ => match ImageColumn::parse(key) {
            Some(column) => {
                if column.is_integer() && python_int(value).is_none() {
                    return Err(ApiError::bad_request(format!(
                        "Invalid value '{value}' for parameter '{key}': must be an integer."
                    )));
                }
                let value = if column.is_integer() {
                    value.trim()
                } else {
                    value
                };
                filters.columns.push((column, value.to_string()));
            }
            None => {
                filters
                    .properties
                    .insert(key.to_string(), value.to_string());
            }
        },
    }
    Ok(())
}

/// Glance's `split_filter_op`: `op:value`, but a bare ISO 8601 time (which has colons) and a
/// value without `:` mean `eq`.
fn split_filter_op(expression: &str) -> (&str, &str) {
    match expression.split_once(':') {
        Some(_) if parse_isotime(expression).is_some() => ("eq", expression),
        Some((op, value)) => (op, value),
        None => ("eq", expression),
    }
}

/// The ISO 8601 forms `iso8601.parse_date` accepts that matter here, as naive UTC.
pub fn parse_isotime(text: &str) -> Option<Timestamp> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let text = text.trim();
    if let Ok(with_zone) = DateTime::parse_from_rfc3339(text) {
        return Some(with_zone.naive_utc());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M%#z",
    ] {
        if let Ok(with_zone) = DateTime::parse_from_str(text, format) {
            return Some(with_zone.naive_utc());
        }
    }
    let naive = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(naive, format) {
            return Some(at);
        }
    }
    // iso8601 also takes a bare year (`2026`) or year and month (`2026-12`): their first day.
    let day = match naive.len() {
        4 => format!("{naive}-01-01"),
        7 => format!("{naive}-01"),
        _ => naive.to_string(),
    };
    NaiveDate::parse_from_str(&day, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
}

/// Glance's `split_filter_value_for_quotes`: commas separate values; a double-quoted value may
/// hold commas; quotes must sit right after/before a comma (or the ends).
fn split_quoted_list(value: &str) -> Result<Vec<String>, ApiError> {
    let invalid = |why: &str| ApiError::bad_request(format!("Invalid filter value {value}. {why}"));
    let chars: Vec<char> = value.chars().collect();
    let mut open = true;
    for (i, &c) in chars.iter().enumerate() {
        if c != '"' || (i > 0 && chars[i - 1] == '\\') {
            continue;
        }
        if open {
            if i > 0 && chars[i - 1] != ',' {
                return Err(invalid("There is no comma before opening quotation mark."));
            }
        } else if i + 1 != chars.len() && chars[i + 1] != ',' {
            return Err(invalid("There is no comma after closing quotation mark."));
        }
        open = !open;
    }
    if !open {
        return Err(invalid("The quote is not closed."));
    }

    let mut values = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '"' {
            // A quoted value: up to the next unescaped quote, escapes kept as written.
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            let end = j.min(chars.len());
            values.push(chars[i + 1..end].iter().collect());
            i = end + 1;
            if chars.get(i) == Some(&',') {
                i += 1;
            }
        } else if chars[i] == ',' {
            values.push(String::new());
            i += 1;
        } else {
            let start = i;
            while i < chars.len() && chars[i] != ',' {
                i += 1;
            }
            values.push(chars[start..i].iter().collect());
            if i < chars.len() {
                i += 1;
            }
        }
    }
    Ok(values)
}

/// Python's `urllib.parse.quote_plus`.
fn quote_plus(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(byte as char);
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

fn urlencode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The reply's `first` and `next` links: the request's query without `marker` (repeated keys
/// collapse to their last value, as in Glance), and with `marker=<last id>` for `next`.
pub fn page_links(
    pairs: &[(String, String)],
    next_marker: Option<&str>,
) -> (String, Option<String>) {
    let mut dict = Params(pairs.to_vec()).as_dict();
    dict.retain(|(k, _)| k != "marker");
    let first = if dict.is_empty() {
        "/v2/images".to_string()
    } else {
        format!("/v2/images?{}", urlencode(&dict))
    };
    let next = next_marker.map(|marker| {
        dict.push(("marker".to_string(), marker.to_string()));
        format!("/v2/images?{}", urlencode(&dict))
    });
    (first, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Service, Settings};

    fn limits() -> Limits {
        Settings::defaults(Service::Api).limits
    }

    fn parse(query: &str) -> Result<ImageQuery, ApiError> {
        image_query(&parse_query_string(query), &limits())
    }

    fn error(query: &str) -> String {
        let err = parse(query).expect_err("must be rejected");
        assert_eq!(err.status.as_u16(), 400, "{query}");
        err.explanation
    }

    #[test]
    fn defaults() {
        let q = parse("").expect("valid");
        assert_eq!(q.limit, Some(25));
        assert_eq!(q.marker, None);
        assert_eq!(
            q.sort,
            vec![
                (SortKey::CreatedAt, SortDir::Desc),
                (SortKey::Id, SortDir::Desc)
            ]
        );
        assert_eq!(q.member_status, MemberStatusFilter::Accepted);
        assert_eq!(q.filters.os_hidden, Some(false));
        assert_eq!(q.filters.visibility, None);
    }

    #[test]
    fn limit_rules() {
        assert_eq!(parse("limit=5").expect("valid").limit, Some(5));
        assert_eq!(parse("limit=0").expect("valid").limit, Some(0));
        assert_eq!(parse("limit=100000").expect("valid").limit, Some(1000));
        assert_eq!(
            parse("limit=99999999999999999999999").expect("valid").limit,
            Some(1000)
        );
        assert_eq!(error("limit=-1"), "limit param must be positive");
        assert_eq!(error("limit=abc"), "limit param must be an integer");
        assert_eq!(error("limit=1.5"), "limit param must be an integer");
    }

    #[test]
    fn sorting_rules() {
        let q = parse("sort=name:asc,size").expect("valid");
        assert_eq!(
            q.sort,
            vec![
                (SortKey::Name, SortDir::Asc),
                (SortKey::Size, SortDir::Desc),
                (SortKey::CreatedAt, SortDir::Desc),
                (SortKey::Id, SortDir::Desc)
            ]
        );
        let q = parse("sort_key=name&sort_key=size&sort_dir=asc").expect("valid");
        assert_eq!(
            q.sort,
            vec![
                (SortKey::Name, SortDir::Asc),
                (SortKey::Size, SortDir::Asc),
                (SortKey::CreatedAt, SortDir::Asc),
                (SortKey::Id, SortDir::Asc)
            ]
        );
        let q = parse("sort_dir=asc").expect("valid");
        assert_eq!(
            q.sort,
            vec![
                (SortKey::CreatedAt, SortDir::Asc),
                (SortKey::Id, SortDir::Asc)
            ]
        );
        let q = parse("sort_key=id&sort_key=name&sort_dir=asc&sort_dir=desc").expect("valid");
        assert_eq!(
            q.sort,
            vec![
                (SortKey::Id, SortDir::Asc),
                (SortKey::Name, SortDir::Desc),
                (SortKey::CreatedAt, SortDir::Desc)
            ]
        );
        assert_eq!(
            error("sort=name&sort_key=id"),
            "Old and new sorting syntax cannot be combined"
        );
        assert!(error("sort_key=bogus").starts_with("Invalid sort key: bogus. It must be one of"));
        assert_eq!(error("sort_dir=up"), "Invalid sort direction: up");
        assert_eq!(
            error("sort_key=name&sort_dir=asc&sort_dir=desc&sort_dir=asc"),
            "Number of sort dirs does not match the number of sort keys"
        );
        assert_eq!(
            error("sort=name:sideways"),
            "Invalid sort direction: sideways"
        );
    }

    #[test]
    fn filters() {
        let q = parse("name=in:%22a,b%22,c&status=queued&created_at=gt:2026-01-01T00:00:00Z&size_min=1&size_max=10&tag=x&tag=y&os_distro=debian&owner=p1&protected=true&visibility=all&member_status=all&os_hidden=TRUE")
            .expect("valid");
        let f = &q.filters;
        assert_eq!(f.name, Some(ValueMatch::In(vec!["a,b".into(), "c".into()])));
        assert_eq!(f.status, Some(ValueMatch::Eq("queued".into())));
        assert_eq!(f.created_at.len(), 1);
        assert_eq!(f.created_at[0].0, CmpOp::Gt);
        assert_eq!((f.size_min, f.size_max), (Some(1), Some(10)));
        assert_eq!(f.tags, vec!["x".to_string(), "y".to_string()]);
        assert_eq!(
            f.properties.get("os_distro").map(String::as_str),
            Some("debian")
        );
        assert_eq!(f.columns, vec![(ImageColumn::Owner, "p1".to_string())]);
        assert_eq!(f.protected, Some(true));
        assert_eq!(f.os_hidden, Some(true));
        assert_eq!(f.visibility, Some(VisibilityFilter::All));
        assert_eq!(q.member_status, MemberStatusFilter::All);

        let q = parse("created_at=2026-01-01T00:00:00Z").expect("bare time is eq");
        assert_eq!(q.filters.created_at[0].0, CmpOp::Eq);
        let q = parse("name=eq:a:b").expect("eq keeps the rest");
        assert_eq!(q.filters.name, Some(ValueMatch::Eq("a:b".into())));
    }

    #[test]
    fn filter_errors() {
        assert_eq!(
            error("name=neq:x"),
            "Unable to filter by unknown operator 'neq'."
        );
        assert_eq!(
            error("visibility=secret"),
            "Invalid visibility value: secret"
        );
        assert_eq!(error("member_status=maybe"), "Invalid status: maybe");
        assert_eq!(
            error("os_hidden=yes"),
            "Invalid value 'yes' for 'os_hidden' filter. Valid values are 'true' or 'false'."
        );
        assert_eq!(
            error("protected=True"),
            "Invalid value 'True' for 'protected' filter. Valid values are 'true' or 'false'."
        );
        assert_eq!(
            error("changes-since=2020-01-01"),
            "The \"changes-since\" filter is no longer available on v2."
        );
        assert_eq!(
            error("size_min=big"),
            "Unable to filter on a range with a non-numeric value."
        );
        assert!(error("created_at=gt:yesterday").starts_with("Invalid value 'yesterday'"));
        assert_eq!(
            error("created_at=after:2026-01-01T00:00:00Z"),
            "Unable to filter by unknown operator 'after'."
        );
        assert!(error("name=in:a%22b%22").contains("no comma before opening quotation mark"));
        assert!(error("name=in:%22a").contains("The quote is not closed."));
        assert!(error("min_ram=abc").contains("must be an integer"));
    }

    #[test]
    fn quoted_lists() {
        let split = |v: &str| split_quoted_list(v).expect("valid");
        assert_eq!(split("a,b"), vec!["a", "b"]);
        assert_eq!(split("\"a,b\",c"), vec!["a,b", "c"]);
        assert_eq!(split("a,\"b,c\""), vec!["a", "b,c"]);
        assert_eq!(split("a,,b"), vec!["a", "", "b"]);
        assert_eq!(split("\"x\\\"y\""), vec!["x\\\"y"]);
    }

    #[test]
    fn links() {
        let pairs = parse_query_string("limit=1&sort=name:asc");
        let (first, next) = page_links(&pairs, Some("abc"));
        assert_eq!(first, "/v2/images?limit=1&sort=name%3Aasc");
        assert_eq!(
            next.as_deref(),
            Some("/v2/images?limit=1&sort=name%3Aasc&marker=abc")
        );

        let pairs = parse_query_string("marker=old&tag=a&tag=b&name=x+y");
        let (first, next) = page_links(&pairs, None);
        assert_eq!(first, "/v2/images?tag=b&name=x+y");
        assert_eq!(next, None);
        assert_eq!(page_links(&[], None).0, "/v2/images");
    }

    #[test]
    fn query_decoding() {
        assert_eq!(
            parse_query_string("a=1&b&c=%22x%2Cy%22&d=e+f&&"),
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), String::new()),
                ("c".to_string(), "\"x,y\"".to_string()),
                ("d".to_string(), "e f".to_string()),
            ]
        );
    }

    #[test]
    fn isotimes() {
        assert!(parse_isotime("2026-11-27T14:06:18Z").is_some());
        assert!(parse_isotime("2026-11-27T14:06:18").is_some());
        assert!(parse_isotime("2026-11-27T14:06:18.5+01:00").is_some());
        assert!(parse_isotime("2026-11-27").is_some());
        assert!(parse_isotime("tomorrow").is_none());
        // iso8601's reduced precision, as Glance 33 takes `created_at=gte:2026`.
        assert_eq!(parse_isotime("2026"), parse_isotime("2026-01-01"));
        assert_eq!(parse_isotime("2026-12"), parse_isotime("2026-12-01"));
        assert!(parse_isotime("20261").is_none());
        assert!(ensure_utf8_query("name=%c3%a9&tag=%f0%9f%98%80").is_ok());
        for bad in ["name=%ff", "%c3%28=x", "tag=%ed%a0%80"] {
            assert_eq!(
                ensure_utf8_query(bad).map_err(|e| e.status.as_u16()),
                Err(400)
            );
        }
    }
}

#[cfg(test)]
mod proptests;
