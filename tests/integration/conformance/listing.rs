//! image_get_all: scope and every filter kind (DriverTests: test_image_get_all*,
//! visibility tests). Sorting and pages are in `paging`.

use std::collections::BTreeSet;

use glance_rs::data_access::{DataAccess, DataAccessError};
use glance_rs::domain::{
    CmpOp, Image, ImageChanges, ImageColumn, ImageQuery, ImageStatus, MemberChanges, MemberStatus,
    MemberStatusFilter, NewMember, RequestContext, ValueMatch, Visibility, VisibilityFilter,
};

use super::{admin, create, ids, new_image, pause, prop_filters, props, user};

pub async fn list(da: &dyn DataAccess, ctx: &RequestContext, query: &ImageQuery) -> Vec<Image> {
    da.image_get_all(ctx, query).await.expect("image_get_all")
}

async fn list_ids(
    da: &dyn DataAccess,
    ctx: &RequestContext,
    query: &ImageQuery,
) -> BTreeSet<String> {
    ids(&list(da, ctx, query).await).into_iter().collect()
}

fn set(images: &[&Image]) -> BTreeSet<String> {
    images.iter().map(|i| i.id.clone()).collect()
}

fn with_filters(edit: impl FnOnce(&mut glance_rs::domain::ImageFilters)) -> ImageQuery {
    let mut query = ImageQuery::default();
    edit(&mut query.filters);
    query
}

pub async fn update(da: &dyn DataAccess, image: &Image, changes: ImageChanges) -> Image {
    da.image_update(&admin(), &image.id, changes, false, None)
        .await
        .expect("update")
}

pub async fn lists_skip_deleted_and_killed(da: &dyn DataAccess) {
    let live = create(da, new_image(Some("p1"), Visibility::Public)).await;
    let killed = create(da, new_image(Some("p1"), Visibility::Public)).await;
    let deleted = create(da, new_image(Some("p1"), Visibility::Public)).await;
    let status = |s| ImageChanges {
        status: Some(s),
        ..ImageChanges::default()
    };
    update(da, &killed, status(ImageStatus::Killed)).await;
    da.image_destroy(&admin(), &deleted.id)
        .await
        .expect("destroy");
    let all = with_filters(|f| f.visibility = Some(VisibilityFilter::All));
    assert_eq!(list_ids(da, &admin(), &all).await, set(&[&live]));
    assert_eq!(list_ids(da, &user("p1"), &all).await, set(&[&live]));
}

/// Images of every visibility owned by "owner", a shared one with an accepted member, and
/// one community image of the caller's own project.
struct Zoo {
    private: Image,
    shared: Image,
    shared_accepted: Image,
    public: Image,
    community: Image,
    own_community: Image,
}

async fn zoo(da: &dyn DataAccess) -> Zoo {
    let zoo = Zoo {
        private: create(da, new_image(Some("owner"), Visibility::Private)).await,
        shared: create(da, new_image(Some("owner"), Visibility::Shared)).await,
        shared_accepted: create(da, new_image(Some("owner"), Visibility::Shared)).await,
        public: create(da, new_image(Some("owner"), Visibility::Public)).await,
        community: create(da, new_image(Some("owner"), Visibility::Community)).await,
        own_community: create(da, new_image(Some("me"), Visibility::Community)).await,
    };
    let member = NewMember {
        image_id: zoo.shared_accepted.id.clone(),
        member: "me".into(),
        can_share: false,
        status: MemberStatus::Accepted,
    };
    da.image_member_create(&admin(), member)
        .await
        .expect("member");
    zoo
}

