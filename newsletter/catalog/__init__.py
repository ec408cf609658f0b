"""The catalog: what the stored papers are and how the public site and `newsletter papers` list them."""
