"""Subscribers: signup with double opt-in, preferences, unsubscribe, signed links, consent records."""
