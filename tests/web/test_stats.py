"""/web/stats: MTTA / MTTR per severity and incidents per week as SVG drawn on the server,
with the same figures as `warroom stats`, of what the viewer may see."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from datetime import date

import httpx
import pytest

from bot.postmortem.stats import Spread
from bot.web.charts import count_step, duration_step, durations_chart, weekly_chart
from tests.web.conftest import BEARER, Web

SVG = "{http://www.w3.org/2000/svg}"


def charts(answer: httpx.Response) -> dict[str, ElementTree.Element]:
    """Each chart of the page, parsed as XML (so each must be well-formed SVG)."""
    found = re.findall(r"(<svg .*?</svg>)", answer.text, re.S)
    parsed = [ElementTree.fromstring(svg) for svg in found]
    return {svg.attrib["id"]: svg for svg in parsed}


def figures(answer: httpx.Response) -> dict[str, list[str]]:
    table = answer.text.split('<table class="figures">')[1].split("</table>")[0]
    rows = re.findall(r"<tr(?: class=\"total\")?><td>(.*?)</td></tr>", table, re.S)
    return {row.split("</td><td>")[0]: row.split("</td><td>")[1:] for row in rows}


async def test_the_page_draws_three_svg_charts(web: Web) -> None:
    answer = await web.get("/web/stats", headers=BEARER)
    assert answer.status_code == 200
    drawn = charts(answer)
    assert set(drawn) == {"incidents-per-week", "mtta-by-severity", "mttr-by-severity"}
    for svg in drawn.values():
        assert svg.attrib["role"] == "img"
        assert svg.find(f"{SVG}title") is not None
    assert "<script" not in answer.text


async def test_incidents_per_week(web: Web) -> None:
    drawn = charts(await web.get("/web/stats", headers=BEARER))["incidents-per-week"]
    bars = drawn.findall(f"{SVG}rect")
    # 90 days back from Sunday 2026-11-22: the weeks of Monday 2026-08-24 to 2026-11-16.
    assert len(bars) == 13
    counts = [int(bar.attrib["data-count"]) for bar in bars]
    assert counts == [0] * 12 + [3]  # the private incident is not the token viewer's
    title = bars[-1].find(f"{SVG}title")
    assert title is not None and title.text == "Week of 2026-11-16 to 2026-11-22: 3 incidents"
    heights = [float(bar.attrib["height"]) for bar in bars]
    assert heights[-1] > 0 and set(heights[:-1]) == {0.0}
    member = charts(await web.get("/web/stats", headers=web.as_member()))["incidents-per-week"]
    assert member.findall(f"{SVG}rect")[-1].attrib["data-count"] == "4"


async def test_mtta_and_mttr_per_severity(web: Web) -> None:
    answer = await web.get("/web/stats", headers=BEARER)
    table = figures(answer)
    # incidents, MTTA median, MTTA p90, MTTR median, MTTR p90
    assert table["SEV1"] == ["2", "3 min", "3 min", "—", "—"]  # INC-1 acknowledged, INC-4 not
    assert table["SEV2"] == ["0", "—", "—", "—", "—"]  # only the private one
    assert table["SEV3"] == ["1", "10 min", "10 min", "30 min", "30 min"]
    assert table["All"] == ["3", "6 min", "9 min", "30 min", "30 min"]
    drawn = charts(answer)
    mtta = {
        bar.find(f"{SVG}title").text.split(":")[0]: float(bar.attrib["data-seconds"])  # type: ignore[union-attr]
        for bar in drawn["mtta-by-severity"].findall(f"{SVG}rect")
    }
    assert mtta == {"SEV1": 180.0, "SEV3": 600.0}
    mttr = [bar.attrib["data-seconds"] for bar in drawn["mttr-by-severity"].findall(f"{SVG}rect")]
    assert mttr == ["1800"]
    assert "no incidents to measure" in ElementTree.tostring(drawn["mttr-by-severity"]).decode()


async def test_the_window_is_chosen_in_days(web: Web) -> None:
    answer = await web.get("/web/stats", params={"days": "7"}, headers=BEARER)
    bars = charts(answer)["incidents-per-week"].findall(f"{SVG}rect")
    assert [bar.attrib["data-count"] for bar in bars] == ["0", "3"]
    assert 'value="7"' in answer.text


@pytest.mark.parametrize("days", ["0", "-1", "x", "3661", "1.5", "²", "9" * 40])
async def test_a_bad_window_is_a_400(web: Web, days: str) -> None:
    answer = await web.get("/web/stats", params={"days": days}, headers=BEARER)
    assert answer.status_code == 400
    assert "days must be a whole number from 1 to 3660" in answer.text
    assert "9" * 40 not in answer.text


def test_steps_people_read() -> None:
    tops = (1, 4, 5, 6, 11, 24, 99, 1000)
    assert [count_step(top) for top in tops] == [1, 1, 1, 2, 5, 5, 20, 200]
    assert duration_step(50) == 10
    assert duration_step(180) == 60
    assert duration_step(4 * 3600) == 3600
    assert duration_step(90 * 86400) == 30 * 86400
    assert duration_step(400 * 86400) == 100 * 86400


def test_chart_text_is_escaped() -> None:
    drawn = durations_chart(
        [("<b>&", Spread(median=60.0, p90=120.0, count=2))], chart_id="x", title="a < b"
    )
    parsed = ElementTree.fromstring(str(drawn))
    assert "<b>" not in str(drawn)
    labels = [node.text for node in parsed.iter(f"{SVG}text")]
    assert "<b>&" in labels
    weeks = weekly_chart([(date(2026, 11, 16), 1)], chart_id="w")
    assert ElementTree.fromstring(str(weeks)).attrib["id"] == "w"


def test_an_empty_window_still_draws() -> None:
    drawn = ElementTree.fromstring(str(weekly_chart([], chart_id="w")))
    assert drawn.findall(f"{SVG}rect") == []
    none = ElementTree.fromstring(str(durations_chart([], chart_id="d", title="t")))
    assert none.findall(f"{SVG}rect") == []
