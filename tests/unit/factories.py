"""Stub factories shared by the unit tests: the default world's instruments, any field overridable."""

from __future__ import annotations

from decimal import Decimal as D

from xmc_fix.domain.instruments import Instrument


def shfe_cu(**overrides) -> Instrument:
    fields = dict(name="SHFE_CU", venue="SHFE", symbol="CU", currency="CNY", contract_size=D(5), unit="t",
                  tick=D(10))
    return Instrument(**{**fields, **overrides})


def lme_ca(**overrides) -> Instrument:
    fields = dict(name="LME_CA", venue="LME", symbol="CA", currency="USD", contract_size=D(25), unit="t",
                  tick=D("0.5"))
    return Instrument(**{**fields, **overrides})


def comex_hg(**overrides) -> Instrument:
    fields = dict(name="COMEX_HG", venue="CME", symbol="HG", currency="USD", contract_size=D(25000), unit="lb",
                  tick=D("0.0005"))
    return Instrument(**{**fields, **overrides})
