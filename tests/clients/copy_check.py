"""Multi-store and copy-image with the real clients, against a glance-api with two file stores,
`fast` (the default) and `cheap`, and an admin token (tests/clients/run-all.sh starts it once):

    copy_check.py BASE_URL ADMIN_TOKEN

- glance stores-info lists both stores, the default marked
- glance image-create --store cheap --file … puts the data in `cheap`
- glance image-import --import-method copy-image --stores fast copies it into `fast`
- openstack image import --method copy-image --store … and openstacksdk
  import_image(method="copy-image", stores=[…]) do the same for other images
- glance stores-delete --store cheap drops one copy; the image still downloads whole

Each copy must end with the image active in both stores (its `stores` property), no import
lock, no failed store and a successful api_image_import task.
"""

import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check import Suite, properties, random_data, run_steps, same_file  # noqa: E402

SIZE = 1 << 20
RUN = f"{os.getpid()}"


def wait_copied(s, image_id, stores, what):
    """Poll the image until its copy ends; it must be active in `stores`, its task done."""
    image = {}
    for _ in range(300):
        image = s.http("A", "GET", f"/v2/images/{image_id}")
        if "os_glance_import_task" not in image:
            break
        time.sleep(0.1)
    s.check(
        image.get("status") == "active"
        and image.get("stores") == stores
        and image.get("os_glance_failed_import") == ""
        and image.get("os_glance_importing_to_stores") == "",
        f"{what}: the image is active in {stores}, nothing failed",
        json.dumps(image, indent=2),
    )
    tasks = []
    for _ in range(100):
        tasks = s.http("A", "GET", f"/v2/images/{image_id}/tasks")["tasks"]
        if tasks and all(t["status"] in ("success", "failure") for t in tasks):
            break
        time.sleep(0.1)
    s.check(
        [t["status"] for t in tasks] == ["success"],
        f"{what}: its api_image_import task succeeded",
        json.dumps(tasks, indent=2),
    )


def uploaded_to(s, data, md5, name, store):
    """An image made by glance image-create --store STORE --file; its id."""
    out = s.glance(
        "A", "image-create", "--name", f"{name}-{RUN}", "--disk-format", "raw",
        "--container-format", "bare", "--store", store, "--file", data,
    ).stdout
    image = properties(out)
    s.check(
        image.get("status") == "active" and image.get("checksum") == md5
        and image.get("stores") == store,
        f"glance image-create --store {store} --file puts the data in {store}",
        out,
    )
    return image.get("id", "")


def checks(s, data, md5):
    out = s.glance("A", "stores-info").stdout
    s.check("fast" in out and "cheap" in out, "glance stores-info lists both stores", out)

    image_id = uploaded_to(s, data, md5, "copy-cli", "cheap")
    s.glance("A", "image-import", image_id, "--import-method", "copy-image", "--stores", "fast")
    wait_copied(s, image_id, "cheap,fast", "glance image-import --import-method copy-image")
    s.glance("A", "stores-delete", "--store", "cheap", image_id)
    image = s.http("A", "GET", f"/v2/images/{image_id}")
    s.check(image.get("stores") == "fast", "glance stores-delete drops the copy in cheap",
            json.dumps(image))
    downloaded = os.path.join(s.work, "copied.bin")
    s.glance("A", "image-download", "--file", downloaded, image_id)
    s.check(same_file(data, downloaded), "the copy in fast downloads byte-identical")
    s.glance("A", "image-delete", image_id)

    image_id = uploaded_to(s, data, md5, "copy-osc", "cheap")
    # --store takes several names: the image goes first.
    s.osc("admin", "image", "import", image_id, "--method", "copy-image", "--store", "fast")
    wait_copied(s, image_id, "cheap,fast", "openstack image import --method copy-image")
    s.glance("A", "image-delete", image_id)

    import openstack

    conn = openstack.connection.Connection(
        auth_type="admin_token",
        auth={"endpoint": s.base, "token": s.tokens["A"]},
        image_endpoint_override=s.base,
    )
    image_id = uploaded_to(s, data, md5, "copy-sdk", "cheap")
    print('> import_image(image, method="copy-image", stores=["fast"])', flush=True)
    conn.image.import_image(conn.image.get_image(image_id), method="copy-image", stores=["fast"])
    wait_copied(s, image_id, "cheap,fast", "openstacksdk import_image(method='copy-image')")
    conn.image.delete_image(image_id)


def write_clouds(s):
    with open(os.path.join(s.work, "clouds.yaml"), "w") as f:
        f.write(
            "clouds:\n"
            "  admin:\n"
            "    auth_type: admin_token\n"
            f"    auth: {{endpoint: '{s.base}', token: '{s.tokens['A']}'}}\n"
            f"    image_endpoint_override: '{s.base}'\n"
        )


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base, token = sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="glance-clients-copy-") as work:
        s = Suite(base, token, token, work)
        write_clouds(s)
        data, md5 = random_data(work, SIZE)
        return run_steps(s, lambda: checks(s, data, md5))

if __name__ == "__main__":
    sys.exit(main())
