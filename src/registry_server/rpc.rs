//! `POST /rpc`: validate the whole command list, then run each command on the direct backend
//! in the caller's context. Commands are the `DataAccess` methods by name; kwargs are their
//! arguments by name, in the domain types' serde form (`data_access::registry_wire`).

use std::borrow::Cow;
use std::time::Instant;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::data_access::registry_wire::commands::*;
use crate::data_access::registry_wire::{self, Rpc};
use crate::data_access::{DaResult, DataAccess, DataAccessError};
use crate::domain::RequestContext;
use crate::metrics::{static_histogram, REGISTRY_RPC_DURATION};

/// Every command the registry serves.
pub const COMMANDS: [&str; 22] = [
    ImageCreate::COMMAND,
    ImageGet::COMMAND,
    ImageGetAll::COMMAND,
    ImageUpdate::COMMAND,
    ImageDestroy::COMMAND,
    ImageTagGetAll::COMMAND,
    ImageTagCreate::COMMAND,
    ImageTagDelete::COMMAND,
    ImageTagSetAll::COMMAND,
    ImageMemberCreate::COMMAND,
    ImageMemberUpdate::COMMAND,
    ImageMemberDelete::COMMAND,
    ImageMemberFind::COMMAND,
    ImageMemberCount::COMMAND,
    ImageLocationAdd::COMMAND,
    ImageLocationUpdate::COMMAND,
    ImageLocationDelete::COMMAND,
    TaskCreate::COMMAND,
    TaskGet::COMMAND,
    TaskUpdate::COMMAND,
    TaskGetAll::COMMAND,
    Health::COMMAND,
];

/// Why a request body is refused before any command runs (glance/common/rpc.py's checks).
#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    /// 400
    BadRequest(&'static str),
    /// 404
    CommandNotFound,
}

/// One validated command: its name (one of `COMMANDS`) and its arguments.
#[derive(Debug)]
pub struct Command<'a> {
    pub command: &'static str,
    pub kwargs: Kwargs<'a>,
}

/// A command's kwargs: the request's own JSON text on the fast path, a parsed map otherwise.
#[derive(Debug)]
pub enum Kwargs<'a> {
    Raw(&'a RawValue),
    Map(Map<String, Value>),
}

/// The request body as commands: the usual body by the fast path, anything else through
/// Glance's checks, so nothing runs when any element is bad.
pub fn read_commands(body: &[u8]) -> Result<Vec<Command<'_>>, Rejection> {
    if let Some(commands) = parse_commands_fast(body) {
        return Ok(commands);
    }
    let body = serde_json::from_slice::<Value>(body)
        .map_err(|_| Rejection::BadRequest("Malformed JSON in request body."))?;
    parse_commands(body)
}

fn known_command(name: &str) -> Option<&'static str> {
    COMMANDS.iter().copied().find(|known| *known == name)
}

/// The usual well-formed body, read without a JSON value tree (it was about a tenth of the
/// registry's work per call). `None` for anything else, left to `parse_commands`.
fn parse_commands_fast(body: &[u8]) -> Option<Vec<Command<'_>>> {
    #[derive(Deserialize)]
    struct Wire<'a> {
        #[serde(borrow)]
        command: Cow<'a, str>,
        #[serde(borrow)]
        kwargs: Option<&'a RawValue>,
    }
    // Checked as UTF-8 once, whole: read from bytes, serde_json checks every string on its own.
    let body = std::str::from_utf8(body).ok()?;
    let items: Vec<Wire<'_>> = serde_json::from_str(body).ok()?;
    items
        .into_iter()
        .map(|item| {
            let command = known_command(&item.command)?;
            let kwargs = match item.kwargs {
                None => Kwargs::Map(Map::new()),
                Some(raw) if raw.get().starts_with('{') => Kwargs::Raw(raw),
                Some(_) => return None,
            };
            Some(Command { command, kwargs })
        })
        .collect()
}

/// Validate the whole list first, as Glance does, so nothing runs when any element is bad.
fn parse_commands(body: Value) -> Result<Vec<Command<'static>>, Rejection> {
    let Value::Array(items) = body else {
        return Err(Rejection::BadRequest("Request must be a list of commands"));
    };
    let mut commands = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(mut fields) = item else {
            return Err(Rejection::BadRequest("Bad Command"));
        };
        let command = match fields.remove("command") {
            Some(Value::String(name)) => name,
            _ => return Err(Rejection::BadRequest("Wrong command structure")),
        };
        let kwargs = match fields.remove("kwargs") {
            Some(Value::Object(kwargs)) => kwargs,
            None | Some(Value::Null) => Map::new(),
            Some(_) => return Err(Rejection::BadRequest("Wrong command structure")),
        };
        let Some(command) = known_command(&command) else {
            return Err(Rejection::CommandNotFound);
        };
        commands.push(Command {
            command,
            kwargs: Kwargs::Map(kwargs),
        });
    }
    Ok(commands)
}

