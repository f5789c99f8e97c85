"""The benchmark's workloads: raw documents made from the corpus (never copied into the repo)."""

from __future__ import annotations

from pathlib import Path

import orjson

from cybexp_core import Raw
from cybexp_core.errors import InputError
from cybexp_core.ingest import read_file

#: ``shared/corpus`` beside the checkout, or beside a folder above it (a worktree).
DEFAULT_CORPUS = next(
    (up / "shared" / "corpus" for up in Path(__file__).resolve().parents
     if (up / "shared" / "corpus").is_dir()),
    Path(__file__).resolve().parent.parent.parent / "shared" / "corpus",
)


def cowrie_docs(corpus: Path, count: int, tag: str = "r") -> list[Raw]:
    """Real Cowrie lines; past the corpus size (or all of them, for a ``tag`` other than
    ``"r"``), replicas with new session ids."""
    lines = [
        line
        for path in sorted((corpus / "cowrie").glob("*.json"))
        if not path.name.startswith("DERIVED")
        for line in path.read_bytes().splitlines()
        if line.strip()
    ]
    if not lines:
        raise FileNotFoundError(f"no Cowrie lines under {corpus / 'cowrie'}")
    events = [orjson.loads(line) for line in lines]
    raws: list[Raw] = []
    replica = 0 if tag == "r" else 1
    while len(raws) < count:
        for event in events:
            if len(raws) >= count:
                break
            if replica:
                event = {**event, "session": f"{event.get('session')}-{tag}{replica}"}
            raws.append(Raw("cowrie", event, "bench-org"))
        replica += 1
    return raws


def email_docs(corpus: Path) -> list[Raw]:
    """The corpus messages that ``ingest`` accepts (it refuses binary files)."""
    raws: list[Raw] = []
    for path in sorted((corpus / "email").glob("*.eml")):
        try:
            raws.extend(read_file(path, "email", "bench-org", "UTC"))
        except InputError:
            continue
    return raws


def openphish_docs(corpus: Path, urls_per_doc: int = 50) -> list[Raw]:
    """OpenPhish lines in documents of 50 URLs: the original's measure of a feed document."""
    raws: list[Raw] = []
    for path in sorted((corpus / "feeds").glob("openphish__*.txt")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for start in range(0, len(lines), urls_per_doc):
            text = "\n".join(lines[start : start + urls_per_doc])
            raws.append(
                Raw("openphish_feed", {"data": text, "timestamp": 1763625600.0}, "bench-org")
            )
    return raws


def phishtank_docs(corpus: Path) -> list[Raw]:
    """The PhishTank CSV dump(s) as ``ingest --format file`` stores them."""
    return [
        raw
        for path in sorted((corpus / "feeds").glob("phishtank__*.csv"))
        for raw in read_file(path, "phishtank_feed", "bench-org", "UTC")
    ]


WORKLOADS = {
    "cowrie": (["cowrie"], lambda corpus, n: cowrie_docs(corpus, n)),
    "email": (["email"], lambda corpus, n: email_docs(corpus)),
    "openphish": (["openphish"], lambda corpus, n: openphish_docs(corpus)),
    "phishtank": (["phishtank"], lambda corpus, n: phishtank_docs(corpus)),
}
