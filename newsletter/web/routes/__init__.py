"""One router per page family; each route parses input, calls one domain function, returns a page."""