pub async fn user_scope_and_visibility_filter(da: &dyn DataAccess) {
    let z = zoo(da).await;
    let me = user("me");
    let only = |v| with_filters(|f| f.visibility = Some(VisibilityFilter::Only(v)));
    // Default: public, own images, accepted shares; others' community images left out.
    let default = list_ids(da, &me, &ImageQuery::default()).await;
    assert_eq!(
        default,
        set(&[&z.shared_accepted, &z.public, &z.own_community])
    );
    assert_eq!(
        list_ids(da, &me, &only(Visibility::Community)).await,
        set(&[&z.community, &z.own_community])
    );
    assert_eq!(
        list_ids(da, &me, &only(Visibility::Public)).await,
        set(&[&z.public])
    );
    assert_eq!(
        list_ids(da, &me, &only(Visibility::Shared)).await,
        set(&[&z.shared_accepted])
    );
    assert!(list_ids(da, &me, &only(Visibility::Private))
        .await
        .is_empty());
    let all = with_filters(|f| f.visibility = Some(VisibilityFilter::All));
    assert_eq!(
        list_ids(da, &me, &all).await,
        set(&[
            &z.shared_accepted,
            &z.public,
            &z.community,
            &z.own_community
        ])
    );
    // The owner sees its own private and shared images, shared ones without members too.
    let owner_view = list_ids(da, &user("owner"), &ImageQuery::default()).await;
    assert_eq!(
        owner_view,
        set(&[
            &z.private,
            &z.shared,
            &z.shared_accepted,
            &z.public,
            &z.community
        ])
    );
    // No project: public only by default, community when asked.
    let anonymous = RequestContext::default();
    assert_eq!(
        list_ids(da, &anonymous, &ImageQuery::default()).await,
        set(&[&z.public])
    );
    assert_eq!(
        list_ids(da, &anonymous, &all).await,
        set(&[&z.public, &z.community, &z.own_community])
    );
}

pub async fn admin_scope(da: &dyn DataAccess) {
    let z = zoo(da).await;
    let everything = set(&[
        &z.private,
        &z.shared,
        &z.shared_accepted,
        &z.public,
        &z.community,
        &z.own_community,
    ]);
    let all = with_filters(|f| f.visibility = Some(VisibilityFilter::All));
    assert_eq!(list_ids(da, &admin(), &all).await, everything);
    // By default, community images of other projects are left out for admins too.
    let default = list_ids(da, &admin(), &ImageQuery::default()).await;
    assert_eq!(
        default,
        set(&[&z.private, &z.shared, &z.shared_accepted, &z.public])
    );
    let private =
        with_filters(|f| f.visibility = Some(VisibilityFilter::Only(Visibility::Private)));
    assert_eq!(list_ids(da, &admin(), &private).await, set(&[&z.private]));
}

pub async fn member_status_filter(da: &dyn DataAccess) {
    let image = create(da, new_image(Some("owner"), Visibility::Shared)).await;
    let member = NewMember {
        image_id: image.id.clone(),
        member: "me".into(),
        can_share: false,
        status: MemberStatus::Pending,
    };
    let row = da
        .image_member_create(&admin(), member)
        .await
        .expect("member");
    let me = user("me");
    let by_status = |s| ImageQuery {
        member_status: s,
        ..ImageQuery::default()
    };
    let expect = |listed: bool| {
        if listed {
            set(&[&image])
        } else {
            BTreeSet::new()
        }
    };
    assert_eq!(
        list_ids(da, &me, &ImageQuery::default()).await,
        expect(false),
        "pending is not listed"
    );
    assert_eq!(
        list_ids(da, &me, &by_status(MemberStatusFilter::Pending)).await,
        expect(true)
    );
    assert_eq!(
        list_ids(da, &me, &by_status(MemberStatusFilter::All)).await,
        expect(true)
    );
    assert_eq!(
        list_ids(da, &me, &by_status(MemberStatusFilter::Rejected)).await,
        expect(false)
    );
    let accept = MemberChanges {
        status: Some(MemberStatus::Accepted),
        can_share: None,
    };
    da.image_member_update(&me, row.id, accept)
        .await
        .expect("accept");
    assert_eq!(
        list_ids(da, &me, &ImageQuery::default()).await,
        expect(true)
    );
    assert_eq!(
        list_ids(da, &me, &by_status(MemberStatusFilter::Pending)).await,
        expect(false)
    );
    // Someone else is never listed, whatever the member status asked.
    assert_eq!(
        list_ids(da, &user("other"), &by_status(MemberStatusFilter::All)).await,
        expect(false)
    );
    // Admins ignore member_status.
    assert_eq!(
        list_ids(da, &admin(), &by_status(MemberStatusFilter::Rejected)).await,
        expect(true)
    );
}

