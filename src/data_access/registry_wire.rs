//! The glance-registry v2 RPC wire format (`glance/common/rpc.py`), shared by the registry
//! client (`registry_client`, feature `registry-proxy`) and the server (`registry_server`,
//! feature `registry-server`), so both ends encode exactly alike.
//!
//! * Request: `POST /rpc`, body `[{"command": "<DataAccess method>", "kwargs": {…}}]`.
//! * Reply: HTTP 200, one entry per command: the result, or
//!   `{"_error": {"cls": "glance.common.exception.<Class>", "val": "<message>"}}`.
//! * Datetimes travel as `{"_type": "datetime", "_value": "<Python isoformat, naive UTC>"}`.
//! * The caller's `RequestContext` travels in the `X-Glance-Context` header (JSON, escaped to
//!   ASCII), the shared secret in `Authorization: Bearer <registry.token>`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::DataAccessError;
use crate::domain::{Image, RequestContext};
use crate::json::Scalar::{Boolean, Text};
use crate::json::Writer;

mod image_json;
mod image_read;

/// Header carrying the caller's context as JSON; the registry runs every call with it.
pub const CONTEXT_HEADER: &str = "x-glance-context";

/// The registry's reply carries its database time (`db;dur=<ms>`) in this header.
pub const DB_TIME_HEADER: &str = "server-timing";

/// Glance's exception module; classes outside it are reported as `RPCError`.
const EXCEPTION_MODULE: &str = "glance.common.exception";

/// The `_error` of a failed command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemoteError {
    pub cls: String,
    pub val: String,
}

/// A request body of one command: `[{"command": …, "kwargs": …}]`. Timestamps take their wire
/// form from the domain types' serde (`domain::wire_time`).
pub fn request_body<C: Rpc>(args: &C) -> serde_json::Result<Vec<u8>> {
    #[derive(Serialize)]
    struct Envelope<'a, C> {
        command: &'static str,
        kwargs: &'a C,
    }
    serde_json::to_vec(&[Envelope {
        command: C::COMMAND,
        kwargs: args,
    }])
}

/// A one-command reply: its result, or the remote error it carries. Results are read straight
/// into their types; only a reply that mentions `_error` is looked at as a JSON tree first.
/// The reply is checked as UTF-8 once, whole, and read as text: read from bytes, serde_json
/// checks every string on its own, which was a fifth of the reading.
pub fn parse_reply<C: Rpc>(bytes: &[u8]) -> Result<Result<C::Output, RemoteError>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if text.contains("\"_error\"") {
        let reply: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let error = match reply {
            Value::Array(mut entries) if entries.len() == 1 => match entries.pop() {
                Some(Value::Object(mut entry)) => entry.remove("_error"),
                _ => None,
            },
            _ => return Err("not a one-element list".into()),
        };
        if let Some(error) = error {
            let remote: RemoteError =
                serde_json::from_value(error).map_err(|e| format!("malformed _error: {e}"))?;
            return Ok(Err(remote));
        }
    }
    // Images and lists of them, in the form this registry writes them, are read by hand.
    let mut output: Option<C::Output> = None;
    let slot = &mut output as &mut dyn std::any::Any;
    if let Some(image) = slot.downcast_mut::<Option<Image>>() {
        *image = image_read::image_reply(text);
    } else if let Some(images) = slot.downcast_mut::<Option<Vec<Image>>>() {
        *images = image_read::images_reply(text);
    }
    if let Some(output) = output {
        return Ok(Ok(output));
    }
    serde_json::from_str::<(C::Output,)>(text)
        .map(|(output,)| Ok(output))
        .map_err(|e| format!("unexpected reply: {e}"))
}

/// A result in a reply entry (the registry's side of `parse_reply`). Images and lists of
/// them, which nearly every call answers, are written by `image_json` in exactly serde's form.
pub fn reply_entry<T: Serialize + 'static>(output: &T) -> serde_json::Result<String> {
    let output_any = output as &dyn std::any::Any;
    if let Some(image) = output_any.downcast_ref::<Image>() {
        return Ok(image_json::image(image));
    }
    if let Some(images) = output_any.downcast_ref::<Vec<Image>>() {
        return Ok(image_json::images(images));
    }
    serde_json::to_string(output)
}

