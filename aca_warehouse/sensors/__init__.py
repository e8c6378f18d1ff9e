"""Sensors: the landing directory is watched and each new or corrected file starts a load."""
