"""Helpers that start real servers (SeaweedFS S3, MLflow, the V2 model server) for tests and benchmarks.

Everything binds to 127.0.0.1 on free ports and keeps its data and logs in a caller-given directory.
"""
