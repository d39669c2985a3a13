"""The demo's twin experiment: a "nature" atmosphere over Korea and an imperfect "NWP" view of it.

Physics (diagnostic, evaluated hour by hour from a few weather systems, so any hour can be computed alone and a
season streams without holding it in memory):

* **Systems.** A Changma (monsoon) front drifting north and south with waves running along it; short-wave troughs
  aloft travelling east; now and then a typhoon remnant moving north-east; convective cells born in moist,
  unstable air, most in the afternoon (KST). Each system contributes *lift* ``W`` (dimensionless, 1 = strong).
* **Mass field, hydrostatic.** Sea-level pressure from the systems (Pacific high to the south-east, trough along
  the front, typhoon low); ``gh1000`` from it; ``gh850`` and ``gh500`` by the hypsometric equation from the
  layer-mean temperatures (``t850``, ``t500``, a warm-core typhoon, a cold trough aloft).
* **Winds.** Geostrophic with the height field at each level (``u = -(g/f) dZ/dy``, ``v = (g/f) dZ/dx``), plus an
  ageostrophic part whose divergence is ``-1e-4 W`` s^-1 (convergence under lift at 850 hPa and 10 m, outflow
  at 500 hPa); 10 m winds are slowed by friction and turned towards low pressure.
* **Orography.** Lift ``w = V850 . grad(terrain)`` on windward slopes of a plausible Korean terrain.
* **Rain** ``= 6 (RH/100)^4 max(W - 0.45, 0)^1.4`` mm/h from the lift and the background humidity, so it is fed
  by moisture convergence; humidity then rises where it rains and 2 m temperature falls.

The **NWP** sees the same systems with errors that grow with lead time: displaced and mistimed fronts, troughs
and typhoons, wrong strength; its own (random, weaker, broader) convection; orographic lift at 30 %; a drizzle
bias in moist air; smoothed intensities. Nature alone has small-scale multiplicative noise, and the QPE adds
measurement noise: the random part that no post-processor can recover.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.fft import dctn, idctn
from scipy.ndimage import gaussian_filter

from engine.data.terrain import KM_PER_DEG, korea_terrain
from engine.grid import KOREA, Grid

G = 9.81
R_DRY = 287.0
OMEGA = 7.292e-5
CENTER = (35.8, 127.5)
# Rain = RAIN_GAIN (RH/100)^4 max(W - LIFT_THRESHOLD, 0)^1.4, calibrated to Korean July-August frequencies.
RAIN_GAIN = 6.0
LIFT_THRESHOLD = 0.45
NWP_LIFT_THRESHOLD = 0.35
NWP_RAIN_GAIN = 12.0
DRIZZLE_LIFT = 0.2  # the NWP drizzles wherever moist air is lifted this much
RAIN_NOISE = 0.5  # std of log rain of nature's small-scale variability


def _smooth(seed: int, tag: int, hours: np.ndarray | float, periods: tuple[float, ...]) -> np.ndarray:
    """A smooth random function of absolute hour, about unit amplitude, deterministic in (seed, tag)."""
    rng = np.random.default_rng([seed, tag])
    phases = rng.uniform(0, 2 * np.pi, len(periods))
    amps = rng.uniform(0.5, 1.0, len(periods))
    h = np.asarray(hours, dtype=float)
    total = sum(a * np.sin(2 * np.pi * h / p + ph) for a, p, ph in zip(amps, periods, phases, strict=True))
    return total / np.sqrt(0.5 * np.sum(amps**2))


@dataclass(frozen=True)
class Typhoon:
    start_hour: float
    lat0: float
    lon0: float
    vlat: float  # deg / h
    vlon: float
    depth_hpa: float
    radius_km: float
    duration_h: float = 60.0


@dataclass(frozen=True)
class Errors:
    """The NWP's departures from nature for one run at one lead time (all zero for nature itself)."""

    front_dlat: float = 0.0
    front_dtilt: float = 0.0
    front_gain: float = 1.0
    front_dt: float = 0.0
    wave_dphase: float = 0.0
    trough_dx_km: float = 0.0
    trough_gain: float = 1.0
    typhoon_dlat: float = 0.0
    typhoon_dlon: float = 0.0
    typhoon_gain: float = 1.0


