"""Offline map layers."""
