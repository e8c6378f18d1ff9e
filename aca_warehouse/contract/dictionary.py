"""Typed access to `dictionary.yaml`, the single source of truth for the landing contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DICTIONARY_PATH = Path(__file__).with_name("dictionary.yaml")


@dataclass(frozen=True)
class Feed:
    """One landing feed: where its files live and how often they come."""

    name: str
    system: str
    directory: str
    file_prefix: str
    extension: str
    cadence: str  # "daily" or "snapshot"
    description: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_snapshot(self) -> bool:
        return self.cadence == "snapshot"


@dataclass(frozen=True)
class Dictionary:
    """The parsed dictionary: feeds by name, in the order the file lists them."""

    feeds: dict[str, Feed]
    raw: dict[str, Any] = field(compare=False, repr=False)


@cache
def load_dictionary(path: Path = DICTIONARY_PATH) -> Dictionary:
    """Parse the dictionary once per process."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    feeds = {
        name: Feed(
            name=name,
            system=spec["system"],
            directory=spec["directory"],
            file_prefix=spec["file_prefix"],
            extension=spec["extension"],
            cadence=spec["cadence"],
            description=spec["description"],
            raw=spec,
        )
        for name, spec in raw["feeds"].items()
    }
    return Dictionary(feeds=feeds, raw=raw)
