"""Firmware: the deployable graph, its numpy emulator, back ends (hls/, rtl/), comparison and report."""
