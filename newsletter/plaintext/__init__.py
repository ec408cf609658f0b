"""Outside text made fit to show: LaTeX turned into plain text, and shortening that never cuts a word."""
