#!/usr/bin/env python3
"""Seed a glance-rs database (made by `glance-api db-sync`) with COUNT images, straight into
its tables: PostgreSQL through psql's COPY, SQLite in one transaction of prepared inserts.

    seed.py postgresql://postgres@127.0.0.1:5432/scale_100k 100000
    seed.py sqlite:////tmp/scale.db 100000

The mix (deterministic, the same at every size, so pages compare across sizes):
- 1,000 owner projects `project-0000`…`project-0999`, picked at random per image;
- visibility 50 % private, 25 % shared, 15 % public, 10 % community; status active;
- created_at one second apart in image order; ids random (so id order is not time order);
- 5 properties: os_distro (10 values, 10 % each), os_version, architecture, hw_disk_bus,
  build_id (unique); 2 tags: `t00`…`t49` (image number mod 50: 2 % each, so a tag page is full
  even at 1,000 images) and one of gold/silver/bronze/test;
- member rows on shared images, one per 10 images (100k at 1M), random member project, status
  accepted 70 % / pending 20 % / rejected 10 %; plus the probe project `project-probe` (which
  owns nothing else) a member of 60 shared images at every size, so its
  `visibility=shared&member_status=all` page is full at every size.
Prints a JSON line: the probe project, a public image 90 % deep in the default order (the
deep marker, visible to everyone) and an image to GET.
Standard library only (python3, and psql on PATH for PostgreSQL).
"""
import json
import random
import sqlite3
import subprocess
import sys
import uuid
from datetime import datetime, timedelta

PROJECTS = 1000
PROBE_PROJECT = "project-probe"
PROBE_MEMBERSHIPS = 60
DISTROS = ["ubuntu", "debian", "fedora", "centos", "rocky", "alma", "opensuse", "arch", "cirros", "windows"]
GRADES = ["gold", "silver", "bronze", "test"]
BASE_TIME = datetime(2020, 1, 1)


def visibility(rng):
    r = rng.random()
    return "private" if r < 0.50 else "shared" if r < 0.75 else "public" if r < 0.90 else "community"