/// Run every command in order; a failure becomes that entry's `_error` and the rest still run.
/// Returns the reply body, one entry per command.
pub async fn run_all(
    db: &dyn DataAccess,
    ctx: &RequestContext,
    commands: Vec<Command<'_>>,
) -> String {
    let mut reply = String::from("[");
    for Command { command, kwargs } in commands {
        let started = Instant::now();
        let (entry, outcome) = match dispatch(db, ctx, command, kwargs).await {
            Ok(Ok(entry)) => (entry, "ok"),
            Ok(Err(err)) => {
                if let DataAccessError::Backend(cause) = &err {
                    log::error!("registry command {command} failed: {cause}");
                }
                (
                    registry_wire::error_entry(command, &err).to_string(),
                    err.kind(),
                )
            }
            Err(ArgumentError(message)) => {
                let entry = serde_json::json!({"_error": {
                    "cls": "builtins.TypeError",
                    "val": format!("{command}() got bad arguments: {message}"),
                }});
                (entry.to_string(), "bad_arguments")
            }
        };
        static_histogram(
            REGISTRY_RPC_DURATION,
            [("command", command), ("outcome", outcome), ("", "")],
        )
        .record(started.elapsed().as_secs_f64());
        if reply.len() > 1 {
            reply.push_str(", ");
        }
        reply.push_str(&entry);
    }
    reply.push(']');
    reply
}

struct ArgumentError(String);

/// Timestamps in the arguments are read in their wire form by the domain types' serde.
fn args<T: Rpc>(kwargs: Kwargs<'_>) -> Result<T, ArgumentError> {
    match kwargs {
        Kwargs::Raw(raw) => serde_json::from_str(raw.get()),
        Kwargs::Map(map) => serde_json::from_value(Value::Object(map)),
    }
    .map_err(|e| ArgumentError(e.to_string()))
}

fn reply<T: Rpc>(result: DaResult<T::Output>) -> DaResult<String> {
    result.and_then(|output| {
        registry_wire::reply_entry(&output).map_err(|e| DataAccessError::Backend(e.to_string()))
    })
}

