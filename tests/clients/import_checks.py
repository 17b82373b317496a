"""Interoperable import with the real clients (imported by check.py):

- glance image-create-via-import --import-method glance-direct --file …
- glance image-create-via-import --import-method web-download --uri … (from a loopback HTTP
  server started here on $GLANCE_TEST_SOURCE_PORT, which glance-api's
  import_filtering.allowed_ports must allow: tests/clients/run-all.sh sets both)
- openstack image create --import --file …
- openstacksdk create_image(…, use_import=True)

Each import must end with an active image whose checksum is the MD5 of the data, and a
successful api_image_import task.
"""

import functools
import http.server
import json
import os
import subprocess
import threading
import time


def source_server(directory):
    """Serve `directory` over HTTP on 127.0.0.1:$GLANCE_TEST_SOURCE_PORT; the base URL."""
    port = os.environ.get("GLANCE_TEST_SOURCE_PORT")
    if not port:
        raise RuntimeError(
            "GLANCE_TEST_SOURCE_PORT is not set: run tests/clients/run-all.sh (it allows that "
            "port in glance-api's import_filtering.allowed_ports)"
        )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{port}"


def wait_imported(s, who, image_id, md5, what):
    """Poll the image (plain HTTP) until its import ends; check it is active with the data's
    checksum and that its task succeeded."""
    image = {}
    for _ in range(300):
        image = s.http(who, "GET", f"/v2/images/{image_id}")
        if image["status"] in ("active", "queued") and "os_glance_import_task" not in image:
            break
        time.sleep(0.1)
    s.check(
        image.get("status") == "active" and image.get("checksum") == md5,
        f"{what}: the image goes active with the data's checksum",
        json.dumps(image, indent=2),
    )
    tasks = []
    for _ in range(100):
        tasks = s.http(who, "GET", f"/v2/images/{image_id}/tasks")["tasks"]
        if tasks and tasks[0]["status"] in ("success", "failure"):
            break
        time.sleep(0.1)
    s.check(
        [(t["type"], t["status"]) for t in tasks] == [("api_image_import", "success")],
        f"{what}: its api_image_import task succeeded",
        json.dumps(tasks, indent=2),
    )


def glance_import(s, who, *args):
    """glance image-create-via-import with stdin closed (glanceclient refuses --file when
    stdin is not a terminal, as real-glance/clients.md notes)."""
    argv = ["glance", "--os-image-url", s.base, "--os-auth-token", s.tokens[who],
            "image-create-via-import"] + list(args)
    print(f"$ {s.shown(argv)} <&-", flush=True)
    result = subprocess.run(
        [os.path.join(s.bin, "glance")] + argv[1:],
        env=s.env, cwd=s.work, stdin=None, capture_output=True, text=True, timeout=120,
        preexec_fn=lambda: os.close(0),
    )
    output = (result.stdout + result.stderr).strip()
    if output:
        print("\n".join("    " + line for line in output.splitlines()), flush=True)
    s.check(result.returncode == 0, "glance image-create-via-import exits 0", output)
    return result.stdout


def import_checks(s, data, md5, run_id, properties):
    print("\n=== interoperable import ===", flush=True)
    info = s.http("A", "GET", "/v2/info/import")
    s.check(
        info["import-methods"]["value"] == ["glance-direct", "web-download", "copy-image"],
        "/v2/info/import lists glance-direct, web-download and copy-image, as Glance 33",
        json.dumps(info),
    )

    def cli_import(name, method, *source):
        out = glance_import(
            s, "A", "--name", f"{name}-{run_id}", "--disk-format", "raw",
            "--container-format", "bare", "--import-method", method, *source,
        )
        image_id = properties(out).get("id", "")
        wait_imported(s, "A", image_id, md5, f"glance image-create-via-import {method}")
        s.glance("A", "image-delete", image_id)

    cli_import("cli-import", "glance-direct", "--file", data)

    server, base = source_server(os.path.dirname(data))
    try:
        cli_import("cli-web", "web-download", "--uri", f"{base}/{os.path.basename(data)}")
    finally:
        server.shutdown()

    out = s.osc(
        "project-a", "image", "create", "--import", "--disk-format", "raw",
        "--container-format", "bare", "--file", data, f"osc-import-{run_id}",
        "-f", "value", "-c", "id",
    ).stdout
    image_id = out.strip().splitlines()[-1] if out.strip() else ""
    wait_imported(s, "A", image_id, md5, "openstack image create --import")
    s.osc("project-a", "image", "delete", image_id)

    import openstack

    conn = openstack.connection.Connection(
        auth_type="admin_token",
        auth={"endpoint": s.base, "token": s.tokens["A"]},
        image_endpoint_override=s.base,
    )
    print("> create_image(filename=…, use_import=True)", flush=True)
    image = conn.image.create_image(
        name=f"sdk-import-{run_id}", disk_format="raw", container_format="bare",
        filename=data, use_import=True, validate_checksum=False,
    )
    wait_imported(s, "A", image.id, md5, "openstacksdk create_image(use_import=True)")
    conn.image.delete_image(image)
