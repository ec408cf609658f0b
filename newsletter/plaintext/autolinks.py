"""What a mail program or a browser makes a link of in plain text, without any markup: a URL with a
scheme (in any case: `HTTPS://` too), `www.…`, an email address, a host name followed by a path, and a
bare host name under a top-level domain mail programs link (Gmail and Outlook link `renew-account.com`).

Text the product writes from a paper (key points, summary sections, a TL;DR) is read as the newsletter's
own words; a link in it would be a link the newsletter seems to give ("Subscribers must confirm at
renew-newsletter.com"). Such text states no link: a sentence holding one is not used.
"""

from __future__ import annotations

import re
import unicodedata

# Top-level domains that mail programs link without a scheme, and the generic ones phishing favours; a
# name such as `node.js` or `torch.nn` is not one.
LINKED_TOP_LEVEL = (
    "com|org|net|edu|gov|mil|int|info|biz|io|ai|co|dev|app|me|ly|gl|to|cc|tv|xyz|top|site|online|link|"
    "club|shop|store|live|page|email|click|zip|mov|cn|ru|uk|de|fr|jp|us|eu|ca|au|in|nl|ch|se|es|it|pl|br"
)
# Each alternative is linear in the text's length: a name is matched only from its start (not after a
# dot or a letter) and possessively, so "a.a.a.…" is read once, not from every dot (it took 10 s for
# 10,000 characters when a name could start anywhere and backtrack).
AUTOLINK = re.compile(
    r"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{1,20}:/{2}"  # a scheme: https://, HTTPS://, ftp://
    r"|\bwww\d?\.[^\s.]"  # www.host
    r"|\bmailto:"
    r"|[\w.+-]@[\w-]++\.[\w-]"  # an address
    r"|(?<![\w.-])(?:[\w-]++\.(?=[\w-]))++"  # a host name: its labels, then the last one with a path or a
    rf"(?:[a-z]{{2,63}}/[\w~%#?=&-]|(?:{LINKED_TOP_LEVEL})(?![\w-]|\.[\w-]))",  # linked top-level domain
    re.IGNORECASE,
)


def has_autolink(text: str) -> bool:
    """Whether some mail program shows part of `text` as a link (read in compatibility form, where
    `ｈｔｔｐｓ：／／` is `https://`)."""
    # Every link spelling holds ":", "@" or a dot inside the text: most sentences are not read further.
    if ":" not in text and "@" not in text and "." not in text.rstrip(".") and text.isascii():
        return False
    return AUTOLINK.search(text) is not None or (
        not text.isascii() and AUTOLINK.search(unicodedata.normalize("NFKC", text)) is not None
    )
