#!/usr/bin/env python3
"""Real OpenStack clients through a real Keystone, end to end.

    keystone_check.py CLOUDS_YAML AUTH_URL TOKEN_CACHE_TIME

glance-api runs in keystone mode on the port the Keystone catalog names for the image
service (tests/clients/run-all.sh does that); the clients authenticate with a password and
find glance-api through the catalog. Users are those tests/keystone/start.sh makes: demo
(member), alt_demo (member of another project), reader (reader only, demo's project), admin.
Covers the openstack CLI (create --file, list, show, save, set, add project + the other
project's acceptance, delete), python-glanceclient with --os-auth-url, openstacksdk with a
clouds.yaml, the reader's 403 on writes, and `openstack token revoke` taking effect within
TOKEN_CACHE_TIME. Ends with "N passed, 0 failed" (or stops at the first failure, status 1).
"""

import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request

from check import RUN, StepFailed, Suite, random_data, run_steps, same_file

SIZE = 2 * 1024 * 1024


class KeystoneSuite(Suite):
    def __init__(self, clouds, auth_url, workdir):
        super().__init__("", "", "", workdir)
        self.tokens = {}
        self.env["OS_CLIENT_CONFIG_FILE"] = clouds
        self.auth_url = auth_url

    def osc_json(self, cloud, *args):
        return json.loads(self.osc(cloud, *args, "-f", "json").stdout)

    def glance_pw(self, user, project, *args, expect_ok=True):
        argv = ["glance", "--os-auth-url", self.auth_url, "--os-username", user,
                "--os-password", user, "--os-project-name", project,
                "--os-user-domain-name", "Default", "--os-project-domain-name", "Default"]
        return self.run(argv + list(args), expect_ok=expect_ok)

    def token(self, cloud):
        token = self.osc(cloud, "token", "issue", "-f", "value", "-c", "id").stdout.strip()
        self.tokens[cloud] = token  # shown as $TOKEN_<cloud> in the log
        return token


def status_with(base, token):
    request = urllib.request.Request(base + "/v2/images", method="GET")
    request.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    clouds, auth_url, cache_time = sys.argv[1], sys.argv[2], float(sys.argv[3])
    with tempfile.TemporaryDirectory(prefix="glance-keystone-clients-") as work:
        s = KeystoneSuite(clouds, auth_url, work)
        data, md5 = random_data(work, SIZE)
        return run_steps(s, lambda: checks(s, data, md5, cache_time))


