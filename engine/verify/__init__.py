"""Verification: categorical, neighbourhood and probabilistic scores as pure functions over numpy/xarray."""
