"""Signed public links: the tokens that carry a capability and the URLs emails and pages print."""
