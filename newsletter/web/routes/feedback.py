"""Vote links from emails: a page that explains the vote (GET records nothing), a POST that records it,
and undo. Votes are counted against the link's reader's budget, opened pages against the client's."""

from __future__ import annotations

from functools import partial
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from newsletter.catalog.similar import similar_papers
from newsletter.db import session_scope
from newsletter.feedback.landing import vote_proposal
from newsletter.feedback.personal import enqueue_refit
from newsletter.feedback.votes import record_vote, remove_vote
from newsletter.links.tokens import read_token
from newsletter.web.deps import ClientIpDep, RateLimiterDep, SessionDep, SessionFactoryDep, SettingsDep
from newsletter.web.pages import render
from newsletter.web.ratelimit import FEEDBACK_PAGES_PER_IP, FEEDBACK_PER_READER
from newsletter.web.routes.limits import LINK_FORM_CHECKS

router = APIRouter()
UNDO = "undo"  # the path's vote for the Undo button's form


def require_feedback_budget(token: str, settings: SettingsDep, limiter: RateLimiterDep) -> None:
    # Counted per reader the link names, not per string: the same link spelled another way (base64
    # padding, the spare bits of the signature's last character) or taken from another of their emails
    # spends the same budget.
    reader = read_token(settings, "feedback", token).subject_id
    if not limiter.allow(FEEDBACK_PER_READER, str(reader)):
        raise HTTPException(status_code=429, detail="Too many votes from this link. Please try again later.")


def require_page_budget(limiter: RateLimiterDep, ip: ClientIpDep) -> None:
    if not limiter.allow(FEEDBACK_PAGES_PER_IP, ip):
        raise HTTPException(
            status_code=429, detail="Too many requests from your network. Please try again later."
        )


FEEDBACK_BUDGET = [Depends(require_feedback_budget)]
PAGE_BUDGET = [Depends(require_page_budget)]


def _vote_path(token: str, vote: str, arxiv_id: str) -> str:
    return f"/feedback/{token}/{vote}/{quote(arxiv_id, safe='')}"


def _after(token: str, vote: str, arxiv_id: str, state: str) -> RedirectResponse:
    # Post/redirect/get: reloading the page never sends the vote again.
    return RedirectResponse(f"{_vote_path(token, vote, arxiv_id)}?{state}=1", status_code=303)


@router.api_route(
    "/feedback/{token}/{vote}/{arxiv_id:path}",
    methods=["GET", "HEAD"],
    response_class=HTMLResponse,
    dependencies=PAGE_BUDGET,
)
def vote_page(
    request: Request, token: str, vote: str, arxiv_id: str, settings: SettingsDep, session: SessionDep
) -> Response:
    """Nothing is recorded here: mail scanners open every link. The page's form records the vote, and a
    script submits it at once in a browser, but only on the emailed link's own page: the pages a vote and
    an undo lead to (`?recorded`, `?undone`) never vote, so going Back to one after an undo does not vote
    again. The Undo button's address, opened, leads to the page of the reader's vote as it stands."""
    subscriber_id = read_token(settings, "feedback", token).subject_id
    arxiv_id = arxiv_id.replace("\x00", "")
    if vote == UNDO:
        # Any vote value would do: only the checks (reader, paper) and the vote standing are read.
        standing = vote_proposal(session, subscriber_id, arxiv_id, "up")
        state = "recorded" if standing.current_vote else "undone"
        return _after(token, standing.current_vote or "up", standing.arxiv_id, state)
    proposal = vote_proposal(session, subscriber_id, arxiv_id, vote)
    path = _vote_path(token, proposal.vote, proposal.arxiv_id)
    is_undone = "undone" in request.query_params and proposal.current_vote is None
    is_emailed_link = not {"recorded", "undone"} & request.query_params.keys()
    return render(
        request,
        "feedback.html",
        {
            "proposal": proposal,
            "similar": similar_papers(session, proposal.paper_id),
            # vote_link(vote, arXiv id): the reader can vote on each similar paper too, through this
            # link's page for it; every vote is more for their model to learn from.
            "vote_link": partial(_vote_path, token),
            "action": path,
            "undo_action": _vote_path(token, UNDO, proposal.arxiv_id),
            "opposite_action": _vote_path(
                token, "down" if proposal.vote == "up" else "up", proposal.arxiv_id
            ),
            "is_undone": is_undone,
            "is_auto_submitted": is_emailed_link and not proposal.is_recorded,
        },
    )


@router.post(
    "/feedback/{token}/" + UNDO + "/{arxiv_id:path}", dependencies=[*FEEDBACK_BUDGET, *LINK_FORM_CHECKS]
)
def undo_submit(token: str, arxiv_id: str, settings: SettingsDep, factory: SessionFactoryDep) -> Response:
    subscriber_id = read_token(settings, "feedback", token).subject_id
    with session_scope(factory) as session:
        change = remove_vote(session, subscriber_id, arxiv_id.replace("\x00", ""))
    if change.is_changed:
        enqueue_refit(settings, subscriber_id)
    return _after(token, change.previous or "up", change.arxiv_id, "undone")


@router.post("/feedback/{token}/{vote}/{arxiv_id:path}", dependencies=[*FEEDBACK_BUDGET, *LINK_FORM_CHECKS])
def vote_submit(
    token: str, vote: str, arxiv_id: str, settings: SettingsDep, factory: SessionFactoryDep
) -> Response:
    subscriber_id = read_token(settings, "feedback", token).subject_id
    with session_scope(factory) as session:
        change = record_vote(session, subscriber_id, arxiv_id.replace("\x00", ""), vote)
    if change.is_changed:
        enqueue_refit(settings, subscriber_id)
    return _after(token, change.vote or vote, change.arxiv_id, "recorded")