/// Glance's exception class for a failed command. `ImageNotFound` where the missing thing is
/// the image itself, as `glance/db/sqlalchemy/api.py` raises it.
pub fn error_class(command: &str, err: &DataAccessError) -> String {
    let class = match err {
        DataAccessError::NotFound(_) => match command {
            "image_get" | "image_get_all" | "image_update" | "image_destroy" => "ImageNotFound",
            "task_get" | "task_update" => "TaskNotFound",
            _ => "NotFound",
        },
        DataAccessError::Forbidden(_) => "Forbidden",
        DataAccessError::Conflict(_) => "Conflict",
        DataAccessError::Duplicate(_) => "Duplicate",
        DataAccessError::Invalid(_) => "Invalid",
        DataAccessError::Unavailable(_) => "ServiceUnavailable",
        DataAccessError::Backend(_) => "RPCError",
    };
    format!("{EXCEPTION_MODULE}.{class}")
}

pub fn error_entry(command: &str, err: &DataAccessError) -> Value {
    let message = match err {
        // Internals stay in the registry's log; the API shows a generic 500 anyway.
        DataAccessError::Backend(_) => "The registry failed to run the command.".to_string(),
        other => other.to_string(),
    };
    serde_json::json!({"_error": {"cls": error_class(command, err), "val": message}})
}

/// The `DataAccessError` a remote `_error` stands for (Glance's subclasses included).
pub fn error_from_remote(remote: RemoteError) -> DataAccessError {
    let class = remote
        .cls
        .strip_prefix(EXCEPTION_MODULE)
        .and_then(|rest| rest.strip_prefix('.'));
    let message = remote.val;
    match class {
        Some(
            "NotFound"
            | "ImageNotFound"
            | "ImageMemberNotFound"
            | "MemberNotFound"
            | "ImageLocationNotFound"
            | "TaskNotFound",
        ) => DataAccessError::NotFound(message),
        Some("Forbidden" | "ForbiddenPublicImage" | "ProtectedImageDelete") => {
            DataAccessError::Forbidden(message)
        }
        Some("Conflict" | "InvalidImageStatusTransition") => DataAccessError::Conflict(message),
        Some("Duplicate") => DataAccessError::Duplicate(message),
        Some(
            "Invalid"
            | "InvalidSortKey"
            | "InvalidSortDir"
            | "InvalidFilterRangeValue"
            | "InvalidFilterOperatorValue"
            | "InvalidParameterValue",
        ) => DataAccessError::Invalid(message),
        Some("ServiceUnavailable") => DataAccessError::Unavailable(message),
        _ => DataAccessError::Backend(format!("registry error {}: {message}", remote.cls)),
    }
}

/// The context header's value: JSON with every non-ASCII character escaped, so any user or
/// project id survives an HTTP header.
pub fn encode_context(ctx: &RequestContext) -> Result<String, String> {
    if let Some(header) = plain_context(ctx) {
        return Ok(header);
    }
    let json = serde_json::to_string(ctx).map_err(|e| e.to_string())?;
    // serde_json escapes control characters itself, so ASCII output is already header-safe.
    if json.is_ascii() {
        return Ok(json);
    }
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    Ok(out)
}

/// The usual context (no Keystone token details; every text printable ASCII with nothing to
/// escape) written by hand, in exactly the bytes `serde_json::to_string` writes for it: serde's
/// map serializer cost the API node 2k instructions per registry call. Anything else is left
/// to serde.
fn plain_context(ctx: &RequestContext) -> Option<String> {
    fn plain(text: &str) -> bool {
        text.bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    }
    let texts_plain = ctx.user_id.as_deref().is_none_or(plain)
        && ctx.project_id.as_deref().is_none_or(plain)
        && ctx.roles.iter().all(|role| plain(role))
        && plain(&ctx.request_id);
    if !texts_plain || !ctx.token.is_empty() {
        return None;
    }
    let mut out = Writer::compact(128);
    out.begin_object();
    out.known_key("user_id");
    out.scalar(Text(ctx.user_id.as_deref()));
    out.known_key("project_id");
    out.scalar(Text(ctx.project_id.as_deref()));
    out.known_key("roles");
    out.begin_array();
    for role in &ctx.roles {
        out.item();
        out.string(role);
    }
    out.end_array();
    out.known_key("is_admin");
    out.scalar(Boolean(ctx.is_admin));
    out.known_key("read_only");
    out.scalar(Boolean(ctx.read_only));
    out.known_key("request_id");
    out.string(&ctx.request_id);
    out.end_object();
    Some(out.into_string())
}

