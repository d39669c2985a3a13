"""The cities of the place chart and the grid cell that holds each."""

import numpy as np
import pytest

from engine.errors import DataError
from engine.grid import KOREA, Grid
from engine.places import PLACES, Place, distance_bearing, find_place, nearest_cell, places_on, where_is


def test_each_city_falls_in_the_model_grid_cell_that_contains_it():
    for place in PLACES:
        iy, ix = nearest_cell(KOREA.lat, KOREA.lon, place)
        assert abs(KOREA.lat[iy] - place.lat) <= KOREA.step / 2 + 1e-9, place
        assert abs(KOREA.lon[ix] - place.lon) <= KOREA.step / 2 + 1e-9, place
    assert set(places_on(KOREA.lat, KOREA.lon)) == {p.name for p in PLACES}
    assert len({p.station for p in PLACES}) == len(PLACES) and len({p.name for p in PLACES}) == len(PLACES)


def test_a_grid_that_does_not_reach_a_city_leaves_it_out():
    south = Grid(lat0=33.0, lon0=125.0, step=0.05, ny=60, nx=100, name="south")  # 33.0-35.95 N, 125.0-129.95 E
    here = places_on(south.lat, south.lon)
    assert "Jeju" in here and "Busan" in here and "Seoul" not in here
    edge = Place("edge", 0, float(south.lat[-1]) + 0.024, 127.0)  # inside the last row of cells
    assert nearest_cell(south.lat, south.lon, edge) == (south.ny - 1, 40)
    assert nearest_cell(south.lat, south.lon, Place("beyond", 0, float(south.lat[-1]) + 0.03, 127.0)) is None
    assert nearest_cell(np.array([35.0]), np.array([128.0]), Place("one cell", 0, 35.0, 128.0)) == (0, 0)


def test_a_point_is_read_as_lat_lon_in_the_ways_forecasters_write_it():
    for text in ("35.18, 129.07", "35.18 129.07", "35.18N 129.07E", "35.18°N,129.07°E", " 35.18;129.07 "):
        p = find_place(text)
        assert (p.lat, p.lon, p.station) == (35.18, 129.07, None), text
        assert find_place(p.name) == p, "a point's name (in links and the list) reads back as the same point"
    assert find_place("BUSAN").station == 159
    with pytest.raises(DataError, match="latitude 95"):
        find_place("95, 129")
    with pytest.raises(DataError, match=r"a city \(Seoul.*'lat, lon'"):
        find_place("35.18")


def test_a_point_is_named_from_the_nearest_city_by_distance_and_direction():
    seoul, busan = find_place("Seoul"), find_place("Busan")
    km, bearing = distance_bearing(seoul, busan)
    assert 320 < km < 335 and 135 < bearing < 155, (km, bearing)  # Busan lies about 325 km south-east of Seoul
    assert distance_bearing(busan, seoul)[0] == pytest.approx(km)
    assert where_is(find_place("35.10, 129.03")) == "at Busan"
    # 0.1 deg south and west of Jeju's station: about 14 km (11 km north-south, 9 km east-west)
    assert where_is(find_place("33.41, 126.43")) == "14 km SW of Jeju"
    assert where_is(find_place("37.57, 127.20")) == "20 km E of Seoul"
