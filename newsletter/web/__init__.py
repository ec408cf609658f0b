"""The web adapter: public site, signup, confirmation, preference center, unsubscribe, archive."""
