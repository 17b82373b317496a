"""Compare `glance-api inspect` with Glance's own decision on the same files.

Glance's decision is reproduced as glance/location.py (ImageProxy.set_data, Glance 33) makes
it: oslo.utils' InspectWrapper sees the whole upload in 64 KiB reads, then the detected
format is compared with the image's disk_format and its safety checks run. Default
[image_format] settings, container_format=bare.

Usage: checker.py OURS.jsonl FILE...   (exit 1 on an undocumented difference)
"""

import json
import logging
import os
import sys

from oslo_utils.imageutils import format_inspector as fi

# Differences where ours is the documented, safer answer (docs/compatibility.md,
# "Image content inspection"): file name -> disk formats -> why.
DOCUMENTED = {}


def glance_verdict(path, disk_format):
    """(accepted, virtual_size or None) as Glance 33 answers an upload of `path`."""
    wrapper = fi.InspectWrapper(open(path, "rb"))
    try:
        while wrapper.read(64 * 1024):
            pass
    finally:
        wrapper.close()
    virtual_size = 0
    inspector = None
    try:
        matched = {str(i): i for i in wrapper.formats}
        if matched.keys() == {"iso", "gpt"}:
            inspector = matched["iso"]
        else:
            inspector = wrapper.format
        name = str(inspector)
        if name == disk_format:
            virtual_size = inspector.virtual_size
        elif name == "raw" and disk_format not in fi.ALL_FORMATS:
            pass
        elif disk_format == "raw":
            virtual_size = inspector.actual_size
        else:
            raise fi.ImageFormatError("mismatch")
        inspector.safety_check()
    except fi.ImageFormatError:
        return False, None
    except fi.SafetyCheckFailed as err:
        fatal = set(err.failures)
        if disk_format in ("aki", "ari"):
            fatal.discard("mbr")
        if not (inspector is not None and inspector.NAME == "gpt" and not fatal):
            return False, None
    except Exception:  # Glance: "Image format inspection failed"
        return False, None
    return True, (virtual_size or None)


def main():
    logging.basicConfig(level=logging.ERROR)
    ours = {}
    with open(sys.argv[1]) as lines:
        for line in lines:
            report = json.loads(line)
            ours[os.path.basename(report["file"])] = report
    failures = 0
    rows = 0
    for path in sys.argv[2:]:
        name = os.path.basename(path)
        if name.endswith(".jsonl"):
            continue
        report = ours[name]
        for disk_format, verdict in sorted(report["verdicts"].items()):
            rows += 1
            theirs = glance_verdict(path, disk_format)
            mine = (verdict["accept"], verdict.get("virtual_size"))
            if mine == theirs:
                continue
            why = DOCUMENTED.get(name, {}).get(disk_format)
            label = "documented" if why else "DIFFERENT"
            print(f"{label}: {name} as {disk_format}: glance {theirs}, ours {mine}"
                  f"{' (' + verdict.get('reason', '') + ')' if not verdict['accept'] else ''}"
                  f"{': ' + why if why else ''}")
            failures += 0 if why else 1
    summary = {}
    for name, report in sorted(ours.items()):
        summary[name] = report["format"]
    print(f"corpus: {len(ours)} images x {rows // max(len(ours), 1)} disk formats, "
          f"{failures} undocumented differences")
    for name, fmt in summary.items():
        accepted = [d for d, v in sorted(ours[name]["verdicts"].items()) if v["accept"]]
        print(f"  {name:32} detected {fmt!s:8} accepted as {','.join(accepted) or '-'}")
    sys.exit(1 if failures else 0)


main()
