"""Atom feeds: the trending papers, one feed per topic, and each subscriber's private feed of editions."""
