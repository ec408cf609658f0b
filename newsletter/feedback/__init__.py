"""Readers' feedback on papers: votes, what each reader liked and hid, and the personal ranking learned from it."""
