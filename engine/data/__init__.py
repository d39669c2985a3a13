"""Data IO: GRIB2 NWP, NetCDF QPE, the run catalog, and the twin-experiment demo archive."""
