"""Dataset size presets. Counts are targets; the seeder prints what it made."""

from __future__ import annotations

from dataclasses import dataclass

from lab.errors import LabError
from lab.verdicts import POWER_FOLLOWS

BYTES_PER_GENERATED_ROW = 40
# Kwak, Lee, Park and Moon, "What is Twitter, a Social Network or a News Media?" (WWW 2010),
# a crawl of 41.7 M users and 1.47 B follow edges: 22.1 % of the user pairs linked either
# way follow each other (77.9 % one way only).
PUBLISHED_RECIPROCITY = 0.221


@dataclass(frozen=True)
class Scale:
    """How big a seeded dataset is and which special accounts it must contain."""

    name: str
    users: int
    follow_edges: int
    tweets: int
    likes: int
    # Users who follow at least `power_follows_min` accounts: the SC3 population.
    power_readers: int
    # Accounts guaranteed at least `popular_followers_min` followers (the seed's
    # "user with 1000 followers").
    popular_accounts: int
    power_follows_min: int = POWER_FOLLOWS
    power_follows_max: int = 1600
    popular_followers_min: int = 1000
    # Newest entries kept per user in home_timeline (fan-out on write).
    timeline_cap: int = 200
    days: int = 30
    # The share of linked pairs that follow each other (follow-backs by ordinary accounts).
    reciprocity: float = PUBLISHED_RECIPROCITY

    @property
    def nominal_rows(self) -> int:
        """Rows the load writes, roughly: edges twice (mirrored), home timelines at cap."""
        return (self.users * (1 + self.timeline_cap) + 2 * self.follow_edges + self.tweets
                + self.likes)

    @property
    def generator_memory_bytes(self) -> int:
        """Peak memory of generating this scale in numpy (medium measured: 2.0 GB, 55 M rows)."""
        return self.nominal_rows * BYTES_PER_GENERATED_ROW


SCALES: dict[str, Scale] = {
    scale.name: scale
    for scale in (
        Scale("tiny", users=1_500, follow_edges=60_000, tweets=30_000, likes=30_000,
              power_readers=20, popular_accounts=20, power_follows_max=1_300),
        Scale("small", users=20_000, follow_edges=1_000_000, tweets=1_000_000, likes=1_000_000,
              power_readers=40, popular_accounts=30),
        Scale("medium", users=100_000, follow_edges=10_000_000, tweets=10_000_000,
              likes=5_000_000, power_readers=100, popular_accounts=50),
        Scale("large", users=1_000_000, follow_edges=100_000_000, tweets=100_000_000,
              likes=50_000_000, power_readers=500, popular_accounts=200),
    )
}


def check_memory(scale: Scale, available_bytes: int) -> None:
    """Refuse a scale whose generation would not fit in memory, before any work starts."""
    needed = scale.generator_memory_bytes
    if needed > available_bytes:
        raise LabError(
            f"seeding {scale.name!r} needs about {needed / 2**30:.0f} GiB of memory for the "
            f"generator and {available_bytes / 2**30:.0f} GiB are available; choose a smaller "
            "scale or a bigger machine")


def get_scale(name: str) -> Scale:
    """Return the preset called `name`, or raise naming the choices."""
    try:
        return SCALES[name]
    except KeyError:
        raise LabError(f"unknown scale {name!r}; choose one of: {', '.join(SCALES)}") from None
