//! `POST /rpc`: validate the whole command list, then run each command on the direct backend
//! in the caller's context. Commands are the `DataAccess` methods by name; kwargs are their
//! arguments by name, in the domain types' serde form (`data_access::registry_wire`).

use std::time::Instant;

use serde_json::{Map, Value};

use crate::data_access::registry_wire::commands::*;
use crate::data_access::registry_wire::{self, Command, Rpc};
use crate::data_access::{DaResult, DataAccess, DataAccessError};
use crate::domain::RequestContext;
use crate::metrics::REGISTRY_RPC_DURATION;

/// Every command the registry serves.
pub const COMMANDS: [&str; 18] = [
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

/// Validate the whole list first, as Glance does, so nothing runs when any element is bad.
pub fn parse_commands(body: Value) -> Result<Vec<Command>, Rejection> {
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
        if !COMMANDS.contains(&command.as_str()) {
            return Err(Rejection::CommandNotFound);
        }
        commands.push(Command { command, kwargs });
    }
    Ok(commands)
}

/// Run every command in order; a failure becomes that entry's `_error` and the rest still run.
/// Returns the reply body, one entry per command.
pub async fn run_all(db: &dyn DataAccess, ctx: &RequestContext, commands: Vec<Command>) -> String {
    let mut reply = String::from("[");
    for Command { command, kwargs } in commands {
        let started = Instant::now();
        let (entry, outcome) = match dispatch(db, ctx, &command, kwargs).await {
            Ok(Ok(entry)) => (entry, "ok"),
            Ok(Err(err)) => {
                if let DataAccessError::Backend(cause) = &err {
                    log::error!("registry command {command} failed: {cause}");
                }
                (
                    registry_wire::error_entry(&command, &err).to_string(),
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
        metrics::histogram!(
            REGISTRY_RPC_DURATION,
            "command" => command,
            "outcome" => outcome
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
fn args<T: Rpc>(kwargs: Map<String, Value>) -> Result<T, ArgumentError> {
    serde_json::from_value(Value::Object(kwargs)).map_err(|e| ArgumentError(e.to_string()))
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
    kwargs: Map<String, Value>,
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

    #[test]
    fn the_whole_list_is_validated_first() {
        assert_eq!(
            parse_commands(json!({"command": "image_get"})),
            Err(Rejection::BadRequest("Request must be a list of commands"))
        );
        assert_eq!(
            parse_commands(json!([{"command": "image_get", "kwargs": {}}, 3])),
            Err(Rejection::BadRequest("Bad Command"))
        );
        assert_eq!(
            parse_commands(json!([{"command": 1, "kwargs": {}}])),
            Err(Rejection::BadRequest("Wrong command structure"))
        );
        assert_eq!(
            parse_commands(json!([{"command": "image_get", "kwargs": []}])),
            Err(Rejection::BadRequest("Wrong command structure"))
        );
        assert_eq!(
            parse_commands(json!([{"command": "image_get"}, {"command": "drop_table"}])),
            Err(Rejection::CommandNotFound)
        );
        let ok = parse_commands(json!([{"command": "image_get", "kwargs": {"image_id": "x"}}]))
            .expect("valid");
        assert_eq!(ok[0].command, "image_get");
        assert_eq!(ok[0].kwargs["image_id"], "x");
    }
}
