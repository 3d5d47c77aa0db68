"""Fraud check web app."""
