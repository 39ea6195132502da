"""FaultModel: parsing, determinism per seed, independence from chunking, and injected rates within statistical
bounds. Each fault kind is checked by looking at the bytes themselves (how many differ, by how many bits, how the
length changed), not only at the model's own counters."""

from __future__ import annotations

import math
import random

import pytest

from glassbridge_rig.faults import Direction, FaultModel, FaultSpec, FaultSpecError

N = 400_000  # bytes per statistical run: a few hundred events at 1e-3, about 0.1 s


def _stream(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def _within(observed: int, expected: float, sigmas: float = 5.0) -> bool:
    """Poisson bound: rare independent events, standard deviation sqrt(expected)."""
    return abs(observed - expected) <= sigmas * math.sqrt(expected) + 1


# -- parsing ---------------------------------------------------------------------------------------------------

def test_parse_reads_every_key() -> None:
    spec = FaultSpec.parse("ber=1e-4, drop=1e-5,dup=2e-5,cut=1e-6,cutlen=32,burst=4,seed=7,dir=to-mcu")
    assert (spec.ber, spec.drop, spec.dup, spec.cut) == (1e-4, 1e-5, 2e-5, 1e-6)
    assert (spec.cutlen, spec.burst, spec.seed, spec.dir) == (32, 4, 7, "to-mcu")
    assert spec.applies_to(Direction.TO_MCU) and not spec.applies_to(Direction.TO_SOC)


def test_text_form_round_trips() -> None:
    spec = FaultSpec.parse("ber=1e-4,cut=1e-6,cutlen=16,burst=3,seed=9,dir=to-soc")
    assert FaultSpec.parse(str(spec)) == spec


@pytest.mark.parametrize("text", [None, "", "none", "  clean "])
def test_empty_spec_is_a_clean_line(text: str | None) -> None:
    spec = FaultSpec.parse(text)
    assert spec.is_clean and str(spec) == "none"
    data = _stream(10_000)
    assert FaultModel(spec).apply(data) == data


@pytest.mark.parametrize(("text", "says"), [
    ("ber", "key=value"),
    ("bre=1e-4", "unknown fault setting 'bre'"),
    ("ber=lots", "must be a number"),
    ("ber=2", "between 0 and 1"),
    ("ber=-1e-3", "between 0 and 1"),
    ("ber=nan", "between 0 and 1"),
    ("seed=1.5", "must be an integer"),
    ("cutlen=0", "cutlen"),
    ("burst=0", "burst"),
    ("dir=up", "dir="),
    ("drop=0.6,dup=0.6", "must not exceed 1"),
    ("ber=1e-4,ber=1e-3", "given twice"),
])
def test_bad_specs_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(FaultSpecError) as info:
        FaultSpec.parse(text)
    assert says in str(info.value)


# -- determinism -----------------------------------------------------------------------------------------------

SPEC = FaultSpec(ber=2e-3, drop=5e-4, dup=5e-4, cut=2e-4, cutlen=20, burst=2, seed=11)


def test_same_seed_same_faults_other_seed_other_faults() -> None:
    data = _stream(100_000)
    a = FaultModel(SPEC, "to-soc").apply(data)
    b = FaultModel(SPEC, "to-soc").apply(data)
    c = FaultModel(FaultSpec(**{**SPEC.__dict__, "seed": 12}), "to-soc").apply(data)
    d = FaultModel(SPEC, "to-mcu").apply(data)  # each direction has its own sequence
    assert a == b
    assert a != c and a != d and a != data


def test_chunking_never_changes_the_result() -> None:
    data = _stream(60_000)
    whole = FaultModel(SPEC).apply(data)
    rng = random.Random(5)
    model = FaultModel(SPEC)
    pieces, i = [], 0
    while i < len(data):
        k = rng.choice((1, 2, 7, 100, 3000))
        pieces.append(model.apply(data[i:i + k]))
        i += k
    assert b"".join(pieces) == whole


# -- each fault kind, seen in the bytes ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bit_flips_corrupt_the_expected_fraction_one_bit_each(seed: int) -> None:
    data = _stream(N, seed)
    model = FaultModel(FaultSpec(ber=1e-3, seed=seed))
    out = model.apply(data)
    assert len(out) == len(data)
    diffs = [a ^ b for a, b in zip(data, out) if a != b]
    assert all(bin(x).count("1") == 1 for x in diffs)
    assert len(diffs) == model.counters.corrupted
    assert _within(len(diffs), 1e-3 * N)
    # The flipped bit is uniform over the 8 positions: chi-square with 7 degrees of freedom, p ~ 1e-4 cut-off.
    counts = [sum(1 for x in diffs if x == 1 << bit) for bit in range(8)]
    expected = len(diffs) / 8
    assert sum((c - expected) ** 2 / expected for c in counts) < 29.9


def test_bursts_corrupt_consecutive_bytes_at_the_same_byte_error_rate() -> None:
    data = _stream(N)
    out = FaultModel(FaultSpec(ber=1e-3, burst=4, seed=3)).apply(data)
    bad = [i for i, (a, b) in enumerate(zip(data, out)) if a != b]
    assert _within(len(bad), 1e-3 * N, sigmas=10)  # events are 4x rarer, each 4 bytes: more spread
    runs = 1 + sum(1 for p, q in zip(bad, bad[1:]) if q != p + 1)
    assert len(bad) / runs > 3.5  # almost every run is a full burst of 4 (two can touch)


@pytest.mark.parametrize("seed", [1, 2])
def test_drops_remove_single_bytes(seed: int) -> None:
    data = bytes(range(256)) * (N // 256)  # a known pattern: every removal shows as a skipped value
    model = FaultModel(FaultSpec(drop=1e-3, seed=seed))
    out = model.apply(data)
    missing = len(data) - len(out)
    assert missing == model.counters.dropped
    assert _within(missing, 1e-3 * len(data))
    # Out is data with single bytes removed: a greedy match consumes all of it, skipping one byte at a time.
    i = skipped = 0
    for byte in out:
        while data[i] != byte:
            i += 1
            skipped += 1
        i += 1
    assert skipped + (len(data) - i) == missing


def test_duplicates_repeat_single_bytes() -> None:
    data = bytes(range(256)) * (N // 256)  # no byte equals its neighbour, so a repeat is always a duplicate
    model = FaultModel(FaultSpec(dup=1e-3, seed=4))
    out = model.apply(data)
    repeats = sum(1 for a, b in zip(out, out[1:]) if a == b)
    assert repeats == len(out) - len(data) == model.counters.duplicated
    assert _within(repeats, 1e-3 * len(data))
    assert bytes(b for i, b in enumerate(out) if i == 0 or out[i - 1] != b) == data


def test_cuts_remove_runs_of_up_to_cutlen_bytes() -> None:
    data = _stream(N)
    model = FaultModel(FaultSpec(cut=2e-4, cutlen=40, seed=6))
    out = model.apply(data)
    c = model.counters
    assert len(data) - len(out) == c.cut_bytes
    assert _within(c.cuts, 2e-4 * N)
    assert c.cuts <= c.cut_bytes <= 40 * c.cuts
    # Lengths are uniform in 1..40: the mean is 20.5; with ~80 cuts its standard error is about 1.3.
    assert abs(c.cut_bytes / c.cuts - 20.5) < 6


def test_mixed_faults_keep_each_rate() -> None:
    data = _stream(N)
    model = FaultModel(FaultSpec(ber=1e-3, drop=5e-4, dup=5e-4, seed=8))
    out = model.apply(data)
    c = model.counters
    assert c.bytes_in == len(data) and c.bytes_out == len(out)
    assert len(out) - len(data) == c.duplicated - c.dropped
    for observed, rate in ((c.corrupted, 1e-3), (c.dropped, 5e-4), (c.duplicated, 5e-4)):
        assert _within(observed, rate * N)
