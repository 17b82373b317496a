//! Property tests of the PATCH applier: arbitrary documents never panic; and, through the
//! handler's own path onto a real SQLite database (`images::save_patch`), a refused document
//! leaves the stored row exactly as it was, an accepted one is stored as answered, and a
//! document stores what its operations sent one PATCH at a time would.

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
        if let Err(err) = run_on(&image(status), &doc, dialect) {
            prop_assert!(err.status.is_client_error(), "{} for {doc}", err.status);
        }
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

#[cfg(feature = "direct-sqlite")]
mod stored {
    //! The same documents through `images::save_patch` onto a real SQLite file.

    use std::sync::{Arc, OnceLock};

    use super::*;
    use crate::api::images::save_patch;
    use crate::config::{Service, Settings};
    use crate::data_access::DataAccess;
    use crate::domain::{NewImage, RequestContext};

    /// One database for every case (a fresh image per case): the runtime, the backend and
    /// the folder that holds the file.
    struct Db {
        runtime: tokio::runtime::Runtime,
        da: Arc<dyn DataAccess>,
        _dir: tempfile::TempDir,
    }

    fn db() -> &'static Db {
        static DB: OnceLock<Db> = OnceLock::new();
        DB.get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let dir = tempfile::tempdir().expect("temp dir");
            let mut settings = Settings::defaults(Service::Api);
            settings.database.url = format!("sqlite:///{}", dir.path().join("glance.db").display());
            let da = runtime
                .block_on(crate::data_access::sqlite::open(&settings))
                .expect("sqlite opens");
            Db {
                runtime,
                da,
                _dir: dir,
            }
        })
    }

    /// The owner of the stored images (project `p1`, as in `tests::image`).
    fn owner() -> RequestContext {
        RequestContext {
            user_id: Some("u1".into()),
            project_id: Some("p1".into()),
            roles: vec!["member".into()],
            request_id: "req-proptest".into(),
            ..RequestContext::default()
        }
    }

    /// A stored queued image shaped like `tests::image`, as read back.
    async fn stored_image(da: &dyn DataAccess) -> Image {
        let template = image(ImageStatus::Queued);
        let new = NewImage {
            id: uuid::Uuid::new_v4().to_string(),
            name: template.name,
            status: ImageStatus::Queued,
            visibility: template.visibility,
            disk_format: None,
            container_format: None,
            owner: template.owner,
            min_disk: 0,
            min_ram: 0,
            protected: false,
            os_hidden: false,
            properties: template.properties,
            tags: template.tags,
        };
        let created = da.image_create(&owner(), new).await.expect("create");
        da.image_get(&owner(), &created.id, false)
            .await
            .expect("get")
    }

    /// Send `doc` as one PATCH through the handler's path; the answer and the row afterwards.
    async fn patch(da: &dyn DataAccess, id: &str, doc: &Value) -> (Result<Image, ApiError>, Image) {
        let found = da.image_get(&owner(), id, false).await.expect("get");
        let answer = match parse_document(doc, Dialect::Draft10) {
            Ok(changes) => {
                let formats = Settings::defaults(Service::Api).image_format.disk_formats;
                save_patch(
                    da,
                    &owner(),
                    found,
                    &changes,
                    Dialect::Draft10,
                    &limits(),
                    &formats,
                )
                .await
            }
            Err(err) => Err(err),
        };
        (
            answer,
            da.image_get(&owner(), id, false).await.expect("get"),
        )
    }

    /// What a client can see change: every field but the timestamps and the id.
    fn content(image: &Image) -> Value {
        json!([
            image.name,
            image.status.as_str(),
            image.visibility.as_str(),
            image.protected,
            image.os_hidden,
            image.disk_format,
            image.container_format,
            image.min_ram,
            image.min_disk,
            image.tags,
            image.properties,
            image.size,
            image.checksum,
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 300,
            max_global_rejects: 20_000,
            ..ProptestConfig::default()
        })]

        /// A refused document leaves the stored row as it was, timestamps included; an
        /// accepted one is stored exactly as answered.
        #[test]
        fn a_refused_document_stores_nothing_and_an_accepted_one_stores_its_answer(
            doc in document(),
        ) {
            let db = db();
            db.runtime.block_on(async {
                let before = stored_image(db.da.as_ref()).await;
                let (answer, after) = patch(db.da.as_ref(), &before.id, &doc).await;
                match answer {
                    Err(err) => {
                        prop_assert!(err.status.is_client_error(), "{} for {doc}", err.status);
                        prop_assert_eq!(&before, &after, "refused {} changed the row", doc);
                    }
                    Ok(answered) => prop_assert_eq!(&answered, &after, "{}", doc),
                }
                Ok(())
            })?;
        }

        /// With a failing operation inserted anywhere, a document that applies is refused and
        /// nothing of it is stored; unspoiled, it stores what its operations sent one PATCH at
        /// a time store on a twin image.
        #[test]
        fn a_stored_document_applies_wholly_or_not_at_all(
            doc in prop::collection::vec(prop_oneof![4 => valid_operation(), 1 => operation()], 0..8),
            at in any::<prop::sample::Index>(),
            spoiler in prop::sample::select(vec![
                // Refused while parsing the document.
                json!({"op": "replace", "path": "/status", "value": "active"}),
                // Refused while applying it, after the operations before it applied.
                json!({"op": "remove", "path": "/never-set"}),
                json!({"op": "replace", "path": "/never-set", "value": "x"}),
                json!({"op": "remove", "path": "/name"}),
                json!({"op": "add", "path": "/owner", "value": "p2"}),
            ]),
        ) {
            let whole = Value::Array(doc.clone());
            prop_assume!(run(&whole, Dialect::Draft10, ImageStatus::Queued).is_ok());
            let db = db();
            db.runtime.block_on(async {
                let da = db.da.as_ref();
                let mut spoiled = doc.clone();
                spoiled.insert(at.index(doc.len() + 1), spoiler.clone());
                let before = stored_image(da).await;
                let (answer, after) = patch(da, &before.id, &Value::Array(spoiled)).await;
                prop_assert!(answer.is_err());
                prop_assert_eq!(&before, &after, "{} left a trace", spoiler);

                let (answer, whole_result) = patch(da, &before.id, &whole).await;
                prop_assert!(answer.is_ok(), "{:?}", answer.err());
                let twin = stored_image(da).await;
                for operation in &doc {
                    let (answer, _) = patch(da, &twin.id, &json!([operation])).await;
                    prop_assert!(answer.is_ok(), "{} alone: {:?}", operation, answer.err());
                }
                let one_by_one = da.image_get(&owner(), &twin.id, false).await.expect("get");
                prop_assert_eq!(content(&whole_result), content(&one_by_one), "{}", whole);
                Ok(())
            })?;
        }
    }
}
