//! Property tests of the list-parameter parser: arbitrary query strings never panic and give
//! either a valid `ImageQuery` or a 400.

use proptest::prelude::*;

use super::*;
use crate::config::{Service, Settings};

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "limit",
            "marker",
            "sort",
            "sort_key",
            "sort_dir",
            "size_min",
            "size_max",
            "tag",
            "name",
            "id",
            "status",
            "visibility",
            "member_status",
            "os_hidden",
            "protected",
            "created_at",
            "updated_at",
            "owner",
            "min_disk",
            "deleted",
            "changes-since",
            "container_format",
            "disk_format",
            "custom",
            "min_ram",
            "checksum",
        ])
        .prop_map(str::to_string),
        "[a-z_%+]{0,8}",
        ".{0,6}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "1",
            "-1",
            "0",
            "99999999999999999999",
            "name:asc",
            "name:desc,size:asc",
            "in:\"a,b\"",
            "in:\"a",
            "in:a,\"b",
            "gt:2026-01-01T00:00:00Z",
            "lte:bogus",
            "eq:",
            "asc",
            "desc",
            "true",
            "FALSE",
            "all",
            "shared",
            "accepted",
            "%ff",
            "%ed%a0%80",
            "%f0%9f%98%80",
            "+",
            "%",
            "a%2Cb",
        ])
        .prop_map(str::to_string),
        "[-a-z0-9:,\"%+]{0,12}",
        ".{0,10}",
    ]
}

fn query_string() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::collection::vec((key(), value(), any::<bool>()), 0..12).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v, bare)| if bare { k } else { format!("{k}={v}") })
                .collect::<Vec<_>>()
                .join("&")
        }),
        1 => ".{0,40}",
        1 => prop::collection::vec("tag=[a-c]", 90..130).prop_map(|tags| tags.join("&")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_query_strings_give_a_query_or_a_400(query in query_string()) {
        let limits = Settings::defaults(Service::Api).limits;
        match image_query(&parse_query_string(&query), &limits) {
            Ok(q) => {
                let limit = q.limit.unwrap_or_default();
                prop_assert!(limit <= limits.api_limit_max, "limit {limit} for {query}");
                prop_assert!(!q.sort.is_empty());
                let f = &q.filters;
                prop_assert!(f.tags.len() + f.properties.len() + f.columns.len() <= MAX_FILTERS);
                if let (Some(min), Some(max)) = (f.size_min, f.size_max) {
                    let _ = (min, max); // any pair is a valid (possibly empty) range
                }
            }
            Err(err) => prop_assert_eq!(err.status.as_u16(), 400, "{} for {}", err.explanation, query),
        }
    }
}