def generate(count):
    """Yield (image, properties, tags, members) rows; `image` is a dict."""
    rng = random.Random(17)
    shared_ids = []
    deep_public = None
    deep_index = count // 10  # default order is newest first: 90 % deep is image count/10
    for i in range(count):
        image_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        vis = visibility(rng)
        distro = DISTROS[i % 10]
        created = BASE_TIME + timedelta(seconds=i)
        props = {
            "os_distro": distro,
            "os_version": f"{rng.randint(1, 30)}.{rng.randint(0, 9)}",
            "architecture": "x86_64" if rng.random() < 0.9 else "aarch64",
            "hw_disk_bus": "virtio" if rng.random() < 0.8 else "scsi",
            "build_id": f"b{i:07d}",
        }
        tags = [f"t{i % 50:02d}", GRADES[rng.randrange(4)]]
        image = {
            "id": image_id, "name": f"{distro}-{props['os_version']}-{i:07d}", "size": rng.randint(1 << 20, 1 << 33),
            "visibility": vis, "owner": f"project-{rng.randrange(PROJECTS):04d}", "created": created,
            "disk_format": "qcow2" if rng.random() < 0.7 else "raw", "props": props, "tags": tags,
        }
        if vis == "shared":
            shared_ids.append((image_id, image["owner"], created))
        if vis == "public" and deep_public is None and i >= deep_index:
            deep_public = image_id
        yield "image", image
    members = []
    for _ in range(count // 10):
        if not shared_ids:
            break
        image_id, owner, created = shared_ids[rng.randrange(len(shared_ids))]
        member = f"project-{rng.randrange(PROJECTS):04d}"
        r = rng.random()
        status = "accepted" if r < 0.7 else "pending" if r < 0.9 else "rejected"
        if member != owner:
            members.append((image_id, member, status, created))
    for image_id, _, created in rng.sample(shared_ids, min(PROBE_MEMBERSHIPS, len(shared_ids))):
        members.append((image_id, PROBE_PROJECT, "accepted", created))
    unique = {}
    for row in members:
        unique.setdefault((row[0], row[1]), row)
    yield "members", list(unique.values())
    yield "probe", {"project": PROBE_PROJECT, "deep_marker": deep_public}


def ts(value):
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def copy_escape(text):
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def seed_postgres(url, count):
    # Triggers off (session_replication_role=replica): `images.children` and the tag and
    # property rows' copy of their image's `created_at` (schema version 8) are written here as the triggers would
    # write them, and foreign keys are known to hold.
    script = ["SET session_replication_role = replica;"]
    images, props, tags = [], [], []
    probe = None
    members = []
    for kind, value in generate(count):
        if kind == "image":
            im = value
            children = json.dumps({"properties": im["props"], "tags": im["tags"], "locations": []})
            images.append("\t".join([
                im["id"], im["name"], str(im["size"]), "active", ts(im["created"]), ts(im["created"]), "\\N", "f",
                im["disk_format"], "bare", "\\N", im["owner"], "0", "0", "f", str(im["size"]), im["visibility"],
                "f", "\\N", "\\N", copy_escape(children)]))
            # What the child rows' triggers copy from their image (schema versions 8 and 9),
            # off while COPY runs.
            copies = f"{ts(im['created'])}\t{im['visibility']}\t{im['owner']}"
            for name, v in im["props"].items():
                props.append(f"{im['id']}\t{name}\t{v}\t{ts(im['created'])}\t{ts(im['created'])}\tf\t{copies}")
            for tag in im["tags"]:
                tags.append(f"{im['id']}\t{tag}\t{ts(im['created'])}\t{ts(im['created'])}\tf\t{copies}")
        elif kind == "members":
            members = [f"{m[0]}\t{m[1]}\tf\t{ts(m[3])}\t{ts(m[3])}\tf\t{m[2]}" for m in value]
        else:
            probe = value
    for table, columns, rows in [
        ("images", "id, name, size, status, created_at, updated_at, deleted_at, deleted, disk_format, "
                   "container_format, checksum, owner, min_disk, min_ram, protected, virtual_size, visibility, "
                   "os_hidden, os_hash_algo, os_hash_value, children", images),
        ("image_properties", "image_id, name, value, created_at, updated_at, deleted, glance_rs_image_created_at, "
                             "glance_rs_image_visibility, glance_rs_image_owner",
         props),
        ("image_tags", "image_id, value, created_at, updated_at, deleted, glance_rs_image_created_at, "
                       "glance_rs_image_visibility, glance_rs_image_owner", tags),
        ("image_members", "image_id, member, can_share, created_at, updated_at, deleted, status", members),
    ]:
        script.append(f"COPY {table} ({columns}) FROM STDIN;")
        script.extend(rows)
        script.append("\\.")
    script.append("SET session_replication_role = DEFAULT;")
    # VACUUM as well as ANALYZE: a deployment's tables have been vacuumed (index-only scans
    # need the visibility map), and otherwise autovacuum starts on millions of fresh rows in
    # the middle of the profile and takes a core from it for minutes.
    script.append("VACUUM ANALYZE;")
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url], input="\n".join(script) + "\n",
                   text=True, check=True)
    return probe


def seed_sqlite(url, count):
    path = url[len("sqlite:///"):]
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    probe = None
    with conn:
        insert_image = ("INSERT INTO images (id, name, size, status, created_at, updated_at, deleted, disk_format, "
                        "container_format, owner, min_disk, min_ram, protected, virtual_size, visibility, os_hidden) "
                        "VALUES (?, ?, ?, 'active', ?, ?, 0, ?, 'bare', ?, 0, 0, 0, ?, ?, 0)")
        insert_prop = ("INSERT INTO image_properties (image_id, name, value, created_at, updated_at, deleted) "
                       "VALUES (?, ?, ?, ?, ?, 0)")
        insert_tag = "INSERT INTO image_tags (image_id, value, created_at, updated_at, deleted) VALUES (?, ?, ?, ?, 0)"
        for kind, value in generate(count):
            if kind == "image":
                im = value
                at = sqlite_ts(im["created"])
                conn.execute(insert_image, (im["id"], im["name"], im["size"], at, at, im["disk_format"], im["owner"],
                                            im["size"], im["visibility"]))
                conn.executemany(insert_prop, [(im["id"], k, v, at, at) for k, v in im["props"].items()])
                conn.executemany(insert_tag, [(im["id"], t, at, at) for t in im["tags"]])
            elif kind == "members":
                conn.executemany(
                    "INSERT INTO image_members (image_id, member, can_share, created_at, updated_at, deleted, status) "
                    "VALUES (?, ?, 0, ?, ?, 0, ?)",
                    [(m[0], m[1], sqlite_ts(m[3]), sqlite_ts(m[3]), m[2]) for m in value])
            else:
                probe = value
    conn.execute("ANALYZE")
    conn.close()
    return probe


def sqlite_ts(value):
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    url, count = sys.argv[1], int(sys.argv[2])
    if url.startswith("sqlite:///"):
        probe = seed_sqlite(url, count)
    else:
        probe = seed_postgres(url, count)
    print(json.dumps(probe))


if __name__ == "__main__":
    main()
