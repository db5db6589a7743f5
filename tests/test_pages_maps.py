"""The maps of the report form, the tracking page and the case page without a tile server
(ADUAN_TILE_URL empty): they say why they show only a grid, in Indonesian and English."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pages import Site

NOTE_ID = 'id="map-no-tiles"'
NOTE = {"id": "Peta dasar tidak tersedia: server ubin peta belum diatur (ADUAN_TILE_URL)",
        "en": "No base map: no tile server is set (ADUAN_TILE_URL)"}


@pytest.fixture
def tiled_site(demo_template: tuple[Path, dict[str, str]], clock: Any, tmp_path: Path
               ) -> Iterator[Site]:
    """The demo regency's pages with a tile server set."""
    from tests.regency import attach

    template, tokens = demo_template
    shutil.copyfile(template, tmp_path / "aduan.db")
    regency = attach(f"sqlite:///{tmp_path / 'aduan.db'}", clock, tmp_path, tokens,
                     tile_url="https://tiles.example/{z}/{x}/{y}.png",
                     tile_attribution="© Peta Contoh")
    yield Site(regency)
    regency.engine.dispose()


def map_pages(site: Site) -> dict[str, str]:
    """The three pages that draw a map: the form, a report's tracking and case pages."""
    receipt = site.regency.submit(latitude=-1.43, longitude=116.63)
    tracking, secret = receipt["tracking_number"], receipt["secret"]
    pages = {"form": site.text(site.get("/lapor"))}
    citizen = Site(site.regency)
    citizen.get(f"/lacak/{tracking}?k={secret}", expect=303)
    pages["tracking"] = citizen.text(citizen.get(f"/lacak/{tracking}"))
    site.login("admin.kominfo")
    pages["case"] = site.text(site.get(f"/cases/{tracking}"))
    return pages


def test_a_map_without_a_tile_server_says_why_it_shows_only_a_grid(site):
    pages = map_pages(site)
    for name, page in pages.items():
        assert 'data-tile-url=""' in page, name
        assert NOTE_ID in page and 'aria-describedby="map-no-tiles"' in page, name
        assert NOTE["id"] in page, name
    assert "Anda tetap dapat mengetuk lokasinya" in pages["form"]
    assert "Penanda berada pada koordinat" in pages["case"]
    site.get("/language/en", expect=302)
    assert NOTE["en"] in site.text(site.get("/lapor"))
    assert "You can still tap the place" in site.text(site.get("/lapor"))


def test_a_map_with_a_tile_server_shows_no_note(tiled_site):
    for name, page in map_pages(tiled_site).items():
        assert 'data-tile-url="https://tiles.example/{z}/{x}/{y}.png"' in page, name
        assert NOTE_ID not in page and "ADUAN_TILE_URL" not in page, name