pub async fn filter_name_id_status_formats(da: &dyn DataAccess) {
    let mut a = new_image(Some("p"), Visibility::Public);
    a.name = Some("alpha".into());
    let a = create(da, a).await;
    let mut b = new_image(Some("p"), Visibility::Public);
    b.name = Some("beta, with comma".into());
    b.disk_format = Some("qcow2".into());
    let b = create(da, b).await;
    let mut c = new_image(Some("p"), Visibility::Public);
    c.name = Some("gamma".into());
    c.container_format = Some("ovf".into());
    let c = create(da, c).await;
    update(
        da,
        &c,
        ImageChanges {
            status: Some(ImageStatus::Active),
            ..ImageChanges::default()
        },
    )
    .await;
    let ctx = user("p");
    let eq = |s: &str| Some(ValueMatch::Eq(s.into()));
    let any = |xs: &[&str]| Some(ValueMatch::In(xs.iter().map(|x| x.to_string()).collect()));
    assert_eq!(
        list_ids(da, &ctx, &with_filters(|f| f.name = eq("alpha"))).await,
        set(&[&a])
    );
    assert_eq!(
        list_ids(da, &ctx, &with_filters(|f| f.name = eq("alp"))).await,
        set(&[])
    );
    assert_eq!(
        list_ids(
            da,
            &ctx,
            &with_filters(|f| f.name = any(&["alpha", "beta, with comma", "zeta"]))
        )
        .await,
        set(&[&a, &b])
    );
    assert_eq!(
        list_ids(da, &ctx, &with_filters(|f| f.id = eq(&b.id))).await,
        set(&[&b])
    );
    assert_eq!(
        list_ids(da, &ctx, &with_filters(|f| f.id = any(&[&a.id, &c.id]))).await,
        set(&[&a, &c])
    );
    assert_eq!(
        list_ids(da, &ctx, &with_filters(|f| f.status = eq("active"))).await,
        set(&[&c])
    );
    assert_eq!(
        list_ids(
            da,
            &ctx,
            &with_filters(|f| f.status = any(&["queued", "saving"]))
        )
        .await,
        set(&[&a, &b])
    );
    assert_eq!(
        list_ids(da, &ctx, &with_filters(|f| f.disk_format = eq("qcow2"))).await,
        set(&[&b])
    );
    assert_eq!(
        list_ids(
            da,
            &ctx,
            &with_filters(|f| f.container_format = any(&["ovf", "ova"]))
        )
        .await,
        set(&[&c])
    );
}

