"""Fetching papers from arXiv and Hugging Face Daily Papers, and storing them."""