/// The `db;dur=<ms>` entry of a `Server-Timing` value.
pub fn parse_db_time(server_timing: &str) -> Option<std::time::Duration> {
    if let Some(time) = plain_db_time(server_timing) {
        return Some(time);
    }
    server_timing.split(',').find_map(|metric| {
        let mut parts = metric.trim().split(';');
        if parts.next() != Some("db") {
            return None;
        }
        let ms: f64 = parts
            .find_map(|p| p.trim().strip_prefix("dur="))?
            .parse()
            .ok()?;
        std::time::Duration::try_from_secs_f64(ms / 1000.0).ok()
    })
}

/// What glance-registry writes, `db;dur=<digits>[.<up to 6 digits>]` first, read by hand (the
/// float parse cost 0.8k instructions per call); `None` for any other form.
fn plain_db_time(server_timing: &str) -> Option<std::time::Duration> {
    let value = server_timing.strip_prefix("db;dur=")?;
    let value = value.split_once(',').map_or(value, |(first, _)| first);
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || whole.len() > 12 || fraction.len() > 6 {
        return None;
    }
    if !fraction.is_empty() && !digits(fraction) {
        return None;
    }
    let millis: u64 = whole.parse().ok()?;
    let mut nanos: u64 = 0;
    for (place, digit) in fraction.bytes().enumerate() {
        nanos += u64::from(digit - b'0') * 10u64.pow(5 - place as u32);
    }
    Some(std::time::Duration::from_millis(millis) + std::time::Duration::from_nanos(nanos))
}

pub fn decode_context(header: &str) -> Result<RequestContext, String> {
    serde_json::from_str(header).map_err(|e| e.to_string())
}

/// One registry command: its name on the wire, its kwargs (the `DataAccess` method's
/// arguments by name) and its result. Client and server share these, so they cannot drift.
pub trait Rpc: Serialize + DeserializeOwned {
    const COMMAND: &'static str;
    type Output: Serialize + DeserializeOwned + 'static;
}

