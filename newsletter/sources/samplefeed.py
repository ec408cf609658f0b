"""The bundled sample feed: built once from the corpus into arXiv Atom pages and Daily Papers JSON, loaded
by the replay server; also synthesises large feeds in memory for benchmarks.

Build:  python -m newsletter.sources.samplefeed build --corpus tests/fixtures/corpus/papers.json
        (the featured papers' TL;DRs come from hf-tldrs.json beside the corpus)
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from newsletter.plaintext.characters import normalise_text
from newsletter.sources.parse import PaperRecord, parse_arxiv_feed
from newsletter.sources.wireformat import render_atom_entry, render_atom_feed, render_hf_item

SAMPLE_FEED_DIR = Path(__file__).with_name("sample_feed")
# Beside the corpus: the Hugging Face TL;DRs of its featured papers.
TLDRS_FILE = "hf-tldrs.json"
# A fixed "today" keeps the files stable; the demo fetches the window before it.
SAMPLE_TODAY = date(2026, 11, 20)
SAMPLE_SEARCH_QUERY = "cat:cs.LG OR cat:cs.CL OR cat:cs.CV OR cat:cs.AI OR cat:stat.ML (sample feed)"
ATOM_PAGE_SIZE = 100
# Corpus papers with upvotes are the ones "featured"; every HF_ONLY_EVERY-th of them is left out of arXiv
# so the demo shows a paper known only from Hugging Face.
HF_ONLY_EVERY = 17

# First match by weighted hits decides the primary category; others become cross-lists.
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "cs.CV": (
        "image",
        "vision",
        "visual",
        "video",
        "pixel",
        "segmentation",
        "object detection",
        "3d",
        "camera",
    ),
    "cs.CL": ("language model", "llm", "text", "translation", "linguistic", "nlp", "question answering"),
    "cs.AI": ("agent", "reasoning", "planning", "knowledge graph", "multi-agent", "tool use"),
    "stat.ML": ("bayesian", "statistical", "variational", "kernel", "gaussian process", "estimator"),
    "cs.RO": ("robot", "manipulation", "locomotion", "embodied"),
    "cs.IR": ("retrieval", "ranking", "recommend", "search engine"),
    "cs.CR": ("privacy", "adversarial", "jailbreak", "security"),
    "eess.AS": ("speech", "audio", "music"),
}
KEYWORD_PATTERNS = {
    category: [(word, re.compile(rf"\b{re.escape(word)}s?\b")) for word in words]
    for category, words in CATEGORY_KEYWORDS.items()
}
FIRST_NAMES = [
    "Ada",
    "Amir",
    "Bea",
    "Chen",
    "Dana",
    "Elif",
    "Farah",
    "Gil",
    "Hana",
    "Ivo",
    "Jun",
    "Kira",
    "Lars",
    "Mei",
    "Nia",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Uma",
    "Vik",
    "Wen",
    "Yara",
    "Zoe",
]
LAST_NAMES = [
    "Abe",
    "Baker",
    "Costa",
    "Diaz",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kim",
    "Lopez",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Quist",
    "Rossi",
    "Sato",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhou",
]


@dataclass(slots=True)
class SampleFeed:
    papers: list[PaperRecord]
    # Featured day -> Daily Papers items, in the order Hugging Face would list them.
    daily_papers: dict[date, list[dict[str, Any]]]


def stable_number(*parts: str) -> int:
    return int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest(), 16)


def made_up_ids(titles: Sequence[str]) -> list[str]:
    """2611.0NNNN from a hash of the title; a collision takes the next free number (corpus order decides)."""
    taken: set[str] = set()
    ids = []
    for title in titles:
        number = stable_number(title) % 10_000
        while f"2611.0{number:04d}" in taken:
            number = (number + 1) % 10_000
        taken.add(f"2611.0{number:04d}")
        ids.append(f"2611.0{number:04d}")
    return ids


def categories_for(title: str, abstract: str) -> tuple[list[str], list[str]]:
    """(categories with the primary first, the keywords that decided them)."""
    title_text, abstract_text = title.lower(), abstract.lower()
    scores: dict[str, int] = {}
    keywords: list[str] = []
    for category, patterns in KEYWORD_PATTERNS.items():
        for word, pattern in patterns:
            hits = 3 * len(pattern.findall(title_text)) + len(pattern.findall(abstract_text))
            if hits:
                scores[category] = scores.get(category, 0) + hits
                keywords.append(word)
    ranked = sorted(scores, key=lambda category: -scores[category])[:2]
    categories = ranked or ["cs.LG"]
    # Most single-topic ML papers are cross-listed to cs.LG; two-topic ones usually are not.
    if len(categories) == 1 and categories[0] != "cs.LG":
        categories.append("cs.LG")
    return categories, keywords[:6]


def made_up_authors(seed: str, count: int) -> list[str]:
    return [
        f"{FIRST_NAMES[stable_number(seed, 'first', str(i)) % len(FIRST_NAMES)]} "
        f"{LAST_NAMES[stable_number(seed, 'last', str(i)) % len(LAST_NAMES)]}"
        for i in range(count)
    ]


def paper_from_corpus(item: dict[str, Any], arxiv_id: str, today: date) -> PaperRecord:
    title = normalise_text(item["title"])
    abstract = normalise_text(item.get("abstract", ""))
    seed = stable_number(title)
    categories, _ = categories_for(title, abstract)
    author_count = item.get("authors_count") or 2 + seed % 6
    # Submitted over the five days before "today", at any time of day.
    published = datetime.combine(today - timedelta(days=1 + seed % 5), datetime.min.time(), UTC) + timedelta(
        seconds=seed % 86_400
    )
    version, updated = 1, published
    if seed % 8 == 0:
        # A replacement: first submitted weeks ago, v2 announced inside the window.
        version, updated = 2, published
        published = published - timedelta(days=20 + seed % 30)
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=abstract,
        authors=made_up_authors(title, min(int(author_count), 12)),
        categories=categories,
        primary_category=categories[0],
        published=published,
        updated=updated,
        abs_url=f"https://arxiv.org/abs/{arxiv_id}v{version}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}v{version}",
        comment=f"{8 + seed % 30} pages, {1 + seed % 9} figures" if seed % 3 else None,
        journal_ref="Sample Proceedings of Machine Learning 2026" if seed % 11 == 0 else None,
        doi=f"10.5555/sample.{arxiv_id}" if seed % 7 == 0 else None,
    )


def build_sample_feed(
    corpus: Sequence[dict[str, Any]], tldrs: Mapping[str, str] | None = None, today: date = SAMPLE_TODAY
) -> SampleFeed:
    """`tldrs`: title → the one-line summary a featured paper's Hugging Face answer carries as
    `ai_summary` (written for these papers, like the real ones; none when a title has none)."""
    tldrs = tldrs or {}
    ids = made_up_ids([normalise_text(item["title"]) for item in corpus])
    papers: list[PaperRecord] = []
    daily_papers: dict[date, list[dict[str, Any]]] = defaultdict(list)
    featured_count = 0
    for item, arxiv_id in zip(corpus, ids, strict=True):
        paper = paper_from_corpus(item, arxiv_id, today)
        upvotes = item.get("upvotes")
        is_hf_only = False
        if isinstance(upvotes, int):
            featured_count += 1
            is_hf_only = featured_count % HF_ONLY_EVERY == 0
            seed = stable_number(paper.title, "hf")
            # Featured a day or two after the arXiv announcement, never after "today".
            featured_on = min(today, paper.updated.date() + timedelta(days=1 + seed % 2))
            _, keywords = categories_for(paper.title, paper.abstract)
            slug = re.sub(r"[^a-z0-9]+", "-", paper.title.lower())[:40].strip("-")
            daily_papers[featured_on].append(
                render_hf_item(
                    paper,
                    featured_on=featured_on,
                    upvotes=upvotes,
                    num_comments=seed % 6,
                    github_repo=f"https://github.com/sample-lab/{slug}" if seed % 2 == 0 else None,
                    github_stars=(seed // 7) % 2_000 if seed % 2 == 0 else None,
                    project_page=f"https://sample-lab.github.io/{slug}/" if seed % 3 == 0 else None,
                    ai_keywords=keywords,
                    ai_summary=tldrs.get(item["title"]),
                )
            )
        if not is_hf_only:
            papers.append(paper)
    for items in daily_papers.values():
        items.sort(key=lambda entry: -entry["paper"]["upvotes"])
    papers.sort(key=lambda paper: paper.updated, reverse=True)
    return SampleFeed(papers=papers, daily_papers=dict(sorted(daily_papers.items())))


def write_sample_feed(feed: SampleFeed, directory: Path, today: date = SAMPLE_TODAY) -> list[Path]:
    (directory / "arxiv").mkdir(parents=True, exist_ok=True)
    (directory / "hf").mkdir(parents=True, exist_ok=True)
    generated_at = datetime.combine(today, datetime.min.time(), UTC)
    written = []
    for page_number, start in enumerate(range(0, len(feed.papers), ATOM_PAGE_SIZE)):
        page = feed.papers[start : start + ATOM_PAGE_SIZE]
        body = render_atom_feed(
            [render_atom_entry(paper) for paper in page],
            search_query=SAMPLE_SEARCH_QUERY,
            start=start,
            max_results=ATOM_PAGE_SIZE,
            total_results=len(feed.papers),
            generated_at=generated_at,
        )
        path = directory / "arxiv" / f"page-{page_number:03d}.xml"
        path.write_bytes(body)
        written.append(path)
    for day, items in feed.daily_papers.items():
        path = directory / "hf" / f"daily_papers_{day.isoformat()}.json"
        path.write_text(json.dumps(items, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
        written.append(path)
    return written


def load_sample_papers(directory: Path = SAMPLE_FEED_DIR) -> list[PaperRecord]:
    papers: list[PaperRecord] = []
    for path in sorted((directory / "arxiv").glob("page-*.xml")):
        papers.extend(parse_arxiv_feed(path.read_bytes()).entries)
    return papers


def load_sample_daily_papers(directory: Path = SAMPLE_FEED_DIR) -> dict[date, list[dict[str, Any]]]:
    daily_papers = {}
    for path in sorted((directory / "hf").glob("daily_papers_*.json")):
        day = date.fromisoformat(path.stem.removeprefix("daily_papers_"))
        daily_papers[day] = json.loads(path.read_text(encoding="utf-8"))
    return daily_papers


def synthesise_records(
    corpus: Sequence[dict[str, Any]], count: int, today: date = SAMPLE_TODAY
) -> list[PaperRecord]:
    """`count` distinct papers cycling through the corpus, ids 2611.NNNNN in order (count < 100,000)."""
    if not corpus:
        raise ValueError("the corpus is empty")
    # Categorising is the slow part; do it once per corpus paper, then only the id and links change.
    templates = [paper_from_corpus(item, "2611.00000", today) for item in corpus]
    records = []
    for index in range(count):
        template = templates[index % len(templates)]
        arxiv_id = f"2611.{index:05d}"
        records.append(
            dataclasses.replace(
                template,
                arxiv_id=arxiv_id,
                abs_url=f"https://arxiv.org/abs/{arxiv_id}v{template.version}",
                pdf_url=f"https://arxiv.org/pdf/{arxiv_id}v{template.version}",
                doi=f"10.5555/sample.{arxiv_id}" if template.doi else None,
            )
        )
    return records


def synthesise_feed(corpus: Sequence[dict[str, Any]], count: int, today: date = SAMPLE_TODAY) -> bytes:
    [feed] = synthesise_feed_pages(corpus, count, count, today)
    return feed


def synthesise_feed_pages(
    corpus: Sequence[dict[str, Any]], count: int, page_size: int, today: date = SAMPLE_TODAY
) -> list[bytes]:
    """`count` papers as the arXiv API pages them: Atom documents of `page_size` entries each."""
    records = synthesise_records(corpus, count, today)
    return [
        render_atom_feed(
            [render_atom_entry(record) for record in records[start : start + page_size]],
            search_query=SAMPLE_SEARCH_QUERY,
            start=start,
            max_results=page_size,
            total_results=count,
            generated_at=datetime.combine(today, datetime.min.time(), UTC),
        )
        for start in range(0, count, page_size)
    ]


def load_tldrs(path: Path) -> dict[str, str]:
    tldrs: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return tldrs


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m newsletter.sources.samplefeed")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="regenerate the bundled sample feed from a corpus JSON")
    build.add_argument("--corpus", type=Path, required=True)
    build.add_argument(
        "--tldrs", type=Path, help="title → one-line summary JSON (default: hf-tldrs.json beside the corpus)"
    )
    build.add_argument("--out", type=Path, default=SAMPLE_FEED_DIR)
    arguments = parser.parse_args(argv)
    corpus = json.loads(arguments.corpus.read_text(encoding="utf-8"))
    feed = build_sample_feed(corpus, load_tldrs(arguments.tldrs or arguments.corpus.with_name(TLDRS_FILE)))
    written = write_sample_feed(feed, arguments.out)
    featured = sum(len(items) for items in feed.daily_papers.values())
    print(f"{len(feed.papers)} arXiv entries, {featured} featured on Hugging Face, {len(written)} files")


if __name__ == "__main__":
    main()
