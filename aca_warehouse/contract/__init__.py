"""The data dictionary: feeds, columns, rules and reason codes, read from `dictionary.yaml`."""

from aca_warehouse.contract.dictionary import Feed, load_dictionary

__all__ = ["Feed", "load_dictionary"]
