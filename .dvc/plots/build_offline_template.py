"""Write offline.html, DVC's plots page with Vega, Vega-Lite and vega-embed inlined.

DVC's default page (dvc_render.html.PAGE_HTML) loads the three libraries from a CDN
(dvc_render.vega.VegaRenderer.SCRIPTS), so it is blank offline. This template is the same
page with the minified builds from the npm tarballs inside it, byte for byte, and without
DVC's scripts placeholder (which would add the CDN tags back). Nothing downloads at run
time; only this script needs the tarballs, fetched by hand:

    cd "$(mktemp -d)" && npm pack vega@5.20.2 vega-lite@5.2.0 vega-embed@6.18.2
    python .dvc/plots/build_offline_template.py <that folder>

To move to other versions, change PACKAGES (versions, npm integrity from
`npm view <name>@<version> dist.integrity`) and README.md next to this file.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "offline.html"

# name, version, minified build inside the tarball, npm dist.integrity of the tarball. The
# versions are the ones DVC 3.67.1's default page loads (dvc-render 1.0.2).
PACKAGES = (
    (
        "vega",
        "5.20.2",
        "build/vega.min.js",
        "sha512-qmH7aD9GGPpssVdxL1xgcdxTbQzyRUeRR16Os385ymvQhiwCYQNA6+eXUPAZDTVLfk0RXu6Jzj6kUE5jQ80EVw==",
    ),
    (
        "vega-lite",
        "5.2.0",
        "build/vega-lite.min.js",
        "sha512-Yxcg8MvYfxHcG6BbkaKT0oVCIMIcE19UvqIsEwBmyd/7h2nzW7oRnID81T8UrY7hpDrIr6wa2JADOT2dhGNErw==",
    ),
    (
        "vega-embed",
        "6.18.2",
        "build/vega-embed.min.js",
        "sha512-wcDyQPE4J5aiCDc3/suH5RQDvrKkjuLkhzUcbOLwEkNF8/+pp17tS0JghzEvAPNRg+5aG1/N2ydixq8Lk3dOlg==",
    ),
)

# Text that must not occur inside an inlined script: what would end the script element
# early, and DVC's placeholders (dvc_render.html.HTML.embed replaces them anywhere in the
# page, scripts included).
FORBIDDEN = ("</script", "<!--", "{scripts}", "{plot_divs}", "{refresh_tag}")

# DVC's PAGE_HTML (dvc-render 1.0.2) with the libraries in place of its scripts placeholder.
PAGE = """<!DOCTYPE html>
<html>
<head>
    {{refresh_tag}}
    <title>DVC Plot</title>
    <!-- Offline DVC plots page (.dvc/plots/README.md): {summary} inlined from npm,
         in place of the CDN script tags of DVC's default page.
         Regenerate with .dvc/plots/build_offline_template.py. -->
{scripts}
    <style>
        table {{
            border-spacing: 15px;
        }}
    </style>
</head>
<body>
    {{plot_divs}}
</body>
</html>
"""

SCRIPT = """    <!-- {name} {version} (npm {name}@{version}, {build}), {licence}:
{licence_text}
    -->
    <script data-package="{name}@{version}" data-sha256="{sha256}">{code}</script>"""


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def package_script(folder: Path, name: str, version: str, build: str, expected: str) -> str:
    tarball = folder / f"{name}-{version}.tgz"
    data = tarball.read_bytes()
    if integrity(data) != expected:
        raise SystemExit(f"{tarball}: integrity differs from npm's {expected}")
    with tarfile.open(tarball) as tar:

        def member(path: str) -> bytes:
            file = tar.extractfile(f"package/{path}")
            assert file is not None, path
            return file.read()

        meta = json.loads(member("package.json"))
        code = member(build).decode("utf-8")
        licence_text = member("LICENSE").decode("utf-8").strip()
    if meta["version"] != version:
        raise SystemExit(f"{tarball}: package.json says version {meta['version']}")
    for text in FORBIDDEN:
        if text in code.lower():
            raise SystemExit(f"{name} {build} contains {text!r}: it cannot be inlined as is")
    if "-->" in licence_text:
        raise SystemExit(f"{name} LICENSE contains '-->': it cannot go into a comment")
    return SCRIPT.format(
        name=name,
        version=version,
        build=build,
        licence=meta["license"],
        licence_text=licence_text,
        sha256=hashlib.sha256(code.encode("utf-8")).hexdigest(),
        code=code,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tarballs", type=Path, help="folder with the `npm pack` tarballs")
    args = parser.parse_args()
    scripts = [package_script(args.tarballs, *package) for package in PACKAGES]
    summary = ", ".join(f"{name} {version}" for name, version, _, _ in PACKAGES)
    page = PAGE.format(summary=summary, scripts="\n".join(scripts))
    TEMPLATE.write_text(page, encoding="utf-8", newline="\n")
    print(f"{TEMPLATE}: {len(page.encode('utf-8')):,} bytes")


if __name__ == "__main__":
    main()
