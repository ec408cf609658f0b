"""The parsers against every recorded quirk of arXiv and Hugging Face, and against hostile input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from newsletter.errors import PermanentError
from newsletter.sources.daily_papers import parse_hf_daily_papers
from newsletter.sources.parse import parse_arxiv_feed
from tests.recordings import ARXIV, arxiv_recording, arxiv_xml, hf_recording

ALL_ARXIV_RECORDINGS = sorted(
    str(path.relative_to(ARXIV))
    for path in ARXIV.rglob("*")
    if path.suffix in {".xml", ".json"} and "oai-pmh" not in str(path) and "id_abc" not in path.name
)


def body_of(relative: str) -> bytes:
    if relative.startswith("arxiv.py_recorded/"):
        return arxiv_recording(relative.split("/", 1)[1])[1]
    return arxiv_xml(relative)


def test_parse_2026_recording_reads_every_field() -> None:
    _, body = arxiv_recording("q_testing_s0_m10_bc5a6c384fe9.json")
    page = parse_arxiv_feed(body)

    assert (page.total_results, page.start_index, page.items_per_page) == (214881, 0, 10)
    assert len(page.entries) == 10 and page.rejections == []
    paper = page.entries[0]
    assert paper.arxiv_id == "2202.12139"
    assert paper.version == 1
    assert (
        paper.title
        == "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques"
    )
    assert paper.abstract.startswith("Deep Learning (DL) has revolutionized the capabilities")
    assert paper.authors == ["Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker"]
    assert paper.categories == ["cs.SE", "cs.LG"]
    assert paper.primary_category == "cs.SE"
    assert paper.published == datetime(2022, 2, 24, 15, 5, 19, tzinfo=UTC)
    assert paper.updated == datetime(2022, 2, 24, 15, 5, 19, tzinfo=UTC)
    assert paper.doi == "10.1109/ICSTW55395.2022.00035"
    assert paper.journal_ref is not None and paper.journal_ref.startswith(
        "Artificial Intelligence in Software"
    )
    assert paper.comment == "Artificial Intelligence in Software Testing 2022 workshop @ ICST 2022"
    assert paper.abs_url == "https://arxiv.org/abs/2202.12139v1"
    # The DOI link is rel="related" too; only the one titled pdf is the PDF.
    assert paper.pdf_url == "https://arxiv.org/pdf/2202.12139v1"


def test_parse_decodes_non_ascii_author_names() -> None:
    _, body = arxiv_recording("id_1707.08567_s0_m100_6a1afebfc6a3.json")
    paper = parse_arxiv_feed(body).entries[0]
    assert "Dirk Wübben" in paper.authors
    assert len(paper.authors) == 34


def test_parse_keeps_a_paper_titled_zero() -> None:
    _, body = arxiv_recording("id_2104.12255v1_s0_m100_6ae69987ffe1.json")
    [paper] = parse_arxiv_feed(body).entries
    assert paper.arxiv_id == "2104.12255"
    assert paper.title == "0"
    assert paper.categories == ["cs.CR"]


def test_parse_keeps_old_slash_ids_affiliations_and_journal_ref() -> None:
    _, body = arxiv_recording("id_astro-ph_0601001_s0_m100_3150dca9dc76.json")
    [paper] = parse_arxiv_feed(body).entries
    assert paper.arxiv_id == "astro-ph/0601001"
    assert paper.version == 1
    assert paper.journal_ref == "ActaAstron.56:1-50,2006"
    assert paper.affiliations == {
        "Andrew Gould": ["Ohio State"],
        "Susan Dorsher": ["Ohio State"],
        "B. Scott Gaudi": ["CfA"],
        "Andrzej Udalski": ["Warsaw University Observatory"],
    }
    assert paper.pdf_url == "https://arxiv.org/pdf/astro-ph/0601001v1"


def test_parse_reads_versions_after_v1_and_their_update_time() -> None:
    [paper] = parse_arxiv_feed(arxiv_xml("rsxiv_2025-11/query_doc.extracted.xml")).entries
    assert (paper.arxiv_id, paper.version) == ("2206.06921", 3)
    assert paper.published == datetime(2022, 6, 14, 15, 35, 46, tzinfo=UTC)
    assert paper.updated == datetime(2025, 1, 30, 1, 23, 42, tzinfo=UTC)
    assert paper.doi == "10.1512/iumj.2024.73.9928"
    assert paper.journal_ref == "Indiana Univ. Math. J. 73 (2024), 1331-1356"


def test_parse_finds_links_by_path_when_the_2025_format_drops_their_attributes() -> None:
    [paper] = parse_arxiv_feed(arxiv_xml("rsxiv_2025-11/query_doc.extracted.xml")).entries
    assert paper.pdf_url == "https://arxiv.org/pdf/2206.06921v3"
    assert paper.abs_url == "https://arxiv.org/abs/2206.06921v3"


def test_parse_unwraps_hard_wrapped_legacy_titles_and_abstracts() -> None:
    [paper] = parse_arxiv_feed(arxiv_xml("arxiv.py_2016_xml/id_list=1111.2011v2.xml")).entries
    assert paper.title == (
        "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    )
    assert "\n" not in paper.abstract and "  " not in paper.abstract
    assert paper.abstract.startswith("Theoretical description of anisotropic systems, such as layered superc")
    assert (paper.version, paper.doi) == (2, "10.1103/PhysRevB.85.115117")
    assert paper.journal_ref == "Phys. Rev. B 85, 115117 (2012)"
    assert paper.categories == ["cond-mat.str-el", "cond-mat.stat-mech"]
    # Legacy links are http://; stored as https:// so a re-fetch in the new format is not an edit.
    assert paper.abs_url == "https://arxiv.org/abs/1111.2011v2"


def test_parse_skips_ghost_entries_without_id_and_reports_them() -> None:
    page = parse_arxiv_feed(arxiv_xml("rsxiv_2025-08_legacy/query_missing_id.xml"))
    assert [paper.arxiv_id for paper in page.entries] == ["2201.13452"]
    assert page.raw_entry_count == 4
    assert page.total_results == 4
    assert len(page.rejections) == 3
    assert all("without <id>" in rejection.reason for rejection in page.rejections)


def test_parse_drops_msc_codes_that_legacy_feeds_list_as_categories() -> None:
    [paper] = parse_arxiv_feed(arxiv_xml("rsxiv_2025-08_legacy/query_missing_id.xml")).entries
    assert paper.categories == ["math.AP"]
    assert (
        paper.title
        == "Asymptotic Analysis for a Nonlinear Reaction-Diffusion System Modeling an Infectious Disease"
    )


def test_parse_reads_total_results_one_with_no_entries_as_empty() -> None:
    page = parse_arxiv_feed(arxiv_xml("rsxiv_2025-08_legacy/query_empty.xml"))
    assert page.total_results == 1
    assert page.entries == [] and page.raw_entry_count == 0


def test_parse_reads_the_2026_sotawhat_recording() -> None:
    page = parse_arxiv_feed(arxiv_xml("sotawhat_2026-06/arxiv_transformer.xml"))
    paper = page.entries[0]
    assert (paper.arxiv_id, paper.title) == (
        "2606.13677",
        "Mana: Dexterous Manipulation of Articulated Tools",
    )
    assert paper.categories == ["cs.RO", "cs.AI", "cs.CV", "cs.LG"]
    assert paper.comment == "Project Page: https://zhaohengyin.github.io/mana"
    assert len(page.entries) == 5


def test_parse_error_feed_raises_with_arxivs_message_and_is_never_a_paper() -> None:
    status, body = arxiv_recording("id_abc_s0_m100_b79c8dcf6bc3.json")
    assert status == 400
    with pytest.raises(PermanentError, match="incorrect id format for abc"):
        parse_arxiv_feed(body)


@pytest.mark.parametrize("relative", ALL_ARXIV_RECORDINGS)
def test_parse_every_recording_gives_complete_entries(relative: str) -> None:
    page = parse_arxiv_feed(body_of(relative))
    for paper in page.entries:
        assert paper.arxiv_id and "v" not in paper.arxiv_id.split("/")[-1]
        assert paper.version >= 1
        assert paper.title.strip() == paper.title and paper.title
        assert paper.published.tzinfo is not None and paper.updated >= paper.published
        assert paper.categories and paper.primary_category
        assert paper.abs_url.startswith("https://arxiv.org/abs/")
        assert paper.pdf_url is None or "/pdf/" in paper.pdf_url
    assert len(page.entries) + len(page.rejections) == page.raw_entry_count


def test_parse_rejects_one_bad_entry_and_keeps_the_rest() -> None:
    _, body = arxiv_recording("q_testing_s0_m10_bc5a6c384fe9.json")
    broken = body.replace(b"<published>2022-02-24T15:05:19Z</published>", b"<published>yesterday</published>")
    broken = broken.replace(
        b"<title>Towards Explainable Test Case Prioritisation with Learning-to-Rank Models</title>", b""
    )
    page = parse_arxiv_feed(broken)
    assert len(page.entries) == 8
    reasons = {rejection.item_ref: rejection.reason for rejection in page.rejections}
    assert "not an ISO timestamp" in reasons["http://arxiv.org/abs/2202.12139v1"]
    assert "no title" in reasons["http://arxiv.org/abs/2405.13786v1"]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE feed [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2611.00001v1</id>
<title>&lol3;</title></entry></feed>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2611.00001v1</id>
<title>&secret;</title></entry></feed>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE feed SYSTEM "http://127.0.0.1:9/evil.dtd">
<feed xmlns="http://www.w3.org/2005/Atom"></feed>"""


