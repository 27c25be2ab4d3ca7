"""ClOrdIDs, ticket ids and request ids: base 36, unique across restarts, namespaced."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xmc_fix.domain.ids import IdGenerator, base36

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def make_generator(**overrides) -> IdGenerator:
    fields = dict(namespace="X", start_ms=START_MS)
    return IdGenerator(**{**fields, **overrides})


# -- base36 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, text", [(0, "0"), (9, "9"), (10, "a"), (35, "z"), (36, "10"), (1295, "zz"),
                                     (1296, "100"), (START_MS, "mjuohs00")])
def test_base36_known_values(n, text):
    assert base36(n) == text


@given(st.integers(min_value=0, max_value=2**80))
def test_base36_round_trips_through_int(n):
    assert int(base36(n), 36) == n


@given(st.integers(min_value=0, max_value=2**64))
def test_base36_is_lowercase_alphanumeric_without_leading_zeros(n):
    text = base36(n)
    assert text.isascii() and text.isalnum() and text == text.lower()
    assert text == "0" or not text.startswith("0")


def test_base36_refuses_negative_numbers():
    with pytest.raises(ValueError):
        base36(-1)


# -- generator ------------------------------------------------------------------------------------
def test_cl_ord_id_is_namespace_start_stamp_and_counter():
    gen = make_generator()

    assert [gen.cl_ord_id() for _ in range(3)] == ["Xmjuohs00-1", "Xmjuohs00-2", "Xmjuohs00-3"]


def test_ticket_and_request_ids_have_their_own_prefix_and_counter():
    gen = make_generator()
    gen.cl_ord_id()
    gen.cl_ord_id()

    assert gen.ticket_id() == "TXmjuohs00-1"
    assert gen.request_id() == "RXmjuohs00-1"
    assert gen.request_id("M") == "MXmjuohs00-2"


def test_counter_runs_on_in_base36():
    gen = make_generator()

    ids = [gen.cl_ord_id() for _ in range(36)]

    assert ids[-1] == "Xmjuohs00-10"


@given(st.integers(min_value=0, max_value=2**48), st.integers(min_value=0, max_value=2**48))
def test_generators_with_different_start_stamps_never_share_an_id(start_a, start_b):
    if start_a == start_b:
        start_b += 1
    a, b = make_generator(start_ms=start_a), make_generator(start_ms=start_b)

    ids_a = {next_id() for next_id in (a.cl_ord_id, a.ticket_id, a.request_id) for _ in range(50)}
    ids_b = {next_id() for next_id in (b.cl_ord_id, b.ticket_id, b.request_id) for _ in range(50)}

    assert len(ids_a) == 150 and len(ids_b) == 150
    assert not ids_a & ids_b


def test_a_restart_one_millisecond_later_gets_fresh_ids():
    first, second = make_generator(), make_generator(start_ms=START_MS + 1)

    assert not {first.cl_ord_id() for _ in range(1000)} & {second.cl_ord_id() for _ in range(1000)}


@pytest.mark.parametrize("namespace", ["", "a-b", "a b", "A_1", "x.y", "-", "é", "Ω1", "²"])
def test_namespace_must_be_ascii_alphanumeric(namespace):
    with pytest.raises(ValueError, match="namespace"):
        IdGenerator(namespace, START_MS)


@pytest.mark.parametrize("namespace", ["A", "eng1", "XMC"])
def test_alphanumeric_namespace_is_accepted_and_prefixes_every_id(namespace):
    gen = IdGenerator(namespace, START_MS)

    assert gen.cl_ord_id().startswith(namespace)
    assert gen.ticket_id().startswith("T" + namespace)
