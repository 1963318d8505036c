"""Rebuild benchmarks/real_corpus/data/<id>/<file> from a manifest, checking every sha256.

The logs are other people's files, so they stay out of git: this script fetches each one at the
exact commit named in the manifest, from a local `fetch` mirror (/work/.mirror/<owner>+<name>/...)
when there is one, else from raw.githubusercontent.com. A file whose hash differs is refused.

    python benchmarks/real_corpus/build_corpus.py [--set main|heldout|heldout2|...|heldout51]
                                                  [--mirrors DIR]
                                                  [--only ID ...] [--offline]

`--set heldout` builds the held-out batch (manifest_heldout.json), `--set heldout2`,
`--set heldout3`, `--set heldout4`, `--set heldout5`, `--set heldout6`, `--set heldout7`,
`--set heldout8`, `--set heldout9`, `--set heldout10`, `--set heldout11`, `--set heldout12`,
`--set heldout13`, `--set heldout14`, `--set heldout15`, `--set heldout16`, `--set heldout17`,
`--set heldout18`, `--set heldout19`, `--set heldout20`, `--set heldout21`, `--set heldout22`,
`--set heldout23`, `--set heldout24`, `--set heldout25`, `--set heldout26`, `--set heldout27`,
`--set heldout28`, `--set heldout29`, `--set heldout30`, `--set heldout31`, `--set heldout32`,
`--set heldout33`, `--set heldout34`, `--set heldout35`, `--set heldout36`, `--set heldout37`,
`--set heldout38`, `--set heldout39`, `--set heldout40`, `--set heldout41`, `--set heldout42`,
`--set heldout43`, `--set heldout44`, `--set heldout45`, `--set heldout46`, `--set heldout47`,
`--set heldout48`, `--set heldout49`, `--set heldout50` and `--set heldout51` the second to
fifty-first (manifest_heldout2.json ... manifest_heldout51.json), into the same data/ folder; the
sets share no log, so their folders never collide.

A manifest row may name a `member`: the run, inside a file that stores several (an MLflow
`mlflow.db` / `mlruns.db`, a Trackio project database), that its labels are about. The file is
fetched and checked whole; readers are given `<file>/<member>` (`Entry.source`), the form
`read_run` takes for one run of such a store.

Exit codes: 0 every file present and verified, 1 some could not be obtained or verified.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
# the labelled sets, (manifest, labels) in this folder: the main corpus and the twenty held-out
# batches, each labelled after the detector had been tuned on the sets before it
# (bench_real_corpus.py and the tests read them from here)
SETS = {"main": ("manifest.json", "labels.json"),
        "heldout": ("manifest_heldout.json", "labels_heldout.json"),
        "heldout2": ("manifest_heldout2.json", "labels_heldout2.json"),
        "heldout3": ("manifest_heldout3.json", "labels_heldout3.json"),
        "heldout4": ("manifest_heldout4.json", "labels_heldout4.json"),
        "heldout5": ("manifest_heldout5.json", "labels_heldout5.json"),
        "heldout6": ("manifest_heldout6.json", "labels_heldout6.json"),
        "heldout7": ("manifest_heldout7.json", "labels_heldout7.json"),
        "heldout8": ("manifest_heldout8.json", "labels_heldout8.json"),
        "heldout9": ("manifest_heldout9.json", "labels_heldout9.json"),
        "heldout10": ("manifest_heldout10.json", "labels_heldout10.json"),
        "heldout11": ("manifest_heldout11.json", "labels_heldout11.json"),
        "heldout12": ("manifest_heldout12.json", "labels_heldout12.json"),
        "heldout13": ("manifest_heldout13.json", "labels_heldout13.json"),
        "heldout14": ("manifest_heldout14.json", "labels_heldout14.json"),
        "heldout15": ("manifest_heldout15.json", "labels_heldout15.json"),
        "heldout16": ("manifest_heldout16.json", "labels_heldout16.json"),
        "heldout17": ("manifest_heldout17.json", "labels_heldout17.json"),
        "heldout18": ("manifest_heldout18.json", "labels_heldout18.json"),
        "heldout19": ("manifest_heldout19.json", "labels_heldout19.json"),
        "heldout20": ("manifest_heldout20.json", "labels_heldout20.json"),
        "heldout21": ("manifest_heldout21.json", "labels_heldout21.json"),
        "heldout22": ("manifest_heldout22.json", "labels_heldout22.json"),
        "heldout23": ("manifest_heldout23.json", "labels_heldout23.json"),
        "heldout24": ("manifest_heldout24.json", "labels_heldout24.json"),
        "heldout25": ("manifest_heldout25.json", "labels_heldout25.json"),
        "heldout26": ("manifest_heldout26.json", "labels_heldout26.json"),
        "heldout27": ("manifest_heldout27.json", "labels_heldout27.json"),
        "heldout28": ("manifest_heldout28.json", "labels_heldout28.json"),
        "heldout29": ("manifest_heldout29.json", "labels_heldout29.json"),
        "heldout30": ("manifest_heldout30.json", "labels_heldout30.json"),
        "heldout31": ("manifest_heldout31.json", "labels_heldout31.json"),
        "heldout32": ("manifest_heldout32.json", "labels_heldout32.json"),
        "heldout33": ("manifest_heldout33.json", "labels_heldout33.json"),
        "heldout34": ("manifest_heldout34.json", "labels_heldout34.json"),
        "heldout35": ("manifest_heldout35.json", "labels_heldout35.json"),
        "heldout36": ("manifest_heldout36.json", "labels_heldout36.json"),
        "heldout37": ("manifest_heldout37.json", "labels_heldout37.json"),
        "heldout38": ("manifest_heldout38.json", "labels_heldout38.json"),
        "heldout39": ("manifest_heldout39.json", "labels_heldout39.json"),
        "heldout40": ("manifest_heldout40.json", "labels_heldout40.json"),
        "heldout41": ("manifest_heldout41.json", "labels_heldout41.json"),
        "heldout42": ("manifest_heldout42.json", "labels_heldout42.json"),
        "heldout43": ("manifest_heldout43.json", "labels_heldout43.json"),
        "heldout44": ("manifest_heldout44.json", "labels_heldout44.json"),
        "heldout45": ("manifest_heldout45.json", "labels_heldout45.json"),
        "heldout46": ("manifest_heldout46.json", "labels_heldout46.json"),
        "heldout47": ("manifest_heldout47.json", "labels_heldout47.json"),
        "heldout48": ("manifest_heldout48.json", "labels_heldout48.json"),
        "heldout49": ("manifest_heldout49.json", "labels_heldout49.json"),
        "heldout50": ("manifest_heldout50.json", "labels_heldout50.json"),
        "heldout51": ("manifest_heldout51.json", "labels_heldout51.json")}


@dataclass(frozen=True)
class Entry:
    """One manifest row: where a log lives and what its bytes hash to."""

    id: str
    repo: str
    commit: str
    path: str
    sha256: str
    member: str = ""

    @property
    def dest(self) -> Path:
        return HERE / "data" / self.id / Path(self.path).name

    @property
    def source(self) -> Path:
        """What a reader is given: the file, or `<file>/<member>` for one run of a store that
        holds several (read_run refuses such a store without the run named, and the labels are
        about one run)."""
        return self.dest / self.member if self.member else self.dest


def load_manifest(path: Path = HERE / "manifest.json") -> list[Entry]:
    data = json.loads(path.read_text())
    return [Entry(e["id"], e["repo"], e["commit"], e["path"], e["sha256"], e.get("member", ""))
            for e in data["logs"]]


def labelled_logs() -> list[tuple[dict, Path]]:
    """Each label of every set with the path its log is read from (`Entry.source`: the file its
    manifest names, or that file's labelled run), for the benchmarks that score the labelled
    series; a log not built is left out."""
    out = []
    for manifest, labels in SETS.values():
        entries = {e.id: e for e in load_manifest(HERE / manifest)}
        out += [(lab, entries[lab["id"]].source)
                for lab in json.loads((HERE / labels).read_text())["labels"]
                if entries[lab["id"]].dest.exists()]
    return out


def find_git_dir(mirrors: Path, repo: str) -> Path | None:
    """The git directory of a fetch mirror: <mirrors>/<owner>+<name>/<something>/ (bare)."""
    root = mirrors / repo.replace("/", "+")
    if not root.is_dir():
        return None
    candidates = [root] + sorted(p for p in root.iterdir() if p.is_dir())
    for cand in candidates:
        if (cand / "HEAD").is_file() and (cand / "objects").is_dir():
            return cand
        if (cand / ".git").is_dir():
            return cand / ".git"
    return None


def from_mirror(git_dir: Path, entry: Entry) -> bytes | None:
    proc = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{entry.commit}:{entry.path}"],
                          capture_output=True, check=False)
    return proc.stdout if proc.returncode == 0 else None


def from_github(entry: Entry, timeout: float = 60.0) -> bytes | None:
    url = RAW_URL.format(repo=entry.repo, commit=entry.commit, path=entry.path)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read()
    except OSError:
        return None


def obtain(entry: Entry, mirrors: Path, offline: bool) -> tuple[str, str]:
    """Write entry.dest if needed; returns (status, source)."""
    if entry.dest.is_file() and hashlib.sha256(entry.dest.read_bytes()).hexdigest() == entry.sha256:
        return "ok", "present"
    sources = []
    git_dir = find_git_dir(mirrors, entry.repo)
    if git_dir is not None:
        sources.append(("mirror", lambda: from_mirror(git_dir, entry)))
    if not offline:
        sources.append(("github", lambda: from_github(entry)))
    for name, get in sources:
        data = get()
        if data is None:
            continue
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            return "sha256 mismatch", name
        entry.dest.parent.mkdir(parents=True, exist_ok=True)
        entry.dest.write_bytes(data)
        return "ok", name
    return "unavailable", "no mirror" if offline else "no mirror, download failed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"),
                        help="folder of fetch mirrors (default /work/.mirror)")
    parser.add_argument("--set", dest="corpus_set", choices=sorted(SETS), default="main",
                        help="which labelled set to build (default main)")
    parser.add_argument("--only", nargs="*", help="ids to build (default all)")
    parser.add_argument("--offline", action="store_true", help="mirrors only, no download")
    args = parser.parse_args(argv)
    entries = [e for e in load_manifest(HERE / SETS[args.corpus_set][0])
               if not args.only or e.id in args.only]
    failed = 0
    for entry in entries:
        status, source = obtain(entry, args.mirrors, args.offline)
        failed += status != "ok"
        print(f"{entry.id:<34} {status:<16} {source}")
    print(f"{len(entries) - failed} of {len(entries)} logs present and verified in {HERE / 'data'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