class Twin:
    """Nature and NWP over ``grid`` for a season starting at ``start`` (00 UTC), from one seed."""

    def __init__(self, seed: int, start: pd.Timestamp, days: int, grid: Grid = KOREA) -> None:
        self.seed, self.start, self.days, self.grid = seed, pd.Timestamp(start), days, grid
        self.lat, self.lon = np.meshgrid(grid.lat, grid.lon, indexing="ij")
        self.x_km = (self.lon - CENTER[1]) * KM_PER_DEG * np.cos(np.radians(self.lat))
        self.y_km = (self.lat - CENTER[0]) * KM_PER_DEG
        self.f = 2 * OMEGA * np.sin(np.radians(self.lat))
        self.dy_m = grid.step * KM_PER_DEG * 1e3
        self.dx_m = self.dy_m * np.cos(np.radians(self.lat))
        self.land = grid.land_mask
        self.terrain = korea_terrain(grid)
        self.dh_dy, self.dh_dx = self._grad(gaussian_filter(self.terrain, 1.0))
        self.dh_dy_smooth, self.dh_dx_smooth = self._grad(gaussian_filter(self.terrain, 4.0))
        ky = np.pi * np.arange(grid.ny) / grid.ny
        kx = np.pi * np.arange(grid.nx) / grid.nx
        lap = -(2 - 2 * np.cos(ky))[:, None] / self.dy_m**2 - (2 - 2 * np.cos(kx))[None, :] / self.dx_m.mean() ** 2
        lap[0, 0] = 1.0
        self._inv_lap = 1.0 / lap
        self.typhoons = self._draw_typhoons()

    # ---- helpers -------------------------------------------------------------------------------------
    def _grad(self, field: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d_dy = np.gradient(field, axis=0) / self.dy_m
        d_dx = np.gradient(field, axis=1) / self.dx_m
        return d_dy, d_dx

    def _draw_typhoons(self) -> list[Typhoon]:
        rng = np.random.default_rng([self.seed, 99])
        count = rng.poisson(max(self.days, 1) / 8) + (1 if self.days >= 6 else 0)
        out = []
        for _ in range(count):
            out.append(
                Typhoon(
                    start_hour=float(rng.uniform(-24, self.days * 24)),
                    lat0=float(rng.uniform(30.0, 31.5)),
                    lon0=float(rng.uniform(124.5, 128.5)),
                    vlat=float(rng.uniform(0.12, 0.2)),
                    vlon=float(rng.uniform(0.0, 0.12)),
                    depth_hpa=float(rng.uniform(8, 14)),
                    radius_km=float(rng.uniform(220, 320)),
                )
            )
        return out

    def _ageostrophic(self, lift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Irrotational wind whose divergence is -1e-4 * lift (s^-1): solves a Neumann Poisson problem."""
        rhs = -1e-4 * lift
        phi = idctn(dctn(rhs - rhs.mean(), type=2, norm="ortho") * self._inv_lap, type=2, norm="ortho")
        dphi_dy, dphi_dx = self._grad(phi)
        return dphi_dx, dphi_dy

    def _geostrophic(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dz_dy, dz_dx = self._grad(z)
        return -G / self.f * dz_dy, G / self.f * dz_dx

    # ---- one hour -------------------------------------------------------------------------------------
    def state(
        self, hour: int, errors: Errors | None = None, cell_seed: tuple[int, ...] | None = None, cells: bool = True
    ) -> dict[str, np.ndarray]:
        """All 16 channels (our units; ``tp`` = rain in the hour ending at ``hour``) plus ``lift``.

        ``hour`` counts from ``start``. ``errors`` None means nature; otherwise the NWP's view, with its own
        convection drawn from ``cell_seed``. Nature's state also holds ``tp_expected``, its rain before the
        small-scale variability (the mean of ``tp`` over that noise). ``cells=False`` leaves out the convective
        cells (what ``training ceiling`` asks of a forecast that knows only the weather systems).
        """
        nwp = errors is not None
        e = errors or Errors()
        s = self.seed
        h = float(hour)
        lat, lon, x, y = self.lat, self.lon, self.x_km, self.y_km

        # Changma front: position, tilt and strength drift over days; waves travel east along it.
        hf = h + e.front_dt
        front_lat = 35.3 + 1.6 * _smooth(s, 1, hf, (70.0, 130.0, 210.0)) + e.front_dlat
        tilt = 0.25 + 0.12 * _smooth(s, 2, hf, (90.0, 170.0)) + e.front_dtilt
        strength = np.clip(0.7 + 0.55 * _smooth(s, 3, hf, (40.0, 95.0, 150.0)), 0.0, 1.4) * e.front_gain
        d_front = (lat - (front_lat + tilt * (lon - CENTER[1]))) * KM_PER_DEG  # km, positive north
        along = x * np.cos(np.arctan(tilt)) + y * np.sin(np.arctan(tilt))
        phase = 2 * np.pi * (along - 45.0 * hf) / 260.0 + 2 * np.pi * _smooth(s, 4, hf, (300.0,)) + e.wave_dphase
        waves = 1 + 0.6 * np.sin(phase) + 0.35 * np.sin(2.4 * phase + 1.3)
        w_front = strength * np.exp(-(((d_front + 25.0) / 75.0) ** 2)) * np.clip(waves, 0.1, None)

        # Short-wave trough aloft travelling east at ~40 km/h: cold anomaly at 500 hPa, lift ahead of it.
        trough_x = -1200.0 + np.mod(40.0 * h + 800.0 * (1 + _smooth(s, 5, 0.0, (1.0,))), 2600.0) + e.trough_dx_km
        trough_amp = np.clip(0.6 + 0.5 * _smooth(s, 6, h, (60.0, 110.0)), 0.0, 1.2) * e.trough_gain
        cold_aloft = -3.0 * trough_amp * np.exp(-(((x - trough_x) / 320.0) ** 2))
        w_trough = 0.45 * trough_amp * np.exp(-(((x - trough_x - 280.0) / 230.0) ** 2))

        # Background air masses: moist monsoon air south of the front, drier continental air north of it.
        south = 0.5 * (1 - np.tanh(d_front / 120.0))
        t850 = 284.5 + 7.0 * south + 0.8 * _smooth(s, 7, h, (50.0,))
        t500 = 264.5 + 3.0 * south + cold_aloft
        rh_base = 58.0 + 32.0 * 0.5 * (1 - np.tanh((d_front - 60.0) / 110.0))
        p_msl = (
            1006.0
            + 2.8 * ((lon - CENTER[1]) / 4.0 - (lat - CENTER[0]) / 4.0)
            + 5.0 * np.exp(-(((lat - 30.5) ** 2 + (lon - 134.0) ** 2) / 18.0))
            - 2.5 * strength * np.exp(-((d_front / 160.0) ** 2))
            - 2.0 * trough_amp * np.exp(-(((x - trough_x + 150.0) / 400.0) ** 2))
        )
        w_typhoon = np.zeros_like(lat)
        for k, ty in enumerate(self.typhoons):
            age = h - ty.start_hour
            if not 0 <= age <= ty.duration_h:
                continue
            ty_lat = ty.lat0 + ty.vlat * age + e.typhoon_dlat
            ty_lon = ty.lon0 + ty.vlon * age + e.typhoon_dlon
            decay = np.exp(-age / 90.0) * e.typhoon_gain
            dx = (lon - ty_lon) * KM_PER_DEG * np.cos(np.radians(lat))
            dy = (lat - ty_lat) * KM_PER_DEG
            r = np.hypot(dx, dy)
            rr = ty.radius_km
            core = np.exp(-((r / rr) ** 2))
            p_msl = p_msl - ty.depth_hpa * decay * core
            t850 = t850 + 2.0 * decay * core
            t500 = t500 + 1.5 * decay * core
            rh_base = np.maximum(rh_base, 60 + 35 * np.exp(-((r / (1.6 * rr)) ** 2)))
            theta = np.arctan2(dy, dx)
            bands = np.exp(-(((r - 0.75 * rr) / 70.0) ** 2)) * (1 + 0.7 * np.sin(2 * theta - r / 60.0 + k))
            w_typhoon += decay * (1.2 * np.exp(-((r / (0.35 * rr)) ** 2)) + 0.9 * bands)

        # Hydrostatic heights and geostrophic winds.
        t2m_sea = t850 + 8.0
        z1000 = (p_msl - 1000.0) * 8.3
        z850 = z1000 + R_DRY / G * 0.5 * (t2m_sea + t850) * np.log(1000 / 850)
        z500 = z850 + R_DRY / G * 0.5 * (t850 + t500) * np.log(850 / 500)
        ug1000, vg1000 = self._geostrophic(gaussian_filter(z1000, 2.0))
        ug850, vg850 = self._geostrophic(gaussian_filter(z850, 2.0))
        ug500, vg500 = self._geostrophic(gaussian_filter(z500, 2.0))

        # Orographic lift from the 850 hPa flow up the slopes (the NWP's smoother terrain gives it 30 %).
        if nwp:
            w_oro = 0.3 * 2.2 * np.clip(ug850 * self.dh_dx_smooth + vg850 * self.dh_dy_smooth, 0, None)
        else:
            w_oro = 2.2 * np.clip(ug850 * self.dh_dx + vg850 * self.dh_dy, 0, None)

        # Convective cells in moist, unstable air; most in the afternoon (06 UTC = 15 KST).
        instability = (t850 - t500) - 24.0 + (rh_base - 75.0) / 8.0
        w_cells = self._cells(hour, instability, cell_seed if nwp else (s, 11), weak=nwp) if cells else 0.0

        lift = w_front + w_trough * (rh_base / 90.0) + w_typhoon + w_oro * (rh_base / 90.0) + w_cells
        moist = (rh_base / 100.0) ** 4
        expected = None
        if nwp:
            rain = NWP_RAIN_GAIN * moist * np.clip(lift - NWP_LIFT_THRESHOLD, 0, None) ** 1.25
            rain = gaussian_filter(rain, 1.0)
            rain = rain**0.92 + 0.25 * np.clip((rh_base - 80.0) / 15.0, 0, 1) * (
                lift > DRIZZLE_LIFT
            )  # smoothing, drizzle
        else:
            rain = expected = RAIN_GAIN * moist * np.clip(lift - LIFT_THRESHOLD, 0, None) ** 1.4
            noise = gaussian_filter(np.random.default_rng([s, 12, hour]).standard_normal(lat.shape), 2.0)
            rain = rain * np.exp(RAIN_NOISE * noise / max(noise.std(), 1e-9) - RAIN_NOISE**2 / 2)
            rain = np.where(rain < 0.03, 0.0, rain)

        # Winds: geostrophic + convergent ageostrophic part; friction at 10 m.
        ua, va = self._ageostrophic(lift)
        rough = np.where(self.land, 0.55, 0.75)
        turn = np.radians(np.where(self.land, 30.0, 18.0))
        u10 = rough * (ug1000 * np.cos(turn) - vg1000 * np.sin(turn)) + 1.2 * ua
        v10 = rough * (ug1000 * np.sin(turn) + vg1000 * np.cos(turn)) + 1.2 * va

        wet = np.tanh(rain / 3.0)
        diurnal = np.cos(2 * np.pi * (np.mod(h, 24) - 6.0) / 24.0)
        t2m = t2m_sea - 0.0065 * self.terrain + self.land * (3.5 * diurnal) - 2.0 * wet
        r850 = np.clip(rh_base + 22.0 * wet + 4.0 * np.tanh(lift), 3.0, 100.0)
        r500 = np.clip(30.0 + 0.45 * (rh_base - 58.0) + 55.0 * np.tanh(rain / 4.0) + 10 * np.tanh(lift), 3.0, 100.0)
        out = {
            "gh1000": z1000,
            "gh850": z850,
            "gh500": z500,
            "msl": p_msl * 100.0,
            "r850": r850,
            "r500": r500,
            "t2m": t2m,
            "t850": t850,
            "u10": u10,
            "v10": v10,
            "u850": ug850 + ua,
            "v850": vg850 + va,
            "t500": t500,
            "u500": ug500 - 0.8 * ua,
            "v500": vg500 - 0.8 * va,
            "tp": rain,
            "lift": lift,
        }
        if expected is not None:
            out["tp_expected"] = expected
        return out

    def _cells(self, hour: int, instability: np.ndarray, seed: tuple[int, ...], weak: bool) -> np.ndarray:
        """Lift from convective cells alive at ``hour`` (born in the last 3 hours, each lives 1-3 h)."""
        out = np.zeros(self.grid.shape)
        favour = np.clip(instability / 4.0, 0, 1)
        if favour.max() <= 0:
            return out
        for born in range(hour - 2, hour + 1):
            rng = np.random.default_rng([*seed, born + 1000])
            diurnal = 1 + 0.8 * np.cos(2 * np.pi * (np.mod(born, 24) - 6.0) / 24.0)
            n_try = rng.poisson(50 * diurnal)
            iy = rng.integers(0, self.grid.ny, n_try)
            ix = rng.integers(0, self.grid.nx, n_try)
            keep = rng.uniform(0, 1, n_try) < favour[iy, ix] * 0.35
            life = rng.integers(1, 4, n_try)
            radius = rng.uniform(8, 20, n_try)
            amp = rng.lognormal(0.5, 0.45, n_try)
            for j in np.flatnonzero(keep & (born + life > hour)):
                stage = np.sin(np.pi * (hour - born + 0.5) / life[j])
                r_km = radius[j] * (2.2 if weak else 1.0)
                a = amp[j] * stage * (0.35 if weak else 1.0)
                cy, cx = self.y_km[iy[j], ix[j]], self.x_km[iy[j], ix[j]]
                d2 = (self.y_km - cy) ** 2 + (self.x_km - cx) ** 2
                out += a * np.exp(-d2 / r_km**2)
        return out

    def nwp_errors(self, run_index: int, lead: int) -> Errors:
        """Run-specific errors, growing with lead time (about 5x from analysis to 48 h)."""
        eps = np.random.default_rng([self.seed, 7, run_index]).standard_normal(12)
        grow = (lead + 8.0) / 32.0
        return Errors(
            front_dlat=0.3 * eps[0] * grow,
            front_dtilt=0.05 * eps[1] * grow,
            front_gain=float(np.exp(0.25 * eps[2] * grow)),
            front_dt=3.0 * eps[3] * grow,
            wave_dphase=0.5 * eps[4] * grow,
            trough_dx_km=110.0 * eps[5] * grow,
            trough_gain=float(np.exp(0.2 * eps[6] * grow)),
            typhoon_dlat=0.25 * eps[7] * grow,
            typhoon_dlon=0.25 * eps[8] * grow,
            typhoon_gain=float(np.exp(0.1 * eps[9] * grow)),
        )

    def qpe(self, hour: int, rain: np.ndarray) -> np.ndarray:
        """The observation of nature's rain: multiplicative measurement noise, NaN outside QPE coverage."""
        noise = np.random.default_rng([self.seed, 13, hour]).standard_normal(rain.shape)
        obs = rain * np.exp(0.15 * noise - 0.011)
        return np.where(self.grid.qpe_mask, obs, np.nan).astype(np.float32)