@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD])
def test_parse_refuses_entity_laden_or_dtd_carrying_xml(hostile: bytes) -> None:
    with pytest.raises(PermanentError, match="unsafe XML"):
        parse_arxiv_feed(hostile)


def test_parse_refuses_a_truncated_response() -> None:
    _, body = arxiv_recording("q_testing_s0_m10_bc5a6c384fe9.json")
    with pytest.raises(PermanentError, match="not well-formed"):
        parse_arxiv_feed(body[: len(body) // 2])


def test_parse_refuses_an_oversized_response_before_parsing() -> None:
    _, body = arxiv_recording("q_testing_s0_m10_bc5a6c384fe9.json")
    with pytest.raises(PermanentError, match="cap"):
        parse_arxiv_feed(body, max_bytes=len(body) - 1)
    assert len(parse_arxiv_feed(body, max_bytes=len(body)).entries) == 10


def test_parse_refuses_xml_that_is_not_an_atom_feed() -> None:
    with pytest.raises(PermanentError, match="not an Atom feed"):
        parse_arxiv_feed(b"<rss version='2.0'><channel/></rss>")


# ---------------------------------------------------------------- Hugging Face


def test_parse_hf_recording_reads_trending_signals() -> None:
    page = parse_hf_daily_papers(hf_recording("sotawhat_2026-06/hf_daily_papers.json"))
    assert page.raw_item_count == 30 and len(page.items) == 30 and page.rejections == []
    by_id = {item.arxiv_id: item for item in page.items}
    minimax = by_id["2606.13392"]
    assert minimax.title == "MiniMax Sparse Attention"
    assert minimax.upvotes == 103
    assert minimax.github_repo == "https://github.com/MiniMax-AI/MSA"
    assert minimax.github_stars == 251
    assert minimax.featured_date == date(2026, 6, 12)
    assert minimax.num_comments == 4
    webchallenger = by_id["2606.10423"]
    assert webchallenger.project_page == "https://jayoohwang1.github.io/webchallenger-site/"
    first = by_id["2606.00467"]
    assert first.upvotes == 0
    assert first.authors == ["Etienne Casanova", "Rafal Kocielnik", "R. Michael Alvarez"]
    assert first.published == datetime(2026, 5, 30, tzinfo=UTC)
    assert "decision stickiness" in first.ai_keywords
    assert first.abstract.startswith("Large Language Models (LLMs) are increasingly used")


def test_parse_hf_recording_without_optional_keys() -> None:
    page = parse_hf_daily_papers(hf_recording("all-news-ai_2026-07-31/hf_daily_papers.json"))
    by_id = {item.arxiv_id: item for item in page.items}
    assert len(by_id) == 5
    plain = by_id["2607.28308"]
    assert (plain.github_repo, plain.github_stars, plain.project_page, plain.ai_keywords) == (
        None,
        None,
        None,
        [],
    )
    assert (
        by_id["2607.27958"].title == "Σ-Mem: An Online Reliability Memory for LLM-based Multi-Agent Systems"
    )
    assert by_id["2607.28582"].project_page == "https://umd-huang-lab.github.io/beta-opsd/"
    assert by_id["2607.16922"].featured_date == date(2026, 7, 31)


def test_parse_hf_rejects_bad_items_and_keeps_the_rest() -> None:
    items = json.loads(hf_recording("all-news-ai_2026-07-31/hf_daily_papers.json"))
    items[0]["paper"]["upvotes"] = "many"
    items[1]["paper"]["id"] = "not-an-arxiv-id"
    del items[2]["paper"]
    items.append("not even an object")
    page = parse_hf_daily_papers(json.dumps(items).encode())
    assert [item.arxiv_id for item in page.items] == ["2607.28308", "2607.16922"]
    reasons = [rejection.reason for rejection in page.rejections]
    assert len(reasons) == 4
    assert "upvotes" in reasons[0] and "not an arXiv id" in reasons[1] and "no `paper`" in reasons[2]
    assert page.rejections[0].item_ref == "2607.23193"


def test_parse_hf_unwraps_hard_wrapped_titles_and_strips_versions() -> None:
    items = json.loads(hf_recording("all-news-ai_2026-07-31/hf_daily_papers.json"))[:1]
    items[0]["paper"]["title"] = "OmniScope: Modality-Decoupled Token\n  Compression"
    items[0]["paper"]["id"] = "2607.23193v2"
    [item] = parse_hf_daily_papers(json.dumps(items).encode()).items
    assert item.title == "OmniScope: Modality-Decoupled Token Compression"
    assert item.arxiv_id == "2607.23193"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'[{"paper": {"id": "2606.00467"', "not valid JSON"),
        (b'{"error": "Invalid date"}', "not a list"),
        (b"\xff\xfe garbage", "not valid JSON"),
    ],
)
def test_parse_hf_refuses_truncated_or_wrong_shaped_responses(body: bytes, message: str) -> None:
    with pytest.raises(PermanentError, match=message):
        parse_hf_daily_papers(body)


def test_parse_hf_refuses_an_oversized_response() -> None:
    body = hf_recording("sotawhat_2026-06/hf_daily_papers.json")
    with pytest.raises(PermanentError, match="cap"):
        parse_hf_daily_papers(body, max_bytes=1024)


def test_fixture_list_covers_every_format_generation() -> None:
    generations = {Path(relative).parts[0] for relative in ALL_ARXIV_RECORDINGS}
    assert generations == {
        "arxiv.py_2016_xml",
        "arxiv.py_recorded",
        "rsxiv_2025-08_legacy",
        "rsxiv_2025-11",
        "sotawhat_2026-06",
    }
