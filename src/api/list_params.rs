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
mod tests;

#[cfg(test)]
mod proptests;
