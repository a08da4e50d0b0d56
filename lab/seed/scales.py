"""Dataset size presets. Counts are targets; the seeder prints what it made."""

from __future__ import annotations

from dataclasses import dataclass

from lab.errors import LabError
from lab.verdicts import POWER_FOLLOWS

# Peak memory of the seeding process: the interpreter, its libraries, a COPY chunk and a
# home-timeline block, plus bytes per generated row (users, edges once, tweets, likes).
# Measured by `lab seed` at seed 42: 0.22 GiB at tiny, then 107 (small), 48 (medium) and
# 44 (large) bytes per row above that. On-disk bytes per loaded row, indexes included:
# 111 at small, 116 at medium, 101 at large. Rounded up, so the guards refuse only what cannot fit.
BASE_MEMORY_BYTES = 512 * 2**20
BYTES_PER_GENERATED_ROW = 50
DISK_BYTES_PER_ROW = 120
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
    # The share of users whose cache is kept (readers active lately); the others' caches
    # are closed and opened by their first read (schema/migrations/0016).
    open_caches: float = 1.0
    days: int = 30
    # The share of linked pairs that follow each other (follow-backs by ordinary accounts).
    reciprocity: float = PUBLISHED_RECIPROCITY

    @property
    def generated_rows(self) -> int:
        """Rows the generator holds in memory at once: the users, edges, tweets and likes."""
        return self.users + self.follow_edges + self.tweets + self.likes

    @property
    def nominal_rows(self) -> int:
        """Rows the load writes, roughly: edges twice (mirrored), the kept home timelines
        at cap."""
        caches = round(self.users * self.open_caches) * self.timeline_cap
        return self.users + caches + 2 * self.follow_edges + self.tweets + self.likes

    @property
    def generator_memory_bytes(self) -> int:
        """Peak memory of seeding this scale (the generator's arrays and their temporaries)."""
        return BASE_MEMORY_BYTES + self.generated_rows * BYTES_PER_GENERATED_ROW

    @property
    def disk_bytes(self) -> int:
        """On-disk size of one seeded database (a template, or a run's copy of it)."""
        return self.nominal_rows * DISK_BYTES_PER_ROW


SCALES: dict[str, Scale] = {
    scale.name: scale
    for scale in (
        Scale("tiny", users=1_500, follow_edges=60_000, tweets=30_000, likes=30_000,
              power_readers=20, popular_accounts=20, power_follows_max=1_300),
        Scale("small", users=20_000, follow_edges=1_000_000, tweets=1_000_000, likes=1_000_000,
              power_readers=40, popular_accounts=30),
        Scale("medium", users=100_000, follow_edges=10_000_000, tweets=10_000_000,
              likes=5_000_000, power_readers=100, popular_accounts=50, open_caches=0.25),
        # A million users at the density Kwak et al. measured (1.47 B edges among 41.7 M
        # users: 35 per user), about two-thirds of a tweet per user a day and a like per
        # tweet: seeded in one 24 GB machine's memory, template and copy on its disk.
        Scale("large", users=1_000_000, follow_edges=35_000_000, tweets=20_000_000,
              likes=20_000_000, power_readers=500, popular_accounts=200, open_caches=0.25),
    )
}


def check_memory(scale: Scale, available_bytes: int) -> None:
    """Refuse a scale whose generation would not fit in memory, before any work starts."""
    needed = scale.generator_memory_bytes
    if needed > available_bytes:
        raise LabError(
            f"seeding {scale.name!r} needs about {needed / 2**30:.1f} GiB of memory for the "
            f"generator and {available_bytes / 2**30:.1f} GiB are available; choose a smaller "
            "scale or a bigger machine")


def check_disk(scale: Scale, free_bytes: int) -> None:
    """Refuse a scale whose template and one copy would not fit on the server's disk."""
    needed = 2 * scale.disk_bytes
    if needed > free_bytes:
        raise LabError(
            f"seeding {scale.name!r} needs about {needed / 2**30:.0f} GiB of disk (the template "
            f"and a copy of about {scale.disk_bytes / 2**30:.0f} GiB each) and the server's "
            f"data directory has {free_bytes / 2**30:.0f} GiB free; drop old databases "
            "(templates are named timeline_lab_tpl_*) or choose a smaller scale")


def get_scale(name: str) -> Scale:
    """Return the preset called `name`, or raise naming the choices."""
    try:
        return SCALES[name]
    except KeyError:
        raise LabError(f"unknown scale {name!r}; choose one of: {', '.join(SCALES)}") from None
