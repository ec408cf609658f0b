"""Rendering and sending email: templates, headers, backends, the delivery ledger, provider events."""
