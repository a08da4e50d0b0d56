"""Response headers the API sets for its clients (the load generator reads them)."""

# A home-timeline read of the caller's closed cache (a cold read): "opened" when this read
# opened it, "closed" when it was read by pull and left closed.
TIMELINE_CACHE = "X-Timeline-Cache"
