//! `GET /v2/images`: order, pages, links, filters, and who sees what (§12 checks 9–11).

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{
    admin_context, admin_of, create_image, database, expect_error, expect_json, get, ids, member_of,
};
use crate::support::server::TestServer;
use glance_rs::domain::{ImageChanges, ImageStatus, MemberChanges, MemberStatus, NewMember};

async fn list(server: &TestServer, who: &HeaderMap, query: &str) -> Value {
    expect_json(
        get(server, who, &format!("/v2/images{query}")).await,
        StatusCode::OK,
    )
    .await
}

async fn create_named(server: &TestServer, who: &HeaderMap, names: &[&str]) -> Vec<String> {
    let mut created = Vec::new();
    for name in names {
        let image = create_image(server, who, json!({"name": name})).await;
        created.push(image["id"].as_str().expect("id").to_string());
    }
    created
}

#[tokio::test]
async fn newest_first_with_links_and_pages() {
    let server = TestServer::start_with(|s| {
        s.limits.limit_param_default = 2;
        s.limits.api_limit_max = 3;
    })
    .await;
    let none = HeaderMap::new();
    let created = create_named(&server, &none, &["a", "b", "c", "d"]).await;
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    let page = list(&server, &none, "").await;
    assert_eq!(ids(&page), newest_first[..2]);
    assert_eq!(page["first"], "/v2/images");
    assert_eq!(page["schema"], "/v2/schemas/images");
    assert_eq!(
        page["next"],
        format!("/v2/images?marker={}", newest_first[1])
    );
    let text = get(&server, &none, "/v2/images")
        .await
        .text()
        .await
        .expect("body");
    let (first, schema, next) = (
        text.find("\"first\": "),
        text.rfind("\"schema\": "),
        text.find("\"next\": "),
    );
    assert!(first.is_some() && first < schema && schema < next, "{text}");

    // The limit is capped at api_limit_max.
    let capped = list(&server, &none, "?limit=100").await;
    assert_eq!(ids(&capped), newest_first[..3]);
    assert_eq!(capped["first"], "/v2/images?limit=100");

    // Follow `next` to the end: a full page always has `next`, an empty one has none.
    let second = list(
        &server,
        &none,
        &page["next"].as_str().expect("next")["/v2/images".len()..],
    )
    .await;
    assert_eq!(ids(&second), newest_first[2..]);
    let third = list(
        &server,
        &none,
        &second["next"].as_str().expect("next")["/v2/images".len()..],
    )
    .await;
    assert_eq!(third["images"], json!([]));
    assert!(third.get("next").is_none());
    let short = list(&server, &none, &format!("?marker={}", newest_first[2])).await;
    assert_eq!(ids(&short), newest_first[3..]);
    assert_eq!(short["next"], Value::Null);

    // A page exactly full still has `next`, even if nothing follows.
    let tail = list(
        &server,
        &none,
        &format!("?limit=3&marker={}", newest_first[0]),
    )
    .await;
    assert_eq!(ids(&tail), newest_first[1..]);
    assert_eq!(
        tail["next"],
        format!("/v2/images?limit=3&marker={}", newest_first[3])
    );
    let rest = list(
        &server,
        &none,
        &format!("?limit=1&marker={}", newest_first[2]),
    )
    .await;
    assert_eq!(ids(&rest), newest_first[3..]);
    assert_eq!(
        rest["next"],
        format!("/v2/images?limit=1&marker={}", newest_first[3])
    );
    let empty = list(&server, &none, &format!("?marker={}", newest_first[3])).await;
    assert_eq!(empty["images"], json!([]));
    assert!(empty.get("next").is_none());
}

