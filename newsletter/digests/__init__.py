"""Editions: trending scores, who is due when, which papers each subscriber gets, and building them."""