pub async fn filter_created_and_updated_at(da: &dyn DataAccess) {
    let first = create(da, new_image(Some("p"), Visibility::Public)).await;
    let second = create(da, new_image(Some("p"), Visibility::Public)).await;
    let third = create(da, new_image(Some("p"), Visibility::Public)).await;
    let ctx = user("p");
    let created = |op, image: &Image| with_filters(|f| f.created_at = vec![(op, image.created_at)]);
    assert_eq!(
        list_ids(da, &ctx, &created(CmpOp::Gt, &first)).await,
        set(&[&second, &third])
    );
    assert_eq!(
        list_ids(da, &ctx, &created(CmpOp::Gte, &second)).await,
        set(&[&second, &third])
    );
    assert_eq!(
        list_ids(da, &ctx, &created(CmpOp::Lt, &second)).await,
        set(&[&first])
    );
    assert_eq!(
        list_ids(da, &ctx, &created(CmpOp::Lte, &second)).await,
        set(&[&first, &second])
    );
    assert_eq!(
        list_ids(da, &ctx, &created(CmpOp::Eq, &third)).await,
        set(&[&third])
    );
    assert_eq!(
        list_ids(da, &ctx, &created(CmpOp::Neq, &third)).await,
        set(&[&first, &second])
    );
    let range = with_filters(|f| {
        f.created_at = vec![(CmpOp::Gt, first.created_at), (CmpOp::Lt, third.created_at)]
    });
    assert_eq!(list_ids(da, &ctx, &range).await, set(&[&second]));
    pause().await;
    let touched = update(
        da,
        &first,
        ImageChanges {
            min_ram: Some(1),
            ..ImageChanges::default()
        },
    )
    .await;
    let since = touched.updated_at.expect("updated_at");
    let updated = with_filters(|f| f.updated_at = vec![(CmpOp::Gte, since)]);
    assert_eq!(list_ids(da, &ctx, &updated).await, set(&[&first]));
}

pub async fn filter_size_protected_and_columns(da: &dyn DataAccess) {
    let small = create(da, new_image(Some("p"), Visibility::Public)).await;
    let big = create(da, new_image(Some("p"), Visibility::Public)).await;
    let no_size = create(da, new_image(Some("q"), Visibility::Public)).await;
    update(
        da,
        &small,
        ImageChanges {
            size: Some(Some(10)),
            min_ram: Some(512),
            checksum: Some(Some("c1".into())),
            ..ImageChanges::default()
        },
    )
    .await;
    update(
        da,
        &big,
        ImageChanges {
            size: Some(Some(1000)),
            protected: Some(true),
            virtual_size: Some(Some(5000)),
            ..ImageChanges::default()
        },
    )
    .await;
    let ctx = admin();
    let q = |edit: fn(&mut glance_rs::domain::ImageFilters)| with_filters(edit);
    assert_eq!(
        list_ids(da, &ctx, &q(|f| f.size_min = Some(10))).await,
        set(&[&small, &big])
    );
    assert_eq!(
        list_ids(da, &ctx, &q(|f| f.size_min = Some(11))).await,
        set(&[&big])
    );
    assert_eq!(
        list_ids(da, &ctx, &q(|f| f.size_max = Some(1000))).await,
        set(&[&small, &big])
    );
    assert_eq!(
        list_ids(
            da,
            &ctx,
            &q(|f| {
                f.size_min = Some(5);
                f.size_max = Some(999)
            })
        )
        .await,
        set(&[&small])
    );
    assert_eq!(
        list_ids(da, &ctx, &q(|f| f.protected = Some(true))).await,
        set(&[&big])
    );
    assert_eq!(
        list_ids(da, &ctx, &q(|f| f.protected = Some(false))).await,
        set(&[&small, &no_size])
    );
    let column = |c: ImageColumn, v: &str| with_filters(|f| f.columns = vec![(c, v.to_string())]);
    assert_eq!(
        list_ids(da, &ctx, &column(ImageColumn::Owner, "q")).await,
        set(&[&no_size])
    );
    assert_eq!(
        list_ids(da, &ctx, &column(ImageColumn::MinRam, "512")).await,
        set(&[&small])
    );
    assert_eq!(
        list_ids(da, &ctx, &column(ImageColumn::MinRam, "0")).await,
        set(&[&big, &no_size])
    );
    assert_eq!(
        list_ids(da, &ctx, &column(ImageColumn::Checksum, "c1")).await,
        set(&[&small])
    );
    assert_eq!(
        list_ids(da, &ctx, &column(ImageColumn::Size, "1000")).await,
        set(&[&big])
    );
    assert_eq!(
        list_ids(da, &ctx, &column(ImageColumn::VirtualSize, "5000")).await,
        set(&[&big])
    );
    let err = da
        .image_get_all(&ctx, &column(ImageColumn::MinRam, "lots"))
        .await
        .expect_err("not an int");
    assert!(matches!(err, DataAccessError::Invalid(_)), "{err:?}");
}