def checks(s, data, md5, cache_time):
    print("\n=== openstack CLI through the Keystone catalog ===", flush=True)
    endpoint = s.osc_json("ks-demo", "catalog", "show", "image")
    s.base = next(e["url"] for e in endpoint["endpoints"] if e["interface"] == "public")
    s.check(bool(s.base), f"the catalog names the image endpoint ({s.base})")

    name = f"ks-img-{RUN}"
    image = s.osc_json("ks-demo", "image", "create", "--file", data, "--disk-format", "raw",
                       "--container-format", "bare", "--shared", name)
    image_id = image["id"]
    s.check(image.get("status") == "active" and image.get("size") == SIZE,
            "image create --file makes an active image", json.dumps(image))
    demo_project = s.osc_json("ks-demo", "token", "issue")["project_id"]
    s.check(image.get("owner") == demo_project, "the owner is demo's Keystone project id",
            json.dumps(image))

    listed = s.osc_json("ks-demo", "image", "list")
    s.check(image_id in [i["ID"] for i in listed], "image list shows it")
    shown = s.osc_json("ks-demo", "image", "show", image_id)
    s.check(shown.get("name") == name and shown.get("checksum") == md5, "image show")
    saved = os.path.join(s.work, "saved.bin")
    s.osc("ks-demo", "image", "save", "--file", saved, image_id)
    s.check(same_file(data, saved), "image save is byte-identical")
    s.osc("ks-demo", "image", "set", "--property", "os_distro=debian", image_id)
    shown = s.osc_json("ks-demo", "image", "show", image_id)
    props = shown.get("properties") or {}
    s.check(props.get("os_distro") == "debian" or shown.get("os_distro") == "debian",
            "image set --property", json.dumps(shown))

    print("\n=== sharing with another project, accepted by its own user ===", flush=True)
    alt_project = s.osc_json("ks-alt-demo", "token", "issue")["project_id"]
    s.osc("ks-demo", "image", "add", "project", image_id, alt_project)
    s.ok("image add project (alt_demo's project)")
    s.osc("ks-alt-demo", "image", "set", "--accept", image_id)
    s.ok("alt_demo accepts with its own password (image set --accept)")
    listed = s.osc_json("ks-alt-demo", "image", "list")
    s.check(image_id in [i["ID"] for i in listed], "the accepted image is in alt_demo's list")
    shown = s.osc_json("ks-alt-demo", "image", "show", image_id)
    s.check(shown.get("id") == image_id, "alt_demo shows it")
    denied = s.osc("ks-alt-demo", "image", "set", "--property", "x=y", image_id,
                   expect_ok=False)
    s.fails_with(denied, 403, "a member of another project cannot change it")

    print("\n=== python-glanceclient with --os-auth-url ===", flush=True)
    out = s.glance_pw("demo", "demo", "image-show", image_id).stdout
    s.check(name in out, "glance image-show finds glance-api through the catalog", out)
    out = s.glance_pw("demo", "demo", "image-list").stdout
    s.check(image_id in out, "glance image-list", out)
    downloaded = os.path.join(s.work, "glance-download.bin")
    s.glance_pw("demo", "demo", "image-download", "--file", downloaded, image_id)
    s.check(same_file(data, downloaded), "glance image-download is byte-identical")

    print("\n=== openstacksdk with a clouds.yaml ===", flush=True)
    code = (
        "import openstack, json, sys\n"
        "conn = openstack.connect(cloud='ks-demo')\n"
        f"img = conn.image.get_image('{image_id}')\n"
        "ids = [i.id for i in conn.image.images()]\n"
        "new = conn.image.create_image(name='sdk-" + RUN + "', disk_format='raw',"
        " container_format='bare', data=b'sdk bytes', validate_checksum=False)\n"
        "got = b''.join(conn.image.download_image(new, stream=True).iter_content(1024))\n"
        "conn.image.delete_image(new)\n"
        "print(json.dumps({'name': img.name, 'listed': img.id in ids, 'data': got.decode()}))\n"
    )
    out = s.run(["python", "-c", code]).stdout
    result = json.loads(out.strip().splitlines()[-1])
    s.check(result == {"name": name, "listed": True, "data": "sdk bytes"},
            "openstacksdk: get, list, create with data, download, delete", out)

    print("\n=== a reader-only user ===", flush=True)
    shown = s.osc_json("ks-reader", "image", "show", image_id)
    s.check(shown.get("id") == image_id, "the reader shows its project's image")
    denied = s.osc("ks-reader", "image", "create", "--disk-format", "raw",
                   "--container-format", "bare", f"reader-{RUN}", expect_ok=False)
    s.fails_with(denied, 403, "the reader cannot create an image")
    denied = s.osc("ks-reader", "image", "set", "--property", "x=y", image_id, expect_ok=False)
    s.fails_with(denied, 403, "the reader cannot change its project's image")
    denied = s.osc("ks-reader", "image", "delete", image_id, expect_ok=False)
    s.fails_with(denied, 403, "the reader cannot delete it", "Failed to delete")

    print("\n=== token revocation ===", flush=True)
    token = s.token("ks-demo")
    s.check(status_with(s.base, token) == 200, "a fresh demo token is accepted")
    s.osc("ks-admin", "token", "revoke", token)
    revoked = time.monotonic()
    while status_with(s.base, token) != 401:
        if time.monotonic() - revoked > cache_time + 5:
            raise StepFailed(f"the revoked token still works after {cache_time + 5} s")
        time.sleep(0.2)
    s.ok(f"openstack token revoke took effect in {time.monotonic() - revoked:.1f} s "
         f"(token_cache_time {cache_time:.0f} s)")
    s.check(status_with(s.base, "gAAAAABnot-a-real-token") == 401, "a bad token gets 401")

    s.osc("ks-demo", "image", "delete", image_id)
    gone = s.osc("ks-demo", "image", "show", image_id, expect_ok=False)
    output = gone.stdout + gone.stderr
    s.check("No Image found" in output or "404" in output, "image delete", output)


if __name__ == "__main__":
    sys.exit(main())
