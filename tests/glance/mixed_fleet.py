#!/usr/bin/env python3
"""The rolling replacement, mid-way: a real Glance 33 node and a glance-api node on one
database and one store, behind one address (haproxy, round robin), written to concurrently.

Usage: mixed_fleet.py FRONT GLANCE OURS [WORKERS] [IMAGES_PER_WORKER]
  (base URLs: haproxy's frontend, the Glance node, the glance-api node)

Each worker, through FRONT (so every step may land on either node): creates images with a
property, uploads random bytes, patches a property, adds a tag, shares each with another
project, which accepts it; every other image is then deleted. Every request must succeed.
Then, through EACH node directly: every kept image is active with the checksum, size,
properties, tag and member status that were written, its bytes are the ones uploaded, every
deleted image is 404 and its file is gone from the store; and both nodes show every image with
the same JSON. Prints what it checked; exits non-zero on the first difference.
"""
import hashlib
import json
import os
import random
import sys
import threading
import urllib.error
import urllib.request

OWNER = {
    "X-Identity-Status": "Confirmed",
    "X-Project-Id": "p-fleet",
    "X-User-Id": "u-fleet",
    "X-Roles": "member,reader",
}
MEMBER = {
    "X-Identity-Status": "Confirmed",
    "X-Project-Id": "p-fleet-member",
    "X-User-Id": "u-fleet-member",
    "X-Roles": "member,reader",
}
PATCH = "application/openstack-images-v2.1-json-patch"


def call(base, method, path, body=None, headers=OWNER, content_type=None, expect=(200, 201, 204)):
    data = None
    hdrs = dict(headers)
    if body is not None:
        if isinstance(body, (bytes, bytearray)):
            data = bytes(body)
            hdrs["Content-Type"] = content_type or "application/octet-stream"
        else:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = content_type or "application/json"
    request = urllib.request.Request(base + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, payload = err.code, err.read()
    if expect is not None and status not in expect:
        raise RuntimeError(f"{method} {base}{path}: {status} {payload[:300]!r}")
    return status, payload


def as_json(payload):
    return json.loads(payload) if payload else None


def worker(front, n, count, written, deleted, errors):
    try:
        for i in range(count):
            _, body = call(front, "POST", "/v2/images", {
                "name": f"fleet-{n}-{i}", "disk_format": "raw", "container_format": "bare",
                "visibility": "shared", "fleet_worker": str(n),
            })
            image_id = as_json(body)["id"]
            data = os.urandom(random.randint(1_000, 200_000))
            call(front, "PUT", f"/v2/images/{image_id}/file", data)
            call(front, "PATCH", f"/v2/images/{image_id}",
                 [{"op": "add", "path": "/fleet_step", "value": f"patched-{i}"}],
                 content_type=PATCH)
            call(front, "PUT", f"/v2/images/{image_id}/tags/fleet-{n}")
            call(front, "POST", f"/v2/images/{image_id}/members",
                 {"member": MEMBER["X-Project-Id"]})
            call(front, "PUT", f"/v2/images/{image_id}/members/{MEMBER['X-Project-Id']}",
                 {"status": "accepted"}, headers=MEMBER)
            if i % 2:
                call(front, "DELETE", f"/v2/images/{image_id}")
                deleted.append(image_id)
            else:
                written[image_id] = {
                    "md5": hashlib.md5(data).hexdigest(),
                    "sha512": hashlib.sha512(data).hexdigest(),
                    "size": len(data),
                    "fleet_worker": str(n),
                    "fleet_step": f"patched-{i}",
                    "tag": f"fleet-{n}",
                    "data": data,
                }
    except Exception as err:  # reported by the main thread
        errors.append(f"worker {n}: {err}")


def canonical(image):
    image = dict(image)
    image["tags"] = sorted(image.get("tags", []))
    return json.dumps(image, sort_keys=True)


def main():
    front, glance, ours = sys.argv[1:4]
    workers = int(sys.argv[4]) if len(sys.argv) > 4 else 6
    per_worker = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    store = os.environ.get("FLEET_STORE_DIR")
    written, deleted, errors = {}, [], []
    threads = [threading.Thread(target=worker, args=(front, n, per_worker, written, deleted, errors))
               for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        sys.exit("mixed fleet: a request through the front failed:\n  " + "\n  ".join(errors))

    seen = {}
    for name, base in (("glance", glance), ("glance-api", ours)):
        for image_id, want in written.items():
            _, body = call(base, "GET", f"/v2/images/{image_id}")
            image = as_json(body)
            got = {k: image.get(k) for k in ("status", "checksum", "os_hash_value", "size",
                                               "fleet_worker", "fleet_step")}
            expected = {"status": "active", "checksum": want["md5"],
                        "os_hash_value": want["sha512"], "size": want["size"],
                        "fleet_worker": want["fleet_worker"], "fleet_step": want["fleet_step"]}
            if got != expected or want["tag"] not in image.get("tags", []):
                sys.exit(f"mixed fleet: {name} shows image {image_id} as {got} "
                         f"tags {image.get('tags')}, written {expected} tag {want['tag']}")
            _, payload = call(base, "GET", f"/v2/images/{image_id}/file")
            if payload != want["data"]:
                sys.exit(f"mixed fleet: {name} serves other bytes for image {image_id}")
            _, members = call(base, "GET", f"/v2/images/{image_id}/members")
            statuses = [(m["member_id"], m["status"]) for m in as_json(members)["members"]]
            if statuses != [(MEMBER["X-Project-Id"], "accepted")]:
                sys.exit(f"mixed fleet: {name} shows members {statuses} of image {image_id}")
            seen.setdefault(image_id, []).append(canonical(image))
        for image_id in deleted:
            status, _ = call(base, "GET", f"/v2/images/{image_id}", expect=None)
            if status != 404:
                sys.exit(f"mixed fleet: {name} answers {status} for deleted image {image_id}")
    for image_id, views in seen.items():
        if views[0] != views[1]:
            sys.exit(f"mixed fleet: the two nodes show image {image_id} differently:\n"
                     f"  glance:     {views[0]}\n  glance-api: {views[1]}")
    if store:
        left = [i for i in deleted if os.path.exists(os.path.join(store, i))]
        if left:
            sys.exit(f"mixed fleet: deleted images left files in the store: {left}")
        missing = [i for i in written if not os.path.exists(os.path.join(store, i))]
        if missing:
            sys.exit(f"mixed fleet: kept images have no file in the store: {missing}")
    print(f"mixed fleet: {workers} writers x {per_worker} images through one address: "
          f"{len(written)} kept, identical on both nodes (JSON, bytes, members), "
          f"{len(deleted)} deleted and gone from both")


if __name__ == "__main__":
    main()