async fn dispatch(
    db: &dyn DataAccess,
    ctx: &RequestContext,
    command: &str,
    kwargs: Kwargs<'_>,
) -> Result<DaResult<String>, ArgumentError> {
    Ok(match command {
        ImageCreate::COMMAND => {
            let a: ImageCreate = args(kwargs)?;
            reply::<ImageCreate>(db.image_create(ctx, a.values).await)
        }
        ImageGet::COMMAND => {
            let a: ImageGet = args(kwargs)?;
            reply::<ImageGet>(db.image_get(ctx, &a.image_id, a.force_show_deleted).await)
        }
        ImageGetAll::COMMAND => {
            let a: ImageGetAll = args(kwargs)?;
            reply::<ImageGetAll>(db.image_get_all(ctx, &a.query).await)
        }
        ImageUpdate::COMMAND => {
            let a: ImageUpdate = args(kwargs)?;
            let result = db
                .image_update(ctx, &a.image_id, a.values, a.purge_props, a.from_state)
                .await;
            reply::<ImageUpdate>(result)
        }
        ImageDestroy::COMMAND => {
            let a: ImageDestroy = args(kwargs)?;
            reply::<ImageDestroy>(db.image_destroy(ctx, &a.image_id).await)
        }
        ImageTagGetAll::COMMAND => {
            let a: ImageTagGetAll = args(kwargs)?;
            reply::<ImageTagGetAll>(db.image_tag_get_all(ctx, &a.image_id).await)
        }
        ImageTagCreate::COMMAND => {
            let a: ImageTagCreate = args(kwargs)?;
            reply::<ImageTagCreate>(db.image_tag_create(ctx, &a.image_id, &a.value).await)
        }
        ImageTagDelete::COMMAND => {
            let a: ImageTagDelete = args(kwargs)?;
            reply::<ImageTagDelete>(db.image_tag_delete(ctx, &a.image_id, &a.value).await)
        }
        ImageTagSetAll::COMMAND => {
            let a: ImageTagSetAll = args(kwargs)?;
            reply::<ImageTagSetAll>(db.image_tag_set_all(ctx, &a.image_id, &a.tags).await)
        }
        ImageMemberCreate::COMMAND => {
            let a: ImageMemberCreate = args(kwargs)?;
            reply::<ImageMemberCreate>(db.image_member_create(ctx, a.values).await)
        }
        ImageMemberUpdate::COMMAND => {
            let a: ImageMemberUpdate = args(kwargs)?;
            reply::<ImageMemberUpdate>(db.image_member_update(ctx, a.member_id, a.values).await)
        }
        ImageMemberDelete::COMMAND => {
            let a: ImageMemberDelete = args(kwargs)?;
            reply::<ImageMemberDelete>(db.image_member_delete(ctx, a.member_id).await)
        }
        ImageMemberFind::COMMAND => {
            let a: ImageMemberFind = args(kwargs)?;
            reply::<ImageMemberFind>(db.image_member_find(ctx, &a.query).await)
        }
        ImageMemberCount::COMMAND => {
            let a: ImageMemberCount = args(kwargs)?;
            reply::<ImageMemberCount>(db.image_member_count(ctx, &a.image_id).await)
        }
        ImageLocationAdd::COMMAND => {
            let a: ImageLocationAdd = args(kwargs)?;
            reply::<ImageLocationAdd>(db.image_location_add(ctx, &a.image_id, a.location).await)
        }
        ImageLocationUpdate::COMMAND => {
            let a: ImageLocationUpdate = args(kwargs)?;
            let result = db.image_location_update(ctx, &a.image_id, a.location).await;
            reply::<ImageLocationUpdate>(result)
        }
        ImageLocationDelete::COMMAND => {
            let a: ImageLocationDelete = args(kwargs)?;
            let result = db
                .image_location_delete(ctx, &a.image_id, a.location_id, a.status)
                .await;
            reply::<ImageLocationDelete>(result)
        }
        TaskCreate::COMMAND => {
            let a: TaskCreate = args(kwargs)?;
            reply::<TaskCreate>(db.task_create(ctx, a.values).await)
        }
        TaskGet::COMMAND => {
            let a: TaskGet = args(kwargs)?;
            reply::<TaskGet>(db.task_get(ctx, &a.task_id).await)
        }
        TaskUpdate::COMMAND => {
            let a: TaskUpdate = args(kwargs)?;
            let result = db
                .task_update(ctx, &a.task_id, a.values, a.from_status)
                .await;
            reply::<TaskUpdate>(result)
        }
        TaskGetAll::COMMAND => {
            let a: TaskGetAll = args(kwargs)?;
            reply::<TaskGetAll>(db.task_get_all(ctx, &a.query).await)
        }
        Health::COMMAND => {
            let _: Health = args(kwargs)?;
            reply::<Health>(db.health().await)
        }
        // parse_commands lets only known names through.
        other => return Err(ArgumentError(format!("unknown command {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rejection(body: Value) -> Option<Rejection> {
        parse_commands(body).err()
    }

    #[test]
    fn the_whole_list_is_validated_first() {
        assert_eq!(
            rejection(json!({"command": "image_get"})),
            Some(Rejection::BadRequest("Request must be a list of commands"))
        );
        assert_eq!(
            rejection(json!([{"command": "image_get", "kwargs": {}}, 3])),
            Some(Rejection::BadRequest("Bad Command"))
        );
        assert_eq!(
            rejection(json!([{"command": 1, "kwargs": {}}])),
            Some(Rejection::BadRequest("Wrong command structure"))
        );
        assert_eq!(
            rejection(json!([{"command": "image_get", "kwargs": []}])),
            Some(Rejection::BadRequest("Wrong command structure"))
        );
        assert_eq!(
            rejection(json!([{"command": "image_get"}, {"command": "drop_table"}])),
            Some(Rejection::CommandNotFound)
        );
        let ok = parse_commands(json!([{"command": "image_get", "kwargs": {"image_id": "x"}}]))
            .expect("valid");
        assert_eq!(ok[0].command, "image_get");
        let first = ok.into_iter().next().expect("one command");
        let a: ImageGet = args(first.kwargs).unwrap_or_else(|_| panic!("image_get kwargs"));
        assert_eq!(a.image_id, "x");
    }

    /// The fast path takes only what `parse_commands` would accept, and reads the same
    /// arguments; everything else is left to `parse_commands`' checks.
    #[test]
    fn the_fast_path_agrees_with_the_checked_one() {
        let body = br#"[{"command": "image_get", "kwargs": {"image_id": "x", "force_show_deleted": false}},
                       {"command": "health", "kwargs": null}, {"command": "health"}]"#;
        let commands = parse_commands_fast(body).expect("well-formed");
        assert_eq!(
            commands.iter().map(|c| c.command).collect::<Vec<_>>(),
            ["image_get", "health", "health"]
        );
        let mut commands = commands.into_iter();
        let first = commands.next().expect("first");
        assert!(matches!(first.kwargs, Kwargs::Raw(_)));
        let a: ImageGet = args(first.kwargs).unwrap_or_else(|_| panic!("image_get kwargs"));
        assert_eq!(a.image_id, "x");
        for refused in [
            &br#"{"command": "image_get"}"#[..],
            br#"[{"command": "image_get", "kwargs": []}]"#,
            br#"[{"command": "drop_table", "kwargs": {}}]"#,
            br#"[{"command": 1}]"#,
            br#"[3]"#,
            br#"[{"command": "image_get", "command": "health"}]"#,
            b"not json",
        ] {
            assert!(
                parse_commands_fast(refused).is_none(),
                "{}",
                String::from_utf8_lossy(refused)
            );
        }
    }
}