pub async fn filter_tags_are_anded(da: &dyn DataAccess) {
    let mut ab = new_image(Some("p"), Visibility::Public);
    ab.tags = vec!["a".into(), "b".into()];
    let ab = create(da, ab).await;
    let mut a = new_image(Some("p"), Visibility::Public);
    a.tags = vec!["a".into()];
    let a = create(da, a).await;
    create(da, new_image(Some("p"), Visibility::Public)).await;
    let tags = |t: &[&str]| with_filters(|f| f.tags = t.iter().map(|s| s.to_string()).collect());
    assert_eq!(list_ids(da, &admin(), &tags(&["a"])).await, set(&[&ab, &a]));
    assert_eq!(
        list_ids(da, &admin(), &tags(&["a", "b"])).await,
        set(&[&ab])
    );
    assert_eq!(list_ids(da, &admin(), &tags(&["b", "c"])).await, set(&[]));
    assert_eq!(
        list_ids(da, &admin(), &tags(&["a", "a"])).await,
        set(&[&ab, &a]),
        "a repeated tag is one filter"
    );
    da.image_tag_delete(&admin(), &ab.id, "b")
        .await
        .expect("untag");
    assert_eq!(
        list_ids(da, &admin(), &tags(&["b"])).await,
        set(&[]),
        "deleted tags do not match"
    );
    assert_eq!(
        list_ids(da, &admin(), &tags(&["a", "b"])).await,
        set(&[]),
        "a deleted tag fails a combined filter"
    );
}

pub async fn filter_properties(da: &dyn DataAccess) {
    let mut x = new_image(Some("p"), Visibility::Public);
    x.properties = props(&[("os_distro", "ubuntu"), ("arch", "x86_64")]);
    let x = create(da, x).await;
    let mut y = new_image(Some("p"), Visibility::Public);
    y.properties = props(&[("os_distro", "ubuntu"), ("arch", "aarch64")]);
    let y = create(da, y).await;
    let q = |pairs: &[(&str, &str)]| with_filters(|f| f.properties = prop_filters(pairs));
    assert_eq!(
        list_ids(da, &admin(), &q(&[("os_distro", "ubuntu")])).await,
        set(&[&x, &y])
    );
    assert_eq!(
        list_ids(
            da,
            &admin(),
            &q(&[("os_distro", "ubuntu"), ("arch", "aarch64")])
        )
        .await,
        set(&[&y])
    );
    assert_eq!(
        list_ids(da, &admin(), &q(&[("os_distro", "Ubuntu")])).await,
        set(&[])
    );
    let remove = ImageChanges {
        remove_properties: vec!["arch".into()],
        ..ImageChanges::default()
    };
    update(da, &y, remove).await;
    assert_eq!(
        list_ids(da, &admin(), &q(&[("arch", "aarch64")])).await,
        set(&[]),
        "deleted properties do not match"
    );
    assert_eq!(
        list_ids(
            da,
            &admin(),
            &q(&[("os_distro", "ubuntu"), ("arch", "aarch64")])
        )
        .await,
        set(&[]),
        "a deleted property fails a combined filter"
    );
}

pub async fn filter_os_hidden(da: &dyn DataAccess) {
    let shown = create(da, new_image(Some("p"), Visibility::Public)).await;
    let mut hidden = new_image(Some("p"), Visibility::Public);
    hidden.os_hidden = true;
    let hidden = create(da, hidden).await;
    let q = |h| with_filters(|f| f.os_hidden = h);
    assert_eq!(
        list_ids(da, &admin(), &q(Some(false))).await,
        set(&[&shown])
    );
    assert_eq!(
        list_ids(da, &admin(), &q(Some(true))).await,
        set(&[&hidden])
    );
    assert_eq!(
        list_ids(da, &admin(), &q(None)).await,
        set(&[&shown, &hidden])
    );
}
