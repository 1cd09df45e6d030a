"""Audit: calibrated losslessness verdicts for third-party SD implementations."""
