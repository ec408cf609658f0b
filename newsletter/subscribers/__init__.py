"""Subscribers: signup with double opt-in, preferences, unsubscribe and suppression, consent records."""
