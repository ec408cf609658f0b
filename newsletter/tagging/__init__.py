"""Topic tags for papers: the learned tagger the package ships, its features, training and evaluation."""

from newsletter.tagging.model import MAX_TAGS, Tagger, TaggingInput, load_tagger, tag_papers, tag_topics

__all__ = ["MAX_TAGS", "Tagger", "TaggingInput", "load_tagger", "tag_papers", "tag_topics"]
