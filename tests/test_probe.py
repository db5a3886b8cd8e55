"""What an outside probe of unusual inputs found (issue 26), each case a test: no silent wrong
result (refused, or honoured and said), no wrong or late error, help that shows only what a
command takes. The hostile-input table (test_hostile.py) holds the refusals that fit its
one-line, before-any-work, nothing-changed pattern; the web page's are in test_web_api.py."""

from __future__ import annotations

import pytest
from cli_text import cli_text

from videostyle.config import MIN_MEMORY, StyleConfig, human_bytes, parse_bytes
from videostyle.errors import BadOption


# -- sizes in human units (6) -------------------------------------------------------------------
@pytest.mark.parametrize(("count", "shown"), [
    (0, "0 bytes"), (1, "1 byte"), (700, "700 bytes"), (1024, "1 KB"), (1536, "1.5 KB"),
    (512 * 2**20, "512 MB"), (int(2.3 * 2**30), "2.3 GB"), (2**30 - 2**19, "1 GB"), (int(24.6 * 2**30), "25 GB"),
    (MIN_MEMORY, "256 MB"), (5 * 2**40, "5 TB"),
])
def test_a_byte_count_reads_in_human_units(count, shown):
    assert human_bytes(count) == shown


def test_a_small_size_is_never_zero_point_zero_of_a_large_unit():
    for count in (1, 10, 5 * 2**10, 3 * 2**20, 40 * 2**20, 900 * 2**20):
        figure = human_bytes(count).split()[0]
        assert float(figure) >= 1, human_bytes(count)


@pytest.mark.parametrize(("given", "shown"),
                         [("2GB", "2 GB"), ("512MB", "512 MB"), ("1.5G", "1.5 GB"), ("300m", "300 MB")])
def test_a_size_given_reads_back_as_given(given, shown):
    assert human_bytes(parse_bytes("max_memory", given)) == shown


def test_a_memory_limit_below_the_least_is_refused_in_human_units_not_bytes():
    with pytest.raises(BadOption) as refused:
        StyleConfig(max_memory=1024)
    assert cli_text(refused.value) == "--max-memory 1 KB: must be at least 256 MB"
