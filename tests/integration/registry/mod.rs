//! glance-registry and the registry-proxy client, against the REAL `glance-registry` binary on
//! loopback: the wire protocol over raw HTTP, the caller's context crossing the proxy, and
//! faults (a killed or hung registry). The conformance suite runs through the proxy too
//! (`conformance::registry`).

mod faults;
mod protocol;
#[cfg(feature = "direct-postgres")]
mod rolling_upgrade;
mod security;
mod transparency;

use glance_rs::data_access::registry_wire::{encode_context, CONTEXT_HEADER};
use glance_rs::domain::RequestContext;
use serde_json::Value;

use crate::support::registry::{RegistryProcess, TOKEN};

/// `POST /rpc` as the API would send it: the token and the caller's context.
pub async fn rpc(
    registry: &RegistryProcess,
    ctx: &RequestContext,
    body: Value,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(registry.url("/rpc"))
        .bearer_auth(TOKEN)
        .header(
            CONTEXT_HEADER,
            encode_context(ctx).expect("context encodes"),
        )
        .json(&body)
        .send()
        .await
        .expect("registry answers")
}

/// `rpc` for a 200 reply: the list of results.
pub async fn rpc_results(
    registry: &RegistryProcess,
    ctx: &RequestContext,
    body: Value,
) -> Vec<Value> {
    let res = rpc(registry, ctx, body).await;
    assert_eq!(res.status(), 200);
    let reply: Value = res.json().await.expect("JSON reply");
    reply.as_array().expect("a list of results").clone()
}

pub fn command(name: &str, kwargs: Value) -> Value {
    serde_json::json!({"command": name, "kwargs": kwargs})
}