macro_rules! rpc_command {
    ($(#[$meta:meta])* $name:ident = $command:literal -> $output:ty {
        $($(#[$field_meta:meta])* $field:ident: $ty:ty),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty),*
        }

        impl Rpc for $name {
            const COMMAND: &'static str = $command;
            type Output = $output;
        }
    };
}

/// The kwargs of every command, named after the `DataAccess` method arguments.
pub mod commands {
    use super::*;
    use crate::domain::{
        Image, ImageChanges, ImageQuery, ImageStatus, Location, LocationStatus, Member,
        MemberChanges, MemberQuery, NewImage, NewLocation, NewMember, NewTask, Task, TaskChanges,
        TaskQuery, TaskStatus,
    };

    rpc_command!(ImageCreate = "image_create" -> Image { values: NewImage });
    rpc_command!(ImageGet = "image_get" -> Image {
        image_id: String,
        #[serde(default)]
        force_show_deleted: bool,
    });
    rpc_command!(ImageGetAll = "image_get_all" -> Vec<Image> {
        #[serde(default)]
        query: ImageQuery,
    });
    rpc_command!(ImageUpdate = "image_update" -> Image {
        image_id: String,
        values: ImageChanges,
        #[serde(default)]
        purge_props: bool,
        #[serde(default)]
        from_state: Option<ImageStatus>,
    });
    rpc_command!(ImageDestroy = "image_destroy" -> Image { image_id: String });
    rpc_command!(ImageTagGetAll = "image_tag_get_all" -> Vec<String> { image_id: String });
    rpc_command!(ImageTagCreate = "image_tag_create" -> () { image_id: String, value: String });
    rpc_command!(ImageTagDelete = "image_tag_delete" -> () { image_id: String, value: String });
    rpc_command!(ImageTagSetAll = "image_tag_set_all" -> () {
        image_id: String,
        tags: Vec<String>,
    });
    rpc_command!(ImageMemberCreate = "image_member_create" -> Member { values: NewMember });
    rpc_command!(ImageMemberUpdate = "image_member_update" -> Member {
        member_id: i64,
        values: MemberChanges,
    });
    rpc_command!(ImageMemberDelete = "image_member_delete" -> () { member_id: i64 });
    rpc_command!(ImageMemberFind = "image_member_find" -> Vec<Member> {
        #[serde(default)]
        query: MemberQuery,
    });
    rpc_command!(ImageMemberCount = "image_member_count" -> i64 { image_id: String });
    rpc_command!(ImageLocationAdd = "image_location_add" -> Location {
        image_id: String,
        location: NewLocation,
    });
    rpc_command!(ImageLocationUpdate = "image_location_update" -> () {
        image_id: String,
        location: Location,
    });
    rpc_command!(ImageLocationDelete = "image_location_delete" -> () {
        image_id: String,
        location_id: i64,
        status: LocationStatus,
    });
    rpc_command!(TaskCreate = "task_create" -> Task { values: NewTask });
    rpc_command!(TaskGet = "task_get" -> Task { task_id: String });
    rpc_command!(TaskUpdate = "task_update" -> Task {
        task_id: String,
        values: TaskChanges,
        #[serde(default)]
        from_status: Option<TaskStatus>,
    });
    rpc_command!(TaskGetAll = "task_get_all" -> Vec<Task> { query: TaskQuery });
    rpc_command!(
        /// Not a DB-API call: checks the database behind the registry.
        Health = "health" -> () {}
    );
}

#[cfg(test)]
mod tests {
    use super::commands::{ImageTagGetAll, ImageTagSetAll};
    use super::*;
    use serde_json::json;

    #[test]
    fn replies_are_read_as_results_or_remote_errors() {
        let ok = parse_reply::<ImageTagGetAll>(br#"[["a", "_error"]]"#);
        assert_eq!(ok, Ok(Ok(vec!["a".to_string(), "_error".to_string()])));
        // "_error" as data (a tag above, a key of a result here) is still a result.
        let unit = parse_reply::<ImageTagSetAll>(br#"[null]"#);
        assert_eq!(unit, Ok(Ok(())));
        let entry =
            json!([{"_error": {"cls": "glance.common.exception.ImageNotFound", "val": "gone"}}]);
        let failed = parse_reply::<ImageTagGetAll>(entry.to_string().as_bytes());
        assert_eq!(
            failed,
            Ok(Err(RemoteError {
                cls: "glance.common.exception.ImageNotFound".into(),
                val: "gone".into()
            }))
        );
        for broken in [
            &b"nonsense"[..],
            br#"{"_error": 1}"#,
            br#"[1, 2]"#,
            br#"[{"x": 1}]"#,
        ] {
            assert!(parse_reply::<ImageTagGetAll>(broken).is_err(), "{broken:?}");
        }
    }

    #[test]
    fn a_request_body_is_one_command_with_its_kwargs() {
        let body = request_body(&ImageTagSetAll {
            image_id: "i".into(),
            tags: vec!["t".into()],
        })
        .expect("encodes");
        let value: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            value,
            json!([{"command": "image_tag_set_all", "kwargs": {"image_id": "i", "tags": ["t"]}}])
        );
    }

    #[test]
    fn every_error_crosses_unchanged() {
        let errors = [
            DataAccessError::NotFound("n".into()),
            DataAccessError::Forbidden("f".into()),
            DataAccessError::Conflict("c".into()),
            DataAccessError::Duplicate("d".into()),
            DataAccessError::Invalid("i".into()),
            DataAccessError::Unavailable("u".into()),
        ];
        for command in ["image_get", "image_tag_delete"] {
            for err in &errors {
                let entry = error_entry(command, err);
                let remote: RemoteError =
                    serde_json::from_value(entry["_error"].clone()).expect("shape");
                assert!(remote.cls.starts_with("glance.common.exception."));
                assert_eq!(&error_from_remote(remote), err);
            }
        }
        assert_eq!(
            error_class("image_get", &DataAccessError::NotFound(String::new())),
            "glance.common.exception.ImageNotFound"
        );
        let backend = error_entry("image_get", &DataAccessError::Backend("secret sql".into()));
        assert_eq!(backend["_error"]["cls"], "glance.common.exception.RPCError");
        assert!(!backend.to_string().contains("secret sql"));
        let foreign = RemoteError {
            cls: "builtins.TypeError".into(),
            val: "x".into(),
        };
        assert!(matches!(
            error_from_remote(foreign),
            DataAccessError::Backend(_)
        ));
    }

    #[test]
    fn db_time_is_read_from_server_timing() {
        let ms = |v: Option<std::time::Duration>| v.map(|d| d.as_micros());
        assert_eq!(ms(parse_db_time("db;dur=1.250")), Some(1250));
        assert_eq!(
            ms(parse_db_time("total;dur=3, db;desc=x;dur=0.5")),
            Some(500)
        );
        assert_eq!(parse_db_time("total;dur=3"), None);
        assert_eq!(parse_db_time("db;dur=-1"), None);
        assert_eq!(
            ms(parse_db_time("db;dur=0.360, total;dur=0.429")),
            Some(360)
        );
        assert_eq!(ms(parse_db_time("db;dur=12")), Some(12_000));
        assert_eq!(ms(parse_db_time("db;dur=1.")), Some(1000));
        assert_eq!(ms(parse_db_time("db;dur=.5")), Some(500));
        assert_eq!(parse_db_time("db;dur=x"), None);
    }

    proptest::proptest! {
        /// The hand-read form agrees with the general (float) reading.
        #[test]
        fn plain_db_time_agrees_with_the_float_reading(
            millis in 0u64..100_000_000,
            fraction in "[0-9]{0,6}",
            rest in "(, total;dur=[0-9.]{1,8})?",
        ) {
            let header = if fraction.is_empty() {
                format!("db;dur={millis}{rest}")
            } else {
                format!("db;dur={millis}.{fraction}{rest}")
            };
            let hand = plain_db_time(&header).expect("read by hand");
            let float: f64 = format!("{millis}.{fraction}0").parse().expect("a number");
            let general = std::time::Duration::from_secs_f64(float / 1000.0);
            let apart = hand.abs_diff(general);
            proptest::prop_assert!(apart <= std::time::Duration::from_micros(1), "{header}: {hand:?} {general:?}");
        }
    }

    proptest::proptest! {
        /// The hand-written context header is byte for byte what serde_json writes, and any
        /// context it does not take (non-ASCII, escapes) still goes through serde.
        #[test]
        fn plain_context_header_is_serde_json(
            user in proptest::option::of("[ -~]{0,12}|\\PC{0,6}"),
            project in proptest::option::of("[ -~]{0,12}"),
            roles in proptest::collection::vec("[a-z_\"\\\\]{0,8}", 0..4),
            is_admin: bool,
            read_only: bool,
            request_id in "req-[ -~]{0,40}",
        ) {
            let ctx = RequestContext {
                user_id: user,
                project_id: project,
                roles,
                is_admin,
                read_only,
                request_id,
                token: Default::default(),
            };
            let serde = serde_json::to_string(&ctx).expect("serializes");
            if let Some(hand) = plain_context(&ctx) {
                proptest::prop_assert_eq!(&hand, &serde);
            } else {
                proptest::prop_assert!(!serde.is_ascii() || serde.contains('\\'));
            }
            let header = encode_context(&ctx).expect("encodes");
            proptest::prop_assert_eq!(decode_context(&header).expect("decodes"), ctx);
        }
    }

    #[test]
    fn context_header_is_ascii_and_round_trips() {
        let ctx = RequestContext {
            user_id: Some("üser".into()),
            project_id: Some("p\u{1F600}".into()),
            roles: vec!["member".into(), "reader".into()],
            is_admin: false,
            read_only: true,
            request_id: "req-1".into(),
            token: crate::domain::TokenScope {
                user_domain_name: Some("Défault".into()),
                project_domain_name: Some("Default".into()),
                domain_id: None,
                system_scope: true,
                expires_at: chrono::DateTime::from_timestamp(1_800_000_000, 0)
                    .map(|t| t.naive_utc()),
            },
        };
        let header = encode_context(&ctx).expect("encodes");
        assert!(
            header.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "{header}"
        );
        assert_eq!(decode_context(&header).expect("decodes"), ctx);
    }
}
