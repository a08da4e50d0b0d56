"""Deterministic text for generated rows: tweet bodies, names, bios."""

from __future__ import annotations

import math

import numpy as np

from lab.seed.copy_binary import text_field

WORDS = (
    "the a of to and in is it you that for on with this my be at are just so was like "
    "not have what but all me can we get today new love time now good one day people "
    "know think see more out about your who how when going really want great still back "
    "first last never always thread coffee code data postgres index query latency graph "
    "timeline follow tweet launch build ship deploy bug fix weekend music game news city "
    "rain sun morning night team open source release performance cache scale fast slow"
).split()
FIRST_NAMES = ("Ana Ben Chen Dara Eli Fatima Gus Hana Ivan Jia Kofi Lena Mateo Nia Omar "
               "Priya Quinn Rosa Sami Tara Uma Victor Wen Ximena Yusuf Zoe").split()
LAST_NAMES = ("Silva Smith Wang Okafor Garcia Kim Novak Haddad Rossi Muller Tanaka Nguyen "
              "Costa Ali Brown Dubois Ivanova Mensah Lopez Sato").split()
BIOS = ("", "", "", "Opinions are my own.", "Coffee first.", "Building things.",
        "Databases and distributed systems.", "Runner, reader, occasional poster.",
        "Here for the threads.", "Photographer.", "Student.", "Music, food, travel.")


def body_pool(size: int, seed: int) -> list[bytes]:
    """Return `size` encoded tweet bodies of 1 to 280 characters, skewed short like real ones."""
    rng = np.random.default_rng([seed, 7])
    words = np.array(WORDS)
    lengths = np.clip(rng.lognormal(math.log(60), 0.7, size=size), 5, 280).astype(int)
    pool = []
    for target in lengths.tolist():
        picked = words[rng.integers(0, len(words), size=target // 3 + 1)]
        text = " ".join(picked.tolist())[:target].strip() or "hello"
        pool.append(text_field(text))
    return pool


def display_name(user_id: int) -> str:
    """Return a stable display name for a generated user."""
    return (f"{FIRST_NAMES[user_id % len(FIRST_NAMES)]} "
            f"{LAST_NAMES[(user_id // len(FIRST_NAMES)) % len(LAST_NAMES)]}")


def bio(user_id: int) -> str:
    """Return a stable bio for a generated user."""
    return BIOS[(user_id * 7919) % len(BIOS)]