#[tokio::test]
async fn sorting_and_its_errors() {
    let server = TestServer::start().await;
    let none = HeaderMap::new();
    let created = create_named(&server, &none, &["b", "c", "a"]).await;
    let by_name = list(&server, &none, "?sort=name:asc").await;
    assert_eq!(
        ids(&by_name),
        vec![created[2].clone(), created[0].clone(), created[1].clone()]
    );
    let page = list(&server, &none, "?limit=1&sort=name:asc").await;
    assert_eq!(page["first"], "/v2/images?limit=1&sort=name%3Aasc");
    assert_eq!(
        page["next"],
        format!("/v2/images?limit=1&sort=name%3Aasc&marker={}", created[2])
    );
    let classic = list(&server, &none, "?sort_key=name&sort_dir=desc").await;
    assert_eq!(
        ids(&classic),
        vec![created[1].clone(), created[0].clone(), created[2].clone()]
    );
    let oldest = list(&server, &none, "?sort_dir=asc").await;
    assert_eq!(ids(&oldest), created);

    for (query, message) in [
        ("?sort_key=colour", "Invalid sort key: colour. It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at."),
        ("?sort_dir=sideways", "Invalid sort direction: sideways"),
        ("?sort=name&sort_dir=asc", "Old and new sorting syntax cannot be combined"),
        ("?sort_key=name&sort_key=id&sort_key=size&sort_dir=asc&sort_dir=desc", "Number of sort dirs does not match the number of sort keys"),
        ("?limit=-1", "limit param must be positive"),
        ("?limit=ten", "limit param must be an integer"),
        ("?marker=00000000-0000-0000-0000-000000000000", "No image found with ID 00000000-0000-0000-0000-000000000000"),
        ("?changes-since=2020-01-01T00:00:00Z", "The \"changes-since\" filter is no longer available on v2."),
        ("?visibility=everyone", "Invalid visibility value: everyone"),
        ("?member_status=maybe", "Invalid status: maybe"),
        ("?os_hidden=maybe", "Invalid value 'maybe' for 'os_hidden' filter. Valid values are 'true' or 'false'."),
        ("?name=like:a", "Unable to filter by unknown operator 'like'."),
        ("?size_min=big", "Unable to filter on a range with a non-numeric value."),
    ] {
        assert_eq!(expect_error(get(&server, &none, &format!("/v2/images{query}")).await, StatusCode::BAD_REQUEST).await, message, "{query}");
    }
}

#[tokio::test]
async fn filters() {
    let server = TestServer::start().await;
    let none = HeaderMap::new();
    let db = database(&server).await;
    let ctx = admin_context();
    let mut made = Vec::new();
    for (name, tags, props) in [
        ("a,b", json!(["x", "y"]), json!({"os_distro": "debian"})),
        ("c", json!(["x"]), json!({"os_distro": "ubuntu"})),
        ("d", json!([]), json!({})),
    ] {
        let mut body = props;
        body["name"] = json!(name);
        body["tags"] = tags;
        let image = create_image(&server, &none, body).await;
        made.push(image["id"].as_str().expect("id").to_string());
    }
    let sized = ImageChanges {
        size: Some(Some(100)),
        status: Some(ImageStatus::Active),
        ..ImageChanges::default()
    };
    db.image_update(&ctx, &made[1], sized, false, None)
        .await
        .expect("size");
    let sized = ImageChanges {
        size: Some(Some(1000)),
        ..ImageChanges::default()
    };
    db.image_update(&ctx, &made[2], sized, false, None)
        .await
        .expect("size");

    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let query = |q: &'static str| {
        let server = &server;
        let none = &none;
        async move { sorted(ids(&list(server, none, q).await)) }
    };
    assert_eq!(
        query("?name=in:%22a,b%22,c").await,
        sorted(vec![made[0].clone(), made[1].clone()])
    );
    assert_eq!(query("?name=eq:d").await, vec![made[2].clone()]);
    assert_eq!(query("?name=c").await, vec![made[1].clone()]);
    assert_eq!(
        query("?status=in:active,killed").await,
        vec![made[1].clone()]
    );
    assert_eq!(
        query("?status=queued").await,
        sorted(vec![made[0].clone(), made[2].clone()])
    );
    assert_eq!(
        query("?size_min=100&size_max=500").await,
        vec![made[1].clone()]
    );
    assert_eq!(query("?size_min=101").await, vec![made[2].clone()]);
    assert_eq!(
        query("?tag=x").await,
        sorted(vec![made[0].clone(), made[1].clone()])
    );
    assert_eq!(query("?tag=x&tag=y").await, vec![made[0].clone()]);
    assert_eq!(query("?os_distro=ubuntu").await, vec![made[1].clone()]);
    assert_eq!(query("?created_at=gt:2000-01-01T00:00:00Z").await.len(), 3);
    assert_eq!(query("?created_at=lt:2000-01-01T00:00:00Z").await.len(), 0);
    assert_eq!(
        query("?updated_at=gte:2000-01-01T00:00:00Z&name=d").await,
        vec![made[2].clone()]
    );

    // Hidden images are left out unless asked for; then only they are listed.
    let hidden = create_image(&server, &none, json!({"name": "h", "os_hidden": true})).await;
    let hidden_id = hidden["id"].as_str().expect("id").to_string();
    assert!(!query("").await.contains(&hidden_id));
    assert_eq!(query("?os_hidden=true").await, vec![hidden_id.clone()]);

    // Deleted and killed images are never listed, even for admins asking for everything.
    let killed = ImageChanges {
        status: Some(ImageStatus::Killed),
        ..ImageChanges::default()
    };
    db.image_update(&ctx, &made[2], killed, false, None)
        .await
        .expect("kill");
    let response = server
        .client
        .delete(server.url(&format!("/v2/images/{}", made[0])))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(query("?visibility=all").await, vec![made[1].clone()]);
}

