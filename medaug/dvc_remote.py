"""Check the DVC remote before a push or pull, with a message that says what to do.

DVC reports a missing local remote folder only as missing cache files, and a cloud remote whose
plugin is not installed as an unexpected error. This check names the remote, its resolved URL and
the fix::

    python -m medaug.dvc_remote            # the default remote (core.remote)
    python -m medaug.dvc_remote -r NAME    # another one

Exit status 0: usable; 2: not configured, missing, or its DVC plugin is not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from urllib.parse import urlparse

PLUGINS = {"s3": "s3", "gs": "gs", "gcs": "gs", "azure": "azure", "ssh": "ssh", "http": "http", "https": "http",
           "webdav": "webdav", "webdavs": "webdav", "hdfs": "hdfs", "oss": "oss", "gdrive": "gdrive"}
"""URL scheme -> DVC extra (``pip install "dvc[<extra>]"``); the plugin module is ``dvc_<extra>``."""


class RemoteError(RuntimeError):
    """The remote cannot be used; the message says why and how to fix it."""


def remote_url(root: str | Path = ".", name: str | None = None) -> tuple[str, str]:
    """``(name, url)`` of remote ``name`` (default: ``core.remote``) of the DVC repository at ``root``.

    Local paths come back absolute, resolved from the config file that sets them.
    """
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        config = repo.config
        name = name or config["core"].get("remote")
        if not name:
            raise RemoteError("no default DVC remote: set one with `dvc remote add -d NAME URL` (docs/versions-and-sharing.md)")
        if name not in config["remote"]:
            raise RemoteError(f"DVC remote {name!r} is not configured; known: {', '.join(config['remote']) or 'none'}")
        return name, str(config["remote"][name]["url"])


def check_remote(root: str | Path = ".", name: str | None = None, for_push: bool = False) -> str:
    """Raise :class:`RemoteError` unless remote ``name`` can be used; return a one-line description.

    A local remote must be an existing folder, except before a push (``for_push``), which creates it
    when its parent exists. A cloud remote needs its DVC plugin (``dvc[s3]``, ``dvc[ssh]``, ...);
    whether the service answers is left to DVC, which names the host on failure.
    """
    name, url = remote_url(root, name)
    scheme = urlparse(url).scheme
    if scheme in ("", "file") or len(scheme) == 1:  # a path (one letter: a Windows drive)
        path = Path(urlparse(url).path if scheme == "file" else url)
        if path.is_dir() or (for_push and path.parent.is_dir()):
            return f"remote {name!r}: folder {path}"
        raise RemoteError(
            f"DVC remote {name!r} is the folder {path}, which does not exist"
            + ("" if for_push else " (nothing was pushed to it from this machine)")
            + f". Point it at the shared copy for yourself only with `dvc remote modify --local {name} url PATH`,"
            " or create it with `dvc push` from a clone that has the results.")
    extra = PLUGINS.get(scheme)
    if extra is None:
        raise RemoteError(f"DVC remote {name!r} has an unknown URL scheme {scheme!r}: {url}")
    if importlib.util.find_spec(f"dvc_{extra}") is None:
        raise RemoteError(f"DVC remote {name!r} ({url}) needs DVC's {extra} plugin: python -m pip install \"dvc[{extra}]\"")
    return f"remote {name!r}: {url}"


def main(argv: list[str] | None = None) -> int:
    """Check a DVC remote from the command line (``python -m medaug.dvc_remote``); returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m medaug.dvc_remote", description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--remote", default=None, help="remote name (default: core.remote)")
    parser.add_argument("--push", action="store_true", help="check before a push (a missing local folder may be created)")
    parser.add_argument("--root", default=".", help="repository root (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        print(check_remote(args.root, args.remote, for_push=args.push))
    except RemoteError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
