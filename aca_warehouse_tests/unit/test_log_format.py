"""The log format setting: an unknown value is a clear error."""

from __future__ import annotations

import pytest

from aca_warehouse.errors import ConfigurationError
from aca_warehouse.logs import log_format


def test_an_unknown_log_format_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACA_LOG_FORMAT", "xml")
    with pytest.raises(ConfigurationError, match="ACA_LOG_FORMAT must be one of text, json"):
        log_format()
