"""Entries of ``dvc.lock`` for stages the pipeline no longer has, found and removed.

DVC keeps the lock entry of every stage it ever ran. When a ``foreach`` or ``matrix`` axis of
``params.yaml`` changes (a run list, a training set, a label), the entries of the stages that
disappeared stay in ``dvc.lock`` for good. They change no result, but DVC parses the whole lock
file with a pure-Python YAML parser before each stage it runs and writes it back after, so each
stale entry costs time at every stage: with 64 stale entries beside 20 live ones (16 700 lines)
this was most of the ~14 s that ``dvc repro`` spent between two stages of the demo.

Command line (from the repository root)::

    python -m medaug.dvc_lock --check    # exit 1 and list the stale entries
    python -m medaug.dvc_lock --prune    # remove them; the live entries keep their exact text

The live stages are those of ``dvc.yaml`` under ``params.yaml``
(:func:`medaug.dvc_deps.pipeline_stages`). The file is edited as text, one top-level stage block
at a time, so the entries that stay are byte for byte what DVC wrote.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

from medaug.dvc_deps import pipeline_stages

_STAGE_LINE = re.compile(r"^  (?P<name>[^\s#][^:]*):\s*$")


def stage_blocks(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Split a ``dvc.lock`` text into its head (up to ``stages:``) and ``(stage name, block text)`` pairs.

    A block runs from its two-space-indented ``name:`` line to the next one. Raises ValueError when
    the text has no top-level ``stages:`` line or something else follows the stages at the top level.
    """
    lines = text.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == "stages:") + 1
    except StopIteration:
        raise ValueError("no top-level 'stages:' line: not a dvc.lock file") from None
    head, blocks = "".join(lines[:start]), []
    for line in lines[start:]:
        match = _STAGE_LINE.match(line)
        if match:
            blocks.append([match.group("name").strip().strip("'\""), line])
        elif line.strip() and not line.startswith("  "):
            raise ValueError(f"unexpected top-level line after the stages: {line.rstrip()!r}")
        elif not blocks:
            if line.strip():
                raise ValueError(f"a line before the first stage: {line.rstrip()!r}")
            head += line
        else:
            blocks[-1][1] += line
    return head, [(name, block) for name, block in blocks]


def stale_stages(lock_text: str, live: list[str]) -> list[str]:
    """Stage names with an entry in ``lock_text`` that are not in ``live``, in file order."""
    _, blocks = stage_blocks(lock_text)
    keep = set(live)
    return [name for name, _ in blocks if name not in keep]


def pruned(lock_text: str, live: list[str]) -> str:
    """``lock_text`` without the entries of stages outside ``live``; other bytes unchanged.

    The result parses to the same mapping as the input, less the removed stages (checked, so a
    block split in the wrong place cannot pass silently).
    """
    head, blocks = stage_blocks(lock_text)
    keep = set(live)
    text = head + "".join(block for name, block in blocks if name in keep)
    before, after = yaml.safe_load(lock_text) or {}, yaml.safe_load(text) or {}
    expected = {name: entry for name, entry in (before.get("stages") or {}).items() if name in keep}
    if (after.get("stages") or {}) != expected:
        raise ValueError("pruning changed the entries it keeps; dvc.lock left as it is")
    return text


def live_stages(root: Path) -> list[str]:
    """Stage addresses of ``root/dvc.yaml`` under ``root/params.yaml``; ValueError when they cannot be listed."""
    params = yaml.safe_load((root / "params.yaml").read_text()) or {}
    stages = pipeline_stages(root / "dvc.yaml", params)
    if stages is None:
        raise ValueError(f"cannot list the stages of {root / 'dvc.yaml'} under {root / 'params.yaml'}")
    return stages


def main(argv: list[str] | None = None) -> int:
    """``python -m medaug.dvc_lock --check | --prune``; returns 1 when ``--check`` finds stale entries."""
    parser = argparse.ArgumentParser(prog="python -m medaug.dvc_lock", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true", help="list the stale entries; exit 1 if any")
    action.add_argument("--prune", action="store_true", help="remove the stale entries from dvc.lock")
    parser.add_argument("--root", default=".", help="repository root (default: %(default)s)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    lock = root / "dvc.lock"
    if not lock.is_file():
        print(f"no {lock}: nothing to do")
        return 0
    text, live = lock.read_text(encoding="utf-8"), live_stages(root)
    stale = stale_stages(text, live)
    if args.prune:
        if stale:
            temporary = lock.with_name(lock.name + ".tmp")
            temporary.write_text(pruned(text, live), encoding="utf-8")
            temporary.replace(lock)
        print(f"removed {len(stale)} stale entr{'y' if len(stale) == 1 else 'ies'} from {lock}")
        return 0
    for name in stale:
        print(f"stale entry: {name}")
    if stale:
        print(f"{len(stale)} entries of {lock} name stages the pipeline no longer has; "
              "fix with: python -m medaug.dvc_lock --prune", file=sys.stderr)
        return 1
    print(f"every entry of {lock} names a stage of the pipeline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
