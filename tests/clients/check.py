#!/usr/bin/env python3
"""Real OpenStack clients against a running glance-api, end to end.

    check.py BASE_URL TOKEN_A TOKEN_B

TOKEN_A and TOKEN_B are member (non-admin) tokens of two different projects, as a
static-tokens file maps them. Drives the glance CLI (python-glanceclient), openstacksdk and
the openstack CLI (python-openstackclient), including the two-project sharing flow, and
the interoperable import with each (import_checks.py; $GLANCE_TEST_SOURCE_PORT). Prints
each step; stops at the first failure with exit status 1; ends with "N passed, 0 failed".
Run it with the Python of the venv that has the clients (tests/clients/run.sh does).
"""

import hashlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
import urllib.request

from import_checks import import_checks

RUN = uuid.uuid4().hex[:8]  # names and tags unique to this run, so reruns do not collide
SIZE = 3 * 1024 * 1024  # > 1 MiB: glanceclient sends 1 MiB chunks (chunked transfer encoding)


class StepFailed(Exception):
    pass


class Suite:
    def __init__(self, base, token_a, token_b, workdir):
        self.base = base.rstrip("/")
        self.tokens = {"A": token_a, "B": token_b}
        self.work = workdir
        self.passed = 0
        self.started = time.monotonic()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        self.env["HOME"] = workdir  # no ~/.config/openstack from the host
        self.env["OS_CLIENT_CONFIG_FILE"] = os.path.join(workdir, "clouds.yaml")
        self.env["PYTHONWARNINGS"] = "ignore"
        self.bin = os.path.dirname(sys.executable)

    # --- reporting -------------------------------------------------------------------------

    def ok(self, what):
        self.passed += 1
        print(f"  ok {self.passed}: {what}", flush=True)

    def check(self, condition, what, detail=""):
        if not condition:
            raise StepFailed(f"{what}\n{detail}".rstrip())
        self.ok(what)

    def shown(self, argv):
        text = " ".join(argv)
        for who, token in self.tokens.items():
            text = text.replace(token, f"$TOKEN_{who}")
        return text

    # --- running clients -------------------------------------------------------------------

    def run(self, argv, expect_ok=True, stdin=subprocess.DEVNULL):
        print(f"$ {self.shown(argv)}", flush=True)
        result = subprocess.run(
            [os.path.join(self.bin, argv[0])] + argv[1:],
            env=self.env,
            cwd=self.work,
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        output = (result.stdout + result.stderr).strip()
        if output:
            print("\n".join("    " + line for line in output.splitlines()), flush=True)
        if expect_ok and result.returncode != 0:
            raise StepFailed(f"exit status {result.returncode}: {self.shown(argv)}")
        if not expect_ok and result.returncode == 0:
            raise StepFailed(f"expected a failure, got success: {self.shown(argv)}")
        return result

    def glance(self, who, *args, expect_ok=True):
        argv = ["glance", "--os-image-url", self.base, "--os-auth-token", self.tokens[who]]
        return self.run(argv + list(args), expect_ok=expect_ok)

    def osc(self, cloud, *args, expect_ok=True):
        return self.run(["openstack", "--os-cloud", cloud] + list(args), expect_ok=expect_ok)

    def fails_with(self, result, status, what, wording=None):
        """The client failed with HTTP `status`, or with `wording`: the way some commands
        report a status (glanceclient: "Invalid OpenStack Identity credentials." for 401,
        "You are not permitted to delete the image" for 403 on image-delete)."""
        output = result.stdout + result.stderr
        known = re.search(rf"\b{status}\b", output) is not None
        if wording is not None:
            known = known or wording in output
        self.check(known, f"{what} (HTTP {status})", output)

    # --- plain HTTP, only to learn each token's project ------------------------------------

    def http(self, who, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("X-Auth-Token", self.tokens[who])
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return json.loads(text) if text else None

    def project_of(self, who):
        image = self.http(who, "POST", "/v2/images", {"name": "whoami"})
        self.http(who, "DELETE", f"/v2/images/{image['id']}")
        return image["owner"]


# --- glanceclient table output -----------------------------------------------------------


def table_rows(text):
    """The rows of a prettytable, as lists of cells; continuation lines join the row above."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if rows and cells[0] == "" and len(cells) == len(rows[-1]):
            rows[-1] = [a + b for a, b in zip(rows[-1], cells)]
        else:
            rows.append(cells)
    return rows[1:]  # without the header


def properties(text):
    return {row[0]: row[1] for row in table_rows(text) if len(row) >= 2}


def listed_ids(text):
    return [row[0] for row in table_rows(text)]


def same_file(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


# --- the checks ----------------------------------------------------------------------------


def glance_cli(s, data, md5, project_b):
    print("\n=== glance CLI (python-glanceclient) ===", flush=True)
    bad = s.run(
        ["glance", "--os-image-url", s.base, "--os-auth-token", "not-a-known-token", "image-list"],
        expect_ok=False,
    )
    s.fails_with(
        bad, 401, "an unknown token is refused", "Invalid OpenStack Identity credentials"
    )

    s.glance("A", "image-list")
    s.ok("image-list")

    out = s.glance(
        "A", "image-create", "--name", f"cli-img-{RUN}", "--disk-format", "raw",
        "--container-format", "bare", "--visibility", "shared",
        "--property", "os_distro=debian", "--file", data,
    ).stdout
    image = properties(out)
    image_id = image.get("id", "")
    s.check(
        image.get("status") == "active" and image.get("size") == str(SIZE),
        "image-create --file (3 MiB, chunked upload) makes an active image",
        out,
    )
    s.check(image.get("checksum") == md5, "the checksum is the MD5 of the upload", out)
    s.check(image.get("os_distro") == "debian", "the --property is set", out)
    project_a = image.get("owner")
    s.check(bool(project_a) and project_a != project_b, "the owner is token A's project", out)

    out = s.glance("A", "image-show", image_id).stdout
    s.check(properties(out).get("name") == f"cli-img-{RUN}", "image-show", out)

    downloaded = os.path.join(s.work, "cli-download.bin")
    s.glance("A", "image-download", "--file", downloaded, image_id)
    s.check(same_file(data, downloaded), "image-download is byte-identical")

    out = s.glance(
        "A", "image-update", "--name", f"cli-img-renamed-{RUN}", "--property", "hw_disk_bus=scsi",
        "--remove-property", "os_distro", image_id,
    ).stdout
    shown = properties(out)
    s.check(
        shown.get("name") == f"cli-img-renamed-{RUN}"
        and shown.get("hw_disk_bus") == "scsi"
        and "os_distro" not in shown,
        "image-update --name --property --remove-property",
        out,
    )

    s.glance("A", "image-tag-update", image_id, f"cli-tag-{RUN}")
    out = s.glance("A", "image-list", "--tag", f"cli-tag-{RUN}").stdout
    s.check(listed_ids(out) == [image_id], "image-tag-update, then image-list --tag finds it", out)
    out = s.glance("A", "image-list", "--property-filter", "hw_disk_bus=scsi").stdout
    s.check(image_id in listed_ids(out), "image-list --property-filter hw_disk_bus=scsi", out)
    out = s.glance("A", "image-list", "--property-filter", "hw_disk_bus=ide").stdout
    s.check(image_id not in listed_ids(out), "image-list --property-filter hw_disk_bus=ide", out)
    s.glance("A", "image-tag-delete", image_id, f"cli-tag-{RUN}")
    out = s.glance("A", "image-list", "--tag", f"cli-tag-{RUN}").stdout
    s.check(listed_ids(out) == [], "image-tag-delete, then image-list --tag is empty", out)

    print("\n# sharing: project A shares with project B", flush=True)
    out = s.glance("A", "member-create", image_id, project_b).stdout
    s.check(table_rows(out)[:1] == [[image_id, project_b, "pending"]], "member-create: pending", out)
    out = s.glance("A", "member-list", "--image-id", image_id).stdout
    s.check(table_rows(out) == [[image_id, project_b, "pending"]], "member-list", out)

    out = s.glance("B", "image-list").stdout
    s.check(image_id not in listed_ids(out), "B does not list a pending shared image", out)
    out = s.glance("B", "member-update", image_id, project_b, "accepted").stdout
    s.check(
        table_rows(out)[:1] == [[image_id, project_b, "accepted"]], "B accepts (member-update)", out
    )
    out = s.glance("B", "image-list").stdout
    s.check(image_id in listed_ids(out), "B now lists it", out)
    out = s.glance("B", "image-show", image_id).stdout
    s.check(properties(out).get("owner") == project_a, "B shows it", out)
    downloaded_b = os.path.join(s.work, "cli-download-b.bin")
    s.glance("B", "image-download", "--file", downloaded_b, image_id)
    s.check(same_file(data, downloaded_b), "B downloads it, byte-identical")
    denied = s.glance("B", "image-update", "--name", f"taken-over-{RUN}", image_id, expect_ok=False)
    s.fails_with(denied, 403, "B cannot modify it")
    denied = s.glance("B", "image-delete", image_id, expect_ok=False)
    s.fails_with(denied, 403, "B cannot delete it", "You are not permitted to delete the image")
    out = s.glance("A", "image-show", image_id).stdout
    s.check(properties(out).get("name") == f"cli-img-renamed-{RUN}", "the image is unchanged", out)

    s.glance("A", "member-delete", image_id, project_b)
    out = s.glance("A", "member-list", "--image-id", image_id).stdout
    s.check(table_rows(out) == [], "member-delete", out)
    out = s.glance("B", "image-list").stdout
    s.check(image_id not in listed_ids(out), "B no longer lists it", out)
    gone = s.glance("B", "image-show", image_id, expect_ok=False)
    s.fails_with(gone, 404, "B no longer sees it")

    print("\n# deactivate / reactivate", flush=True)
    s.glance("A", "image-deactivate", image_id)
    out = s.glance("A", "image-show", image_id).stdout
    s.check(properties(out).get("status") == "deactivated", "image-deactivate", out)
    denied = s.glance("A", "image-download", "--file", downloaded, image_id, expect_ok=False)
    s.fails_with(denied, 403, "a deactivated image cannot be downloaded")
    s.glance("A", "image-reactivate", image_id)
    out = s.glance("A", "image-show", image_id).stdout
    s.check(properties(out).get("status") == "active", "image-reactivate", out)

    s.glance("A", "image-delete", image_id)
    gone = s.glance("A", "image-show", image_id, expect_ok=False)
    s.fails_with(gone, 404, "image-delete, then image-show is 404")
    return project_a


def openstacksdk_checks(s, data, md5, project_a, project_b):
    import openstack
    from openstack import exceptions

    print(f"\n=== openstacksdk {importlib.metadata.version('openstacksdk')} ===", flush=True)

    def connect(who):
        return openstack.connection.Connection(
            auth_type="admin_token",
            auth={"endpoint": s.base, "token": s.tokens[who]},
            image_endpoint_override=s.base,
        )

    a, b = connect("A"), connect("B")
    with open(data, "rb") as f:
        payload = f.read()

    print("> create_image(data=3 MiB, visibility=shared)", flush=True)
    image = a.image.create_image(
        name=f"sdk-img-{RUN}", disk_format="raw", container_format="bare", visibility="shared",
        data=payload, validate_checksum=False,
    )
    image = a.image.get_image(image.id)
    s.check(
        image.status == "active" and image.size == SIZE and image.checksum == md5
        and image.owner == project_a,
        "create_image with data: active, size, checksum, owner",
        repr(image),
    )

    print("> download_image", flush=True)
    s.check(a.image.download_image(image).content == payload, "download_image is byte-identical")

    print("> update_image, add_tag", flush=True)
    a.image.update_image(image, name=f"sdk-img-renamed-{RUN}", hw_disk_bus="scsi")
    a.image.add_tag(image, f"sdk-tag-{RUN}")
    image = a.image.get_image(image.id)
    s.check(
        image.name == f"sdk-img-renamed-{RUN}" and image.hw_disk_bus == "scsi"
        and image.tags == [f"sdk-tag-{RUN}"],
        "update_image and add_tag",
        repr(image),
    )

    print("> images(filters)", flush=True)
    by_tag = [i.id for i in a.image.images(tag=f"sdk-tag-{RUN}")]
    s.check(by_tag == [image.id], "images(tag=...)", repr(by_tag))
    by_name = [i.id for i in a.image.images(name=f"sdk-img-renamed-{RUN}")]
    s.check(by_name == [image.id], "images(name=...)", repr(by_name))
    by_owner = [i.id for i in a.image.images(owner=project_a, visibility="shared", status="active")]
    s.check(image.id in by_owner, "images(owner, visibility, status)", repr(by_owner))
    none = [i.id for i in a.image.images(name=f"sdk-img-renamed-{RUN}", status="queued")]
    s.check(none == [], "images(name, status=queued) is empty", repr(none))

    print("> paging: images(limit=1) follows the next links", flush=True)
    extra = [
        a.image.create_image(name=f"sdk-page-{RUN}-{n}", disk_format="raw", container_format="bare",
                             tags=[f"sdk-page-{RUN}"], allow_duplicates=True)
        for n in range(3)
    ]
    paged = [i.id for i in a.image.images(tag=f"sdk-page-{RUN}", limit=1)]
    s.check(sorted(paged) == sorted(i.id for i in extra), "all pages, no repeats", repr(paged))
    for queued in extra:
        a.image.delete_image(queued)

    print("> members: add_member, B accepts, remove_member", flush=True)
    member = a.image.add_member(image, member_id=project_b)
    s.check(member.status == "pending", "add_member: pending", repr(member))
    s.check(image.id not in [i.id for i in b.image.images()], "B does not list it yet")
    b.image.update_member(project_b, image, status="accepted")
    members = [(m.member_id, m.status) for m in a.image.members(image)]
    s.check(members == [(project_b, "accepted")], "B accepted (members())", repr(members))
    s.check(image.id in [i.id for i in b.image.images()], "B lists it")
    s.check(b.image.download_image(image).content == payload, "B downloads it, byte-identical")
    try:
        b.image.update_image(image, name=f"taken-over-{RUN}")
        raise StepFailed("B updated A's image")
    except exceptions.ForbiddenException:
        s.ok("B cannot update it (ForbiddenException)")
    a.image.remove_member(project_b, image)
    try:
        b.image.get_image(image.id)
        raise StepFailed("B still sees the image after remove_member")
    except exceptions.NotFoundException:
        s.ok("remove_member: B no longer sees it (NotFoundException)")

    print("> deactivate_image / reactivate_image", flush=True)
    a.image.deactivate_image(image)
    s.check(a.image.get_image(image.id).status == "deactivated", "deactivate_image")
    a.image.reactivate_image(image)
    s.check(a.image.get_image(image.id).status == "active", "reactivate_image")

    print("> delete_image", flush=True)
    a.image.delete_image(image)
    try:
        a.image.get_image(image.id)
        raise StepFailed("the image is still there after delete_image")
    except exceptions.NotFoundException:
        s.ok("delete_image, then get_image raises NotFoundException")


def openstack_cli(s, data, project_b):
    print("\n=== openstack CLI (python-openstackclient) ===", flush=True)
    with open(s.env["OS_CLIENT_CONFIG_FILE"], "w") as f:
        for line in ["clouds:"] + [
            line
            for who in ("A", "B")
            for line in [
                f"  project-{who.lower()}:",
                "    auth_type: admin_token",
                "    auth:",
                f"      endpoint: {json.dumps(s.base)}",
                f"      token: {json.dumps(s.tokens[who])}",
                f"    image_endpoint_override: {json.dumps(s.base)}",
            ]
        ]:
            f.write(line + "\n")

    out = s.osc(
        "project-a", "image", "create", "--disk-format", "raw", "--container-format", "bare",
        "--shared", "--file", data, f"osc-img-{RUN}", "-f", "value", "-c", "id",
    ).stdout
    image_id = out.strip()
    s.check(re.fullmatch(r"[0-9a-f-]{36}", image_id) is not None, "image create --file", out)

    s.osc("project-a", "image", "set", "--property", "hw_disk_bus=scsi", "--tag", f"osc-tag-{RUN}",
          image_id)
    shown = json.loads(s.osc("project-a", "image", "show", image_id, "-f", "json").stdout)
    s.check(
        shown.get("status") == "active" and shown.get("size") == SIZE
        and shown.get("properties", {}).get("hw_disk_bus") == "scsi"
        and shown.get("tags") == [f"osc-tag-{RUN}"],
        "image set --property --tag, image show -f json",
        json.dumps(shown, indent=2),
    )

    listed = json.loads(
        s.osc("project-a", "image", "list", "--tag", f"osc-tag-{RUN}", "-f", "json").stdout
    )
    s.check([i["ID"] for i in listed] == [image_id], "image list --tag", repr(listed))
    listed = json.loads(
        s.osc("project-a", "image", "list", "--property", "hw_disk_bus=scsi", "-f", "json").stdout
    )
    s.check(image_id in [i["ID"] for i in listed], "image list --property", repr(listed))

    saved = os.path.join(s.work, "osc-download.bin")
    s.osc("project-a", "image", "save", "--file", saved, image_id)
    s.check(same_file(data, saved), "image save is byte-identical")

    s.osc("project-a", "image", "add", "project", image_id, project_b)
    # With admin_token there is no auth_ref to take the project from: name it.
    s.osc("project-b", "image", "set", "--accept", "--project", project_b, image_id)
    listed = json.loads(s.osc("project-b", "image", "list", "--shared", "-f", "json").stdout)
    s.check(
        image_id in [i["ID"] for i in listed],
        "image add project, B image set --accept, B image list --shared",
        repr(listed),
    )
    denied = s.osc("project-b", "image", "set", "--name", f"taken-over-{RUN}", image_id, expect_ok=False)
    s.fails_with(denied, 403, "B cannot image set")
    s.osc("project-a", "image", "remove", "project", image_id, project_b)

    s.osc("project-a", "image", "delete", image_id)
    gone = s.osc("project-a", "image", "show", image_id, expect_ok=False)
    output = gone.stdout + gone.stderr
    s.check("No Image found" in output or "404" in output, "image delete, then image show fails",
            output)


def random_data(work, size):
    """A file of `size` random bytes in `work`, and its MD5 (hex)."""
    data = os.path.join(work, "data.bin")
    with open(data, "wb") as f:
        f.write(os.urandom(size))
    with open(data, "rb") as f:
        return data, hashlib.md5(f.read()).hexdigest()


def run_steps(s, steps):
    """Run `steps()` and print the tally; the exit status (any client exception is a failed
    step)."""
    try:
        steps()
    except Exception as err:
        if not isinstance(err, StepFailed):
            traceback.print_exc()
        print(f"\nFAILED: {type(err).__name__}: {err}", flush=True)
        print(f"{s.passed} passed, 1 failed", flush=True)
        return 1
    took = time.monotonic() - s.started
    print(f"\n{s.passed} passed, 0 failed ({took:.0f} s)", flush=True)
    return 0


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    base, token_a, token_b = sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="glance-clients-") as work:
        s = Suite(base, token_a, token_b, work)
        data, md5 = random_data(work, SIZE)

        def steps():
            project_b = s.project_of("B")
            print(f"token B is project {project_b}", flush=True)
            project_a = glance_cli(s, data, md5, project_b)
            openstacksdk_checks(s, data, md5, project_a, project_b)
            openstack_cli(s, data, project_b)
            import_checks(s, data, md5, RUN, properties)

        return run_steps(s, steps)


if __name__ == "__main__":
    sys.exit(main())
