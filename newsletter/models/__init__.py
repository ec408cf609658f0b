"""Database models: columns, constraints and relationships only; queries live with their domain."""

from newsletter.models.base import Base
from newsletter.models.delivery import Delivery
from newsletter.models.edition import Edition, EditionContent, EditionItem
from newsletter.models.embedding import PaperEmbedding
from newsletter.models.event import WebhookEvent
from newsletter.models.feedback import PaperVote, ReaderModel
from newsletter.models.paper import FetchCursor, FetchRun, Paper, PaperVersion
from newsletter.models.subscriber import ConsentEvent, KeywordAlert, Subscriber, SubscriberTopic
from newsletter.models.summary import PaperTopic, Summary, Topic

__all__ = [
    "Base",
    "ConsentEvent",
    "Delivery",
    "Edition",
    "EditionContent",
    "EditionItem",
    "FetchCursor",
    "FetchRun",
    "KeywordAlert",
    "Paper",
    "PaperEmbedding",
    "PaperTopic",
    "PaperVote",
    "PaperVersion",
    "ReaderModel",
    "Subscriber",
    "SubscriberTopic",
    "Summary",
    "Topic",
    "WebhookEvent",
]
