"""The declaration is the sender's: a threat declared as whatever explains it best.

The evaluation's declarations are truthful. A sender who knows the rules declares the goods
whose budget best covers the threat's image instead. Each threat of the evaluation lies
flat under 2 cm of cotton, declared as a T-shirt and one other goods line of every family.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from devices.xray_image import encode_png
from inspection.xray.screen import screen
from simulators.xray.phantom import render_scene
from simulators.xray.threats import THREATS
from tests.inspection.xray.scans import declared, small_machine

SHIRT = ("6109100000", "cotton T-shirt 棉质T恤")

#: One goods line of every family ``explain`` knows.
LINES = (
    ("8517130000", "mobile phone 手机"),
    ("8471300000", "laptop computer 笔记本电脑"),
    ("8507600090", "power bank 充电宝"),
    ("8516710000", "coffee machine 咖啡机"),
    ("8203200000", "pliers 钳子"),
    ("7118900000", "commemorative coins 纪念币"),
    ("9503008900", "plastic toy car 塑料玩具"),
    ("1604141000", "canned tuna 金枪鱼罐头"),
    ("2202100000", "soft drink 饮料"),
    ("1905900000", "biscuits 饼干"),
    ("6404110000", "sports shoes 运动鞋"),
    ("6601100000", "umbrella 雨伞"),
    ("4901990000", "printed books 图书"),
)

#: Classes a declaration cannot make lawful; an undeclared bottle declared as a drink, or
#: pliers as a machine, are declared goods, not a threat hidden.
HIDDEN = [c for c in THREATS if not c.startswith("undeclared")]


@pytest.mark.parametrize("profile", ["sandwich-135", "eff-60-100"])
@pytest.mark.parametrize("threat", HIDDEN)
def test_no_declaration_clears_a_threat(profile: str, threat: str) -> None:
    """No goods line explains a weapon, ammunition, lead, tungsten or cells into a clear.

    Before 2026-12-06 a declared power bank explained knives and lead lying flat as its
    cells, and a phone a small lead sheet as its cell, on these machines.
    """
    prof, cal = small_machine(profile)
    cleared = []
    for k, build in enumerate(THREATS[threat]):
        thing = replace(build(np.random.default_rng(k)), tilt_deg=0.0)
        ph = render_scene(prof, [(thing, 30.0 * k, (200, 150))], k, clothes_cm=2.0)
        png = encode_png(ph.image, 0)
        for line in LINES:
            if screen(png, cal, declared(SHIRT, line)).state.value == "CLEARED":
                cleared.append((build.__name__, line[1]))
    assert not cleared, cleared