#[tokio::test]
async fn what_each_project_sees() {
    let server = TestServer::trusted().await;
    let alice = member_of("alice");
    let bob = member_of("bob");
    let admin = admin_of("ops");
    let mk = |who: HeaderMap, body: Value| {
        let server = &server;
        async move {
            create_image(server, &who, body).await["id"]
                .as_str()
                .expect("id")
                .to_string()
        }
    };
    let alice_private = mk(alice.clone(), json!({"visibility": "private"})).await;
    let alice_shared = mk(alice.clone(), json!({"visibility": "shared"})).await;
    let alice_community = mk(alice.clone(), json!({"visibility": "community"})).await;
    let public = mk(
        admin.clone(),
        json!({"visibility": "public", "owner": "alice"}),
    )
    .await;
    let bob_private = mk(bob.clone(), json!({"visibility": "private"})).await;

    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let seen = |who: &HeaderMap, q: &str| {
        let (server, who, q) = (&server, who.clone(), q.to_string());
        async move { sorted(ids(&list(server, &who, &q).await)) }
    };
    assert_eq!(
        seen(&alice, "").await,
        sorted(vec![
            alice_private.clone(),
            alice_shared.clone(),
            alice_community.clone(),
            public.clone()
        ])
    );
    // Others' community images only when asked for.
    assert_eq!(
        seen(&bob, "").await,
        sorted(vec![public.clone(), bob_private.clone()])
    );
    assert_eq!(
        seen(&bob, "?visibility=community").await,
        vec![alice_community.clone()]
    );
    assert!(seen(&bob, "?visibility=all")
        .await
        .contains(&alice_community));
    assert_eq!(
        seen(&bob, "?visibility=private").await,
        vec![bob_private.clone()]
    );

    // A shared image shows up for a member only after accepting (or via member_status).
    let db = database(&server).await;
    let ctx = admin_context();
    let member = db
        .image_member_create(
            &ctx,
            NewMember {
                image_id: alice_shared.clone(),
                member: "bob".into(),
                can_share: false,
                status: MemberStatus::Pending,
            },
        )
        .await
        .expect("member");
    assert!(!seen(&bob, "").await.contains(&alice_shared));
    assert_eq!(
        seen(&bob, "?visibility=shared&member_status=pending").await,
        vec![alice_shared.clone()]
    );
    assert_eq!(
        seen(&bob, "?visibility=shared&member_status=all").await,
        vec![alice_shared.clone()]
    );
    // The owner sees its own shared images whatever member rows they have.
    for q in [
        "?visibility=shared",
        "?visibility=shared&member_status=rejected",
    ] {
        assert_eq!(seen(&alice, q).await, vec![alice_shared.clone()], "{q}");
    }
    db.image_member_update(
        &ctx,
        member.id,
        MemberChanges {
            status: Some(MemberStatus::Accepted),
            can_share: None,
        },
    )
    .await
    .expect("accept");
    assert!(seen(&bob, "").await.contains(&alice_shared));
    assert_eq!(
        seen(&bob, "?visibility=shared&member_status=pending").await,
        Vec::<String>::new()
    );

    // Plain column equality, and the protected filter.
    assert_eq!(seen(&admin, "?owner=bob").await, vec![bob_private.clone()]);
    assert_eq!(seen(&admin, "?protected=true").await, Vec::<String>::new());
    assert_eq!(
        seen(&alice, "?protected=false&visibility=private").await,
        vec![alice_private.clone()]
    );

    // Admins see everything except others' community images by default.
    let everything = seen(&admin, "?visibility=all").await;
    for id in [
        &alice_private,
        &alice_shared,
        &alice_community,
        &public,
        &bob_private,
    ] {
        assert!(everything.contains(id));
    }
    // The default list in noauth mode (admin, no project) is every non-community image.
    assert!(!seen(&admin, "").await.contains(&alice_community));
}
