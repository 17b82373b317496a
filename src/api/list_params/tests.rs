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
