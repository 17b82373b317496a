//! Property tests of the PATCH applier: arbitrary documents never panic, and a document
//! applies wholly or not at all.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::tests::{image, limits, OWNER};
use super::*;

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(99999999999999999999.0)),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec!["raw", "bare", "public", "private", "", "😀", "a/b"])
            .prop_map(|s| Value::String(s.to_string())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn path() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "/name",
            "/tags",
            "/tags/-",
            "/tags/0",
            "/min_disk",
            "/min_ram",
            "/visibility",
            "/protected",
            "/os_hidden",
            "/disk_format",
            "/container_format",
            "/status",
            "/id",
            "/locations",
            "/locations/-",
            "/locations/0",
            "/x",
            "/keep",
            "/~1a",
            "/~2",
            "/",
            "",
            "name",
            "/a/b",
            "/owner",
            "/checksum",
            "/size",
        ])
        .prop_map(|s| Value::String(s.to_string())),
        "/?.{0,10}".prop_map(Value::String),
        leaf(),
    ]
}

fn operation() -> impl Strategy<Value = Value> {
    let op = prop_oneof![
        prop::sample::select(vec!["add", "remove", "replace", "move", "test", ""])
            .prop_map(|s| Value::String(s.to_string())),
        leaf(),
    ];
    (
        op,
        path(),
        prop::option::of(value()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(op, path, value, has_op, draft4)| {
            let mut object = serde_json::Map::new();
            if draft4 {
                // The v2.0 shape: `{"replace": "/path", "value": …}`.
                if let Value::String(name) = &op {
                    object.insert(name.clone(), path);
                }
            } else {
                if has_op {
                    object.insert("op".into(), op);
                }
                object.insert("path".into(), path);
            }
            if let Some(value) = value {
                object.insert("value".into(), value);
            }
            Value::Object(object)
        })
}

/// Operations an owner may apply to a queued image.
fn valid_operation() -> impl Strategy<Value = Value> {
    prop_oneof![
        (
            prop::sample::select(vec!["add", "replace"]),
            prop::sample::select(vec!["/name", "/x", "/os_distro", "/keep"]),
            "[a-z]{0,8}",
        )
            .prop_map(|(op, path, value)| json!({"op": op, "path": path, "value": value})),
        (0..10_000i64).prop_map(|n| json!({"op": "replace", "path": "/min_disk", "value": n})),
        "[a-z]{1,8}".prop_map(|tag| json!({"op": "add", "path": "/tags/-", "value": tag})),
    ]
}

fn document() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => prop::collection::vec(operation(), 0..8).prop_map(Value::Array),
        1 => value(),
    ]
}

fn run_on(image: &Image, doc: &Value, dialect: Dialect) -> Result<Option<ImageChanges>, ApiError> {
    let changes = parse_document(doc, dialect)?;
    apply(image, &changes, dialect, OWNER, &limits())
}

fn run(
    doc: &Value,
    dialect: Dialect,
    status: ImageStatus,
) -> Result<Option<ImageChanges>, ApiError> {
    run_on(&image(status), doc, dialect)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        max_global_rejects: 20_000,
        ..ProptestConfig::default()
    })]

    /// Never a panic, and every refusal is a 4xx.
    #[test]
    fn arbitrary_documents_get_an_answer(doc in document(), v20 in any::<bool>(), active in any::<bool>()) {
        let dialect = if v20 { Dialect::Draft4 } else { Dialect::Draft10 };
        let status = if active { ImageStatus::Active } else { ImageStatus::Queued };
        let target = image(status);
        let before = target.clone();
        if let Err(err) = run_on(&target, &doc, dialect) {
            prop_assert!(err.status.is_client_error(), "{} for {doc}", err.status);
        }
        prop_assert_eq!(before, target);
    }

    /// A document that applies stops applying as a whole once a failing operation joins it
    /// anywhere: no prefix of it is kept.
    #[test]
    fn a_document_applies_wholly_or_not_at_all(
        doc in prop::collection::vec(prop_oneof![4 => valid_operation(), 1 => operation()], 0..8),
        at in any::<prop::sample::Index>(),
    ) {
        let whole = Value::Array(doc.clone());
        prop_assume!(run(&whole, Dialect::Draft10, ImageStatus::Queued).is_ok());
        let mut spoiled = doc;
        let position = at.index(spoiled.len() + 1);
        spoiled.insert(position, json!({"op": "replace", "path": "/status", "value": "active"}));
        let result = run(&Value::Array(spoiled), Dialect::Draft10, ImageStatus::Queued);
        prop_assert!(result.is_err());
    }
}
