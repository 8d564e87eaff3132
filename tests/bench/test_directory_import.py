"""The import benchmark at a tiny size: what it counts, not how long it took."""

from pathlib import Path

from bench.directory_import import CHEAP, directory_text, import_table, measure_size
from services.directory.load import parse_directory


def test_the_generated_directory_is_valid_with_a_pin_each() -> None:
    d = parse_directory(directory_text(50), "bench.yaml")
    assert len(d.users) == 50 and all(u.pin for u in d.users)


async def test_an_unchanged_reimport_with_digests_verifies_no_pin(tmp_path: Path) -> None:
    r = await measure_size(20, CHEAP, tmp_path)
    first, without_key, with_digests = r.runs
    assert first.verifies == 0 and len(first.report.plan.new_pins) == 20
    assert without_key.verifies == 20 and without_key.report.unchanged
    assert with_digests.verifies == 0 and with_digests.report.unchanged
    assert with_digests.report.pin_digest_matches == 20
    assert "unchanged, digests" in import_table([r])
